"""The outbox: notifications are stored first and sent from the sweep, so none is lost or repeated.

Why an outbox: the engine decides to notify inside a handler that must finish quickly and may
crash or be retried; a receiver may be down for an hour. So deciding and sending are split:
:meth:`Outbox.enqueue` only writes records (one per configured channel, insert-if-absent, so
enqueueing twice is harmless) and :meth:`Outbox.deliver_due`, called by the sweep, sends them.

Tables:

- ``outbox`` holds only pending records: partition = channel, row = ``<incident>|<seq:06d>``,
  so one partition query lists a channel's backlog already grouped by incident and in seq
  order. Delivered records leave it, so the sweep never rescans history.
- ``outboxdone`` holds the outcome of every finished record (sent, skipped with the reason, or
  dead with the reason), same keys. It is the delivery history and the "already done" check that
  makes a re-enqueue after success a no-op.

Guarantees:

- Order: within one (channel, incident) a record is sent only when every lower seq is finished
  (sent, skipped or dead); a later seq waits while an earlier one retries.
- No two app instances send the same record at once: each attempt first claims the record with
  an ETag'd lease (``leaseDuration``). A crash between the send and the bookkeeping can, after
  the lease expires, resend that one record once: delivery is at-least-once, and receivers dedup
  on the delivery id (``X-VMSS-Responder-Delivery`` for webhooks; PagerDuty's ``dedup_key``).
- Retries: 429 waits ``Retry-After``; 5xx, 408, timeouts and connection errors back off
  exponentially from ``sweepInterval`` up to ``notifyBackoffMax``; after ``notifyMaxAttempts``
  attempts, or at once on any other 4xx, the record is dead, with the reason kept. No sleeping:
  a failed record gets its next attempt time and the sweep comes back.
- A retryable failure pauses that channel for the rest of the sweep (the receiver is down or
  throttling), so one dead endpoint costs one request per sweep, not one per incident.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any, Literal

from ..clock import Clock
from ..config import Settings
from ..durations import format_timestamp, parse_timestamp
from ..store.base import ConflictError, Record, Store, safe_key
from .digest import Gate, Gates, digest_of
from .model import Notification
from .senders import Sender, SendResult, build_senders, redactor_for

log = logging.getLogger("vmss_responder.notify")

OUTBOX_TABLE = "outbox"
DONE_TABLE = "outboxdone"
FALLBACK_CHANNEL = "log"
# Channels whose storms fold into digests. PagerDuty keeps one event per incident: each page needs
# its own dedup_key to be resolved later, and PagerDuty groups alerts itself.
PRUNE_EVERY = timedelta(hours=1)
FOLDS = "folds"  # on a digest record: the rows it folds
DIGESTED = frozenset({"teams", "webhook", "log"})

# Why an attempt did not finish a record: another instance holds it, it was finished before
# (only cleanup was left), or it failed and waits for its next attempt.
Attempt = Literal["claimed", "already_done", "retry"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """A finished outbox record: sent, skipped (deliberately not sent) or dead (given up)."""

    at: datetime  # when it finished
    channel: str
    notification_id: str
    incident_id: str
    seq: int
    severity: str
    reason: str
    outcome: str  # sent | skipped | dead
    attempts: int
    status: int | None  # last HTTP status, if any
    detail: str  # skip reason or last error (redacted)
    notified_at: datetime  # when the engine decided to notify


@dataclass(frozen=True, slots=True)
class Pending:
    channel: str
    notification_id: str
    incident_id: str
    seq: int
    attempts: int
    next_attempt: datetime
    last_status: int | None
    last_error: str | None


def row_key(incident_id: str, seq: int) -> str:
    return f"{safe_key(incident_id)}|{seq:06d}"


def backoff(attempts: int, first: timedelta, cap: timedelta) -> timedelta:
    """Delay before the next attempt after ``attempts`` failures: first, 2x, 4x, ... capped."""
    return min(cap, first * (2 ** min(max(attempts - 1, 0), 20)))


class Outbox:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        clock: Clock,
        senders: Mapping[str, Sender] | None = None,
        *,
        app_url: str | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self._senders = (
            senders if senders is not None else build_senders(settings, store, clock, app_url=app_url)
        )
        self._owner = uuid.uuid4().hex  # lease owner: this outbox object
        self._gates = Gates(store)
        self._pruned_at: datetime | None = None
        self._redact = redactor_for(settings)

    @property
    def channels(self) -> tuple[str, ...]:
        """Where new notifications go: the configured channels, or the log so nothing is dropped."""
        return self._settings.channels or (FALLBACK_CHANNEL,)

    # --- writing --------------------------------------------------------------------------------

    def enqueue(self, notification: Notification) -> list[str]:
        """Store one record per channel; returns the channels newly enqueued (none on a repeat)."""
        row = row_key(notification.incident_id, notification.seq)
        enqueued = []
        for channel in self.channels:
            if self._store.get(DONE_TABLE, channel, row) is not None:
                continue
            if self._store.insert(OUTBOX_TABLE, channel, row, self._record_value(notification)) is not None:
                enqueued.append(channel)
        return enqueued

    def _record_value(self, notification: Notification) -> dict[str, Any]:
        now = format_timestamp(self._clock.now())
        return {
            "notification": notification.to_dict(),
            "enqueuedAt": now,
            "attempts": 0,
            "nextAttempt": now,
            "lastStatus": None,
            "lastError": None,
            "leaseOwner": None,
            "leaseUntil": None,
        }

    # --- sending --------------------------------------------------------------------------------

    def deliver_due(self, budget: int = 200) -> list[Delivery]:
        """Send what is due, at most ``budget`` attempts; returns the records finished by this call."""
        finished: list[Delivery] = []
        for channel in sorted(self._store.partitions(OUTBOX_TABLE)):
            if budget <= 0:
                break
            sender = self._senders.get(channel)
            if sender is None:
                log.warning(
                    "outbox: channel %s has pending notifications but is not configured; kept", channel
                )
                continue
            budget = self._deliver_channel(channel, sender, budget, finished)
        return finished

    def _deliver_channel(self, channel: str, sender: Sender, budget: int, finished: list[Delivery]) -> int:
        chains = self._chains(channel)
        gate = self._gates.load(channel, self._clock.now(), self._settings) if channel in DIGESTED else None
        if gate is not None and gate.releasing(self._clock.now()):
            if not self._release(channel, chains, gate):
                return budget  # another instance releases this window
            chains = self._chains(channel)  # the digest record is among them now
        for chain in chains:
            if gate is not None and not self._admit(channel, gate, chain):
                continue  # held for the next digest
            for record in chain:  # in seq order; stop at the first record not finished now
                if budget <= 0 or not self._due(record):
                    break
                budget -= 1
                outcome = self._attempt(channel, sender, record)
                if isinstance(outcome, Delivery):
                    finished.append(outcome)
                    continue
                if outcome == "already_done":
                    continue
                if outcome == "retry":
                    return budget  # the receiver is failing: pause this channel until the next sweep
                break  # claimed by someone else
        return budget

    def _chains(self, channel: str) -> list[list[Record]]:
        """The channel's pending records grouped by incident, in seq order, oldest incident first."""
        records = list(self._store.query(OUTBOX_TABLE, channel))
        chains = [list(group) for _, group in groupby(records, key=lambda r: r.row.rsplit("|", 1)[0])]
        chains.sort(key=lambda chain: (parse_timestamp(chain[0].value["notification"]["at"]), chain[0].row))
        return chains

    # --- storm digests (see digest.py) -----------------------------------------------------------

    def _admit(self, channel: str, gate: Gate, chain: list[Record]) -> bool:
        """May this incident's due records go out on their own? Records the decision in the gate."""
        incident_id = chain[0].value["notification"]["incidentId"]
        if FOLDS in chain[0].value:
            return True  # a digest itself is never held
        if incident_id in gate.announced or not self._due(chain[0]):
            return incident_id in gate.announced
        now = self._clock.now()
        holding = gate.hold_until
        if gate.admits(incident_id, now, self._settings):
            gate.announced[incident_id] = now
            return self._gates.save(channel, gate)
        if holding is None:  # this incident started the hold
            log.info(
                "outbox: %s holds new incidents for one digest until %s",
                channel,
                format_timestamp(gate.hold_until),
            )
            self._gates.save(channel, gate)
        return False

    def _release(self, channel: str, chains: list[list[Record]], gate: Gate) -> bool:
        """Turn what the gate held into one digest record; False if another instance releases it.

        Crash-safe and exclusive: the gate is closed first under its ETag (one winner per window);
        then the digest goes into the outbox as a record of its own, listing what it folds, and only
        then are the held records finished as folded. The digest is sent like any record (same id
        and body on a retry); sending it first finishes any folded record a crash left behind.
        """
        now = self._clock.now()
        held = [
            c
            for c in chains
            if c[0].value["notification"]["incidentId"] not in gate.announced and self._due(c[0])
        ]
        window = gate.hold_until or now
        gate.hold_until = None
        if len(held) > 1:
            gate.last_digest = now
        else:
            for c in held:  # a lone held incident is simply sent
                gate.announced[c[0].value["notification"]["incidentId"]] = now
        if not self._gates.save(channel, gate):
            return False
        if len(held) <= 1:
            return True
        claimed = [(r, etag) for c in held for r in c if self._due(r) and (etag := self._claim(channel, r))]
        if not claimed:
            return True
        notes = [Notification.from_dict(r.value["notification"]) for r, _ in claimed]
        digest = digest_of(channel, notes, window, now)
        value = self._record_value(digest)
        value[FOLDS] = [r.row for r, _ in claimed]
        self._store.insert(OUTBOX_TABLE, channel, row_key(digest.incident_id, digest.seq), value)
        self._fold(channel, digest.id, claimed)
        return True

    def _fold(self, channel: str, digest_id: str, claimed: list[tuple[Record, str]]) -> None:
        for r, etag in claimed:
            n = Notification.from_dict(r.value["notification"])
            attempts = int(r.value.get("attempts", 0))
            self._finish(
                channel, r.row, etag, n, "skipped", attempts, SendResult(ok=True), f"folded into {digest_id}"
            )

    def _finish_folds(self, channel: str, record: Record) -> None:
        """Before a digest goes out: finish the records it folds that a crash left pending."""
        left = [
            rec for row in record.value.get(FOLDS, []) if (rec := self._store.get(OUTBOX_TABLE, channel, row))
        ]
        digest_id = record.value["notification"]["id"]
        self._fold(channel, digest_id, [(r, etag) for r in left if (etag := self._claim(channel, r))])

    def _due(self, record: Record) -> bool:
        now = self._clock.now()
        lease = record.value.get("leaseUntil")
        if lease and parse_timestamp(lease) > now:
            return False
        return parse_timestamp(record.value["nextAttempt"]) <= now

    def _claim(self, channel: str, record: Record) -> str | None:
        """Lease a record for one attempt (ETag): the new ETag, or None if another instance has it."""
        claimed = {
            **record.value,
            "leaseOwner": self._owner,
            "leaseUntil": format_timestamp(self._clock.now() + self._settings.lease_duration),
        }
        try:
            return self._store.replace(OUTBOX_TABLE, channel, record.row, claimed, record.etag)
        except ConflictError:
            return None

    def _attempt(self, channel: str, sender: Sender, record: Record) -> Delivery | Attempt:
        """Claim, send and record one record: finished (a Delivery) or why the chain stops here."""
        etag = self._claim(channel, record)
        if etag is None:
            return "claimed"
        if self._store.get(DONE_TABLE, channel, record.row) is not None:
            # Finished by an earlier attempt whose cleanup did not happen, or re-enqueued after it.
            self._delete(channel, record.row, etag)
            return "already_done"
        if FOLDS in record.value:
            self._finish_folds(channel, record)
        notification = Notification.from_dict(record.value["notification"])
        return self._settle(channel, record, etag, notification, self._send(sender, channel, notification))

    def _settle(
        self,
        channel: str,
        record: Record,
        etag: str,
        notification: Notification,
        result: SendResult,
    ) -> Delivery | Attempt:
        """Book one attempt's result: finished (sent, skipped, dead) or rescheduled with backoff."""
        attempts = int(record.value.get("attempts", 0)) + 1
        if result.ok:
            outcome = "skipped" if result.skipped else "sent"
            return self._finish(
                channel,
                record.row,
                etag,
                notification,
                outcome,
                attempts,
                result,
                result.skipped or "",
            )
        if result.retryable and attempts < self._settings.notify_max_attempts:
            self._reschedule(channel, record.row, etag, record.value, attempts, result)
            return "retry"
        detail = result.error or "failed"
        if result.retryable:
            detail = f"gave up after {attempts} attempts; last: {detail}"
        return self._finish(channel, record.row, etag, notification, "dead", attempts, result, detail)

    def _send(self, sender: Sender, channel: str, notification: Notification) -> SendResult:
        try:
            return sender.send(notification)
        except Exception as exc:  # a bug in rendering must not stop the sweep; retried, then dead
            log.exception("outbox: %s sender raised for %s", channel, notification.id)
            return SendResult(ok=False, error=self._redact(f"{type(exc).__name__}: {exc}"), retryable=True)

    def _reschedule(
        self, channel: str, row: str, etag: str, value: dict[str, Any], attempts: int, result: SendResult
    ) -> None:
        now = self._clock.now()
        if result.retry_after_seconds is not None:
            delay = timedelta(seconds=result.retry_after_seconds)
        else:
            delay = backoff(attempts, self._settings.sweep_interval, self._settings.notify_backoff_max)
        updated = {
            **value,
            "attempts": attempts,
            "nextAttempt": format_timestamp(now + delay),
            "lastStatus": result.status,
            "lastError": result.error,
            "leaseOwner": None,
            "leaseUntil": None,
        }
        log.warning(
            "outbox: %s delivery of %s failed (attempt %d, %s); next attempt %s",
            channel,
            value["notification"]["id"],
            attempts,
            result.error,
            updated["nextAttempt"],
        )
        try:
            self._store.replace(OUTBOX_TABLE, channel, row, updated, etag)
        except ConflictError:
            log.warning("outbox: lost the lease on %s/%s while sending; the new owner retries", channel, row)

    def _finish(
        self,
        channel: str,
        row: str,
        etag: str,
        notification: Notification,
        outcome: str,
        attempts: int,
        result: SendResult,
        detail: str,
    ) -> Delivery:
        delivery = self._record_done(channel, notification, outcome, attempts, result, detail)
        self._delete(channel, row, etag)
        return delivery

    def _record_done(
        self,
        channel: str,
        notification: Notification,
        outcome: str,
        attempts: int,
        result: SendResult,
        detail: str,
    ) -> Delivery:
        """The delivery history row (also the "already done" check for a re-enqueue)."""
        delivery = Delivery(
            at=self._clock.now(),
            channel=channel,
            notification_id=notification.id,
            incident_id=notification.incident_id,
            seq=notification.seq,
            severity=notification.severity,
            reason=notification.reason,
            outcome=outcome,
            attempts=attempts,
            status=result.status,
            detail=detail,
            notified_at=notification.at,
        )
        self._store.insert(
            DONE_TABLE,
            channel,
            row_key(notification.incident_id, notification.seq),
            _delivery_to_dict(delivery),
        )
        level = logging.ERROR if outcome == "dead" else logging.INFO
        log.log(
            level,
            "outbox: %s %s via %s after %d attempt(s) %s",
            notification.id,
            outcome,
            channel,
            attempts,
            detail,
        )
        return delivery

    def _delete(self, channel: str, row: str, etag: str) -> None:
        try:
            self._store.delete(OUTBOX_TABLE, channel, row, etag)
        except ConflictError:
            log.warning("outbox: %s/%s changed before cleanup; its next claimer finds it done", channel, row)

    def prune_history(self, now: datetime) -> int:
        """Drop delivery history older than ``notifyHistoryRetention`` (Tables has no TTL).

        It scans the history, so it runs at most once an hour per app instance; a re-enqueue of a
        notification only ever happens within minutes, far inside the retention.
        """
        if self._pruned_at is not None and now < self._pruned_at + PRUNE_EVERY:
            return 0
        self._pruned_at = now
        cutoff = now - self._settings.notify_history_retention
        dropped = 0
        for channel in list(self._store.partitions(DONE_TABLE)):
            for r in list(self._store.query(DONE_TABLE, channel)):
                if parse_timestamp(r.value["at"]) < cutoff:
                    self._store.delete(DONE_TABLE, channel, r.row)
                    dropped += 1
        return dropped

    # --- reading --------------------------------------------------------------------------------

    def deliveries(self, outcomes: tuple[str, ...] = ("sent",)) -> list[Delivery]:
        """Finished records with one of ``outcomes`` (default: sent), in the order they finished."""
        found = [
            _delivery_from_dict(r.value)
            for channel in self._store.partitions(DONE_TABLE)
            for r in self._store.query(DONE_TABLE, channel)
            if r.value["outcome"] in outcomes
        ]
        return sorted(found, key=lambda d: (d.at, d.notified_at, d.incident_id, d.seq, d.channel))

    def pending(self) -> list[Pending]:
        out = []
        for channel in sorted(self._store.partitions(OUTBOX_TABLE)):
            for r in self._store.query(OUTBOX_TABLE, channel):
                n = r.value["notification"]
                out.append(
                    Pending(
                        channel=channel,
                        notification_id=n["id"],
                        incident_id=n["incidentId"],
                        seq=int(n["seq"]),
                        attempts=int(r.value.get("attempts", 0)),
                        next_attempt=parse_timestamp(r.value["nextAttempt"]),
                        last_status=r.value.get("lastStatus"),
                        last_error=r.value.get("lastError"),
                    )
                )
        return out

    def pending_count(self) -> int:
        return sum(
            1
            for channel in self._store.partitions(OUTBOX_TABLE)
            for _ in self._store.query(OUTBOX_TABLE, channel)
        )


def _delivery_to_dict(d: Delivery) -> dict[str, Any]:
    return {
        "at": format_timestamp(d.at),
        "channel": d.channel,
        "notificationId": d.notification_id,
        "incidentId": d.incident_id,
        "seq": d.seq,
        "severity": d.severity,
        "reason": d.reason,
        "outcome": d.outcome,
        "attempts": d.attempts,
        "status": d.status,
        "detail": d.detail,
        "notifiedAt": format_timestamp(d.notified_at),
    }


def _delivery_from_dict(v: dict[str, Any]) -> Delivery:
    return Delivery(
        at=parse_timestamp(v["at"]),
        channel=v["channel"],
        notification_id=v["notificationId"],
        incident_id=v["incidentId"],
        seq=int(v["seq"]),
        severity=v["severity"],
        reason=v["reason"],
        outcome=v["outcome"],
        attempts=int(v["attempts"]),
        status=v.get("status"),
        detail=v.get("detail", ""),
        notified_at=parse_timestamp(v["notifiedAt"]),
    )
