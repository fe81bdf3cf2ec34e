"""Least privilege: the deployed role grants exactly what the code calls, where it is configured to act."""

from __future__ import annotations

import json
from typing import Any

from vmss_responder.permissions import ARM_OPERATIONS, BUILT_IN_ROLES, role_actions

from .bicep_model import INFRA, functions, one, resolve, resources, template


def role_permissions() -> dict[str, Any]:
    permissions = one("Microsoft.Authorization/roleDefinitions").properties["permissions"]
    assert len(permissions) == 1
    return permissions[0]


def test_custom_role_actions_are_exactly_the_operations_the_code_calls() -> None:
    deployed = role_permissions()["actions"]
    code = role_actions()
    assert sorted(deployed) == deployed, "keep the Bicep list sorted like role_actions()"
    missing = set(code) - set(deployed)
    extra = set(deployed) - set(code)
    assert not missing, f"the code calls operations the role does not grant: {sorted(missing)}"
    assert not extra, f"the role grants operations the code never calls: {sorted(extra)}"
    assert deployed == code


def test_every_capability_is_granted() -> None:
    deployed = set(role_permissions()["actions"])
    for capability, action in ARM_OPERATIONS.items():
        assert action in deployed, capability


def test_custom_role_has_no_wildcards_data_actions_or_exclusions() -> None:
    permissions = role_permissions()
    assert not any("*" in action for action in permissions["actions"])
    assert (
        permissions["notActions"] == []
        and permissions["dataActions"] == []
        and permissions["notDataActions"] == []
    )
    role = one("Microsoft.Authorization/roleDefinitions")
    assert role.properties["type"] == "CustomRole"
    assert role.properties["assignableScopes"] == "assignableScopes"


def test_role_is_assignable_and_assigned_at_exactly_the_served_scopes() -> None:
    main = template("main.bicep")
    modules = main["modules"]
    assert modules["responderRole"]["config"]["params"]["assignableScopes"] == "servedScopes"
    subscription_loop = modules["scopeAccessSubscription"]["config"]
    group_loop = modules["scopeAccessResourceGroup"]["config"]
    for loop, segments in ((subscription_loop, 3), (group_loop, 5)):
        assert loop["loop_type"]["detail"]["array_name"] == "servedScopes"
        # '/subscriptions/<id>' splits into 3 parts, '/subscriptions/<id>/resourceGroups/<rg>' into 5.
        condition = loop["condition"]["operator"]
        assert condition["type"] == "equals" and condition["operands"]["operand_2"] == segments
        params = loop["config"]["params"]
        assert json.dumps(params["principalId"]) == json.dumps(
            modules["api"]["config"]["params"]["identityPrincipalId"]
        )
    assert subscription_loop["config"]["scope"]["function"]["type"] == "subscription"
    assert group_loop["config"]["scope"]["function"]["type"] == "resource_group"
    # Empty scopes default to this subscription rather than to nothing.
    served = resolve(main, "servedScopes")["operator"]["operands"]
    assert served["condition"] == {
        "function": {"type": "empty", "parameters": {"item_to_test": "normalizedScopes"}}
    }


def test_scope_assignments_are_named_by_scope_principal_and_role() -> None:
    expected_scope = {
        "scope-access-subscription.bicep": "subscription",
        "scope-access-resource-group.bicep": "resource_group",
    }
    found = {}
    for assignment in resources("Microsoft.Authorization/roleAssignments"):
        if assignment.file.name not in expected_scope:
            continue
        guid = assignment.body["name"]["function"]["parameters"]
        scope_call = guid["base_string"]["function"]
        assert (
            scope_call["type"] == expected_scope[assignment.file.name] and scope_call["property_name"] == "id"
        )
        assert list(guid.values())[1:] == ["principalId", "roleDefinitionId"]
        assert assignment.properties["principalType"] == "ServicePrincipal"
        assert assignment.properties["roleDefinitionId"] == "roleDefinitionId"
        found[assignment.file.name] = assignment
    assert set(found) == set(expected_scope)


def role_guid(doc: dict[str, Any], expression: Any) -> str:
    """The GUID a role expression stands for: a variable, or ``roles.<name>``."""
    if isinstance(expression, dict):
        operands = expression["operator"]["operands"]
        assert expression["operator"]["type"] == "property_accessor"
        return resolve(doc, operands["operand_1"])[operands["operand_2"]]
    return resolve(doc, expression)


# Modules that grant built-in roles, with the parameter holding the app identity in each.
BUILT_IN_GRANTS = {
    "rbac": ("app/rbac.bicep", "appPrincipalId"),
    "workspaceAccess": ("app/workspace-access.bicep", "principalId"),
}


def granted_roles(relative: str, principal_param: str) -> set[str]:
    """Built-in role GUIDs a template assigns to the principal passed as ``principal_param``."""
    doc = template(relative)
    granted = set()
    for assignment in resources("Microsoft.Authorization/roleAssignments"):
        if assignment.file != INFRA / relative or assignment.properties["principalId"] != principal_param:
            continue
        (call,) = functions(assignment.properties["roleDefinitionId"], "subscription_resource_id")
        role = call["parameters"]["resource_name_1"]
        loop = assignment.declaration["config"].get("loop_type")
        if loop and role == loop["detail"]["item_name"]:
            granted |= {role_guid(doc, item) for item in resolve(doc, loop["detail"]["array_name"])}
        else:
            granted.add(role_guid(doc, role))
    return granted


def test_app_identity_holds_exactly_the_documented_built_in_roles() -> None:
    modules = template("main.bicep")["modules"]
    granted = set()
    for module, (relative, principal_param) in BUILT_IN_GRANTS.items():
        passed = modules[module]["config"]["params"][principal_param]
        assert passed == {
            "operator": {
                "type": "property_accessor",
                "operands": {
                    "operand_1": "appIdentity",
                    "operand_2": {
                        "operator": {
                            "type": "property_accessor",
                            "operands": {"operand_1": "outputs", "operand_2": "principalId"},
                        }
                    },
                },
            }
        }
        granted |= granted_roles(relative, principal_param)
    assert granted == set(BUILT_IN_ROLES.values())
