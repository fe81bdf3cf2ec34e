"""Correlation: fold signals into a scale set's state, attributing health to operations.

An operation opens a window from its start to its completion plus a settle period; health
signals inside it are attributed to it. Signals are folded in event-time order, and an
operation that arrives after the health signal it explains still explains it (attribution is
recomputed over the whole incident whenever something arrives). Unexplained Degraded or
Unavailable is held, like an auto-pause, until ``holdPeriod`` runs out.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from ..config import Settings
from ..signals import Availability, Kind, OpCategory, Phase, Signal
from .incident import Incident, Status
from .state import HealthMark, Operation, ScaleSetState

# Never read the live view of one scale set more often than this, whatever the signals (a manual
# rerun excepted): at most two reads in any five minutes, far inside Compute's instance-view budget.
MIN_READ_GAP = timedelta(seconds=150)


def new_state(scale_set_id: str) -> ScaleSetState:
    return ScaleSetState(key=scale_set_id.lower(), scale_set_id=scale_set_id)


def absorb(state: ScaleSetState, signals: list[Signal], now: datetime, settings: Settings) -> None:
    """Fold signals (already deduplicated) into ``state`` and reschedule its next evaluation."""
    for sig in sorted(signals, key=lambda s: s.event_time):
        if sig.scale_set and _better_casing(sig.scale_set.id, state.scale_set_id):
            state.scale_set_id = sig.scale_set.id
        if sig.kind is Kind.OPERATION:
            _absorb_operation(state, sig, settings)
        elif sig.kind is Kind.HEALTH:
            _absorb_health(state, sig, now, settings)
        elif sig.kind is Kind.ANNOTATION:
            _absorb_annotation(state, sig, settings)
    if state.incident is not None:
        attribute(state.incident, state, settings)
    schedule(state, now, settings)
    state.prune(now, settings)


def _better_casing(candidate: str, current: str) -> bool:
    """Prefer an ID that is not all lower-case (alerts lower-case IDs; Event Grid keeps ARM's casing)."""
    return current == current.lower() and candidate != candidate.lower()


def is_own(sig: Signal, state: ScaleSetState, settings: Settings) -> bool:
    caller = (sig.caller or "").lower()
    if caller and caller in {p.lower() for p in settings.own_principals}:
        return True
    return bool(sig.correlation_id and sig.correlation_id.lower() in state.own_correlations)


def _absorb_operation(state: ScaleSetState, sig: Signal, settings: Settings) -> None:
    category = sig.category or OpCategory.OTHER
    own = is_own(sig, state, settings)
    op = _find_operation(state, sig, category, settings)
    if op is None:
        op = Operation(
            key=sig.correlation_id or f"{(sig.operation or '').lower()}|{sig.event_time.isoformat()}",
            category=category,
            operation=sig.operation or category.value,
            started=sig.event_time,
            caller=sig.caller,
            channel=sig.channel,
            instance_ids=[sig.instance_id] if sig.instance_id else [],
            old_capacity=sig.old_capacity,
            new_capacity=sig.new_capacity,
            own=own,
        )
        state.operations.append(op)
        if category is OpCategory.SCALE and sig.old_capacity is not None and sig.new_capacity is not None:
            direction = (sig.new_capacity > sig.old_capacity) - (sig.new_capacity < sig.old_capacity)
            if direction:
                state.autoscale.append((sig.event_time, direction))
                state.autoscale.sort()
                flap = flapping(state, sig.event_time, settings)
                if flap and not own:
                    state.diagnose = flap
    else:
        if sig.correlation_id and "|" in op.key:
            op.key = sig.correlation_id  # a synthesized identity gives way to the platform's correlation ID
        op.started = min(op.started, sig.event_time)
        op.own = op.own or own
        op.caller = op.caller or sig.caller
        if op.old_capacity is None:
            op.old_capacity = sig.old_capacity
        if op.new_capacity is None:
            op.new_capacity = sig.new_capacity
    if sig.phase and sig.phase.is_final:
        op.phase = sig.phase
        op.ended = max(op.ended, sig.event_time) if op.ended else sig.event_time
        op.started = min(op.started, sig.event_time)
    if category is OpCategory.REPAIR_STATE and not own and sig.phase in (Phase.SUCCEEDED, None):
        # The platform (or a person) changed the repair state: diagnose from live state now.
        state.diagnose = f"automatic repairs state changed by {sig.caller or 'unknown caller'} at {sig.event_time:%H:%M:%SZ}"
    if state.incident is not None:
        state.incident.note(
            sig.event_time,
            "operation",
            sig.detail or f"{sig.operation} {sig.phase.value if sig.phase else ''}",
        )


def _find_operation(
    state: ScaleSetState, sig: Signal, category: OpCategory, settings: Settings
) -> Operation | None:
    key = (sig.correlation_id or "").lower()
    for op in state.operations:
        if key and op.key.lower() == key:
            return op
    if category is OpCategory.SCALE:
        # The autoscale webhook (start, no correlation ID) and the Activity Log autoscale event
        # (completion, its own correlation ID) describe one scale operation: join them on the
        # target capacity within the operation's maximum duration.
        for op in reversed(state.operations):
            if (
                op.category is OpCategory.SCALE
                and (
                    op.new_capacity == sig.new_capacity or op.new_capacity is None or sig.new_capacity is None
                )
                and abs((sig.event_time - op.started).total_seconds())
                <= settings.operation_max_duration.total_seconds()
                and not (
                    op.ended and sig.event_time > op.ended
                )  # that operation was over: this is another one
                and not _overtaken(state, op, sig.event_time)
            ):
                return op
    return None


def _overtaken(state: ScaleSetState, op: Operation, at: datetime) -> bool:
    """Another scale operation to another capacity started after ``op`` and by ``at``: a signal
    at ``at`` belongs to that one or to a new one, never to ``op`` (webhook-only flapping
    4->6, 6->4, 4->6 is three operations, not two)."""
    return any(
        other is not op
        and other.category is OpCategory.SCALE
        and other.new_capacity != op.new_capacity
        and op.started < other.started <= at
        for other in state.operations
    )


def _absorb_annotation(state: ScaleSetState, sig: Signal, settings: Settings) -> None:
    ann = sig.annotation
    if ann is None:
        return
    state.annotations.append(
        {
            "at": sig.event_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "instance_id": sig.instance_id,
            "name": ann.name,
            "context": ann.context,
            "category": ann.category,
            "platform": ann.platform_initiated,
            "customer": ann.customer_initiated,
        }
    )
    if ann.customer_initiated and not ann.name.lower().startswith("virtualmachinepossiblydegraded"):
        # A customer-initiated stop/deallocate/restart explains the instance's health like an operation.
        state.operations.append(
            Operation(
                key=f"annotation|{sig.source_id}",
                category=OpCategory.POWER,
                operation=ann.name,
                started=sig.event_time,
                caller="Customer Initiated (Resource Health annotation)",
                channel=sig.channel,
                instance_ids=[sig.instance_id] if sig.instance_id else [],
            )
        )
    if state.incident is not None:
        state.incident.note(sig.event_time, "signal", sig.detail or f"annotation {ann.name} ({ann.context})")


def _absorb_health(state: ScaleSetState, sig: Signal, now: datetime, settings: Settings) -> None:
    target = sig.instance_id or ""
    mark = state.health.get(target)
    if sig.state is None:
        return
    if mark is None or sig.event_time >= mark.at:
        state.health[target] = HealthMark(sig.state.value, sig.event_time)
    inc = state.incident
    if inc is None:
        if not sig.state.is_problem:
            return
        if state.last_read is not None and sig.event_time <= state.last_read:
            return  # a late copy of what the last live read already saw (and closed on): only its mark counts
        inc = open_incident(state, sig.event_time, now, trigger="health")
    inc.signals += 1
    inc.first_signal = min(inc.first_signal, sig.event_time)
    inc.last_signal = max(inc.last_signal, sig.event_time)
    if sig.instance_id and sig.state.is_problem:
        inc.add_instances([sig.instance_id])
    inc.note(sig.event_time, "signal", sig.detail or f"{sig.state.value} ({sig.channel})")


def open_incident(state: ScaleSetState, first: datetime, now: datetime, trigger: str) -> Incident:
    state.incident_seq += 1
    digest = hashlib.sha1(state.key.encode()).hexdigest()[:6]
    name = state.scale_set_id.rsplit("/", 1)[-1]
    inc = Incident(
        id=f"{name}-{first:%Y%m%dT%H%M%SZ}-{digest}{state.incident_seq}",
        scale_set=state.scale_set_id,
        status=Status.OPEN,
        opened=now,
        first_signal=first,
        last_signal=first,
        trigger=trigger,
    )
    state.incident = inc
    return inc


def covering_operations(inc: Incident, state: ScaleSetState, settings: Settings) -> list[Operation]:
    """Operations whose window covers the start of the incident's episode (health-changing kinds only)."""
    out = []
    for op in state.operations:
        if not op.category.explains_health:
            continue
        targets = inc.instance_ids or [None]
        if any(op.covers(inc.first_signal, t, settings) for t in targets):
            out.append(op)
    return out


def attribute(inc: Incident, state: ScaleSetState, settings: Settings) -> None:
    """Recompute which operations explain the incident (order of arrival does not matter)."""
    if inc.paged or not inc.is_open:
        return
    ops = covering_operations(inc, state, settings)
    keys = [op.key for op in ops]
    if keys != inc.explained_by:
        inc.explained_by = keys
        if ops and inc.trigger == "health":
            inc.phase = "waiting_operation"
        elif inc.phase == "waiting_operation":
            inc.phase = "holding"
        inc.next_check = None  # rescheduled below


def explained_until(inc: Incident, state: ScaleSetState, settings: Settings) -> datetime | None:
    ends = [op.window_end(settings) for op in state.operations if op.key in inc.explained_by]
    return max(ends) if ends else None


def recovery_hinted(inc: Incident, state: ScaleSetState) -> bool:
    """Signals say the episode may be over: the scale set (or every instance it named) is Available again."""
    scale = state.health.get("")
    if scale and scale.state == Availability.AVAILABLE.value and scale.at >= inc.first_signal:
        return True
    marks = [state.health.get(i) for i in inc.instance_ids]
    return (
        bool(marks)
        and all(m is not None and m.state == Availability.AVAILABLE.value for m in marks)
        and (scale is None or scale.state == Availability.AVAILABLE.value)
    )


def schedule(state: ScaleSetState, now: datetime, settings: Settings) -> None:
    """Set ``state.due``: the next instant the shell must read live state and evaluate."""
    candidates: list[datetime] = []
    inc = state.incident
    if inc is not None:
        if inc.phase == "waiting_operation" and inc.explained_by and not inc.paged:
            # recomputed on every signal: a completion event shortens the window
            inc.next_check = explained_until(inc, state, settings) or inc.first_signal + settings.hold_period
        elif inc.phase == "holding" and inc.trigger == "health" and not inc.paged:
            inc.next_check = inc.first_signal + settings.hold_period
        elif inc.next_check is None:
            inc.next_check = now
        if recovery_hinted(inc, state):
            earliest = (state.last_read + MIN_READ_GAP) if state.last_read else now
            inc.next_check = min(inc.next_check, max(now, earliest))
        candidates.append(inc.next_check)
    if state.diagnose:
        candidates.append(now)  # a diagnosis asked for (flapping, a repair state change): read now
    due = min(candidates) if candidates else None
    if due is not None and state.last_read is not None:
        # Signals alone never read one scale set more than once per MIN_READ_GAP: a backlog of old
        # events (every hold already over), a storm or a flapping autoscale must not turn into one
        # read per delivery. Only a manual rerun reads sooner (it does not come through here).
        due = max(due, state.last_read + MIN_READ_GAP)
    state.due = due


def flapping(state: ScaleSetState, now: datetime, settings: Settings) -> str | None:
    recent = [(t, d) for t, d in state.autoscale if t >= now - settings.flap_window]
    reversals = sum(1 for a, b in zip(recent, recent[1:]) if a[1] != b[1])
    if reversals >= settings.flap_reversals:
        moves = ", ".join(f"{'out' if d > 0 else 'in'} at {t:%H:%M}Z" for t, d in recent)
        return f"autoscale reversed direction {reversals} times in {int(settings.flap_window.total_seconds() // 60)} min ({moves})"
    return None
