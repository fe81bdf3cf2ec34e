"""What an ARM operation does to a scale set, and how its status reads as a phase.

The correlator asks one question of an operation: can it explain a health change (instances
created, deleted, stopped, reimaged, upgraded)? The answer depends only on the operation name,
which arrives in every casing (``MICROSOFT.COMPUTE/…`` in AzureActivity rows, ``Scaleup/Action``
from autoscale), so names are matched lower-cased against one ordered table.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..signals import OpCategory, Phase

SCALE_OUT = "Microsoft.Insights/AutoscaleSettings/Scaleup/Action"
SCALE_IN = "Microsoft.Insights/AutoscaleSettings/Scaledown/Action"

# A scale set, one of its Uniform instances, or a VM (Flexible members are plain VMs).
_COMPUTE = r"^microsoft\.compute/(?:virtualmachinescalesets(?:/virtualmachines)?|virtualmachines)"
_SET = r"^microsoft\.compute/virtualmachinescalesets"

_RULES: tuple[tuple[re.Pattern[str], OpCategory, str], ...] = tuple(
    (re.compile(pattern), category, description)
    for pattern, category, description in (
        (r"^microsoft\.insights/autoscalesettings/scaleup/action$", OpCategory.SCALE, "scale out"),
        (r"^microsoft\.insights/autoscalesettings/scaledown/action$", OpCategory.SCALE, "scale in"),
        (
            _SET + r"/setorchestrationservicestate/action$",
            OpCategory.REPAIR_STATE,
            "set orchestration service state (automatic repairs)",
        ),
        (_SET + r"/delete/action$", OpCategory.DELETE, "delete instances"),
        (_SET + r"/virtualmachines/delete$", OpCategory.DELETE, "delete instance"),
        (_SET + r"/delete$", OpCategory.DELETE, "delete scale set"),
        (r"^microsoft\.compute/virtualmachines/delete$", OpCategory.DELETE, "delete virtual machine"),
        (_COMPUTE + r"/poweroff/action$", OpCategory.POWER, "power off"),
        (_COMPUTE + r"/deallocate/action$", OpCategory.POWER, "deallocate"),
        (_COMPUTE + r"/start/action$", OpCategory.POWER, "start"),
        (_COMPUTE + r"/restart/action$", OpCategory.POWER, "restart"),
        (_COMPUTE + r"/redeploy/action$", OpCategory.POWER, "redeploy"),
        (_COMPUTE + r"/performmaintenance/action$", OpCategory.POWER, "maintenance redeploy"),
        (_COMPUTE + r"/reimageall/action$", OpCategory.REIMAGE, "reimage all disks"),
        (_COMPUTE + r"/reimage/action$", OpCategory.REIMAGE, "reimage"),
        (_COMPUTE + r"/manualupgrade/action$", OpCategory.UPGRADE, "upgrade to the latest model"),
        (_COMPUTE + r"/rollingupgrades/", OpCategory.UPGRADE, "rolling upgrade"),
        (_COMPUTE + r"/osrollingupgrade/action$", OpCategory.UPGRADE, "OS image rolling upgrade"),
        (_COMPUTE + r"/extensionrollingupgrade/action$", OpCategory.UPGRADE, "extension rolling upgrade"),
        (_COMPUTE + r"/approverollingupgrade/action$", OpCategory.UPGRADE, "approve rolling upgrade"),
        (_COMPUTE + r"/extensions/(?:write|delete)$", OpCategory.UPGRADE, "extension change"),
        (_SET + r"/write$", OpCategory.UPGRADE, "model or capacity update"),
        (_SET + r"/virtualmachines/write$", OpCategory.UPGRADE, "instance update"),
        (r"^microsoft\.compute/virtualmachines/write$", OpCategory.UPGRADE, "model update"),
    )
)

_PHASES = {
    "start": Phase.STARTED,
    "started": Phase.STARTED,
    "accept": Phase.STARTED,
    "accepted": Phase.STARTED,
    "success": Phase.SUCCEEDED,
    "succeeded": Phase.SUCCEEDED,
    "failure": Phase.FAILED,
    "failed": Phase.FAILED,
    "cancel": Phase.CANCELED,
    "canceled": Phase.CANCELED,
    "cancelled": Phase.CANCELED,
}


@lru_cache(maxsize=1024)
def _lookup(name: str) -> tuple[OpCategory, str | None]:
    lowered = name.strip().lower()
    for pattern, category, description in _RULES:
        if pattern.search(lowered):
            return category, description
    return OpCategory.OTHER, None


def classify(operation_name: str) -> OpCategory:
    """``Microsoft.Compute/virtualMachineScaleSets/powerOff/action`` -> POWER (case-insensitive)."""
    return _lookup(operation_name)[0]


def describe(operation_name: str) -> str:
    """A short phrase for explanations ("power off", "scale in"); the name itself when unclassified."""
    return _lookup(operation_name)[1] or operation_name


def phase_of(status: str) -> Phase | None:
    """An Activity Log / AzureActivity status as a phase: Started, Start, Accepted -> STARTED,
    Succeeded, Success -> SUCCEEDED, Failed, Failure -> FAILED, Canceled -> CANCELED; else None."""
    return _PHASES.get(status.strip().lower())
