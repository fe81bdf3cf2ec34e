"""Structural checks of the azd template and its Bicep, offline (no compiler, no Azure)."""

from __future__ import annotations

import json
import re
import stat
import subprocess
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from packaging.specifiers import SpecifierSet

from vmss_responder.config import ACTION_NAMES, Settings, setting_names, settings_from_env
from vmss_responder.store import open_store

from .bicep_model import (
    INFRA,
    REPO,
    bicep_files,
    decorator,
    functions,
    one,
    parse,
    resolve,
    resources,
    template,
)

FIXTURES = REPO / "tests" / "fixtures" / "azure" / "eventgrid"
SECRET_SETTINGS = {
    "VMSS_RESPONDER_TEAMS_WEBHOOK_URL",
    "VMSS_RESPONDER_WEBHOOK_URL",
    "VMSS_RESPONDER_WEBHOOK_SECRET",
    "VMSS_RESPONDER_PAGERDUTY_ROUTING_KEY",
}
AZD_HOOK_VARIABLES = {"AZURE_ENV_NAME", "AZURE_SUBSCRIPTION_ID"}  # azd sets these for hooks
# Settings the template sets from dedicated parameters or from what it deploys; every other one
# comes from the `settingOverrides` object.
EXPLICIT_SETTINGS = {"mode", "allowedActions", "scopes", "workspaceId", "ownPrincipals"} | {
    name for name, env in setting_names().items() if env in SECRET_SETTINGS
}


def azd_substitute(text: str, env: dict[str, str]) -> str:
    """azd's parameter-file substitution: ``${NAME}`` and ``${NAME=default}``."""
    return re.sub(r"\$\{(\w+)(?:=([^}]*))?\}", lambda m: env.get(m.group(1), m.group(2) or ""), text)


def app_settings() -> dict[str, Any]:
    api = template("app/api.bicep")
    listed = one("Microsoft.Web/sites").properties["siteConfig"]["appSettings"]
    assert listed["loop_type"]["detail"]["item_name"] == "setting"
    assert listed["loop_type"]["detail"]["object_name"] == "appSettings"
    assert listed["config"] == {
        "name": {
            "operator": {
                "type": "property_accessor",
                "operands": {"operand_1": "setting", "operand_2": "key"},
            }
        },
        "value": {
            "operator": {
                "type": "property_accessor",
                "operands": {"operand_1": "setting", "operand_2": "value"},
            }
        },
    }
    union = resolve(api, "appSettings")["function"]
    assert union["type"] == "union"
    merged: dict[str, Any] = {}
    for name in union["parameters"].values():
        merged.update(resolve(api, name))
    return merged


def main_parameters(env: dict[str, str] | None = None) -> dict[str, Any]:
    text = (INFRA / "main.parameters.json").read_text()
    return json.loads(azd_substitute(text, env or {}))["parameters"]


# --- the template as a whole ------------------------------------------------------------------


@pytest.mark.parametrize("path", bicep_files(), ids=lambda p: str(p.relative_to(INFRA)))
def test_every_bicep_file_parses(path: Path) -> None:
    doc = parse(path)
    assert doc.get("resources") or doc.get("modules"), "a template that declares nothing"


def test_modules_are_local_files_not_registry_modules() -> None:
    # Checkov and these tests can only see resources declared in this repository.
    for path in bicep_files():
        for name, module in parse(path).get("modules", {}).items():
            assert module["type"] == "local", f"{path.name}:{name} uses a registry module"
            assert (path.parent / module["detail"]["path"]).is_file(), f"{path.name}:{name}"
        assert "br/public:" not in path.read_text() and "br:" not in path.read_text()


def test_azure_yaml_declares_the_function_service_and_hooks() -> None:
    config = yaml.safe_load((REPO / "azure.yaml").read_text())
    assert config["services"] == {"api": {"project": ".", "language": "python", "host": "function"}}
    for hook in ("postdeploy", "predown"):
        script = REPO / config["hooks"][hook]["run"]
        assert script.is_file() and script.stat().st_mode & stat.S_IXUSR, script


def test_main_is_subscription_scoped_with_azd_parameters() -> None:
    main = template("main.bicep")
    assert main["globals"]["scope"]["value"] == "subscription"
    assert decorator(main["parameters"]["location"], "metadata") == {"azd": {"type": "location"}}
    params = main_parameters({"AZURE_ENV_NAME": "dev", "AZURE_LOCATION": "eastus", "AZURE_PRINCIPAL_ID": "p"})
    assert set(params) <= set(main["parameters"]), "parameters the template does not declare"
    required = {name for name, p in main["parameters"].items() if "default" not in p}
    assert required <= set(params)
    assert params["environmentName"]["value"] == "dev" and params["location"]["value"] == "eastus"
    assert params["principalId"]["value"] == "p"
    assert params["allowedActions"]["value"] == ["resume_repairs"] and params["scopes"]["value"] == []
    assert params["eventWiring"]["value"] is False


def test_parameter_file_takes_json_arrays_from_the_environment() -> None:
    env = {
        "VMSS_RESPONDER_SCOPES": '["/subscriptions/a","/subscriptions/b/resourceGroups/c"]',
        "EVENT_WIRING": "true",
    }
    params = main_parameters(env)
    assert params["scopes"]["value"] == ["/subscriptions/a", "/subscriptions/b/resourceGroups/c"]
    assert params["eventWiring"]["value"] is True


def test_mode_and_actions_match_the_code() -> None:
    main = template("main.bicep")
    assert decorator(main["parameters"]["allowedActions"], "allowed") == list(ACTION_NAMES)
    assert main["parameters"]["allowedActions"]["default"] == list(Settings().allowed_actions)
    modes = list(get_args(Settings.model_fields["mode"].annotation))
    assert decorator(main["parameters"]["mode"], "allowed") == modes
    assert main["parameters"]["mode"]["default"] == Settings().mode == "observe"
    for name in ("teamsWebhookUrl", "webhookUrl", "webhookSecret", "pagerdutyRoutingKey"):
        assert decorator(main["parameters"][name], "secure") is None  # @secure() takes no argument
        assert main["parameters"][name]["default"] == ""


def test_setting_overrides_in_the_parameter_file_are_known_settings() -> None:
    overrides = main_parameters()["settingOverrides"]["value"]
    assert set(overrides) <= set(setting_names()) - EXPLICIT_SETTINGS


def test_outputs_azd_and_the_hooks_use() -> None:
    outputs = set(template("main.bicep")["outputs"])
    expected = {
        "AZURE_LOCATION",
        "AZURE_TENANT_ID",
        "RESOURCE_GROUP",
        "SERVICE_API_NAME",
        "AZURE_FUNCTION_APP_NAME",
        "RESPONDER_IDENTITY_PRINCIPAL_ID",
        "RESPONDER_ROLE_NAME",
        "RESPONDER_SCOPES",
        "ACTIVITY_LOG_DIAGNOSTIC_SETTING",
    }
    assert expected <= outputs
    # Every variable a hook reads is an output, a parameter-file variable, set by azd, or optional.
    for script in (REPO / "scripts").glob("*.sh"):
        text = script.read_text()
        for name in set(re.findall(r"\$\{?([A-Z][A-Z0-9_]+)", text)):
            known = name in outputs | main_parameters_env_names() | AZD_HOOK_VARIABLES
            optional = f"${{{name}:-" in text
            assert known or optional, f"{script.name} reads {name}, which nothing sets"


def main_parameters_env_names() -> set[str]:
    return set(re.findall(r"\$\{(\w+)", (INFRA / "main.parameters.json").read_text()))


def test_site_is_tagged_for_azd() -> None:
    site = one("Microsoft.Web/sites")
    tags = site.body["tags"]["function"]
    assert tags["type"] == "union"
    assert {"'azd-service-name'": "serviceName"} in tags["parameters"].values()  # pycep keeps the quotes
    assert template("app/api.bicep")["parameters"]["serviceName"]["default"] == "api"
    assert template("main.bicep")["variables"]["tags"]["value"] == {"'azd-env-name'": "environmentName"}


# --- Flex Consumption app ----------------------------------------------------------------------


def test_flex_consumption_plan_on_linux() -> None:
    plan = one("Microsoft.Web/serverfarms")
    assert plan.body["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    assert plan.properties["reserved"] is True


def test_python_runtime_is_the_tested_version() -> None:
    site = one("Microsoft.Web/sites")
    assert site.body["kind"] == "functionapp,linux"
    assert site.properties["functionAppConfig"]["runtime"] == {"name": "python", "version": "3.11"}
    # The project's supported range must include it (azure-functions 1.26 needs < 3.13).
    requires = re.search(r'requires-python = "([^"]+)"', (REPO / "pyproject.toml").read_text())
    assert requires and "3.11" in SpecifierSet(requires.group(1))


def test_deployment_package_and_secrets_use_the_managed_identity() -> None:
    site = one("Microsoft.Web/sites")
    storage = site.properties["functionAppConfig"]["deployment"]["storage"]
    assert storage["type"] == "blobContainer"
    assert storage["authentication"] == {
        "type": "UserAssignedIdentity",
        "userAssignedIdentityResourceId": "identityId",
    }
    assert site.body["identity"]["type"] == "UserAssigned"
    assert site.properties["keyVaultReferenceIdentity"] == "identityId"
    assert site.properties["httpsOnly"] is True


def test_host_storage_is_identity_based() -> None:
    settings = app_settings()
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    assert settings["AzureWebJobsStorage__clientId"] == "identityClientId"
    for service in ("blob", "queue", "table"):
        assert f"AzureWebJobsStorage__{service}ServiceUri" in settings
    assert "AzureWebJobsStorage" not in settings
    # Flex Consumption rejects these (the runtime comes from functionAppConfig).
    assert not {"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "WEBSITE_RUN_FROM_PACKAGE"} & set(
        settings
    )
    assert settings["AZURE_CLIENT_ID"] == "identityClientId"
    assert (
        settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]
        == "ClientId=${identityClientId};Authorization=AAD"
    )
    assert settings["TIMER_SCHEDULE"] == "timerSchedule"
    assert template("app/api.bicep")["parameters"]["timerSchedule"]["default"] == "0 */1 * * * *"
    # The endpoint output ends in '/', which take() drops: the URL is the one store/tables.py takes.
    assert settings["VMSS_RESPONDER_STORE_URL"] == (
        "tables+mi:${take(storageTableEndpoint, length(storageTableEndpoint) - 1)}?clientId=${identityClientId}"
    )
    endpoint = "https://stexample.table.core.windows.net/"
    store = open_store(f"tables+mi:{endpoint[:-1]}?clientId=00000000-0000-0000-0000-000000000001")
    assert "stexample.table.core.windows.net" in repr(store)


def test_app_settings_cover_exactly_the_settings_the_code_reads() -> None:
    settings = {name for name in app_settings() if name.startswith("VMSS_RESPONDER_")}
    expected = set(setting_names().values()) | {"VMSS_RESPONDER_STORE_URL"}
    assert settings == expected, f"missing {expected - settings}, unknown {settings - expected}"


def test_overridable_settings_read_their_camel_case_name() -> None:
    settings = app_settings()
    for name, env in setting_names().items():
        if name in EXPLICIT_SETTINGS:
            continue
        text = json.dumps(settings[env])
        assert '"settingOverrides"' in text and f'"{name}"' in text, (
            f"{env} does not read settingOverrides.{name}"
        )


def test_secret_settings_are_key_vault_references() -> None:
    settings = app_settings()
    for env in SECRET_SETTINGS:
        branch = settings[env]["operator"]
        assert branch["type"] == "conditional" and branch["operands"]["true_value"] == "", env
        assert re.fullmatch(
            r"@Microsoft\.KeyVault\(SecretUri=\$\{secretUris\.\w+\}\)", branch["operands"]["false_value"]
        ), env


def test_secret_values_reach_only_key_vault() -> None:
    # The @secure() parameters go to the Key Vault module; the app module only learns whether
    # each is set (to reference the secret or leave the channel off).
    main = template("main.bicep")
    secure = {
        name for name, p in main["parameters"].items() if any(d["type"] == "secure" for d in p["decorators"])
    }
    assert secure == {"teamsWebhookUrl", "webhookUrl", "webhookSecret", "pagerdutyRoutingKey"}
    api_params = main["modules"]["api"]["config"]["params"]
    tested = [f["parameters"]["item_to_test"] for f in functions(api_params, "empty")]
    mentioned = re.findall(r'"(' + "|".join(secure) + r')"(?!:)', json.dumps(api_params))  # values, not keys
    assert sorted(mentioned) == sorted(tested) == sorted(secure)
    vault_secrets = main["modules"]["keyVault"]["config"]["params"]["secrets"]
    assert sorted(vault_secrets.values()) == sorted(secure)
    assert decorator(template("core/security/key-vault.bicep")["parameters"]["secrets"], "secure") is None


def test_own_principals_name_the_app_identity() -> None:
    assert app_settings()["VMSS_RESPONDER_OWN_PRINCIPALS"] == "${identityPrincipalId},${identityClientId}"


# --- data services ------------------------------------------------------------------------------


def test_storage_disables_shared_keys_and_public_blobs() -> None:
    props = one("Microsoft.Storage/storageAccounts").properties
    assert props["allowSharedKeyAccess"] is False
    assert props["allowBlobPublicAccess"] is False
    assert props["minimumTlsVersion"] == "TLS1_2"
    assert props["supportsHttpsTrafficOnly"] is True


def test_state_tables_are_the_tables_the_store_uses() -> None:
    from vmss_responder import records

    used = {
        cls.TABLE
        for cls in vars(records).values()
        if isinstance(cls, type) and isinstance(getattr(cls, "TABLE", None), str)
    }
    created = set(template("main.bicep")["variables"]["stateTables"]["value"])
    assert created == used


def test_monitoring_uses_entra_auth_only() -> None:
    assert one("Microsoft.Insights/components").properties["DisableLocalAuth"] is True
    assert one("Microsoft.OperationalInsights/workspaces").properties["features"]["disableLocalAuth"] is True


def test_key_vault_is_rbac_mode_with_purge_protection() -> None:
    props = one("Microsoft.KeyVault/vaults").properties
    assert props["enableRbacAuthorization"] is True
    assert props["enablePurgeProtection"] is True


def test_activity_log_export_covers_the_categories_the_responder_queries() -> None:
    export = one("Microsoft.Insights/diagnosticSettings")
    categories = {log["category"] for log in export.properties["logs"] if log["enabled"]}
    assert {"Administrative", "ResourceHealth", "Autoscale"} <= categories


# --- role assignments ----------------------------------------------------------------------------


def test_every_role_assignment_has_a_principal_type_and_a_guid_name() -> None:
    found = list(resources("Microsoft.Authorization/roleAssignments"))
    assert len(found) >= 8
    for assignment in found:
        assert assignment.properties.get("principalType"), assignment.where
        name = assignment.body["name"]
        assert isinstance(name, dict) and name["function"]["type"] == "guid", assignment.where
        # guid(scope, principal, role): the name changes with any of the three.
        parts = json.dumps(name["function"]["parameters"])
        assert "principalId" in parts or "PrincipalId" in parts, assignment.where
        assert "roleDefinitionId" in parts or "roleDefinitions" in parts, assignment.where


# --- event wiring ---------------------------------------------------------------------------------


def event_subscriptions() -> dict[str, Any]:
    found = {s.symbol: s for s in resources("Microsoft.EventGrid/systemTopics/eventSubscriptions")}
    assert set(found) == {"healthSubscription", "operationsSubscription"}
    return found


def test_system_topics_are_health_resources_and_the_subscription() -> None:
    topics = {t.properties["topicType"]: t for t in resources("Microsoft.EventGrid/systemTopics")}
    assert set(topics) == {
        "Microsoft.ResourceNotifications.HealthResources",
        "Microsoft.Resources.Subscriptions",
    }
    for topic in topics.values():
        assert topic.body["location"] == "global"
        assert topic.properties["source"] == {
            "function": {
                "type": "subscription",
                "parameters": {"subscription_id": None},
                "property_name": "id",
            }
        }
        assert topic.body["identity"]["type"] == "UserAssigned"


def test_event_subscriptions_deliver_to_the_event_grid_trigger_with_retry_and_dead_letter() -> None:
    wiring = template("app/wiring.bicep")
    assert wiring["parameters"]["eventGridFunctionName"]["default"] == "eventgrid_trigger"
    for sub in event_subscriptions().values():
        props = sub.properties
        destination = resolve(wiring, props["destination"])
        assert destination["endpointType"] == "AzureFunction"
        assert destination["properties"]["resourceId"] == "${site.id}/functions/${eventGridFunctionName}"
        assert destination["properties"]["maxEventsPerBatch"] == 1
        retry = resolve(wiring, props["retryPolicy"])
        assert set(retry) == {"maxDeliveryAttempts", "eventTimeToLiveInMinutes"}
        dead_letter = resolve(wiring, props["deadLetterWithResourceIdentity"])
        assert dead_letter["identity"]["type"] == "UserAssigned"
        assert dead_letter["deadLetterDestination"]["endpointType"] == "StorageBlob"
        assert set(dead_letter["deadLetterDestination"]["properties"]) == {"resourceId", "blobContainerName"}
    attempts = wiring["parameters"]["maxDeliveryAttempts"]
    assert 1 <= attempts["default"] <= 30 and decorator(attempts, "max_value") == 30
    ttl = wiring["parameters"]["eventTimeToLiveInMinutes"]
    assert 1 <= ttl["default"] <= 1440 and decorator(ttl, "max_value") == 1440


def advanced_filters(sub: Any) -> list[dict[str, Any]]:
    wiring = template("app/wiring.bicep")
    filters = sub.properties["filter"]["advancedFilters"]["function"]
    assert filters["type"] == "concat"
    listed = [
        f for value in filters["parameters"].values() for f in resolve(wiring, value) if isinstance(f, dict)
    ]
    scope_filters = resolve(wiring, "scopeFilters")["operator"]["operands"]
    assert scope_filters["false_value"] == []  # too many scopes for the value budget: no subject filter
    return listed + scope_filters["true_value"]


def lookup(payload: dict[str, Any], key: str) -> Any:
    node: Any = payload
    for part in key.split("."):
        node = node[part]
    return node


def fixtures_of(event_type: str) -> list[dict[str, Any]]:
    out = []
    for path in FIXTURES.glob("*.eventgrid.json"):
        events = json.loads(path.read_text())
        for event in events if isinstance(events, list) else [events]:
            if event.get("eventType") == event_type:
                out.append(event)
    return out


def test_filters_select_scale_sets_and_their_instances() -> None:
    subs = event_subscriptions()
    wiring = template("app/wiring.bicep")
    health = {f["key"]: f for f in advanced_filters(subs["healthSubscription"])}
    assert resolve(wiring, health["data.resourceInfo.properties.targetResourceType"]["values"]) == [
        "Microsoft.Compute/virtualMachineScaleSets",
        "Microsoft.Compute/virtualMachineScaleSets/virtualMachines",
        "Microsoft.Compute/virtualMachines",
    ]
    operations = {f["key"]: f for f in advanced_filters(subs["operationsSubscription"])}
    assert operations["data.operationName"]["values"] == ["Microsoft.Compute/virtualMachineScaleSets/"]
    for filters in (health, operations):
        assert filters["subject"] == {
            "operatorType": "StringBeginsWith",
            "key": "subject",
            "values": "scopePrefixes",
        }
    # '/subscriptions/x/' so that a resource group scope does not also match 'rg-other'.
    prefixes = resolve(wiring, "scopePrefixes")
    assert prefixes["loop_type"]["detail"] == {"item_name": "scope", "array_name": "scopes"}
    assert prefixes["config"] == "${scope}/"


def test_filter_keys_exist_in_the_microsoft_sample_events() -> None:
    # A filter on a path the events do not carry would silently drop every event.
    for sub in event_subscriptions().values():
        types = sub.properties["filter"]["includedEventTypes"]
        samples = [event for t in types for event in fixtures_of(t)]
        assert samples, f"no Microsoft sample for {types}"
        for f in advanced_filters(sub):
            for event in samples:
                assert isinstance(lookup(event, f["key"]), str), (
                    f"{f['key']} missing in a {event['eventType']} sample"
                )


def test_health_filter_passes_a_vm_sample_and_the_operations_filter_drops_non_compute_samples() -> None:
    wiring = template("app/wiring.bicep")
    health = {f["key"]: f for f in advanced_filters(event_subscriptions()["healthSubscription"])}
    allowed = {
        v.lower()
        for v in resolve(wiring, health["data.resourceInfo.properties.targetResourceType"]["values"])
    }
    vm_events = fixtures_of("Microsoft.ResourceNotifications.HealthResources.AvailabilityStatusChanged")
    assert all(
        lookup(e, "data.resourceInfo.properties.targetResourceType").lower() in allowed for e in vm_events
    )
    operations = {f["key"]: f for f in advanced_filters(event_subscriptions()["operationsSubscription"])}
    prefixes = [p.lower() for p in operations["data.operationName"]["values"]]
    for event_type in (
        "Microsoft.Resources.ResourceActionSuccess",
        "Microsoft.Resources.ResourceDeleteSuccess",
    ):
        for event in fixtures_of(event_type):  # the samples act on Event Hubs and Storage
            assert not lookup(event, "data.operationName").lower().startswith(tuple(prefixes))


def test_action_group_posts_the_common_alert_schema_to_the_alerts_route() -> None:
    group = one("Microsoft.Insights/actionGroups")
    receivers = group.properties["webhookReceivers"]
    assert receivers and all(r["useCommonAlertSchema"] is True for r in receivers)
    for receiver in receivers:
        assert (
            receiver["serviceUri"]
            == "https://${site.properties.defaultHostName}/api/alerts?code=${functionHost.listKeys().functionKeys.default}"
        )


def activity_log_alerts() -> dict[str, dict[str, Any]]:
    alerts = {}
    for alert in resources("Microsoft.Insights/activityLogAlerts"):
        conditions = alert.properties["condition"]["allOf"]
        category = next(c["equals"] for c in conditions if c.get("field") == "category")
        alerts[category] = alert.properties
    return alerts


def test_activity_log_alerts_cover_administrative_resource_health_and_autoscale() -> None:
    alerts = activity_log_alerts()
    assert set(alerts) == {"Administrative", "ResourceHealth", "Autoscale"}
    for props in alerts.values():
        assert props["enabled"] is True
        assert props["actions"] == "alertActions"
    admin = json.dumps(alerts["Administrative"]["condition"])
    assert "Microsoft.Compute/virtualMachineScaleSets/setOrchestrationServiceState/action" in admin
    assert '"Microsoft.Compute/virtualMachineScaleSets"' in admin
    health = json.dumps(alerts["ResourceHealth"]["condition"])
    assert "Microsoft.Compute/virtualMachineScaleSets/virtualMachines" in health


def test_wiring_is_deployed_only_when_the_hook_turns_it_on() -> None:
    wiring = template("main.bicep")["modules"]["wiring"]
    assert wiring["config"]["condition"] == "eventWiring"
    assert template("main.bicep")["parameters"]["eventWiring"]["default"] is False
    hook = (REPO / "scripts" / "postdeploy.sh").read_text()
    assert "azd env set EVENT_WIRING true" in hook and "azd provision" in hook
    assert "azd env set EVENT_WIRING false" in (REPO / "scripts" / "predown.sh").read_text()


def test_no_listkeys_result_is_output() -> None:
    for path in bicep_files():
        for name, output in parse(path).get("outputs", {}).items():
            assert "listKeys" not in json.dumps(output), f"{path.name} outputs a key in {name}"
        assert not functions(parse(path).get("outputs", {}), "listKeys")


# --- packaging and local settings ----------------------------------------------------------------


def funcignored(paths: list[str], tmp_path: Path) -> set[str]:
    """Which paths .funcignore excludes, by git's own gitignore matching."""
    (tmp_path / ".gitignore").write_text((REPO / ".funcignore").read_text())
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    done = subprocess.run(
        ["git", "-C", str(tmp_path), "check-ignore", "--no-index", "--stdin"],
        input="\n".join(paths),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    return set(done.stdout.split())


def test_funcignore_ships_only_the_app(tmp_path: Path) -> None:
    shipped = [
        "function_app.py",
        "host.json",
        "requirements.txt",
        "handlers/__init__.py",
        "vmss_responder/config.py",
        "vmss_responder/scripts/health-probe-diagnostics.sh",
    ]
    left_out = [
        ".venv/lib/x.py",
        "tests/infra/test_bicep.py",
        "node_modules/azurite/package.json",
        "bench/run.py",
        "docs/deployment.md",
        "scenarios/x.yaml",
        "infra/main.bicep",
        "scripts/postdeploy.sh",
        "local.settings.json",
        "vmss_responder/__pycache__/config.cpython-311.pyc",
    ]
    ignored = funcignored(shipped + left_out, tmp_path)
    assert ignored == set(left_out)


def test_local_settings_sample_loads() -> None:
    sample = json.loads((REPO / "local.settings.sample.json").read_text())["Values"]
    assert sample["FUNCTIONS_WORKER_RUNTIME"] == "python"
    assert all(isinstance(v, str) for v in sample.values())
    known = set(setting_names().values()) | {"VMSS_RESPONDER_STORE_URL"}
    assert {k for k in sample if k.startswith("VMSS_RESPONDER_")} <= known
    settings = settings_from_env(sample)
    assert settings.mode == "observe" and settings.channels == ()
    assert "127.0.0.1:10002" in repr(open_store(sample["VMSS_RESPONDER_STORE_URL"]))  # Azurite


def test_wiring_targets_functions_the_app_defines() -> None:
    import json as _json
    import subprocess
    import sys

    # In a fresh interpreter: get_functions() indexes once per app, and other tests index it too.
    code = (
        "import json, function_app; print(json.dumps({f.get_function_name(): [json.loads(b) for b in f.get_raw_bindings()]"
        " for f in function_app.app.get_functions()}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout
    bindings = _json.loads(out)
    trigger = template("app/wiring.bicep")["parameters"]["eventGridFunctionName"]["default"]
    assert [b["type"] for b in bindings[trigger]] == ["eventGridTrigger"]
    routes = {b.get("route") for fs in bindings.values() for b in fs if b["type"] == "httpTrigger"}
    prefix = json.loads((REPO / "host.json").read_text())["extensions"]["http"]["routePrefix"]
    assert (
        f"/{prefix}/alerts"
        in one("Microsoft.Insights/actionGroups").properties["webhookReceivers"][0]["serviceUri"]
    )
    assert {"alerts", "autoscale", "eventgrid", "health"} <= routes
    assert "%TIMER_SCHEDULE%" in {
        b.get("schedule") for fs in bindings.values() for b in fs if b["type"] == "timerTrigger"
    }
