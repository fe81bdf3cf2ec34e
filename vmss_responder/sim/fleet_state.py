"""What a scale set and its instances are in the emulated platform, and how one instance changes.

Mutable records (the fleet changes them under its lock) with the rules that concern a single
instance or scale set: the repair clock (``unhealthy_since``), what a restart, reimage or
replacement leaves behind (``afterRepair``), capacity, orchestration service states, and a new
VM built from the scale set's model. :mod:`vmss_responder.sim.fleet` plays them over time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..identity import ScaleSetRef
from .fleet_spec import AUTOMATIC_REPAIRS, InstancePatch, InstanceSpec, RepairsPolicySpec

UNHEALTHY = frozenset({"Unhealthy", "Unknown"})
REPAIRED = {"provisioningState": "Succeeded", "powerState": "running", "health": "Healthy"}
RUN_COMMAND_OUTPUT_LIMIT = 4096  # Azure keeps the last 4,096 bytes of each stream


class NotFound(LookupError):
    """A scale set or instance that does not exist (ARM answers 404)."""


class Conflict(Exception):
    """ARM refuses the operation in the current state. ``code`` is ARM's error code;
    ``status`` the HTTP status it comes with (409, or 400 for a bad parameter)."""

    def __init__(self, code: str, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass
class Extension:
    name: str
    status: str
    message: str


@dataclass
class Instance:
    instance_id: str
    zone: str | None
    provisioning_state: str
    power_state: str
    health: str | None
    latest_model_applied: bool
    protect_from_scale_in: bool
    protect_from_scale_set_actions: bool
    extensions: list[Extension]
    after_repair: dict[str, Any]
    run_command_output: str | None
    created: datetime
    unhealthy_since: datetime | None = None
    # when the provisioning state last changed (ARM's ProvisioningState status ``time``): a caller
    # whose restart or reimage got no answer can tell from it whether the operation happened
    provisioning_changed: datetime | None = None

    @classmethod
    def from_spec(cls, spec: InstanceSpec, instance_id: str, at: datetime) -> Instance:
        inst = cls(instance_id, None, "Succeeded", "running", None, True, False, False, [], {}, None, at)
        inst.apply(spec.model_dump(exclude={"instanceId"}) | {"afterRepair": spec.afterRepair}, at)
        return inst

    @property
    def number(self) -> int:
        return int(self.instance_id)

    @property
    def protected(self) -> bool:
        return self.protect_from_scale_in or self.protect_from_scale_set_actions

    def set_health(self, health: str | None, at: datetime) -> None:
        """Track since when the instance has been unhealthy: the repair clock."""
        if health in UNHEALTHY and self.health not in UNHEALTHY:
            self.unhealthy_since = at
        elif health not in UNHEALTHY:
            self.unhealthy_since = None
        self.health = health

    def apply(self, fields: Mapping[str, Any], at: datetime) -> None:
        """Apply instance fields named as the scenario names them (a patch: absent fields stay)."""
        for name, value in fields.items():
            if name == "health":
                self.set_health(value, at)
            elif name == "protectionPolicy":
                policy = dict(value) if isinstance(value, Mapping) else value.model_dump()
                self.protect_from_scale_in = policy["protectFromScaleIn"]
                self.protect_from_scale_set_actions = policy["protectFromScaleSetActions"]
            elif name == "extensions":
                self.extensions = [_extension(e) for e in value]
            elif name == "afterRepair":
                self.after_repair = value.given() if isinstance(value, InstancePatch) else dict(value or {})
            else:
                setattr(self, _ATTRIBUTES[name], value)

    def begin_update(self, at: datetime) -> None:
        """The visible state while the platform restarts or reimages the VM."""
        self.provisioning_state, self.power_state = "Updating", "starting"
        self.provisioning_changed = at
        self.set_health("Initializing", at)

    def repaired(self, at: datetime, action: str) -> None:
        """A ``Restart``, ``Reimage`` or ``Replace`` has completed: ``afterRepair`` applies (over
        Succeeded, running, Healthy), and the grace period starts again from here for an instance
        that comes back unhealthy. A reimaged or new VM runs its extensions afresh and a new VM is
        built from the latest model; a restart changes neither."""
        fields: dict[str, Any] = dict(REPAIRED)
        if action in ("Reimage", "Replace"):
            fields["extensions"] = [Extension(e.name, "Succeeded", "") for e in self.extensions]
        if action == "Replace":
            fields["latestModelApplied"] = True
        self.apply(fields | self.after_repair, at)
        self.provisioning_changed = at
        if self.health in UNHEALTHY:
            self.unhealthy_since = at


_ATTRIBUTES = {
    "zone": "zone",
    "provisioningState": "provisioning_state",
    "powerState": "power_state",
    "latestModelApplied": "latest_model_applied",
    "runCommandOutput": "run_command_output",
}


def _extension(value: Any) -> Extension:
    if isinstance(value, Extension):
        return value
    data = value if isinstance(value, Mapping) else value.model_dump()
    return Extension(data["name"], data["status"], data["message"])


@dataclass
class OrchestrationService:
    name: str
    state: str
    last_change: datetime | None = None


@dataclass
class ScaleSet:
    subscription_id: str
    resource_group: str
    name: str
    location: str
    orchestration_mode: str
    repairs_policy: RepairsPolicySpec | None
    services: list[OrchestrationService]
    upgrade_policy: dict[str, Any]
    instances: dict[str, Instance]
    zones: list[str]
    created: datetime
    grace_anchor: datetime  # the last PUT/PATCH/POST state change on the set
    max_id: int  # highest instance ID ever used: new instances take max_id + 1
    generation: int = 1  # the ETag
    failed_repairs: int = 0  # consecutive platform repairs that came back unhealthy

    @property
    def ref(self) -> ScaleSetRef:
        return ScaleSetRef(self.subscription_id, self.resource_group, self.name)

    @property
    def id(self) -> str:
        return self.ref.id

    def service(self, name: str) -> OrchestrationService | None:
        return next((s for s in self.services if s.name.lower() == name.lower()), None)

    @property
    def repairs_state(self) -> str | None:
        service = self.service(AUTOMATIC_REPAIRS)
        return service.state if service else None

    @property
    def repairs_active(self) -> bool:
        return bool(self.repairs_policy and self.repairs_policy.enabled and self.repairs_state == "Running")

    @property
    def capacity(self) -> int:
        """``sku.capacity``: instances being deleted no longer count, as in Azure."""
        return sum(i.provisioning_state != "Deleting" for i in self.instances.values())

    def instance(self, instance_id: str) -> Instance:
        inst = self.instances.get(instance_id)
        if inst is None:
            raise NotFound(f"instance {instance_id} of {self.name}")
        return inst

    def sorted_instances(self) -> list[Instance]:
        return sorted(self.instances.values(), key=lambda i: i.number)

    def next_id(self) -> str:
        self.max_id += 1
        return str(self.max_id)

    def touch(self, at: datetime) -> None:
        """A PUT/PATCH/POST changed the set: the grace period restarts and the ETag moves."""
        self.grace_anchor = at
        self.generation += 1

    def set_service_state(self, name: str, state: str, at: datetime) -> None:
        service = self.service(name)
        if service is None:
            self.services.append(OrchestrationService(name, state, at))
        elif service.state != state:
            service.state, service.last_change = state, at

    def sync_repairs_service(self, at: datetime) -> None:
        """Keep AutomaticRepairs consistent with the policy, as ARM does when the policy changes:
        enabling runs it (a suspension stays), disabling makes it NotRunning, no policy removes it."""
        policy, state = self.repairs_policy, self.repairs_state
        if policy is None:
            self.services = [s for s in self.services if s.name.lower() != AUTOMATIC_REPAIRS.lower()]
        elif not policy.enabled:
            self.set_service_state(AUTOMATIC_REPAIRS, "NotRunning", at)
        elif state in (None, "NotRunning"):
            self.set_service_state(AUTOMATIC_REPAIRS, "Running", at)

    def add_zone(self, zone: str | None) -> None:
        if zone is not None and zone not in self.zones:
            self.zones.append(zone)
            self.zones.sort()


@dataclass(frozen=True)
class RunCommandOutput:
    stdout: str
    stderr: str = ""


@dataclass
class Operation:
    """A long-running operation: the emulator's async-operation and Location URLs report on it."""

    id: str
    name: str
    scale_set: str
    instance_ids: tuple[str, ...]
    started: datetime
    completes_at: datetime
    platform: bool = False
    status: str = "InProgress"
    ended: datetime | None = None
    output: RunCommandOutput | None = None
    finish: Callable[[datetime], None] = field(default=lambda at: None, repr=False)


@dataclass(frozen=True)
class Fault:
    """An injected ARM failure; status 0 drops the connection without an answer.

    ``after``: the request is performed first and only its answer is lost (a timeout whose
    outcome the caller cannot know); otherwise nothing is performed."""

    status: int
    retry_after: float | None = None
    after: bool = False

    @property
    def kind(self) -> str:
        """``429``, ``500``, ``503``, ``drop`` or ``lost`` (see :mod:`.faults`)."""
        if self.status == 0:
            return "lost" if self.after else "drop"
        return str(self.status)


def _extension_names(ss: ScaleSet) -> list[str]:
    return list(dict.fromkeys(e.name for i in ss.sorted_instances() for e in i.extensions))


def model_instance(ss: ScaleSet, instance_id: str, at: datetime) -> Instance:
    """A new VM from the scale set's model: healthy, latest model, in the least-used zone."""
    zone = None
    if ss.zones:
        load = {z: 0 for z in ss.zones}
        for inst in ss.instances.values():
            if inst.zone in load:
                load[inst.zone] += 1
        zone = min(ss.zones, key=lambda z: (load[z], ss.zones.index(z)))
    extensions = [Extension(name, "Succeeded", "") for name in _extension_names(ss)]
    return Instance(
        instance_id, zone, "Succeeded", "running", "Healthy", True, False, False, extensions, {}, None, at
    )


def replacement(ss: ScaleSet, old: Instance, at: datetime) -> Instance:
    """Replace = a new VM with the next free ID, in the old one's zone, being created; it becomes
    what the old one's ``afterRepair`` says when the repair completes."""
    new = Instance(
        ss.next_id(),
        old.zone,
        "Creating",
        "starting",
        None,
        True,
        False,
        False,
        [Extension(e.name, "Transitioning", "") for e in old.extensions],
        dict(old.after_repair),
        old.run_command_output,
        at,
    )
    new.set_health("Initializing", at)
    return new


def describe(ss: ScaleSet, inst: Instance, command_id: str) -> str:
    """Default Run Command output: what a diagnostics script would see on the VM."""
    lines = [
        f"[{command_id}] {ss.name}_{inst.instance_id}: provisioningState={inst.provisioning_state} "
        f"powerState={inst.power_state} health={inst.health}"
    ]
    for ext in inst.extensions:
        lines.append(f"extension {ext.name}: {ext.status}" + (f" - {ext.message}" if ext.message else ""))
    return "\n".join(lines)
