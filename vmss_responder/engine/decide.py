"""Decisions: given the state, the live facts and the time, what to do and whom to tell.

``evaluate`` is pure apart from mutating the state it is handed (the shell persists it with
an ETag). It returns the actions to run (or record as shadow) and the notifications to send;
the shell executes them. Rules, in the order they are applied:

1. Recovered (live view shows no failing instance) -> close: ``suppressed`` when an operation
   explains the episode, ``remediated`` when the responder's action (or the platform's repair
   after a resume) brought it back, ``resolved`` otherwise; an escalated incident keeps its
   status and gets a ``resolved`` notification.
2. Inside an operation's window -> wait for the window to close.
3. An executed action not yet verified -> wait for it (until its verification deadline).
4. Unexplained and the hold has not run out -> wait.
5. Otherwise diagnose and act with the smallest correct action where safe; page when nothing
   the responder or the platform does will fix it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..config import Settings
from ..facts import ScaleSetFacts
from .correlate import covering_operations, explained_until, flapping, open_incident
from .explain import describe_operation, minutes_between, operation_reference
from .findings import Assessment, assess
from .incident import ActionRecord, Incident, Status, instance_order
from .state import ScaleSetState

PER_INSTANCE_ACTIONS = ("restart_instance", "reimage_instance", "replace_instance")


@dataclass(slots=True)
class PlannedAction:
    op: str
    instance_ids: list[str]
    execute: bool  # False: recorded as shadow
    reason: str


@dataclass(slots=True)
class NotifyIntent:
    severity: str  # page | info | resolved
    reason: str  # opened | updated | escalated | closed
    title: str


@dataclass(slots=True)
class Decisions:
    actions: list[PlannedAction] = field(default_factory=list)
    notifications: list[NotifyIntent] = field(default_factory=list)
    closed: Incident | None = None
    verified: dict[str, bool] = field(default_factory=dict)  # action id -> remediated?


def blast_radius(total: int) -> int:
    """Instances that may be acted on at once: one below 20, 5% above (as automatic repairs do)."""
    return 1 if total < 20 else max(1, total * 5 // 100)


def evaluate(
    state: ScaleSetState,
    facts: ScaleSetFacts,
    now: datetime,
    settings: Settings,
    actions: list[ActionRecord],
    *,
    dry_run: bool = False,
    lookup_note: str | None = None,
) -> Decisions:
    """Decide for one scale set. ``actions`` are the records of the open incident's actions."""
    d = Decisions()
    state.scale_set_id = facts.id
    state.last_read = now
    _track_unhealthy(state, facts, now)
    a = assess(state, facts, now, settings)
    flap = flapping(state, now, settings)

    inc = state.incident
    reason = state.diagnose
    state.diagnose = None
    if inc is None:
        if not a.problems and not flap:
            state.due = None
            return d
        inc = open_incident(state, now, now, trigger="flapping" if flap and not a.problems else "diagnosis")
        inc.note(now, "diagnosis", reason or "diagnosis found a problem")
        inc.next_check = now
    elif reason:
        inc.note(now, "diagnosis", reason)
    inc.scale_set = facts.id
    if lookup_note:
        inc.note(now, "activity_log", lookup_note)

    material = False
    for f in a.findings:
        material |= inc.add_finding(f.code, f.evidence, f.instance_ids)
    if flap:
        material |= inc.add_finding("autoscale_flapping", flap)
    inc.add_instances(list(a.problems))
    for iid in inc.instance_ids:
        inst = facts.instance(iid)
        if inst and inst.zone:
            inc.zones[iid] = inst.zone
    executed = [x for x in actions if x.mode == "executed" and x.op != "run_command"]

    # 1. recovered --------------------------------------------------------------------------
    in_flight = [x for x in executed if x.result == "pending"]
    if not a.problems and not a.settling and not in_flight:
        if inc.trigger == "flapping" and flap:
            inc.next_check = now + settings.flap_window
            inc.explanation = (
                f"Autoscale is flapping: {flap}. Every instance is healthy ({len(facts.instances)} of {len(facts.instances)}); "
                "each reversal churns instances. Widen the gap between the scale-out and scale-in thresholds or lengthen "
                f"the cooldown. Watching until {inc.next_check:%H:%M}Z."
            )
            _finish(inc, d, material, now, "flapping")
            state.due = inc.next_check
            return d
        diagnostics = [x for x in actions if x.mode == "executed" and x.op == "run_command"]
        return _close(state, inc, a, facts, now, settings, executed, d, diagnostics)

    if not a.problems and (a.settling or in_flight):
        inc.phase = "verifying" if in_flight else "settling"
        inc.next_check = now + settings.verify_interval
        inc.explanation = _explain_open(inc, state, a, facts, settings, "instances are still settling")
        state.due = inc.next_check
        return d

    # 2. inside an operation's window -------------------------------------------------------
    until = explained_until(inc, state, settings)
    if inc.explained_by and not inc.paged and not executed and until and now < until:
        inc.phase = "waiting_operation"
        inc.next_check = until
        inc.explanation = _explain_open(
            inc, state, a, facts, settings, f"waiting until {until:%H:%M}Z for the operation to settle"
        )
        state.due = until
        return d

    # 3. actions being verified -------------------------------------------------------------
    waiting_on: list[ActionRecord] = []
    for x in executed:
        if x.verified is not None or x.id in d.verified:
            continue
        if x.result == "failed":
            d.verified[x.id] = False
            inc.note(now, "decision", f"{x.op} on {_targets(x.instance_ids)} failed: {x.detail}")
            continue
        if _action_done(x, a):
            d.verified[x.id] = True
            inc.note(
                now,
                "decision",
                f"{x.op} on {_targets(x.instance_ids)} verified: the live view shows recovery",
            )
        elif now >= (x.last_sent or x.at) + _verify_window(x, facts, settings):
            d.verified[x.id] = False
            inc.note(
                now,
                "decision",
                f"{x.op} on {_targets(x.instance_ids)} did not bring it back within {_verify_window(x, facts, settings)}",
            )
        else:
            waiting_on.append(x)
    if waiting_on:
        deadline = min((x.last_sent or x.at) + _verify_window(x, facts, settings) for x in waiting_on)
        inc.phase = "verifying"
        inc.next_check = min(deadline, now + settings.verify_interval)
        inc.explanation = _explain_open(
            inc,
            state,
            a,
            facts,
            settings,
            f"verifying {', '.join(x.op for x in waiting_on)} until {deadline:%H:%M}Z",
        )
        _finish(inc, d, material, now, "updated")
        state.due = inc.next_check
        return d
    # sticky: once an action of this incident failed to remediate, on-call owns it; later rechecks never act again
    failed_before = any(v is False for v in d.verified.values()) or any(x.verified is False for x in executed)

    # 4. hold --------------------------------------------------------------------------------
    hold_end = inc.first_signal + settings.hold_period
    # a manual rerun (reason) asks for a decision now: someone is looking at it, so no hold
    if inc.trigger == "health" and not inc.explained_by and not inc.paged and not reason and now < hold_end:
        inc.phase = "holding"
        inc.next_check = hold_end
        inc.explanation = _explain_open(
            inc, state, a, facts, settings, f"held until {hold_end:%H:%M}Z in case it clears"
        )
        state.due = hold_end
        return d

    # 5. act or page -------------------------------------------------------------------------
    plan, waiting, refusals = _plan(
        state, inc, a, facts, now, settings, actions, dry_run, failed_before=failed_before
    )
    for p in plan:
        d.actions.append(p)
        inc.note(now, "decision", f"{p.op} {_targets(p.instance_ids)}: {p.reason}")
    for r in refusals:
        inc.note(now, "decision", r)
    fixing = any(p.execute and p.op != "run_command" for p in plan)
    need_page = bool(a.problems) and not fixing and not waiting and not inc.paged
    if fixing:
        inc.phase = "verifying"
        inc.next_check = now + settings.verify_interval
    elif waiting:
        inc.phase = "waiting_repair"
        inc.next_check = min(waiting, now + settings.recheck_interval)
    else:
        inc.phase = "paged" if (need_page or inc.paged) else inc.phase
        inc.next_check = now + settings.recheck_interval
    inc.explanation = _explain_open(inc, state, a, facts, settings, None, plan, refusals)
    if need_page:
        inc.paged = True
        inc.status = Status.ESCALATED
        d.notifications.append(
            NotifyIntent("page", "escalated" if inc.notified else "opened", _title(inc, facts, "page"))
        )
        inc.notified = True
    else:
        known = {(x.op, tuple(x.instance_ids), x.mode == "executed") for x in actions}
        new_plan = [p for p in plan if (p.op, tuple(p.instance_ids), p.execute) not in known]
        _finish(inc, d, material or bool(new_plan), now, "updated")
    state.due = inc.next_check
    return d


def _finish(inc: Incident, d: Decisions, material: bool, now: datetime, reason: str) -> None:
    """An info message for material changes (a finding, an action) — never for routine rechecks."""
    if not material:
        return
    if not inc.notified:
        d.notifications.append(NotifyIntent("info", "opened", _title(inc, None, "info")))
        inc.notified = True
    else:
        d.notifications.append(NotifyIntent("info", "updated", _title(inc, None, "info")))


def _action_done(x: ActionRecord, a: Assessment) -> bool:
    """Recovery seen for what the action targeted (the whole set for a resume)."""
    if x.result == "pending":
        return False
    if x.op == "resume_repairs":
        return not any(not inst.provisioning_failed for inst in a.problems.values())
    return all(i not in a.problems and i not in a.settling for i in x.instance_ids)


def _verify_window(action: ActionRecord, facts: ScaleSetFacts, settings: Settings) -> timedelta:
    if action.op == "resume_repairs":
        grace = facts.grace_period or timedelta(minutes=10)
        return grace + settings.repair_wait_margin + settings.verify_interval
    return settings.verify_timeout


def _track_unhealthy(state: ScaleSetState, facts: ScaleSetFacts, now: datetime) -> None:
    present = set()
    for inst in facts.instances:
        present.add(inst.instance_id)
        if inst.unhealthy or inst.stopped:
            state.unhealthy_since.setdefault(inst.instance_id, now)
        else:
            state.unhealthy_since.pop(inst.instance_id, None)
    for gone in set(state.unhealthy_since) - present:
        del state.unhealthy_since[gone]


def _targets(ids: list[str]) -> str:
    return f"instance{'s' if len(ids) > 1 else ''} {', '.join(ids)}" if ids else "the scale set"


def _plan(
    state: ScaleSetState,
    inc: Incident,
    a: Assessment,
    facts: ScaleSetFacts,
    now: datetime,
    settings: Settings,
    actions: list[ActionRecord],
    dry_run: bool,
    failed_before: bool,
) -> tuple[list[PlannedAction], datetime | None, list[str]]:
    """Choose actions. Returns (planned, wait-until if the platform is expected to fix it, refusals)."""
    plan: list[PlannedAction] = []
    refusals: list[str] = []
    waiting: datetime | None = None

    def decide(op: str, ids: list[str], why: str) -> None:
        allowed = settings.allows(op)
        if allowed and not dry_run:
            plan.append(PlannedAction(op, ids, True, why))
            return
        if dry_run:
            mode = "dry run"
        elif settings.mode == "observe":
            mode = "observe mode"
        else:
            mode = f"{op} is not in allowedActions"
        plan.append(PlannedAction(op, ids, False, f"{why} (shadow: {mode})"))

    if a.platform_problem:
        codes = [c for c in ("zone_concentrated", "platform_initiated") if a.has(c)]
        refusals.append(
            f"per-instance actions held: {', '.join(codes)} points at the platform, not the instances"
        )
        return plan, None, refusals
    if a.has("probe_misconfigured"):
        refusals.append(
            "no resume and no per-instance action: when most instances are unhealthy the probe or the application "
            "is broken, and restarting them would only remove capacity"
        )
        return plan, None, refusals
    if failed_before:
        refusals.append("an earlier action did not remediate: handing over to on-call")
        return plan, None, refusals

    done_ops = {(x.op, iid) for x in actions for iid in (x.instance_ids or [""]) if x.mode == "executed"}
    protected = {i for i, inst in a.problems.items() if inst.protect_from_scale_set_actions}
    protected_scale_in = {i for i, inst in a.problems.items() if inst.protect_from_scale_in}
    grace = next((f for f in a.findings if f.code == "grace_period"), None)
    grace_ids = set(grace.instance_ids) if grace else set()

    # -- resume suspended repairs (scale-set level) ---------------------------------------
    repairable = [
        i
        for i, inst in a.problems.items()
        if not inst.provisioning_failed
        and i not in protected
        and i not in protected_scale_in
        and not inst.stopped
    ]
    resumed = any(x.op == "resume_repairs" for x in actions if x.mode == "executed")
    if a.has("repairs_suspended") and repairable and not resumed:
        budget_left = settings.resume_budget - len(state.resumes)
        last = max(state.resumes) if state.resumes else None
        backoff = settings.resume_backoff * (2 ** max(0, len(state.resumes) - 1))
        healthy = sum(1 for i in facts.instances if i.healthy)
        why = (
            f"{len(repairable)} unhealthy, {healthy} of {a.total} healthy: the cause looks local, "
            "so let the platform repair it"
        )
        if budget_left <= 0:
            refusals.append(
                f"resume_repairs refused: the budget of {settings.resume_budget} resumes per "
                f"{int(settings.resume_budget_window.total_seconds() // 3600)} h is spent (repairs keep getting suspended)"
            )
        elif last and now < last + backoff:
            refusals.append(
                f"resume_repairs refused: backing off until {last + backoff:%H:%M}Z after the last resume"
            )
        else:
            decide("resume_repairs", [], why)
            if plan and plan[-1].execute:
                grace_end = now + (facts.grace_period or timedelta(minutes=10)) + settings.repair_wait_margin
                waiting = grace_end

    # The plan is act mode's, executed or shadow alike: in observe mode or a dry run a resume that
    # act mode would send leaves the instances to the platform, as it would there.
    resuming = resumed or any(p.op == "resume_repairs" and p.op in settings.allowed_actions for p in plan)
    diagnosing: set[str] = set()
    # -- optional diagnostic run command on one instance -----------------------------------
    # never on an instance the platform is about to repair (grace period, or repairs just resumed)
    platform_repairs = set(grace_ids) if facts.repairs_running else set()
    if resuming:
        platform_repairs.update(repairable)
    if "run_command" in settings.allowed_actions and not any(x.op == "run_command" for x in actions):
        target = next(
            (
                i
                for i in sorted(a.problems, key=instance_order)
                if i not in protected
                and i not in platform_repairs
                and not a.problems[i].stopped
                and not a.problems[i].provisioning_failed
            ),
            None,
        )
        if target:
            decide(
                "run_command",
                [target],
                f"collect diagnostics ({settings.run_command_script}) from instance {target}",
            )
            if plan[-1].execute:
                # one thing at a time on an instance: act on it once the diagnostics are collected
                diagnosing.add(target)
                waiting = (
                    min(waiting, now + settings.verify_interval)
                    if waiting
                    else now + settings.verify_interval
                )

    # -- per-instance -----------------------------------------------------------------------
    in_flight = sum(
        1
        for x in actions
        if x.mode == "executed"
        and x.op in PER_INSTANCE_ACTIONS
        and x.verified is None
        and any(i in a.problems or i in a.settling for i in x.instance_ids)
    )
    slots = blast_radius(a.total) - in_flight
    for iid in sorted(a.problems, key=instance_order):
        inst = a.problems[iid]
        if iid in diagnosing:
            continue
        if iid in protected:
            refusals.append(f"instance {iid} is protected from scale set actions: not touched")
            continue
        if inst.provisioning_failed:
            if iid in protected_scale_in:
                refusals.append(
                    f"instance {iid} failed provisioning but is protected from scale-in: not replaced"
                )
                continue
            op, why = (
                "replace_instance",
                f"instance {iid} failed provisioning, which automatic repairs never fix",
            )
        elif iid in grace_ids and facts.repairs_running:
            until = (
                state.unhealthy_since.get(iid, now)
                + (facts.grace_period or timedelta())
                + settings.repair_wait_margin
            )
            waiting = min(waiting, until) if waiting else until
            continue
        elif a.has("repairs_suspended") and resuming:
            continue  # the platform repairs it once resumed
        elif inst.stopped:
            op, why = (
                "restart_instance",
                f"instance {iid} is {inst.power_state} with no operation that explains it",
            )
        elif any(e.failed for e in inst.extensions):
            op, why = (
                "reimage_instance",
                f"instance {iid}: an extension failed; a reimage re-runs it on a clean disk",
            )
        else:
            op, why = "restart_instance", f"instance {iid} is {inst.health} and nothing else will repair it"
            if facts.repairs_running:
                why = f"instance {iid} is still {inst.health} past the repair grace period: the platform is not repairing it"
        if any((o, iid) in done_ops for o in PER_INSTANCE_ACTIONS):
            refusals.append(f"instance {iid} was already acted on in this incident: no second action")
            continue
        if len(state.instance_actions.get(iid, [])) >= settings.instance_action_budget:
            refusals.append(
                f"{op} on instance {iid} refused: the per-instance budget of {settings.instance_action_budget} is spent"
            )
            continue
        if slots <= 0 and settings.allows(op) and not dry_run:
            refusals.append(
                f"{op} on instance {iid} deferred: blast radius allows {blast_radius(a.total)} instance(s) at a time"
            )
            waiting = (
                min(waiting, now + settings.verify_interval) if waiting else now + settings.verify_interval
            )
            continue
        decide(op, [iid], why)
        if plan[-1].execute:
            slots -= 1

    return plan, waiting, refusals


def _close(
    state: ScaleSetState,
    inc: Incident,
    a: Assessment,
    facts: ScaleSetFacts,
    now: datetime,
    settings: Settings,
    executed: list[ActionRecord],
    d: Decisions,
    diagnostics: list[ActionRecord],
) -> Decisions:
    recovered_at = _recovered_at(inc, state, now)
    ops = [op for op in covering_operations(inc, state, settings) if op.key in inc.explained_by]
    remedied = [x for x in executed if x.result in ("succeeded", "pending")]
    for x in remedied:
        d.verified[x.id] = True
    healthy = sum(1 for i in facts.instances if i.healthy)
    stopped = (
        f"; instances {', '.join(sorted(a.intended_stops, key=instance_order))} stopped on purpose"
        if a.intended_stops
        else ""
    )
    if inc.paged:
        inc.explanation += f" Recovered at {recovered_at:%H:%M}Z: {healthy} of {len(facts.instances)} instances healthy{stopped}."
    elif remedied:
        inc.status = Status.REMEDIATED
        did = "; ".join(f"{x.op} {_targets(x.instance_ids)} at {x.at:%H:%M}Z" for x in remedied)
        looked = "".join(
            f"collected diagnostics from instance {', '.join(x.instance_ids)} (run_command at {x.at:%H:%M}Z, "
            f"{'output attached' if x.output else x.result}), then "
            for x in diagnostics
        )
        inc.explanation = (
            f"{_problem_summary(inc)} The responder {looked}acted ({did}) and the live view confirms recovery at "
            f"{recovered_at:%H:%M}Z: {healthy} of {len(facts.instances)} instances healthy."
        )
    elif ops:
        inc.status = Status.SUPPRESSED
        op = _primary(ops)
        inc.add_finding("scale_operation", f"{describe_operation(op)} ({operation_reference(op, settings)})")
        after = (
            f"{minutes_between(op.ended, recovered_at)} minutes after the operation completed"
            if op.ended
            else "while it ran"
        )
        named = [op]  # name each operation that explains instances the ones before it do not
        for other in sorted(ops, key=lambda o: o.started):
            covered = {i for o in named for i in o.instance_ids}
            if (
                other is not op
                and other.instance_ids
                and not set(other.instance_ids) <= covered
                and len(named) < 3
            ):
                named.append(other)
        more = f" and {len(ops) - len(named)} related operation(s)" if len(ops) > len(named) else ""
        during = (
            " and ".join(f"{describe_operation(o)} ({operation_reference(o, settings)})" for o in named)
            + more
        )
        still_stopped = set(inc.instance_ids) <= set(a.intended_stops) if inc.instance_ids else False
        if still_stopped:
            ids = ", ".join(sorted(a.intended_stops, key=instance_order))
            outcome = f"health cleared {after}; instances {ids} remain stopped on purpose, so there is nothing to repair"
        else:
            outcome = f"recovered {after}{stopped}"
        inc.explanation = f"{_state_words(inc)} while {during}; {outcome}"
    elif a.intended_stops:
        inc.status = Status.SUPPRESSED
        inc.add_finding(
            "scale_operation", "; ".join(f"instance {i}: {why}" for i, why in a.intended_stops.items())
        )
        inc.explanation = (
            f"{_state_words(inc)} because instances were stopped on purpose: "
            + "; ".join(f"instance {i}: {why}" for i, why in sorted(a.intended_stops.items()))
            + f"; every other instance is healthy ({healthy} of {len(facts.instances)})"
        )
    else:
        inc.status = Status.RESOLVED
        inc.explanation = (
            f"{_problem_summary(inc)} It recovered without action at {recovered_at:%H:%M}Z "
            f"({healthy} of {len(facts.instances)} instances healthy); nobody was paged."
        )
    inc.closed = now
    inc.phase = "closed"
    inc.next_check = None
    inc.note(now, "decision", f"closed as {inc.status.value}: {inc.explanation}")
    if inc.notified:
        d.notifications.append(NotifyIntent("resolved", "closed", _title(inc, facts, "resolved")))
    d.closed = inc
    state.incident = None
    state.due = None
    return d


def _primary(ops: list) -> object:
    """The operation to name: a scale/power/reimage/delete before a generic model write; latest window last."""
    rank = {"scale": 0, "power": 1, "reimage": 2, "delete": 3, "upgrade": 4}
    return sorted(ops, key=lambda o: (rank.get(o.category.value, 9), -o.started.timestamp()))[0]


def _recovered_at(inc: Incident, state: ScaleSetState, now: datetime) -> datetime:
    mark = state.health.get("")
    if mark and mark.state == "Available" and mark.at >= inc.first_signal:
        return mark.at
    return now


def _state_words(inc: Incident) -> str:
    states = [e.text for e in inc.timeline if e.kind == "signal"]
    word = (
        "Degraded"
        if any("Degraded" in s for s in states)
        else "Unavailable"
        if any("Unavailable" in s for s in states)
        else "Unhealthy"
    )
    ids = inc.instance_ids
    who = f" (instance{'s' if len(ids) > 1 else ''} {', '.join(ids)})" if ids else ""
    return f"{word}{who}"


def _problem_summary(inc: Incident) -> str:
    codes = ", ".join(inc.finding_codes()) or "no specific finding"
    return f"{_state_words(inc)} since {inc.first_signal:%H:%M}Z ({codes})."


def _explain_open(
    inc: Incident,
    state: ScaleSetState,
    a: Assessment,
    facts: ScaleSetFacts,
    settings: Settings,
    waiting: str | None,
    plan: list[PlannedAction] | None = None,
    refusals: list[str] | None = None,
) -> str:
    parts = [f"{_state_words(inc)} since {inc.first_signal:%H:%M}Z."]
    ops = [op for op in state.operations if op.key in inc.explained_by]
    if ops:
        op = _primary(ops)
        parts.append(
            f"It began during an operation: {describe_operation(op)} ({operation_reference(op, settings)})."
        )
    elif inc.trigger == "health":
        looked = [e.text for e in inc.timeline if e.kind == "activity_log"]
        parts.append(
            "No operation explains it" + (f" ({looked[-1]})." if looked else " (none was delivered).")
        )
    if a.problems:
        parts.append(
            "Live view: "
            + "; ".join(
                f"instance {i}: {a.problems[i].describe()}" for i in sorted(a.problems, key=instance_order)
            )
            + f" ({sum(1 for i in facts.instances if i.healthy)} of {len(facts.instances)} healthy)."
        )
    for f in a.findings:
        if f.code in (
            "repairs_disabled",
            "repairs_suspended",
            "probe_misconfigured",
            "zone_concentrated",
            "platform_initiated",
        ):
            parts.append(f"{f.code}: {f.evidence}.")
    for p in plan or []:
        parts.append(
            f"{'Doing' if p.execute else 'Would do'}: {p.op} {_targets(p.instance_ids)} ({p.reason})."
        )
    for r in refusals or []:
        parts.append(r[0].upper() + r[1:] + ".")
    if waiting:
        parts.append(waiting[0].upper() + waiting[1:] + ".")
    return " ".join(parts)


def _title(inc: Incident, facts: ScaleSetFacts | None, severity: str) -> str:
    name = inc.scale_set.rsplit("/", 1)[-1]
    ids = inc.instance_ids
    what = (
        f"instance{'s' if len(ids) > 1 else ''} {', '.join(ids[:5])}{'…' if len(ids) > 5 else ''}"
        if ids
        else "scale set"
    )
    codes = ", ".join(inc.finding_codes()[:3])
    if severity == "resolved":
        return f"Resolved: {name} {what} ({inc.status.value})"
    if inc.trigger == "flapping" and not ids:
        return f"{name}: autoscale flapping" + (f" ({codes})" if codes else "")
    return f"{name}: {what} unhealthy" + (f" ({codes})" if codes else "")
