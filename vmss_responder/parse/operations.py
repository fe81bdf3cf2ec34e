"""What an ARM operation does to a scale set, and how its status reads as a phase.

The correlator asks one question of an operation: can it explain a health change (instances
created, deleted, stopped, reimaged, upgraded)? The answer depends only on the operation name,
which arrives in every casing (``MICROSOFT.COMPUTE/…`` in AzureActivity rows, ``Scaleup/Action``
from autoscale), so names are looked up lower-cased in one table.
"""

from __future__ import annotations

from ..signals import OpCategory, Phase

SCALE_OUT = "Microsoft.Insights/AutoscaleSettings/Scaleup/Action"
SCALE_IN = "Microsoft.Insights/AutoscaleSettings/Scaledown/Action"

_SET = "microsoft.compute/virtualmachinescalesets"
_INSTANCE = _SET + "/virtualmachines"
_VM = "microsoft.compute/virtualmachines"  # also a Flexible scale set's member
_COMPUTE = (_SET, _INSTANCE, _VM)

# Verbs that mean the same on a scale set, one of its instances, or a VM.
_VERBS = (
    ("poweroff/action", OpCategory.POWER, "power off"),
    ("deallocate/action", OpCategory.POWER, "deallocate"),
    ("start/action", OpCategory.POWER, "start"),
    ("restart/action", OpCategory.POWER, "restart"),
    ("redeploy/action", OpCategory.POWER, "redeploy"),
    ("performmaintenance/action", OpCategory.POWER, "maintenance redeploy"),
    ("reimage/action", OpCategory.REIMAGE, "reimage"),
    ("reimageall/action", OpCategory.REIMAGE, "reimage all disks"),
    ("manualupgrade/action", OpCategory.UPGRADE, "upgrade to the latest model"),
    ("osrollingupgrade/action", OpCategory.UPGRADE, "OS image rolling upgrade"),
    ("extensionrollingupgrade/action", OpCategory.UPGRADE, "extension rolling upgrade"),
    ("approverollingupgrade/action", OpCategory.UPGRADE, "approve rolling upgrade"),
    ("extensions/write", OpCategory.UPGRADE, "extension change"),
    ("extensions/delete", OpCategory.UPGRADE, "extension change"),
)

# Lower-cased operation name -> (category, phrase). A dict rather than patterns: one lookup a
# signal, and nothing to compile at import.
_OPERATIONS: dict[str, tuple[OpCategory, str]] = {
    SCALE_OUT.lower(): (OpCategory.SCALE, "scale out"),
    SCALE_IN.lower(): (OpCategory.SCALE, "scale in"),
    f"{_SET}/setorchestrationservicestate/action": (
        OpCategory.REPAIR_STATE,
        "set orchestration service state (automatic repairs)",
    ),
    f"{_SET}/delete/action": (OpCategory.DELETE, "delete instances"),
    f"{_INSTANCE}/delete": (OpCategory.DELETE, "delete instance"),
    f"{_SET}/delete": (OpCategory.DELETE, "delete scale set"),
    f"{_VM}/delete": (OpCategory.DELETE, "delete virtual machine"),
    f"{_SET}/write": (OpCategory.UPGRADE, "model or capacity update"),
    f"{_INSTANCE}/write": (OpCategory.UPGRADE, "instance update"),
    f"{_VM}/write": (OpCategory.UPGRADE, "model update"),
    **{f"{base}/{verb}": (category, phrase) for base in _COMPUTE for verb, category, phrase in _VERBS},
}
_ROLLING = (OpCategory.UPGRADE, "rolling upgrade")  # rollingUpgrades/{cancel,…}/action

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


def _lookup(name: str) -> tuple[OpCategory, str | None]:
    lowered = name.strip().lower()
    found = _OPERATIONS.get(lowered)
    if found is not None:
        return found
    if lowered.startswith(_COMPUTE) and "/rollingupgrades/" in lowered:
        return _ROLLING
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
