"""The scenario's ``fleet`` object and its timeline fleet steps, validated.

Scenario files are written by hand, so every mistake must come back as one sentence naming the
field (``fleet.scaleSets[0].instances[2].powerState: must be one of running, stopped, ...``); the
replay exits 2 with it. Pydantic does the checking; this module only names the fields the way the
scenario format writes them (camelCase, JSON paths with ``[i]``). The models stay plain input
records: :mod:`vmss_responder.sim.fleet` turns them into mutable platform state.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ..durations import parse_duration, parse_timestamp

Health = Literal["Healthy", "Unhealthy", "Unknown", "Initializing"]
ProvisioningState = Literal["Succeeded", "Failed", "Creating", "Updating", "Deleting"]
PowerState = Literal["running", "stopped", "deallocated", "starting", "stopping", "deallocating"]
ServiceState = Literal["Running", "Suspended", "NotRunning"]
RepairAction = Literal["Replace", "Reimage", "Restart"]
ExtensionStatus = Literal["Succeeded", "Failed", "Transitioning"]
FaultStatus = Literal[0, 429, 500, 503]

MIN_GRACE = timedelta(minutes=10)
MAX_GRACE = timedelta(minutes=90)
AUTOMATIC_REPAIRS = "AutomaticRepairs"


class FleetError(ValueError):
    """An invalid fleet or fleet step. ``field`` is the JSON path of the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _instance_id(value: object) -> object:
    # Uniform instance IDs are integers written as strings; a bare JSON number is accepted.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


InstanceId = Annotated[str, BeforeValidator(_instance_id), Field(pattern=r"^(0|[1-9][0-9]{0,8})$")]
ArmName = Annotated[str, Field(pattern=r"^[A-Za-z0-9._()\-]{1,90}$")]


class ScenarioSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def given(self) -> dict[str, Any]:
        """Only the fields the author wrote, by their scenario names (patches must not reset the rest)."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class ExtensionSpec(ScenarioSpec):
    name: Annotated[str, Field(min_length=1)]
    status: ExtensionStatus = "Succeeded"
    message: str = ""


class ProtectionSpec(ScenarioSpec):
    protectFromScaleIn: bool = False
    protectFromScaleSetActions: bool = False


class InstancePatch(ScenarioSpec):
    """Instance fields that can change over time: ``afterRepair`` and the ``set_instance`` step."""

    zone: str | None = None
    provisioningState: ProvisioningState = "Succeeded"
    powerState: PowerState = "running"
    health: Health | None = "Healthy"
    latestModelApplied: bool = True
    protectionPolicy: ProtectionSpec = ProtectionSpec()
    extensions: tuple[ExtensionSpec, ...] = ()
    runCommandOutput: str | None = None


class InstanceSpec(InstancePatch):
    """An instance as the scenario lists it. ``runCommandOutput`` (optional, an extension of the
    format) is the text a Run Command on this instance prints; without it the emulator describes
    the instance's state."""

    instanceId: InstanceId
    afterRepair: InstancePatch | None = None


class NewInstanceSpec(InstanceSpec):
    """``add_instances`` may leave ``instanceId`` out: the instance takes the next free integer."""

    instanceId: InstanceId | None = None  # type: ignore[assignment]


class RepairsPolicySpec(ScenarioSpec):
    enabled: bool = False  # lax: the Microsoft docs write "true" as a string
    gracePeriod: str = "PT10M"
    repairAction: RepairAction = "Replace"

    @field_validator("gracePeriod")
    @classmethod
    def _grace_in_range(cls, value: str) -> str:
        try:
            grace = parse_duration(value)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"not an ISO 8601 duration: {value!r}") from exc
        if not MIN_GRACE <= grace <= MAX_GRACE:
            raise ValueError(f"{value} is outside the range Azure accepts (PT10M to PT90M)")
        return value

    @property
    def grace(self) -> timedelta:
        return parse_duration(self.gracePeriod)


class OrchestrationServiceSpec(ScenarioSpec):
    serviceName: Annotated[str, Field(min_length=1)]
    serviceState: ServiceState
    lastStatusChangeTime: str | None = None

    @field_validator("lastStatusChangeTime")
    @classmethod
    def _is_timestamp(cls, value: str | None) -> str | None:
        if value is not None:
            parse_timestamp(value)
        return value


class UpgradePolicySpec(BaseModel):
    """``mode`` is checked; rolling-upgrade settings ride along untouched, as ARM returns them."""

    model_config = ConfigDict(extra="allow", frozen=True)
    mode: Literal["Automatic", "Manual", "Rolling"] = "Manual"


def _unique(values: list[str], what: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value.lower() in seen:
            raise ValueError(f"duplicate {what} {value!r}")
        seen.add(value.lower())


class ScaleSetSpec(ScenarioSpec):
    resourceGroup: ArmName
    name: ArmName
    location: Annotated[str, Field(min_length=1)] = "eastus"
    orchestrationMode: Literal["Uniform", "Flexible"] = "Uniform"
    automaticRepairsPolicy: RepairsPolicySpec | None = None
    orchestrationServices: tuple[OrchestrationServiceSpec, ...] = ()
    upgradePolicy: UpgradePolicySpec = UpgradePolicySpec()
    instances: tuple[InstanceSpec, ...] = ()

    @model_validator(mode="after")
    def _unique_ids(self) -> ScaleSetSpec:
        _unique([i.instanceId for i in self.instances], "instanceId")
        _unique([s.serviceName for s in self.orchestrationServices], "serviceName")
        return self


class FleetSpec(ScenarioSpec):
    subscriptionId: Annotated[str, Field(pattern=r"^[A-Za-z0-9\-]{1,64}$")]
    scaleSets: Annotated[tuple[ScaleSetSpec, ...], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_names(self) -> FleetSpec:
        _unique([s.name for s in self.scaleSets], "scale set name")
        return self


# --- timeline fleet steps ------------------------------------------------------------------


class _StepSpec(ScenarioSpec):
    scaleSet: ArmName


class SetInstanceStep(_StepSpec, InstancePatch):
    op: Literal["set_instance"]
    instanceId: InstanceId
    afterRepair: InstancePatch | None = None


class RemoveInstancesStep(_StepSpec):
    op: Literal["remove_instances"]
    instanceIds: Annotated[tuple[InstanceId, ...], Field(min_length=1)]


class AddInstancesStep(_StepSpec):
    op: Literal["add_instances"]
    instances: Annotated[tuple[NewInstanceSpec, ...], Field(min_length=1)]


class SetScaleSetStep(_StepSpec):
    op: Literal["set_scale_set"]
    automaticRepairsPolicy: RepairsPolicySpec | None = None
    orchestrationServices: tuple[OrchestrationServiceSpec, ...] = ()
    upgradePolicy: UpgradePolicySpec = UpgradePolicySpec()


class ArmFaultsStep(ScenarioSpec):
    op: Literal["arm_faults"]
    count: Annotated[int, Field(ge=1, le=1000)]
    status: FaultStatus
    retryAfterSeconds: Annotated[float, Field(ge=0)] | None = None


class ArmFaultRateStep(ScenarioSpec):
    """From this step on, ``rate`` of ARM requests fail (0 ends it); see :mod:`.faults`."""

    op: Literal["arm_fault_rate"]
    rate: Annotated[float, Field(ge=0, le=1)]
    kinds: Annotated[tuple[Literal["429", "500", "503", "drop", "lost"], ...], Field(min_length=1)] = (
        "429",
        "500",
        "503",
        "drop",
    )
    retryAfterSeconds: tuple[Annotated[float, Field(gt=0)], Annotated[float, Field(gt=0)]] = (1.0, 1200.0)
    seed: int = 0

    @model_validator(mode="after")
    def _ordered_range(self) -> ArmFaultRateStep:
        low, high = self.retryAfterSeconds
        if low > high:
            raise ValueError("retryAfterSeconds must be [low, high] with low <= high")
        return self


FleetStep = (
    SetInstanceStep
    | RemoveInstancesStep
    | AddInstancesStep
    | SetScaleSetStep
    | ArmFaultsStep
    | ArmFaultRateStep
)
STEP_MODELS: dict[str, type[ScenarioSpec]] = {
    "set_instance": SetInstanceStep,
    "remove_instances": RemoveInstancesStep,
    "add_instances": AddInstancesStep,
    "set_scale_set": SetScaleSetStep,
    "arm_faults": ArmFaultsStep,
    "arm_fault_rate": ArmFaultRateStep,
}


# --- entry points and error naming ---------------------------------------------------------


def parse_fleet(data: object, where: str = "fleet") -> FleetSpec:
    """Validate a scenario's ``fleet`` object; raises :class:`FleetError` naming the field."""
    return _validate(FleetSpec, data, where)


def parse_step(data: object, where: str = "fleet") -> FleetStep:
    """Validate one timeline ``fleet`` step (``{"op": ..., ...}``); raises :class:`FleetError`."""
    if not isinstance(data, Mapping):
        raise FleetError(where, "must be an object")
    op = data.get("op")
    model = STEP_MODELS.get(op) if isinstance(op, str) else None
    if model is None:
        raise FleetError(f"{where}.op", f"must be one of {', '.join(STEP_MODELS)}")
    return _validate(model, data, where)  # type: ignore[return-value]


def parse_patch(model: type[ScenarioSpec], data: object, where: str) -> Any:
    """Validate a partial object (a REST body part, an ``afterRepair``) against ``model``."""
    return _validate(model, data, where)


def _validate(model: type[BaseModel], data: object, where: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise FleetError(_path(where, err["loc"]), _message(err)) from None


def _path(root: str, loc: tuple[int | str, ...]) -> str:
    out = root
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _message(err: Mapping[str, Any]) -> str:
    kind = err["type"]
    if kind == "literal_error":
        expected = str(err.get("ctx", {}).get("expected", ""))
        return "must be one of " + expected.replace("'", "").replace(" or ", ", ")
    if kind == "extra_forbidden":
        return "is not a field the scenario format knows"
    if kind == "missing":
        return "is required"
    if kind == "string_pattern_mismatch":
        return f"{err.get('input')!r} is not a valid value here"
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")
