"""Diagnostics: read a scale set's live state from the control plane into :class:`ScaleSetFacts`.

Three reads per evaluation, whatever the number of signals: the scale set (repair policy,
capacity), its instance view (AutomaticRepairs serviceState, statusesSummary) and the VM list
with ``$expand=instanceView`` (per-instance vmHealth, power and provisioning state, extension
statuses, protection, zone, latestModelApplied). The conversion from SDK models is pure so it
is tested on Microsoft's REST samples.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .durations import parse_duration
from .facts import ExtensionFacts, InstanceFacts, ScaleSetFacts
from .identity import ScaleSetRef

_HEALTH = {"healthy": "Healthy", "unhealthy": "Unhealthy", "unknown": "Unknown", "initializing": "Initializing"}


def _val(x: Any) -> Any:
    return getattr(x, "value", x)


def _code_suffix(statuses: Any, prefix: str) -> str | None:
    for st in statuses or []:
        code = _val(getattr(st, "code", None)) or ""
        if code.lower().startswith(prefix.lower() + "/"):
            return code.split("/", 1)[1]
    return None


def instance_facts(vm: Any) -> InstanceFacts:
    """SDK ``VirtualMachineScaleSetVM`` (with instanceView expanded) -> InstanceFacts."""
    view = getattr(vm, "instance_view", None)
    statuses = getattr(view, "statuses", None) if view else None
    prov = _val(getattr(vm, "provisioning_state", None)) or _code_suffix(statuses, "ProvisioningState") or "Succeeded"
    power = _code_suffix(statuses, "PowerState")
    health = None
    vm_health = getattr(view, "vm_health", None) if view else None
    if vm_health is not None and getattr(vm_health, "status", None) is not None:
        code = _val(vm_health.status.code) or ""
        health = _HEALTH.get(code.split("/", 1)[-1].lower(), code.split("/", 1)[-1] or None)
    extensions = []
    for ext in (getattr(view, "extensions", None) or []) if view else []:
        status = _code_suffix(getattr(ext, "statuses", None), "ProvisioningState") or "unknown"
        message = next((getattr(s, "message", "") or "" for s in (ext.statuses or []) if getattr(s, "message", None)), "")
        extensions.append(ExtensionFacts(name=ext.name or "", status=status.lower(), message=message[:500]))
    protection = getattr(vm, "protection_policy", None)
    zones = getattr(vm, "zones", None) or []
    return InstanceFacts(
        instance_id=str(vm.instance_id),
        zone=zones[0] if zones else None,
        provisioning_state=str(prov[:1].upper() + prov[1:]),
        power_state=power.lower() if power else None,
        health=health,
        latest_model_applied=getattr(vm, "latest_model_applied", None),
        protect_from_scale_in=bool(getattr(protection, "protect_from_scale_in", False)),
        protect_from_scale_set_actions=bool(getattr(protection, "protect_from_scale_set_actions", False)),
        extensions=tuple(extensions),
    )


def scale_set_facts(vmss: Any, view: Any, vms: list[Any], now: datetime) -> ScaleSetFacts:
    """SDK scale set + instance view + VM list -> ScaleSetFacts."""
    policy = getattr(vmss, "automatic_repairs_policy", None)
    enabled = bool(policy is not None and str(getattr(policy, "enabled", False)).lower() == "true")
    grace = None
    if policy is not None and getattr(policy, "grace_period", None):
        grace = parse_duration(policy.grace_period)
    service = None
    for svc in getattr(view, "orchestration_services", None) or []:
        if str(_val(svc.service_name)) == "AutomaticRepairs":
            service = str(_val(svc.service_state))
    upgrade = getattr(vmss, "upgrade_policy", None)
    return ScaleSetFacts(
        id=vmss.id,
        capacity=int(getattr(getattr(vmss, "sku", None), "capacity", None) or len(vms)),
        repairs_configured=policy is not None,
        repairs_enabled=enabled,
        grace_period=grace,
        repair_action=str(_val(getattr(policy, "repair_action", None))) if policy is not None and getattr(policy, "repair_action", None) else None,
        service_state=service,
        upgrade_mode=str(_val(upgrade.mode)) if upgrade is not None and getattr(upgrade, "mode", None) else None,
        read_at=now,
        instances=tuple(sorted((instance_facts(vm) for vm in vms), key=lambda i: (len(i.instance_id), i.instance_id))),
    )


def read_facts(compute: Any, ref: ScaleSetRef, now: datetime) -> ScaleSetFacts:
    """Read live facts through ``azure-mgmt-compute`` (3 GETs, plus pages of the VM list)."""
    vmss = compute.virtual_machine_scale_sets.get(ref.resource_group, ref.name)
    view = compute.virtual_machine_scale_sets.get_instance_view(ref.resource_group, ref.name)
    vms = list(compute.virtual_machine_scale_set_vms.list(ref.resource_group, ref.name, expand="instanceView"))
    return scale_set_facts(vmss, view, vms, now)
