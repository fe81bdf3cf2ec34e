"""Live-state conversions on Microsoft's published REST samples (Compute API 2026-03-01).

The scale set and its instance view go through azure-mgmt-compute's models (as ``read_facts``
reads them); the VM list is read as plain JSON (``diagnostics.list_vms``), so its samples are
converted as they come off the wire.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from azure.mgmt.compute.models import VirtualMachineScaleSet, VirtualMachineScaleSetInstanceView

from vmss_responder.diagnostics import instance_facts, scale_set_facts

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "azure" / "compute"
NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def body(name: str) -> Any:
    return json.loads((SAMPLES / f"{name}.2026-03-01.json").read_text())["responses"]["200"]["body"]


def test_a_uniform_vm_with_its_instance_view() -> None:
    (vm,) = body("vmss-vms-list-uniform-maximumset")["value"]
    facts = instance_facts(vm)
    assert facts.instance_id == vm["instanceId"]
    assert facts.zone == vm["zones"][0]
    assert facts.provisioning_state == "Succeeded"
    assert facts.latest_model_applied is True
    assert facts.protect_from_scale_in and facts.protect_from_scale_set_actions
    # the maximum-set sample fills codes with placeholders: no PowerState/ or HealthState/ code
    assert facts.power_state is None
    assert facts.health == "aaaaaaaaaaaaaaaaaaaaaaa"
    (ext,) = facts.extensions
    assert ext.name == "aaaaaaaaaaaaaaaaa" and ext.status == "unknown" and ext.message == "a"


def test_flexible_vms_without_an_instance_view_are_healthy_by_default() -> None:
    vms = body("vmss-vms-list-flex-with-vm-resource-id")["value"]
    facts = [instance_facts(vm) for vm in vms]
    assert [f.instance_id for f in facts] == [vm["instanceId"] for vm in vms]
    assert all(
        f.health is None and f.power_state is None and f.provisioning_state == "Succeeded" for f in facts
    )
    assert not any(f.protect_from_scale_in or f.protect_from_scale_set_actions for f in facts)


def test_real_status_codes_are_read() -> None:
    vm = {
        "instanceId": "3",
        "zones": ["2"],
        "properties": {
            "provisioningState": "failed",
            "latestModelApplied": False,
            "instanceView": {
                "statuses": [
                    {"code": "ProvisioningState/failed/AllocationFailed"},
                    {"code": "PowerState/stopped"},
                ],
                "vmHealth": {"status": {"code": "HealthState/unhealthy"}},
                "extensions": [
                    {
                        "name": "HealthExtension",
                        "statuses": [
                            {"code": "ProvisioningState/failed/1", "message": "probe on port 80 refused"}
                        ],
                    }
                ],
            },
        },
    }
    facts = instance_facts(vm)
    assert (facts.provisioning_state, facts.power_state, facts.health, facts.zone) == (
        "Failed",
        "stopped",
        "Unhealthy",
        "2",
    )
    assert facts.latest_model_applied is False
    (ext,) = facts.extensions
    assert ext.status == "failed/1" and ext.message == "probe on port 80 refused"


def test_the_scale_set_and_its_instance_view() -> None:
    vmss = VirtualMachineScaleSet(body("vmss-get"))
    view = VirtualMachineScaleSetInstanceView(body("vmss-get-instance-view"))
    vms = body("vmss-vms-list-uniform-maximumset")["value"]
    facts = scale_set_facts(vmss, view, vms, NOW)
    assert facts.id == body("vmss-get")["id"]
    assert facts.capacity == 4
    assert facts.service_state == "NotRunning"
    assert facts.upgrade_mode == "Automatic"
    assert not facts.repairs_configured and facts.grace_period is None
    assert len(facts.instances) == 1 and facts.read_at == NOW


def test_automatic_repairs_policy_from_the_create_sample() -> None:
    sample = json.loads((SAMPLES / "vmss-create-with-automatic-repairs.2026-03-01.json").read_text())
    vmss = VirtualMachineScaleSet(sample["responses"]["200"]["body"])
    facts = scale_set_facts(vmss, VirtualMachineScaleSetInstanceView({}), [], NOW)
    assert facts.repairs_configured and facts.repairs_enabled
    assert facts.grace_period == timedelta(minutes=10)
