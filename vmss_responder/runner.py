"""The shell around the pure engine: store, read live state, decide, act, notify.

Every way in (Event Grid, alerts, autoscale, rerun, the sweep; in Azure, in ``serve`` and in
replay) calls a :class:`Responder`. Only the clock, the ARM endpoint and the store differ.

The order of things is the reliability story:

1. parse (malformed -> rejected with the field named; nothing stored);
2. store the delivery in the inbox *before* acknowledging it;
3. deduplicate each signal on its semantic identity, fold it into the scale set's state under
   an ETag (concurrent app instances serialize there);
4. when the state is due, take the scale set's lease, read the live view once, decide, record
   the decisions (actions are claimed by deterministic ID before they run: exactly once), run
   them without retries, and put notifications into the outbox;
5. the sweep finishes whatever a crash or a throttle left: pending deliveries, due
   evaluations, action verification and notification delivery.
"""

from __future__ import annotations

import functools
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from .actions import MAX_ACTION_ATTEMPTS, collect_run_command, restore_capacity, run_action, took_effect
from .activity import lookup_operations
from .azure import invocation_deadline
from .clock import Clock
from .config import Settings
from .diagnostics import read_facts
from .engine.correlate import MIN_READ_GAP, absorb, new_state
from .engine.decide import Decisions, evaluate
from .engine.incident import ActionRecord, Incident
from .engine.state import ScaleSetState
from .identity import ScaleSetRef, in_scopes, parse_resource_id
from .notify.model import Notification
from .records import Actions, Inbox, Incidents, Leases, Rejected, Seen, States
from .signals import Parsed, PayloadError, Signal
from .store.base import Store

log = logging.getLogger("vmss_responder")
T = TypeVar("T")


@dataclass(slots=True)
class IngestResult:
    accepted: bool
    delivery_id: str = ""
    signals: int = 0
    duplicates: int = 0
    ignored: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    error: str | None = None  # malformed payload: the field and the problem
    field: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "accepted": self.accepted,
            "signals": self.signals,
            "duplicates": self.duplicates,
        }
        if self.delivery_id:
            out["deliveryId"] = self.delivery_id
        if self.ignored:
            out["ignored"] = self.ignored
        if self.rejected:
            out["rejected"] = self.rejected
        if self.error:
            out["error"] = self.error
            out["field"] = self.field
        return out


class OutOfScope(ValueError):
    pass


def _within_budget(method: Callable[..., T]) -> Callable[..., T]:
    """A way in (ingest, sweep, rerun) spends at most INVOCATION_BUDGET waiting on ARM retries."""

    @functools.wraps(method)
    def wrapper(self: Responder, *args: Any, **kwargs: Any) -> T:
        with invocation_deadline(self.clock):
            return method(self, *args, **kwargs)

    return wrapper


class Responder:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        clients: Any,
        outbox: Any,
        owner: str | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.clients = clients  # vmss_responder.azure.AzureClients
        self.outbox = outbox  # vmss_responder.notify.outbox.Outbox
        self.owner = owner or uuid.uuid4().hex
        self.inbox = Inbox(store)
        self.seen = Seen(store)
        self.states = States(store)
        self.incidents = Incidents(store)
        self.actions = Actions(store)
        self.leases = Leases(store)
        self.rejected = Rejected(store)
        # The store lease is held by this process's owner, so it keeps other instances out (and lets
        # a restarted process with the same owner in at once); threads of this process (ingest
        # handlers, the sweep timer, a rerun) are kept apart by this set.
        self._evaluating: set[str] = set()
        self._evaluating_lock = threading.Lock()

    # ------------------------------------------------------------------ ingest
    @_within_budget
    def ingest(self, channel: str, payload: Any) -> IngestResult:
        """Accept one delivery. Returns once it is stored; processing errors are left to the sweep."""
        from .parse import parse

        now = self.clock.now()
        try:
            parsed = parse(channel, payload, received_at=now)
        except PayloadError as exc:
            self.rejected.add(now, channel, f"malformed payload: {exc}", Inbox.delivery_id(channel, payload))
            return IngestResult(False, error=exc.message, field=exc.field)
        holder = uuid.uuid4().hex  # per invocation: a sweep on this same instance must not take it either
        delivery_id, fresh = self.inbox.accept(
            channel, payload, now, holder, now + self.settings.lease_duration
        )
        if not fresh:
            return IngestResult(True, delivery_id, duplicates=len(parsed.signals))
        try:
            result = self._process(delivery_id, channel, parsed)
        except Exception:  # the delivery is stored: the sweep retries it, the sender does not need to
            log.exception("processing delivery %s failed; the sweep will retry it", delivery_id)
            self.inbox.release(delivery_id, holder, self.clock.now())
            return IngestResult(True, delivery_id, signals=len(parsed.signals))
        self.inbox.done(delivery_id, self.clock.now())
        return result

    def _process(self, delivery_id: str, channel: str, parsed: Parsed) -> IngestResult:
        now = self.clock.now()
        result = IngestResult(True, delivery_id, ignored=[f"{i.source}: {i.reason}" for i in parsed.ignored])
        groups: dict[str, tuple[ScaleSetRef, list[Signal]]] = {}
        for sig in parsed.signals:
            if sig.scale_set is None:
                result.ignored.append(
                    f"{sig.source}: {sig.detail or 'subscription-wide event'} (recorded, not about one scale set)"
                )
                continue
            groups.setdefault(sig.scale_set.key, (sig.scale_set, []))[1].append(sig)
        due: list[ScaleSetRef] = []
        for key, (ref, sigs) in groups.items():
            if not in_scopes(ref, self.scopes):
                reason = f"{ref.id} is outside the configured scopes"
                self.rejected.add(now, channel, reason, delivery_id)
                result.rejected.append(reason)
                continue
            expires = now + self.settings.dedup_retention
            fresh = [s for s in sigs if self.seen.claim(s.dedup_key, delivery_id, now, expires)]
            result.duplicates += len(sigs) - len(fresh)
            result.signals += len(fresh)
            if not fresh:
                continue

            def fold(st: ScaleSetState, fresh: list[Signal] = fresh) -> datetime | None:
                absorb(st, fresh, now, self.settings)
                return st.due

            when = self.states.update(key, ref.id, fold)
            if when is not None and when <= now:
                due.append(ref)
        for ref in due:
            self.evaluate(ref)
        return result

    @property
    def scopes(self) -> tuple[str, ...]:
        return self.settings.scopes

    # ------------------------------------------------------------------ evaluate
    def evaluate(
        self, ref: ScaleSetRef, *, dry_run: bool = False, reason: str | None = None, lookup: bool = False
    ) -> Incident | None:
        """Read live state once, decide, act, notify. Returns the incident it touched, if any."""
        now = self.clock.now()
        key = ref.key
        with self._evaluating_lock:
            if key in self._evaluating:
                log.info("evaluation of %s is running in this process", ref.id)
                return None
            self._evaluating.add(key)
        try:
            if not self.leases.acquire(key, self.owner, now, now + self.settings.lease_duration):
                log.info("evaluation of %s is running elsewhere", ref.id)
                return None
            try:
                return self._evaluate_locked(ref, now, dry_run=dry_run, reason=reason, lookup=lookup)
            finally:
                self.leases.release(key, self.owner)
        finally:
            with self._evaluating_lock:
                self._evaluating.discard(key)

    def _evaluate_locked(
        self, ref: ScaleSetRef, now: datetime, *, dry_run: bool, reason: str | None, lookup: bool
    ) -> Incident | None:
        from .azure import ArmThrottled

        key = ref.key
        state, _ = self.states.get(key)
        state = state or new_state(ref.id)
        lookup_note = None
        try:
            if self.settings.workspace_id and (lookup or self._wants_lookup(state, now)):
                lookup_note = self._lookup(ref, state, now)
            facts = read_facts(self.clients.compute(ref.subscription), ref, now)
        except ArmThrottled as exc:
            if dry_run:
                raise  # a dry run changes nothing, not even the schedule: the caller says "try later"
            retry_at = now + exc.retry_after

            def later(st: ScaleSetState) -> None:
                st.due = retry_at
                if st.incident:
                    st.incident.next_check = retry_at
                    st.incident.note(
                        now, "diagnosis", f"ARM throttled the live read; rechecking at {retry_at:%H:%M:%S}Z"
                    )

            self.states.update(key, ref.id, later)
            return None
        except Exception as exc:  # noqa: BLE001 - any read failure: retry on the next sweep, say why
            if dry_run:
                raise
            message = (getattr(exc, "message", None) or str(exc)).splitlines()[0][:200]
            log.warning("live read of %s failed: %s", ref.id, message)

            gone = (
                getattr(exc, "status_code", None) == 404
            )  # deleted (or never existed): nothing left to watch

            def retry(st: ScaleSetState) -> None:
                st.due = None if gone else now + self.settings.sweep_interval
                if st.incident:
                    what = "the scale set no longer exists; stopped rechecking" if gone else "retrying"
                    st.incident.note(now, "diagnosis", f"live read failed ({message}); {what}")

            self.states.update(key, ref.id, retry)
            return None

        incident_id = state.incident.id if state.incident else None
        prior = self.actions.for_incident(incident_id) if incident_id else []
        prior = self._advance(ref, prior, facts)

        def decide(st: ScaleSetState) -> tuple[Decisions, list[ActionRecord], Incident | None]:
            if reason:
                st.diagnose = reason
            incident_actions = prior if (st.incident and st.incident.id == incident_id) else []
            d = evaluate(
                st, facts, now, self.settings, incident_actions, dry_run=dry_run, lookup_note=lookup_note
            )
            inc = d.closed or st.incident
            planned = [self._record(inc, p, now) for p in d.actions] if inc else []
            if inc:
                for pa in planned:
                    if pa.id not in inc.actions:
                        inc.actions.append(pa.id)
                known = {a.id: a for a in incident_actions}
                known.update({a.id: a for a in planned})
                for intent in d.notifications:
                    seq = st.notify_seq.get(inc.id, 0) + 1
                    st.notify_seq[inc.id] = seq
                    note = Notification(
                        id=f"{inc.id}:{seq}",
                        incident_id=inc.id,
                        seq=seq,
                        severity=intent.severity,
                        reason=intent.reason,
                        at=now,
                        title=intent.title,
                        incident=inc.to_dict(),
                        actions=[_action_dict(a) for a in known.values()],
                    )
                    st.outbox.append(note.to_dict())
                    inc.note(now, "notification", f"{intent.severity} ({intent.reason}): {intent.title}")
            if d.closed:
                st.notify_seq.pop(d.closed.id, None)
            return d, planned, inc

        if dry_run:
            # A dry run decides on a copy: its shadow actions are recorded, nothing else changes.
            _, planned, inc = decide(ScaleSetState.from_dict(state.to_dict()))
            for rec in planned:
                self.actions.claim(rec)
            return inc
        decisions, planned, inc = self.states.update(key, ref.id, decide)
        self._verify(prior, decisions)
        self._run(ref, planned, facts)
        if inc:
            self.incidents.save(inc)
        self._flush_outbox(key, ref.id)
        return inc

    def _wants_lookup(self, state: ScaleSetState, now: datetime) -> bool:
        """One Activity Log query before an unexplained incident can page, never on routine rechecks."""
        inc = state.incident
        if inc is None or inc.paged or inc.explained_by or inc.trigger != "health":
            return False
        if now < inc.first_signal + self.settings.hold_period:
            return False
        return not any(e.kind == "activity_log" for e in inc.timeline)

    def _lookup(self, ref: ScaleSetRef, state: ScaleSetState, now: datetime) -> str:
        inc = state.incident
        start = (inc.first_signal if inc else now) - self.settings.activity_log_lookback
        result = lookup_operations(self.clients.logs(), self.settings.workspace_id, ref.id, start, now)
        if result.signals:
            fresh = [
                s
                for s in result.signals
                if self.seen.claim(
                    s.dedup_key, f"activity:{now.isoformat()}", now, now + self.settings.dedup_retention
                )
            ]
            if fresh:
                self.states.update(ref.key, ref.id, lambda st: absorb(st, fresh, now, self.settings))
        return result.note

    def _record(self, inc: Incident, p: Any, now: datetime) -> ActionRecord:
        ids = "-".join(p.instance_ids) or "set"
        return ActionRecord(
            id=f"{inc.id}:{p.op}:{ids}" + ("" if p.execute else ":shadow"),
            at=now,
            op=p.op,
            scale_set=inc.scale_set,
            instance_ids=list(p.instance_ids),
            mode="executed" if p.execute else "shadow",
            result="pending" if p.execute else "skipped",
            reason=p.reason,
            incident_id=inc.id,
        )

    def _run(self, ref: ScaleSetRef, planned: list[ActionRecord], facts: Any) -> None:
        """Execute claimed actions exactly once.

        Each executed record is stored *before* its call, already ``unconfirmed`` with its
        correlation ID (remembered as our own) and, for a replacement, the capacity to restore: if
        the process dies during the call, the next evaluation confirms or resends it from the live view.
        """
        now = self.clock.now()
        todo: list[ActionRecord] = []
        for rec in planned:
            if rec.mode == "executed":
                rec.correlation_id, rec.unconfirmed, rec.last_sent = (
                    str(uuid.uuid4()),
                    rec.op != "run_command",
                    now,
                )
                if rec.op == "replace_instance":
                    rec.capacity = facts.capacity
            if self.actions.claim(rec) and rec.mode == "executed":
                todo.append(rec)  # not a shadow repeat, not claimed by another instance
        if not todo:
            return
        self._remember_own(ref, *(rec.correlation_id or "" for rec in todo))
        executed_instances: dict[str, datetime] = {}
        resumed = False
        for rec in todo:
            call = self._call(ref, rec, facts.capacity)
            if not (call.ok or rec.unconfirmed):
                continue
            if rec.op == "resume_repairs":
                resumed = True
            elif rec.op != "run_command":
                for iid in rec.instance_ids:
                    executed_instances[iid] = rec.at
        if not (resumed or executed_instances):
            return

        def budgets(st: ScaleSetState) -> None:
            if resumed:
                st.resumes.append(now)
            for iid, at in executed_instances.items():
                st.instance_actions.setdefault(iid, []).append(at)

        self.states.update(ref.key, ref.id, budgets)

    def _call(self, ref: ScaleSetRef, rec: ActionRecord, capacity: int) -> Any:
        """Send one action's call and record what came back. Without a definite answer the record
        stays pending and ``unconfirmed``: the next evaluation confirms it from the live view."""
        call = run_action(
            self.clients.compute(ref.subscription),
            ref,
            rec.op,
            rec.instance_ids,
            script=self.settings.run_command_script,
            capacity=capacity,
            correlation_id=rec.correlation_id,
        )
        rec.correlation_id, rec.detail, rec.continuation = call.correlation_id, call.detail, call.continuation
        rec.last_sent = self.clock.now()
        rec.unconfirmed = not call.ok and call.uncertain and rec.op != "run_command"
        if not call.ok and not rec.unconfirmed:
            rec.result = "failed"
        elif rec.op == "replace_instance":
            rec.capacity = capacity
        elif call.ok and rec.op != "run_command":
            rec.result = "succeeded"
        self.actions.save(rec)
        return call

    def _confirm(self, ref: ScaleSetRef, rec: ActionRecord, facts: Any) -> bool:
        """An unconfirmed call: did it happen (then go on), is it moot, or send it again? True to go on.

        Only a live view read after the call was sent can tell; an older one waits for the next."""
        if rec.last_sent is not None and facts.read_at <= rec.last_sent:
            return False
        outcome = took_effect(rec, facts)
        if outcome == "happened":
            rec.unconfirmed = False
            rec.detail += "; confirmed from the live view"
            if rec.op != "replace_instance":
                rec.result = "succeeded"
        elif outcome == "moot":
            rec.unconfirmed, rec.result = False, "skipped"
            rec.detail += "; not confirmed, and no longer needed: the instance recovered or is gone"
        elif rec.attempts < MAX_ACTION_ATTEMPTS:
            rec.attempts += 1
            rec.correlation_id = str(uuid.uuid4())
            self._remember_own(ref, rec.correlation_id)  # before the call: its echoes are ours even if we die
            self.actions.save(rec)
            self._call(ref, rec, rec.capacity if rec.capacity is not None else facts.capacity)
            return False
        else:
            rec.unconfirmed, rec.result = False, "failed"
            rec.detail += f"; not confirmed after {rec.attempts} attempts"
        self.actions.save(rec)
        return outcome == "happened"

    def _advance(self, ref: ScaleSetRef, records: list[ActionRecord], facts: Any) -> list[ActionRecord]:
        """Move started multi-step actions on: confirm or resend calls without an answer, restore
        capacity after a replacement's delete, collect run command output."""
        out = []
        for rec in records:
            if (
                rec.mode == "executed"
                and rec.result == "pending"
                and rec.unconfirmed
                and not self._confirm(ref, rec, facts)
            ):
                out.append(rec)
                continue
            if rec.mode == "executed" and rec.result == "pending":
                compute = self.clients.compute(ref.subscription)
                if (
                    rec.op == "replace_instance"
                    and rec.capacity is not None
                    and facts.instance(rec.instance_ids[0]) is None
                ):
                    call = restore_capacity(compute, ref, rec.capacity)
                    rec.result = "succeeded" if call.ok else "failed"
                    rec.detail += f"; {call.detail}"
                    self._remember_own(ref, call.correlation_id)
                    self.actions.save(rec)
                elif rec.op == "run_command" and rec.continuation:
                    try:
                        output = collect_run_command(compute, ref, rec.instance_ids[0], rec.continuation)
                    except Exception as exc:  # noqa: BLE001 - a failed diagnostic must not stop the evaluation
                        output, rec.result = f"run command failed: {exc}"[:500], "failed"
                    if output is not None:
                        rec.output = output
                        rec.result = "succeeded" if rec.result == "pending" else rec.result
                        self.actions.save(rec)
            out.append(rec)
        return out

    def _remember_own(self, ref: ScaleSetRef, *correlation_ids: str) -> None:
        self.states.update(
            ref.key, ref.id, lambda st: st.own_correlations.extend(c.lower() for c in correlation_ids)
        )

    def _verify(self, prior: list[ActionRecord], decisions: Decisions) -> None:
        for rec in prior:
            if rec.id in decisions.verified and rec.verified is None:
                rec.verified = decisions.verified[rec.id]
                self.actions.save(rec)

    def _flush_outbox(self, key: str, scale_set_id: str) -> None:
        """Move decided notifications from the state record into the outbox (idempotent), then deliver."""
        state, _ = self.states.get(key)
        if state is None or not state.outbox:
            return
        moved = []
        for item in state.outbox:
            self.outbox.enqueue(Notification.from_dict(item))
            moved.append(item["id"])

        def clear(st: ScaleSetState) -> None:
            st.outbox = [n for n in st.outbox if n["id"] not in moved]

        self.states.update(key, scale_set_id, clear)
        self.outbox.deliver_due()

    # ------------------------------------------------------------------ sweep
    @_within_budget
    def sweep(self) -> dict[str, int]:
        """Finish accepted work: pending deliveries, due evaluations, verifications, notifications."""
        from .parse import parse

        now = self.clock.now()
        stats = {"deliveries": 0, "evaluations": 0, "notifications": 0}
        holder = uuid.uuid4().hex
        for rec in list(self.inbox.pending()):
            if not self.inbox.take(rec, holder, now, now + self.settings.lease_duration):
                continue  # ingest (here or on another instance) is still handling it
            delivery_id, value = rec.row, rec.value
            try:
                parsed = parse(value["channel"], value["payload"], received_at=now)
                self._process(delivery_id, value["channel"], parsed)
            except PayloadError as exc:  # cannot happen for stored deliveries unless parsers changed: park it
                self.rejected.add(
                    now, value["channel"], f"stored delivery no longer parses: {exc}", delivery_id
                )
            except Exception:
                log.exception("retrying delivery %s failed; will retry on the next sweep", delivery_id)
                self.inbox.release(delivery_id, holder, self.clock.now())
                continue
            self.inbox.done(delivery_id, self.clock.now())
            stats["deliveries"] += 1
        for part in list(self.states.keys()):
            st = self.states.get_by_partition(part)
            if st is None:
                continue
            parsed_id = parse_resource_id(st.scale_set_id)
            if parsed_id is None:
                continue
            ref = parsed_id[0]
            if st.outbox:
                self._flush_outbox(st.key, st.scale_set_id)
            paced = st.last_read is not None and now < st.last_read + MIN_READ_GAP
            if st.due is not None and st.due <= now and not paced:
                try:
                    self.evaluate(ref)
                except Exception:  # one scale set's failure must not stop the sweep for the others
                    log.exception("evaluation of %s failed; the next sweep retries it", ref.id)
                stats["evaluations"] += 1
        stats["notifications"] = len(self.outbox.deliver_due())
        self.inbox.expire(now)
        self.outbox.prune_history(now)
        return stats

    def current_incidents(self) -> list[Incident]:
        """Every incident, in opening order; for an open one the copy in its scale set's state wins (it is written first)."""
        by_id = {inc.id: inc for inc in self.incidents.all()}
        for part in list(self.states.keys()):
            st = self.states.get_by_partition(part)
            if st and st.incident:
                by_id[st.incident.id] = st.incident
        return sorted(by_id.values(), key=lambda i: (i.opened, i.id))

    def find_incident(self, incident_id: str) -> Incident | None:
        return next((inc for inc in self.current_incidents() if inc.id == incident_id), None)

    # ------------------------------------------------------------------ rerun
    @_within_budget
    def rerun(
        self, resource_id: str | None = None, incident_id: str | None = None, dry_run: bool = False
    ) -> Incident | None:
        """Manual rerun: re-read live state now (and the Activity Log), re-decide; scope-checked first."""
        if incident_id:
            inc = self.find_incident(incident_id)
            if inc is None:
                raise KeyError(f"no incident {incident_id!r}")
            resource_id = inc.scale_set
        if not resource_id:
            raise ValueError("resourceId or incidentId is required")
        parsed = parse_resource_id(resource_id)
        if parsed is None:
            raise ValueError(f"{resource_id!r} is not a scale set or scale set instance ID")
        ref = parsed[0]
        if not in_scopes(ref, self.scopes):
            raise OutOfScope(f"{ref.id} is outside the configured scopes")
        return self.evaluate(
            ref, dry_run=dry_run, reason=f"manual rerun{' (dry run)' if dry_run else ''}", lookup=True
        )


def _action_dict(a: ActionRecord) -> dict[str, Any]:
    from .engine.incident import action_to_dict

    d = action_to_dict(a)
    d.pop("continuation", None)
    return d
