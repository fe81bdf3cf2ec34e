"""Live facts: what the control plane says about a scale set right now.

The engine never talks to ARM; the shell reads these (once per scale set per evaluation) and
hands them in. Keeping them as plain frozen dataclasses makes every decision reproducible from
(state, signals, facts, now).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

HEALTHY = "Healthy"
UNHEALTHY_STATES = frozenset({"Unhealthy", "Unknown"})
STOPPED_POWER = frozenset({"stopped", "deallocated", "stopping", "deallocating"})
SETTLING_PROVISIONING = frozenset({"Creating", "Updating", "Deleting"})


@dataclass(frozen=True, slots=True)
class ExtensionFacts:
    name: str
    status: str  # succeeded | failed | transitioning | …  (lower-case code suffix)
    message: str = ""

    @property
    def failed(self) -> bool:
        return self.status.lower() in ("failed", "error")


@dataclass(frozen=True, slots=True)
class InstanceFacts:
    instance_id: str
    zone: str | None
    provisioning_state: str  # Succeeded | Failed | Creating | Updating | Deleting
    power_state: str | None  # running | stopped | deallocated | starting | stopping | deallocating
    health: str | None  # Healthy | Unhealthy | Unknown | Initializing | None (no health source)
    latest_model_applied: bool | None = None
    protect_from_scale_in: bool = False
    protect_from_scale_set_actions: bool = False
    extensions: tuple[ExtensionFacts, ...] = ()
    provisioned_at: datetime | None = None  # ProvisioningState status time: moves when a restart/reimage runs

    @property
    def provisioning_failed(self) -> bool:
        return self.provisioning_state.lower() == "failed"

    @property
    def stopped(self) -> bool:
        return (self.power_state or "").lower() in STOPPED_POWER

    @property
    def settling(self) -> bool:
        """Still coming up: not a verdict either way yet."""
        return (
            self.provisioning_state in SETTLING_PROVISIONING
            or (self.power_state or "").lower() == "starting"
            or self.health == "Initializing"
        )

    @property
    def unhealthy(self) -> bool:
        """Failing by the live view (a stopped instance is judged separately: it may be intended)."""
        if self.provisioning_failed:
            return True
        return self.health in UNHEALTHY_STATES and not self.settling

    @property
    def healthy(self) -> bool:
        return not self.unhealthy and not self.stopped and not self.settling

    def describe(self) -> str:
        parts = [f"ProvisioningState/{self.provisioning_state.lower()}"]
        if self.power_state:
            parts.append(f"PowerState/{self.power_state}")
        parts.append(f"health {self.health or 'n/a'}")
        if self.zone:
            parts.append(f"zone {self.zone}")
        failed = [e for e in self.extensions if e.failed]
        for ext in failed:
            parts.append(f"extension {ext.name} {ext.status}" + (f": {ext.message}" if ext.message else ""))
        if self.latest_model_applied is False:
            parts.append("model not latest")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class ScaleSetFacts:
    id: str  # ARM ID in the fleet's casing
    capacity: int
    repairs_configured: bool  # automaticRepairsPolicy present
    repairs_enabled: bool
    grace_period: timedelta | None
    repair_action: str | None
    service_state: str | None  # AutomaticRepairs serviceState: Running | Suspended | NotRunning | None
    upgrade_mode: str | None
    read_at: datetime
    instances: tuple[InstanceFacts, ...] = field(default_factory=tuple)

    def instance(self, instance_id: str) -> InstanceFacts | None:
        for inst in self.instances:
            if inst.instance_id == instance_id:
                return inst
        return None

    @property
    def repairs_running(self) -> bool:
        return self.repairs_enabled and self.service_state == "Running"

    @property
    def zones(self) -> set[str]:
        return {i.zone for i in self.instances if i.zone}
