"""The ARM operations the responder can call: the one list the custom role is checked against.

Each entry maps a responder capability to the Azure RBAC action it needs. ``infra/`` defines a
custom role whose ``actions`` are exactly these (a test checks both directions), so the
deployed identity can do what the code does and nothing more.
"""

from __future__ import annotations

# capability -> RBAC action
ARM_OPERATIONS: dict[str, str] = {
    "read scale set": "Microsoft.Compute/virtualMachineScaleSets/read",
    "read scale set instance view": "Microsoft.Compute/virtualMachineScaleSets/instanceView/read",
    "list scale set VMs": "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/read",
    "read VM instance view": "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/instanceView/read",
    "resume automatic repairs": "Microsoft.Compute/virtualMachineScaleSets/setOrchestrationServiceState/action",
    "restart instance": "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/restart/action",
    "reimage instance": "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/reimage/action",
    "delete instance": "Microsoft.Compute/virtualMachineScaleSets/delete/action",
    "restore capacity": "Microsoft.Compute/virtualMachineScaleSets/write",
    "run command on instance": "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommand/action",
    "poll long-running operations": "Microsoft.Compute/locations/operations/read",
}

# Data-plane and monitoring reads granted by built-in roles, not the custom role.
BUILT_IN_ROLES: dict[str, str] = {
    "Log Analytics Reader": "73c42c96-874c-492b-b04d-ab87d138a893",
    "Storage Table Data Contributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
    "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "Storage Queue Data Contributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
    "Monitoring Metrics Publisher": "3913510d-42f4-4e42-8a64-420c390055eb",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
}


def role_actions() -> list[str]:
    """The custom role's actions, sorted and unique."""
    return sorted(set(ARM_OPERATIONS.values()))
