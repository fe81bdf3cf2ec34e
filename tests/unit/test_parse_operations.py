"""Operation names -> what they do to a scale set; statuses -> phases."""

from __future__ import annotations

import pytest

from vmss_responder.parse.operations import SCALE_IN, SCALE_OUT, classify, describe, phase_of
from vmss_responder.signals import OpCategory, Phase

VMSS_OPS = "Microsoft.Compute/virtualMachineScaleSets"


@pytest.mark.parametrize(
    ("name", "category", "phrase"),
    [
        (SCALE_OUT, OpCategory.SCALE, "scale out"),
        (SCALE_IN, OpCategory.SCALE, "scale in"),
        ("microsoft.insights/autoscalesettings/scaleup/action", OpCategory.SCALE, "scale out"),
        (f"{VMSS_OPS}/write", OpCategory.UPGRADE, "model or capacity update"),
        ("Microsoft.Compute/virtualMachines/write", OpCategory.UPGRADE, "model update"),
        (f"{VMSS_OPS}/virtualMachines/write", OpCategory.UPGRADE, "instance update"),
        (f"{VMSS_OPS}/delete/action", OpCategory.DELETE, "delete instances"),
        (f"{VMSS_OPS}/virtualMachines/delete", OpCategory.DELETE, "delete instance"),
        ("Microsoft.Compute/virtualMachines/delete", OpCategory.DELETE, "delete virtual machine"),
        (f"{VMSS_OPS}/delete", OpCategory.DELETE, "delete scale set"),
        (f"{VMSS_OPS}/powerOff/action", OpCategory.POWER, "power off"),
        ("MICROSOFT.COMPUTE/VIRTUALMACHINESCALESETS/POWEROFF/ACTION", OpCategory.POWER, "power off"),
        (f"{VMSS_OPS}/virtualMachines/deallocate/action", OpCategory.POWER, "deallocate"),
        (f"{VMSS_OPS}/start/action", OpCategory.POWER, "start"),
        (f"{VMSS_OPS}/virtualMachines/restart/action", OpCategory.POWER, "restart"),
        ("Microsoft.Compute/virtualMachines/restart/action", OpCategory.POWER, "restart"),
        (f"{VMSS_OPS}/redeploy/action", OpCategory.POWER, "redeploy"),
        (f"{VMSS_OPS}/virtualMachines/performMaintenance/action", OpCategory.POWER, "maintenance redeploy"),
        (f"{VMSS_OPS}/reimage/action", OpCategory.REIMAGE, "reimage"),
        (f"{VMSS_OPS}/virtualMachines/reimageall/action", OpCategory.REIMAGE, "reimage all disks"),
        (f"{VMSS_OPS}/manualUpgrade/action", OpCategory.UPGRADE, "upgrade to the latest model"),
        (f"{VMSS_OPS}/rollingUpgrades/cancel/action", OpCategory.UPGRADE, "rolling upgrade"),
        (f"{VMSS_OPS}/osRollingUpgrade/action", OpCategory.UPGRADE, "OS image rolling upgrade"),
        (f"{VMSS_OPS}/extensionRollingUpgrade/action", OpCategory.UPGRADE, "extension rolling upgrade"),
        (f"{VMSS_OPS}/extensions/write", OpCategory.UPGRADE, "extension change"),
        (f"{VMSS_OPS}/virtualMachines/extensions/delete", OpCategory.UPGRADE, "extension change"),
        (
            f"{VMSS_OPS}/setOrchestrationServiceState/action",
            OpCategory.REPAIR_STATE,
            "set orchestration service state (automatic repairs)",
        ),
        (
            "Microsoft.Network/networkSecurityGroups/write",
            OpCategory.OTHER,
            "Microsoft.Network/networkSecurityGroups/write",
        ),
        (
            f"{VMSS_OPS}/virtualMachines/runCommand/action",
            OpCategory.OTHER,
            f"{VMSS_OPS}/virtualMachines/runCommand/action",
        ),
        ("Microsoft.Web/sites/restart/action", OpCategory.OTHER, "Microsoft.Web/sites/restart/action"),
    ],
)
def test_classify_and_describe(name, category, phrase):
    assert classify(name) is category
    assert describe(name) == phrase


def test_only_operations_that_change_instances_explain_health():
    assert classify(f"{VMSS_OPS}/powerOff/action").explains_health
    assert not classify(f"{VMSS_OPS}/setOrchestrationServiceState/action").explains_health
    assert not classify("Microsoft.Resources/tags/write").explains_health


@pytest.mark.parametrize(
    ("status", "phase"),
    [
        ("Started", Phase.STARTED),
        ("Start", Phase.STARTED),
        ("Accepted", Phase.STARTED),
        ("succeeded", Phase.SUCCEEDED),
        ("Success", Phase.SUCCEEDED),
        ("Failed", Phase.FAILED),
        ("Failure", Phase.FAILED),
        ("Canceled", Phase.CANCELED),
        ("Cancelled", Phase.CANCELED),
        (" Succeeded ", Phase.SUCCEEDED),
        ("Active", None),
        ("Resolved", None),
        ("", None),
    ],
)
def test_phase_of(status, phase):
    assert phase_of(status) is phase
