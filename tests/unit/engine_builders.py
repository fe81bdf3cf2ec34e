"""Small builders for direct tests of the pure engine: signals, live facts, settings, a clock.

Every value is what the parsers and the live read would hand the engine for the scenario
fleets (a six-instance zonal scale set with automatic repairs), so a test states only what
differs from that baseline.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import count

from vmss_responder.config import load_settings
from vmss_responder.engine.correlate import absorb, new_state
from vmss_responder.engine.decide import Decisions, evaluate
from vmss_responder.engine.incident import ActionRecord
from vmss_responder.engine.state import ScaleSetState
from vmss_responder.facts import ExtensionFacts, InstanceFacts, ScaleSetFacts
from vmss_responder.identity import ScaleSetRef
from vmss_responder.parse.operations import SCALE_IN, SCALE_OUT
from vmss_responder.signals import Annotation, Availability, Kind, OpCategory, Phase, Signal

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
REF = ScaleSetRef("6f1c9a52-0d2e-4b7a-9c1e-3a5d7e8f9012", "rg-search-prod", "vmss-search")
AUTOSCALE = "Microsoft.Insights/autoscaleSettings"
COMPUTE = "Microsoft.Compute/virtualMachineScaleSets"
OPERATIONS = {  # category -> (operation name, scope: whole set or one instance)
    OpCategory.SCALE: (SCALE_IN, None),
    OpCategory.POWER: (f"{COMPUTE}/virtualMachines/powerOff/action", "4"),
    OpCategory.REIMAGE: (f"{COMPUTE}/virtualMachines/reimage/action", "4"),
}
REPAIR_STATE = f"{COMPUTE}/setOrchestrationServiceState/action"
_ids = count(1)


def at(minutes: float = 0, seconds: float = 0) -> datetime:
    return T0 + timedelta(minutes=minutes, seconds=seconds)


def settings(**overrides: object):
    """Settings by their documented camelCase names, as a scenario's ``config`` gives them."""
    return load_settings(overrides)


ACT_ALL = {
    "mode": "act",
    "allowedActions": ["resume_repairs", "restart_instance", "reimage_instance", "replace_instance"],
}


def _signal(kind: Kind, source: str, when: datetime, instance: str | None, **fields: object) -> Signal:
    """A signal about the test scale set, with a delivery identity of its own."""
    fields.setdefault("channel", "eventgrid")
    return Signal(
        kind=kind,
        source=source,
        source_id=f"{kind.value}-{next(_ids)}",
        event_time=when,
        scale_set=REF,
        instance_id=instance,
        **fields,  # type: ignore[arg-type]
    )


def health(
    when: datetime, instance: str | None = None, state: Availability = Availability.DEGRADED
) -> Signal:
    return _signal(Kind.HEALTH, "eventgrid:AvailabilityStatusChanged", when, instance, state=state)


def operation(
    when: datetime,
    category: OpCategory = OpCategory.SCALE,
    phase: Phase = Phase.STARTED,
    *,
    correlation_id: str | None = "corr-1",
    caller: str | None = None,
    capacity: tuple[int, int] | None = (6, 4),
    name: str | None = None,
    instance: str | None = None,
) -> Signal:
    """An ARM operation signal; a scale operation carries (old, new) capacity like the autoscale webhook."""
    default_name, default_instance = OPERATIONS.get(category, (REPAIR_STATE, None))
    scale = category is OpCategory.SCALE
    return _signal(
        Kind.OPERATION,
        "test",
        when,
        instance or default_instance,
        channel="autoscale" if scale else "eventgrid",
        operation=name or default_name,
        category=category,
        phase=phase,
        correlation_id=correlation_id,
        caller=caller or (AUTOSCALE if scale else "ops@contoso.com"),
        old_capacity=capacity[0] if scale and capacity else None,
        new_capacity=capacity[1] if scale and capacity else None,
    )


def scale(when: datetime, old: int, new: int, *, caller: str = AUTOSCALE) -> Signal:
    """One autoscale move (webhook style: no correlation ID, capacities given)."""
    return operation(
        when,
        correlation_id=None,
        capacity=(old, new),
        caller=caller,
        name=SCALE_OUT if new > old else SCALE_IN,
    )


def autoscale(start: datetime, old: int, new: int, *, caller: str = AUTOSCALE) -> list[Signal]:
    """An autoscale move as the platform reports it: the webhook at the start, the Activity Log
    alert (with its own correlation ID) when it completes two minutes later."""
    webhook = scale(start, old, new, caller=caller)
    done = replace(
        webhook,
        channel="alert",
        source_id=f"alert-{next(_ids)}",
        event_time=start + timedelta(minutes=2),
        phase=Phase.SUCCEEDED,
        correlation_id=f"autoscale-{next(_ids)}",
    )
    return [webhook, done]


def moves(*steps: tuple[float, int, int], caller: str = AUTOSCALE) -> list[Signal]:
    """Several autoscale moves: (start minute, old capacity, new capacity)."""
    return [sig for m, old, new in steps for sig in autoscale(at(minutes=m), old, new, caller=caller)]


def annotation(when: datetime, instance: str, name: str, context: str) -> Signal:
    ann = Annotation(name=name, context=context, category="Unplanned")
    return _signal(Kind.ANNOTATION, "eventgrid:ResourceAnnotated", when, instance, annotation=ann)


def instance(
    iid: str,
    zone: str | None = None,
    health: str | None = "Healthy",
    provisioning_state: str = "Succeeded",
    power_state: str = "running",
    **protection: bool,
) -> InstanceFacts:
    """A running, provisioned instance on the latest model; zones 1-3 round-robin by ID unless given."""
    return InstanceFacts(
        instance_id=iid,
        zone=zone or str(int(iid) % 3 + 1),
        provisioning_state=provisioning_state,
        power_state=power_state,
        health=health,
        latest_model_applied=True,
        **protection,
    )


def fleet(
    size: int = 6,
    *,
    unhealthy: Iterable[str] = (),
    changed: Iterable[InstanceFacts] = (),
    service_state: str | None = "Running",
    repairs: bool | None = True,  # None: automaticRepairsPolicy absent
    now: datetime = T0,
) -> ScaleSetFacts:
    """``size`` instances, ``unhealthy`` IDs failing their probe, ``changed`` replacing instances by ID."""
    bad = set(unhealthy)
    by_id = {
        str(i): instance(str(i), health="Unhealthy" if str(i) in bad else "Healthy") for i in range(size)
    }
    by_id.update({i.instance_id: i for i in changed})
    return ScaleSetFacts(
        id=REF.id,
        capacity=len(by_id),
        repairs_configured=repairs is not None,
        repairs_enabled=bool(repairs),
        grace_period=timedelta(minutes=10) if repairs is not None else None,
        repair_action="Replace" if repairs is not None else None,
        service_state=service_state if repairs is not None else None,
        upgrade_mode="Rolling",
        read_at=now,
        instances=tuple(by_id.values()),
    )


def failed_extension(inst: InstanceFacts) -> InstanceFacts:
    ext = ExtensionFacts("HealthExtension", "failed", "Enable failed: exit code 1")
    return replace(inst, extensions=(ext,))


def folded(
    *signals: Signal, now: datetime | None = None, state: ScaleSetState | None = None
) -> ScaleSetState:
    """A scale set's state after ``signals`` arrived in one delivery at ``now`` (default: the latest event)."""
    st = state or new_state(REF.id)
    absorb(st, list(signals), now or max(s.event_time for s in signals), settings())
    return st


def decide_after_hold(
    facts: ScaleSetFacts, config: dict[str, object] | None = None, *, instances: Iterable[str] = ("4",)
) -> tuple[ScaleSetState, Decisions]:
    """An unexplained Degraded at 09:00 for ``instances``, first evaluated once the 10 min hold ran out."""
    st = folded(*(health(T0, i) for i in instances))
    now = at(minutes=11)
    return st, evaluate(st, replace(facts, read_at=now), now, settings(**(config or {})), [])


def record(d: Decisions, now: datetime, result: str = "succeeded") -> list[ActionRecord]:
    """The shell's records of the planned actions (executed ones as having been sent at ``now``)."""
    return [
        ActionRecord(
            id=f"a{n}",
            at=now,
            op=p.op,
            scale_set=REF.id,
            instance_ids=list(p.instance_ids),
            mode="executed" if p.execute else "shadow",
            result=result if p.execute else "skipped",
            reason=p.reason,
            incident_id="inc",
            last_sent=now,
        )
        for n, p in enumerate(d.actions)
    ]


def ops(d: Decisions, *, executed: bool | None = None) -> list[tuple[str, list[str]]]:
    return [(p.op, p.instance_ids) for p in d.actions if executed is None or p.execute is executed]


def pages(d: Decisions) -> int:
    return sum(1 for n in d.notifications if n.severity == "page")
