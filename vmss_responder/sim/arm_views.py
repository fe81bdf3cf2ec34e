"""The fleet as the Compute REST API shows it (api-version 2026-03-01 shapes).

The field names, nesting and status codes follow Microsoft's REST examples in
``tests/fixtures/azure/compute`` so that the unmodified SDK deserialises them and the responder
reads what it would read from Azure: ``orchestrationServices`` and ``statusesSummary`` in the scale
set instance view, ``vmHealth`` and ``ProvisioningState/…`` / ``PowerState/…`` status codes in a
VM's instance view, ``ComponentStatus/StdOut/succeeded`` in a Run Command result. Parts of the
examples that describe configurations the fleet model has no notion of (dedicated hosts, gallery
applications, plans, disk encryption) are left out.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime
from typing import Any

from ..durations import format_timestamp
from .fleet_state import Extension, Instance, RunCommandOutput, ScaleSet

VM_SIZE = "Standard_D2s_v3"
_DISPLAY = {
    "Succeeded": "Provisioning succeeded",
    "Failed": "Provisioning failed",
    "Creating": "Creating",
    "Updating": "Updating",
    "Deleting": "Deleting",
}
_HEALTH_DISPLAY = {
    "Healthy": "The VM is reporting healthy",
    "Unhealthy": "The VM is reporting unhealthy",
    "Unknown": "The VM health is unknown",
    "Initializing": "The VM health is initializing",
}


def _status(
    code: str, display: str, *, level: str = "Info", message: str | None = None, time: datetime | None = None
) -> dict[str, Any]:
    return {
        "code": code,
        "level": level,
        "displayStatus": display,
        "message": message,
        "time": format_timestamp(time) if time else None,
    }


def _guid(*parts: str) -> str:
    """Stable GUIDs (uniqueId, vmId): the same fleet renders the same resource every time."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(p.lower() for p in parts)))


def _etag(generation: int) -> str:
    return f'"{generation}"'


def provisioning_status(inst: Instance) -> dict[str, Any]:
    """``ProvisioningState/succeeded``; a failed VM carries the reason as ARM does
    (``ProvisioningState/failed/VMExtensionProvisioningError`` when an extension failed). Its
    ``time`` is when the state last changed (creation, or the end of the last restart/reimage)."""
    state, changed = inst.provisioning_state, inst.provisioning_changed or inst.created
    if state != "Failed":
        return _status(f"ProvisioningState/{state.lower()}", _DISPLAY[state], time=changed)
    failed = next((e for e in inst.extensions if e.status == "Failed"), None)
    code = "ProvisioningState/failed/VMExtensionProvisioningError" if failed else "ProvisioningState/failed"
    return _status(
        code, _DISPLAY[state], level="Error", message=failed.message if failed else None, time=changed
    )


def power_status(inst: Instance) -> dict[str, Any]:
    return _status(f"PowerState/{inst.power_state}", f"VM {inst.power_state}")


def extension_status(ext: Extension) -> dict[str, Any]:
    if ext.status == "Failed":
        return _status("ProvisioningState/failed", "Provisioning failed", level="Error", message=ext.message)
    if ext.status == "Transitioning":
        return _status("ProvisioningState/transitioning", "Transitioning", message=ext.message)
    return _status("ProvisioningState/succeeded", "Provisioning succeeded", message=ext.message)


def _vm_profile(ss: ScaleSet) -> dict[str, Any]:
    network = (
        f"/subscriptions/{ss.subscription_id}/resourceGroups/{ss.resource_group}"
        f"/providers/Microsoft.Network/virtualNetworks/{ss.name}-vnet/subnets/default"
    )
    return {
        "osProfile": {
            "computerNamePrefix": ss.name[:9],
            "adminUsername": "azureuser",
            "linuxConfiguration": {"disablePasswordAuthentication": True},
        },
        "storageProfile": {
            "imageReference": {
                "publisher": "Canonical",
                "offer": "ubuntu-24_04-lts",
                "sku": "server",
                "version": "latest",
            },
            "osDisk": {
                "createOption": "FromImage",
                "caching": "ReadWrite",
                "managedDisk": {"storageAccountType": "Premium_LRS"},
            },
            "dataDisks": [],
        },
        "networkProfile": {
            "networkInterfaceConfigurations": [
                {
                    "name": f"{ss.name}-nic",
                    "properties": {
                        "primary": True,
                        "ipConfigurations": [
                            {"name": "ipconfig1", "properties": {"subnet": {"id": network}}}
                        ],
                    },
                }
            ]
        },
        "securityProfile": {"securityType": "Standard"},
        "timeCreated": format_timestamp(ss.created),
    }


def scale_set_resource(ss: ScaleSet) -> dict[str, Any]:
    """``GET …/virtualMachineScaleSets/{vmss}``."""
    properties: dict[str, Any] = {
        "singlePlacementGroup": False,
        "orchestrationMode": ss.orchestration_mode,
        "upgradePolicy": dict(ss.upgrade_policy),
        "virtualMachineProfile": _vm_profile(ss),
        "provisioningState": "Succeeded",
        "overprovision": False,
        "doNotRunExtensionsOnOverprovisionedVMs": False,
        "uniqueId": _guid("vmss", ss.id),
        "platformFaultDomainCount": 1,
        "timeCreated": format_timestamp(ss.created),
    }
    if ss.repairs_policy is not None:
        properties["automaticRepairsPolicy"] = ss.repairs_policy.model_dump()
    body: dict[str, Any] = {
        "name": ss.name,
        "id": ss.id,
        "type": "Microsoft.Compute/virtualMachineScaleSets",
        "location": ss.location,
        "tags": {},
        "sku": {"name": VM_SIZE, "tier": "Standard", "capacity": ss.capacity},
        "etag": _etag(ss.generation),
        "properties": properties,
    }
    if ss.zones:
        body["zones"] = list(ss.zones)
    return body


def _summary(codes: list[str]) -> list[dict[str, Any]]:
    return [{"code": code, "count": count} for code, count in sorted(Counter(codes).items())]


def scale_set_instance_view(ss: ScaleSet) -> dict[str, Any]:
    """``GET …/virtualMachineScaleSets/{vmss}/instanceView``."""
    instances = ss.sorted_instances()
    names = list(dict.fromkeys(e.name for i in instances for e in i.extensions))
    services = []
    for service in ss.services:
        entry: dict[str, Any] = {"serviceName": service.name, "serviceState": service.state}
        if service.last_change is not None:
            entry["lastStatusChangeTime"] = format_timestamp(service.last_change)
        services.append(entry)
    return {
        "virtualMachine": {"statusesSummary": _summary([provisioning_status(i)["code"] for i in instances])},
        "extensions": [
            {
                "name": name,
                "statusesSummary": _summary(
                    [extension_status(e)["code"] for i in instances for e in i.extensions if e.name == name]
                ),
            }
            for name in names
        ],
        "statuses": [_status("ProvisioningState/succeeded", "Provisioning succeeded", time=ss.grace_anchor)],
        "orchestrationServices": services,
    }


def _computer_name(ss: ScaleSet, inst: Instance) -> str:
    """Uniform VMs are named prefix + the instance number in base 36, six digits."""
    digits, n = "", inst.number
    while True:
        n, r = divmod(n, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[r] + digits
        if n == 0:
            break
    return ss.name[:9] + digits.rjust(6, "0")


def vm_instance_view(ss: ScaleSet, inst: Instance) -> dict[str, Any]:
    """``GET …/virtualMachines/{id}/instanceView`` (and the ``$expand=instanceView`` part of a VM)."""
    running = inst.power_state == "running"
    agent = (
        _status("ProvisioningState/succeeded", "Ready", message="Guest Agent is running")
        if running
        else _status(
            "ProvisioningState/Unavailable", "Not Ready", level="Warning", message="VM agent is not running."
        )
    )
    view: dict[str, Any] = {
        "platformUpdateDomain": inst.number % 5,
        "platformFaultDomain": 0,
        "computerName": _computer_name(ss, inst),
        "osName": "ubuntu",
        "osVersion": "24.04",
        "rdpThumbPrint": None,
        "vmAgent": {"vmAgentVersion": "2.13.1.1" if running else "Unknown", "statuses": [agent]},
        "disks": [
            {
                "name": f"{ss.name}_{inst.instance_id}_OsDisk_1",
                "statuses": [
                    _status("ProvisioningState/succeeded", "Provisioning succeeded", time=inst.created)
                ],
            }
        ],
        "extensions": [{"name": e.name, "statuses": [extension_status(e)]} for e in inst.extensions],
        "bootDiagnostics": None,
        "statuses": [provisioning_status(inst), power_status(inst)],
    }
    if inst.health is not None:
        view["vmHealth"] = {
            "status": _status(f"HealthState/{inst.health.lower()}", _HEALTH_DISPLAY[inst.health])
        }
    return view


def vm_resource(ss: ScaleSet, inst: Instance, *, expand_instance_view: bool) -> dict[str, Any]:
    """A VM as ``GET …/virtualMachines/{id}`` and the VM list return it."""
    vm_id = f"{ss.id}/virtualMachines/{inst.instance_id}"
    properties: dict[str, Any] = {
        "latestModelApplied": inst.latest_model_applied,
        "modelDefinitionApplied": "VirtualMachineScaleSet",
        "vmId": _guid("vm", vm_id),
        "hardwareProfile": {"vmSize": VM_SIZE},
        "osProfile": {"computerName": _computer_name(ss, inst), "adminUsername": "azureuser"},
        "provisioningState": inst.provisioning_state,
        "protectionPolicy": {
            "protectFromScaleIn": inst.protect_from_scale_in,
            "protectFromScaleSetActions": inst.protect_from_scale_set_actions,
        },
        "timeCreated": format_timestamp(inst.created),
    }
    if expand_instance_view:
        properties["instanceView"] = vm_instance_view(ss, inst)
    body: dict[str, Any] = {
        "name": f"{ss.name}_{inst.instance_id}",
        "id": vm_id,
        "type": "Microsoft.Compute/virtualMachineScaleSets/virtualMachines",
        "location": ss.location,
        "tags": {},
        "etag": _etag(ss.generation),
        "instanceId": inst.instance_id,
        "sku": {"name": VM_SIZE, "tier": "Standard"},
        "properties": properties,
        "resources": [
            {
                "name": e.name,
                "id": f"{vm_id}/extensions/{e.name}",
                "type": "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/extensions",
                "location": ss.location,
                "properties": {"provisioningState": e.status},
            }
            for e in inst.extensions
        ],
    }
    if inst.zone is not None:
        body["zones"] = [inst.zone]
    return body


def run_command_result(output: RunCommandOutput) -> dict[str, Any]:
    return {
        "value": [
            _status("ComponentStatus/StdOut/succeeded", "Provisioning succeeded", message=output.stdout),
            _status("ComponentStatus/StdErr/succeeded", "Provisioning succeeded", message=output.stderr),
        ]
    }


def arm_error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}
