"""The emulated platform: scale sets, their instances, and what Azure does to them over time.

The fleet is the emulator's state and the only place where the platform's rules live:

* the timeline's fleet steps (``set_instance``, ``remove_instances``, ``add_instances``,
  ``set_scale_set``, ``arm_faults``, ``arm_fault_rate``) via :meth:`Fleet.apply_step`;
* the mutations the responder's ARM calls cause (resume, restart, reimage, delete, capacity,
  run command). Each long-running one is an :class:`Operation` that finishes
  ``operation_seconds`` later on the clock; the emulator's LRO status URLs report on it;
* the platform's own automatic repairs, played by :meth:`Fleet.tick` as a discrete-event
  simulation, so the outcome does not depend on how often anybody looks: an instance that has been
  ``Unhealthy``/``Unknown`` for the grace period (which also restarts after any state change on the
  set) and is not protected and did not fail provisioning is repaired with the policy's action, one
  at a time below 20 instances (5% above). Three repairs in a row that come back unhealthy make the
  platform suspend AutomaticRepairs, as Azure does after repeated failed repairs.

No HTTP and no clock reads here: every entry point takes ``now``. One lock serialises the replay
driver and the emulator's request threads.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from ..durations import parse_timestamp
from .faults import ARM_REQUESTS, FaultPlan, RandomFaults
from .fleet_spec import (
    AUTOMATIC_REPAIRS,
    AddInstancesStep,
    ArmFaultRateStep,
    ArmFaultsStep,
    FleetError,
    FleetSpec,
    FleetStep,
    OrchestrationServiceSpec,
    RemoveInstancesStep,
    RepairsPolicySpec,
    ScaleSetSpec,
    SetInstanceStep,
    SetScaleSetStep,
    parse_fleet,
    parse_step,
)
from .fleet_state import (
    RUN_COMMAND_OUTPUT_LIMIT,
    UNHEALTHY,
    Conflict,
    Fault,
    Instance,
    NotFound,
    Operation,
    OrchestrationService,
    RunCommandOutput,
    ScaleSet,
    describe,
    model_instance,
    replacement,
)

__all__ = ["Conflict", "Fault", "Fleet", "NotFound", "Operation", "RunCommandOutput", "ScaleSet"]

SUSPEND_AFTER_FAILED_REPAIRS = 3
SMALL_SET = 20  # below this, one repair at a time; above, 5% of the instances


class Fleet:
    def __init__(self, spec: FleetSpec, start: datetime, *, operation_seconds: float = 10.0) -> None:
        self.subscription_id = spec.subscriptionId
        self.operation_duration = timedelta(seconds=operation_seconds)
        self._sets = {s.name.lower(): _scale_set(spec.subscriptionId, s, start) for s in spec.scaleSets}
        self._cursor = start  # virtual time up to which the platform has been played
        self._pending: list[Operation] = []
        self._operations: dict[str, Operation] = {}
        self._faults: deque[Fault] = deque()
        self._random_faults: RandomFaults | None = None
        self._op_numbers = itertools.count(1)
        self._lock = threading.RLock()

    @classmethod
    def from_spec(
        cls,
        data: FleetSpec | object,
        start: datetime,
        *,
        operation_seconds: float = 10.0,
        where: str = "fleet",
    ) -> Fleet:
        """Build from a scenario's ``fleet`` object (or its parsed :class:`FleetSpec`); raises
        :class:`FleetError` naming the field."""
        spec = data if isinstance(data, FleetSpec) else parse_fleet(data, where)
        return cls(spec, start, operation_seconds=operation_seconds)

    # --- lookups ---------------------------------------------------------------------------

    @property
    def lock(self) -> threading.RLock:
        """Hold while reading several things that must agree (the emulator renders under it)."""
        return self._lock

    @property
    def scale_sets(self) -> list[ScaleSet]:
        return list(self._sets.values())

    def scale_set(self, name: str) -> ScaleSet:
        found = self._sets.get(name.lower())
        if found is None:
            raise NotFound(f"scale set {name}")
        return found

    def find(self, subscription_id: str, resource_group: str, name: str) -> ScaleSet:
        """ARM addressing: names compare case-insensitively, as ARM does."""
        found = self._sets.get(name.lower())
        if (
            found is None
            or found.subscription_id.lower() != subscription_id.lower()
            or found.resource_group.lower() != resource_group.lower()
        ):
            raise NotFound(f"scale set {name} in {resource_group}")
        return found

    def operation(self, operation_id: str) -> Operation | None:
        return self._operations.get(operation_id.lower())

    # --- injected faults -------------------------------------------------------------------

    def add_faults(self, count: int, status: int, retry_after: float | None = None) -> None:
        with self._lock:
            self._faults.extend(Fault(status, retry_after) for _ in range(count))

    def set_fault_rate(self, plan: FaultPlan | None) -> None:
        """From now on fail a seeded random share of requests (``None`` stops it); queued faults
        from :meth:`add_faults` still come first."""
        with self._lock:
            self._random_faults = RandomFaults(plan) if plan is not None else None

    def take_fault(self, request_kind: str = "read", request: str = "") -> Fault | None:
        """The fault for the next request of ``request_kind`` (read, write, poll, logQuery), if any;
        ``request`` (method and path) keys the random draw. Queued faults hit ARM reads and writes
        only, as they always did."""
        with self._lock:
            if self._faults and request_kind in ARM_REQUESTS:
                return self._faults.popleft()
            return self._random_faults.draw(request_kind, request) if self._random_faults else None

    # --- the timeline ----------------------------------------------------------------------

    def apply_step(self, step: Mapping[str, Any] | FleetStep, now: datetime, where: str = "fleet") -> None:
        """Apply a timeline ``fleet`` step at ``now`` (the platform is first played up to ``now``).
        Raises :class:`FleetError` for an invalid step or one naming something that does not exist."""
        spec = parse_step(step, where) if isinstance(step, Mapping) else step
        with self._lock:
            self.tick(now)
            at = self._cursor
            if isinstance(spec, ArmFaultsStep):
                self.add_faults(spec.count, spec.status, spec.retryAfterSeconds)
                return
            if isinstance(spec, ArmFaultRateStep):
                plan = (
                    FaultPlan(spec.rate, spec.kinds, spec.retryAfterSeconds, spec.seed) if spec.rate else None
                )
                self.set_fault_rate(plan)
                return
            ss = self._sets.get(spec.scaleSet.lower())
            if ss is None:
                raise FleetError(f"{where}.scaleSet", f"no scale set named {spec.scaleSet!r} in the fleet")
            if isinstance(spec, SetInstanceStep):
                inst = self._step_instance(ss, spec.instanceId, f"{where}.instanceId")
                inst.apply({k: v for k, v in spec.given().items() if k not in _STEP_KEYS}, at)
            elif isinstance(spec, RemoveInstancesStep):
                for i, iid in enumerate(spec.instanceIds):
                    self._step_instance(ss, iid, f"{where}.instanceIds[{i}]")
                for iid in spec.instanceIds:
                    del ss.instances[iid]
                ss.touch(at)
            elif isinstance(spec, AddInstancesStep):
                self._add_instances(ss, spec, at, where)
            elif isinstance(spec, SetScaleSetStep):
                self._set_scale_set(ss, spec, at)

    def _step_instance(self, ss: ScaleSet, instance_id: str, where: str) -> Instance:
        inst = ss.instances.get(instance_id)
        if inst is None:
            present = ", ".join(i.instance_id for i in ss.sorted_instances()) or "none"
            raise FleetError(where, f"{ss.name} has no instance {instance_id} now (instances: {present})")
        return inst

    def _add_instances(self, ss: ScaleSet, spec: AddInstancesStep, at: datetime, where: str) -> None:
        for i, new in enumerate(spec.instances):
            iid = new.instanceId or ss.next_id()
            if iid in ss.instances:
                raise FleetError(
                    f"{where}.instances[{i}].instanceId", f"{ss.name} already has instance {iid}"
                )
            ss.instances[iid] = Instance.from_spec(new, iid, at)
            ss.max_id = max(ss.max_id, int(iid))
            ss.add_zone(new.zone)
        ss.touch(at)

    def _set_scale_set(self, ss: ScaleSet, spec: SetScaleSetStep, at: datetime) -> None:
        given = spec.given()
        if "upgradePolicy" in given:
            ss.upgrade_policy = spec.upgradePolicy.model_dump()
        if "automaticRepairsPolicy" in given:
            ss.repairs_policy = spec.automaticRepairsPolicy
        if "orchestrationServices" in given:
            ss.services = [_service(s) for s in spec.orchestrationServices]
        elif "automaticRepairsPolicy" in given:
            ss.sync_repairs_service(at)
        ss.failed_repairs = 0
        ss.touch(at)

    # --- what the responder's ARM calls do ---------------------------------------------------

    def set_orchestration_service_state(
        self, scale_set: str, service_name: str, action: str, now: datetime
    ) -> Operation:
        with self._lock:
            ss, at = self._prepare(scale_set, now)
            if action not in ("Resume", "Suspend"):
                raise Conflict("InvalidParameter", f"action must be Resume or Suspend, not {action!r}.", 400)
            service = ss.service(service_name)
            if service is None:
                raise Conflict(
                    "InvalidParameter",
                    f"Orchestration service {service_name} is not present on {ss.name}.",
                    400,
                )
            if service.name == AUTOMATIC_REPAIRS and not (ss.repairs_policy and ss.repairs_policy.enabled):
                raise Conflict(
                    "OperationNotAllowed",
                    f"Automatic repairs is not enabled on the scale set {ss.name}: enable automaticRepairsPolicy first.",
                )
            ss.set_service_state(service.name, "Running" if action == "Resume" else "Suspended", at)
            if action == "Resume":
                ss.failed_repairs = 0
            ss.touch(at)
            return self._begin(ss, "setOrchestrationServiceState", (), at)

    def restart(self, scale_set: str, instance_id: str, now: datetime) -> Operation:
        return self._repair_instance(scale_set, instance_id, now, "restart")

    def reimage(self, scale_set: str, instance_id: str, now: datetime) -> Operation:
        return self._repair_instance(scale_set, instance_id, now, "reimage")

    def _repair_instance(self, scale_set: str, instance_id: str, now: datetime, name: str) -> Operation:
        with self._lock:
            ss, at = self._prepare(scale_set, now)
            inst = self._idle_instance(ss, instance_id)
            if inst.power_state in ("deallocated", "deallocating"):
                raise Conflict(
                    "OperationNotAllowed", f"Cannot {name} VM {ss.name}_{instance_id}: it is deallocated."
                )
            inst.begin_update(at)
            return self._begin(
                ss, name, (instance_id,), at, finish=lambda t: inst.repaired(t, name.capitalize())
            )

    def delete_instances(self, scale_set: str, instance_ids: Iterable[str], now: datetime) -> Operation:
        with self._lock:
            ss, at = self._prepare(scale_set, now)
            ids = tuple(dict.fromkeys(instance_ids))
            if not ids:
                raise Conflict(
                    "InvalidParameter", "vmInstanceIDs.instanceIds must name at least one instance.", 400
                )
            for iid in ids:
                if iid not in ss.instances:
                    raise Conflict(
                        "InvalidParameter",
                        f"The provided instanceId {iid} is not an active Virtual Machine Scale Set VM instanceId.",
                        400,
                    )
            for iid in ids:
                ss.instances[iid].provisioning_state, ss.instances[iid].power_state = "Deleting", "stopping"
            ss.touch(at)

            def finish(_t: datetime) -> None:
                for iid in ids:
                    ss.instances.pop(iid, None)

            return self._begin(ss, "deleteInstances", ids, at, finish=finish)

    def set_capacity(self, scale_set: str, capacity: int, now: datetime) -> None:
        """``sku.capacity``: growing adds healthy instances from the model with the next free IDs,
        zones balanced over the set's zones; shrinking removes the highest unprotected IDs."""
        with self._lock:
            ss, at = self._prepare(scale_set, now)
            if capacity < 0:
                raise Conflict("InvalidParameter", "sku.capacity must not be negative.", 400)
            current = ss.capacity
            if capacity < current:
                removable = [
                    i
                    for i in reversed(ss.sorted_instances())
                    if not i.protected and i.provisioning_state != "Deleting"
                ]
                if len(removable) < current - capacity:
                    raise Conflict(
                        "OperationNotAllowed",
                        f"Cannot scale in {ss.name} to {capacity}: the other instances are protected from scale-in.",
                    )
                for inst in removable[: current - capacity]:
                    del ss.instances[inst.instance_id]
            for _ in range(capacity - current):
                inst = model_instance(ss, ss.next_id(), at)
                ss.instances[inst.instance_id] = inst
            ss.touch(at)

    def set_repairs_policy(self, scale_set: str, policy: RepairsPolicySpec, now: datetime) -> None:
        with self._lock:
            ss, at = self._prepare(scale_set, now)
            ss.repairs_policy = policy
            ss.sync_repairs_service(at)
            ss.touch(at)

    def run_command(self, scale_set: str, instance_id: str, command_id: str, now: datetime) -> Operation:
        with self._lock:
            ss, at = self._prepare(scale_set, now)
            inst = ss.instance(instance_id)
            if any(op.name == "runCommand" and instance_id in op.instance_ids for op in self._pending):
                raise Conflict(
                    "Conflict",
                    "Run command extension execution is in progress. Please wait for completion before invoking a run command.",
                )
            if inst.power_state != "running":
                raise Conflict(
                    "OperationNotAllowed", f"VM {ss.name}_{instance_id} is not running ({inst.power_state})."
                )
            text = (
                inst.run_command_output
                if inst.run_command_output is not None
                else describe(ss, inst, command_id)
            )
            op = self._begin(ss, "runCommand", (instance_id,), at)
            op.output = RunCommandOutput(text.encode()[-RUN_COMMAND_OUTPUT_LIMIT:].decode(errors="ignore"))
            return op

    def _prepare(self, scale_set: str, now: datetime) -> tuple[ScaleSet, datetime]:
        self.tick(now)
        return self.scale_set(scale_set), self._cursor

    def _idle_instance(self, ss: ScaleSet, instance_id: str) -> Instance:
        inst = ss.instance(instance_id)
        if inst.provisioning_state in ("Creating", "Updating", "Deleting"):
            raise Conflict(
                "RetryableErrorDueToAnotherOperation",
                f"Operation on VM {ss.name}_{instance_id} is not allowed since another operation is in progress.",
            )
        return inst

    def _begin(
        self,
        ss: ScaleSet,
        name: str,
        instance_ids: tuple[str, ...],
        at: datetime,
        *,
        platform: bool = False,
        finish: Callable[[datetime], None] | None = None,
    ) -> Operation:
        op_id = str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"vmss-responder-emulator/operation/{next(self._op_numbers)}")
        )
        op = Operation(op_id, name, ss.name, instance_ids, at, at + self.operation_duration, platform)
        if finish is not None:
            op.finish = finish
        self._operations[op_id] = op
        self._pending.append(op)
        return op

    # --- the platform ------------------------------------------------------------------------

    def tick(self, now: datetime) -> None:
        """Play the platform up to ``now``: finish due operations and run automatic repairs, each
        event at its own instant, whatever the spacing of the calls."""
        with self._lock:
            while (t := self._next_event(now)) is not None:
                self._cursor = max(self._cursor, t)
                self._finish_operations(self._cursor)
                for ss in self._sets.values():
                    self._start_repairs(ss, self._cursor)
            self._cursor = max(self._cursor, now)

    def _next_event(self, now: datetime) -> datetime | None:
        times = [op.completes_at for op in self._pending]
        for ss in self._sets.values():
            if self._free_repair_slots(ss) > 0:
                times.extend(max(when, self._cursor) for when, _ in self._repair_candidates(ss))
        due = min(times, default=None)
        return due if due is not None and due <= now else None

    def _finish_operations(self, t: datetime) -> None:
        for op in sorted(
            (op for op in self._pending if op.completes_at <= t), key=lambda op: op.completes_at
        ):
            self._pending.remove(op)
            op.finish(op.completes_at)
            op.status, op.ended = "Succeeded", op.completes_at

    def _repair_candidates(self, ss: ScaleSet) -> list[tuple[datetime, Instance]]:
        if not ss.repairs_active or ss.repairs_policy is None:
            return []
        busy = {iid for op in self._pending if op.scale_set == ss.name for iid in op.instance_ids}
        grace = ss.repairs_policy.grace
        return sorted(
            (
                (max(inst.unhealthy_since, ss.grace_anchor) + grace, inst)
                for inst in ss.instances.values()
                if inst.health in UNHEALTHY
                and inst.unhealthy_since is not None
                and inst.provisioning_state == "Succeeded"
                and not inst.protected
                and inst.instance_id not in busy
            ),
            key=lambda pair: (pair[0], pair[1].number),
        )

    def _free_repair_slots(self, ss: ScaleSet) -> int:
        count = len(ss.instances)
        batch = 1 if count < SMALL_SET else max(1, count * 5 // 100)
        in_flight = sum(1 for op in self._pending if op.platform and op.scale_set == ss.name)
        return batch - in_flight

    def _start_repairs(self, ss: ScaleSet, t: datetime) -> None:
        while self._free_repair_slots(ss) > 0:
            due = [inst for when, inst in self._repair_candidates(ss) if when <= t]
            if not due or ss.repairs_policy is None:
                return
            self._start_repair(ss, due[0], ss.repairs_policy.repairAction, t)

    def _start_repair(self, ss: ScaleSet, inst: Instance, action: str, t: datetime) -> None:
        if action == "Replace":
            del ss.instances[inst.instance_id]
            target = replacement(ss, inst, t)
            ss.instances[target.instance_id] = target
        else:
            target = inst
            target.begin_update(t)

        def finish(at: datetime) -> None:
            if ss.instances.get(target.instance_id) is not target:
                return  # removed by the timeline meanwhile
            target.repaired(at, action)
            ss.failed_repairs = ss.failed_repairs + 1 if target.health in UNHEALTHY else 0
            if ss.failed_repairs >= SUSPEND_AFTER_FAILED_REPAIRS and ss.repairs_state == "Running":
                ss.set_service_state(AUTOMATIC_REPAIRS, "Suspended", at)
                ss.failed_repairs = 0

        self._begin(ss, f"automaticRepair/{action}", (target.instance_id,), t, platform=True, finish=finish)

    # --- the report --------------------------------------------------------------------------

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """The report's ``fleetAfter``."""
        with self._lock:
            return {
                ss.name: {
                    "serviceState": ss.repairs_state,
                    "instances": {
                        i.instance_id: {
                            "health": i.health,
                            "provisioningState": i.provisioning_state,
                            "powerState": i.power_state,
                        }
                        for i in ss.sorted_instances()
                    },
                }
                for ss in self._sets.values()
            }


_STEP_KEYS = frozenset({"op", "scaleSet", "instanceId"})


def _service(spec: OrchestrationServiceSpec) -> OrchestrationService:
    changed = parse_timestamp(spec.lastStatusChangeTime) if spec.lastStatusChangeTime else None
    return OrchestrationService(spec.serviceName, spec.serviceState, changed)


def _scale_set(subscription_id: str, spec: ScaleSetSpec, start: datetime) -> ScaleSet:
    instances = {i.instanceId: Instance.from_spec(i, i.instanceId, start) for i in spec.instances}
    ss = ScaleSet(
        subscription_id=subscription_id,
        resource_group=spec.resourceGroup,
        name=spec.name,
        location=spec.location,
        orchestration_mode=spec.orchestrationMode,
        repairs_policy=spec.automaticRepairsPolicy,
        services=[_service(s) for s in spec.orchestrationServices],
        upgrade_policy=spec.upgradePolicy.model_dump(),
        instances=instances,
        zones=sorted({i.zone for i in spec.instances if i.zone is not None}),
        created=start,
        grace_anchor=start,
        max_id=max((int(i) for i in instances), default=-1),
    )
    if ss.repairs_policy is not None and ss.repairs_state is None:
        ss.sync_repairs_service(start)
    return ss
