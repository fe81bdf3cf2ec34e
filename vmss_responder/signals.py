"""The normalized signal: what every parser produces and the engine consumes.

A platform payload (Event Grid, CloudEvents, Common Alert Schema, legacy Activity Log webhook,
autoscale webhook, an Activity Log row) becomes zero or more :class:`Signal`. A payload that is
well-formed but not about a scale set becomes an :class:`Ignored` with the reason; a malformed
one raises :class:`PayloadError` naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from .identity import ScaleSetRef


class Kind(str, Enum):
    HEALTH = "health"  # an availability state (Resource Health)
    ANNOTATION = "annotation"  # a Resource Health annotation (ResourceAnnotated)
    OPERATION = "operation"  # an ARM operation (Activity Log, Event Grid resource events, autoscale)
    SERVICE_HEALTH = "service_health"  # an Azure Service Health event for the subscription


class Availability(str, Enum):
    AVAILABLE = "Available"
    DEGRADED = "Degraded"
    UNAVAILABLE = "Unavailable"
    UNKNOWN = "Unknown"

    @property
    def is_problem(self) -> bool:
        return self in (Availability.DEGRADED, Availability.UNAVAILABLE)


class Phase(str, Enum):
    STARTED = "started"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def is_final(self) -> bool:
        return self is not Phase.STARTED


class OpCategory(str, Enum):
    """What an operation does to a scale set's health, which decides what it can explain."""

    SCALE = "scale"  # capacity change (autoscale or manual): instances created or deleted
    POWER = "power"  # stop / deallocate / start / restart / redeploy
    REIMAGE = "reimage"
    UPGRADE = "upgrade"  # model update, rolling upgrade, extension change
    DELETE = "delete"  # instances deleted
    REPAIR_STATE = "repair_state"  # setOrchestrationServiceState (repairs suspended/resumed)
    OTHER = "other"  # a write that does not explain health changes (tags, NSG, …)

    @property
    def explains_health(self) -> bool:
        return self not in (OpCategory.REPAIR_STATE, OpCategory.OTHER)


@dataclass(frozen=True, slots=True)
class Annotation:
    name: str
    context: str | None = None  # Platform Initiated / Customer Initiated / VM Initiated / Unknown
    category: str | None = None  # Planned / Unplanned / Not Applicable
    impact_type: str | None = None
    reason: str | None = None
    summary: str | None = None

    @property
    def platform_initiated(self) -> bool:
        return (self.context or "").replace(" ", "").lower() == "platforminitiated"

    @property
    def customer_initiated(self) -> bool:
        return (self.context or "").replace(" ", "").lower() == "customerinitiated"


@dataclass(frozen=True, slots=True)
class Signal:
    """One normalized platform signal.

    ``scale_set`` is None only for subscription-wide Service Health signals. ``instance_id`` is
    None for scale-set-level signals. ``source_id`` is the delivery's own identity (the Event
    Grid ``id``, the alert's ``eventDataId``, …); ``dedup_key`` is the semantic identity that
    also matches the same event arriving through another channel or schema.
    """

    kind: Kind
    channel: str  # eventgrid | cloudevents | alert | autoscale | activity_log | rerun
    source: str  # the schema family, e.g. "eventgrid:AvailabilityStatusChanged", "cas:ResourceHealth"
    source_id: str
    event_time: datetime
    scale_set: ScaleSetRef | None
    instance_id: str | None = None
    state: Availability | None = None
    previous_state: Availability | None = None
    operation: str | None = None  # ARM operation name as given, e.g. Microsoft.Compute/…/restart/action
    category: OpCategory | None = None
    phase: Phase | None = None
    correlation_id: str | None = None
    caller: str | None = None
    annotation: Annotation | None = None
    cause: str | None = None  # Resource Health cause/type (PlatformInitiated, UserInitiated, Degradation…)
    old_capacity: int | None = None
    new_capacity: int | None = None
    regions: tuple[str, ...] = ()  # Service Health: impacted regions
    services: tuple[str, ...] = ()  # Service Health: impacted services
    tracking_id: str | None = None  # Service Health tracking ID
    subscription: str | None = None  # for Service Health (no scale set)
    detail: str = ""  # one human line for the incident timeline

    @property
    def dedup_key(self) -> str:
        """Semantic identity: equal for the same event seen through different channels."""
        target = (self.scale_set.key if self.scale_set else (self.subscription or "")).lower()
        if self.instance_id is not None:
            target += f"/virtualmachines/{self.instance_id.lower()}"
        t = self.event_time.strftime("%Y%m%dT%H%M%S")
        if self.kind is Kind.OPERATION:
            if self.correlation_id:
                return f"op|{target}|{(self.operation or '').lower()}|{self.phase.value if self.phase else ''}|{self.correlation_id.lower()}"
            return f"op|{target}|{(self.operation or '').lower()}|{self.phase.value if self.phase else ''}|{t}|{self.new_capacity}"
        if self.kind is Kind.HEALTH:
            return f"health|{target}|{self.state.value if self.state else ''}|{t}"
        if self.kind is Kind.ANNOTATION:
            return f"annotation|{target}|{self.annotation.name if self.annotation else ''}|{t}"
        return f"service|{self.tracking_id or self.source_id}|{t}"


@dataclass(frozen=True, slots=True)
class Ignored:
    """A well-formed payload (or event inside one) that is not about a scale set."""

    channel: str
    source: str
    source_id: str
    reason: str


@dataclass(slots=True)
class Parsed:
    """What one delivery became: signals to correlate, items ignored with a reason."""

    signals: list[Signal] = field(default_factory=list)
    ignored: list[Ignored] = field(default_factory=list)


class PayloadError(ValueError):
    """A malformed payload. ``field`` is a JSON path such as ``data.essentials.alertTargetIDs``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
