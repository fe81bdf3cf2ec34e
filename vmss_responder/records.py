"""Typed repositories over the :class:`~vmss_responder.store.Store`: what is kept, and how.

- ``inbox``: every accepted delivery, stored before it is acknowledged, until processed.
- ``seen``: dedup claims on a signal's semantic identity (insert-if-absent, with expiry).
- ``state``: one engine state per scale set, written with If-Match.
- ``incidents`` / ``actions``: the audit record on-call and the API read.
- ``leases``: who evaluates a scale set now, so N app instances do not act twice.
- ``rejected``: what was refused and why (never silently dropped).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any, TypeVar

from .durations import format_timestamp, parse_timestamp
from .engine.incident import ActionRecord, Incident, action_from_dict, action_to_dict
from .engine.state import ScaleSetState
from .store.base import ConflictError, Record, Store, safe_key

T = TypeVar("T")
MAX_CONFLICT_RETRIES = 20


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _day_partition(at: datetime) -> str:
    return f"done-{at.year:04d}{at.month:02d}{at.day:02d}"


class Inbox:
    TABLE = "inbox"
    DONE_DAYS = 3  # Event Grid retries for up to 24 h; keep tombstones a little longer

    def __init__(self, store: Store) -> None:
        self.store = store

    @staticmethod
    def delivery_id(channel: str, payload: Any) -> str:
        """Identical bodies on the same channel are one delivery (Event Grid redelivers byte-identical batches)."""
        return digest(channel + "|" + json.dumps(payload, sort_keys=True, separators=(",", ":")))

    def accept(
        self, channel: str, payload: Any, received_at: datetime, owner: str, lease_until: datetime
    ) -> tuple[str, bool]:
        """Store a delivery before it is acknowledged, leased to ``owner`` while it processes it.

        False for a redelivery (pending or already done). The lease keeps the sweep (here or on
        another instance) off a delivery that ingest is still handling; a crash lets it expire.
        """
        did = self.delivery_id(channel, payload)
        value = {
            "channel": channel,
            "payload": payload,
            "receivedAt": format_timestamp(received_at),
            "attempts": 0,
            "owner": owner,
            "leaseUntil": format_timestamp(lease_until),
        }
        if self.store.insert(self.TABLE, "pending", did, value) is None:
            return did, False  # the same delivery is being processed (or waits for the sweep)
        for day in range(self.DONE_DAYS):
            if self.store.get(self.TABLE, _day_partition(received_at - timedelta(days=day)), did) is not None:
                self.store.delete(self.TABLE, "pending", did)
                return did, False  # processed before: a redelivery after success
        return did, True

    def take(self, rec: Record, owner: str, now: datetime, lease_until: datetime) -> bool:
        """Lease a pending delivery for a retry; False while another processor's lease runs (or it won the race)."""
        until = rec.value.get("leaseUntil")
        if until and rec.value.get("owner") != owner and parse_timestamp(until) > now:
            return False
        value = {
            **rec.value,
            "owner": owner,
            "leaseUntil": format_timestamp(lease_until),
            "attempts": rec.value.get("attempts", 0) + 1,
        }
        try:
            self.store.replace(self.TABLE, "pending", rec.row, value, rec.etag)
        except (ConflictError, KeyError):
            return False
        return True

    def release(self, delivery_id: str, owner: str, now: datetime) -> None:
        """Give a failed delivery back to the sweep at once instead of when the lease runs out."""
        rec = self.store.get(self.TABLE, "pending", delivery_id)
        if rec is None or rec.value.get("owner") != owner:
            return
        with contextlib.suppress(ConflictError, KeyError):
            self.store.replace(
                self.TABLE,
                "pending",
                delivery_id,
                {**rec.value, "leaseUntil": format_timestamp(now)},
                rec.etag,
            )

    def done(self, delivery_id: str, at: datetime) -> None:
        """Mark processed: a tombstone first (so a redelivery is recognized), then leave the pending set."""
        self.store.upsert(self.TABLE, _day_partition(at), delivery_id, {"doneAt": format_timestamp(at)})
        self.store.delete(self.TABLE, "pending", delivery_id)

    def expire(self, now: datetime) -> int:
        """Drop tombstones older than the redelivery horizon (Tables has no TTL): whole day partitions."""
        keep = {_day_partition(now - timedelta(days=d)) for d in range(self.DONE_DAYS)}
        dropped = 0
        for part in list(self.store.partitions(self.TABLE)):
            if part.startswith("done-") and part not in keep:
                for rec in list(self.store.query(self.TABLE, part)):
                    self.store.delete(self.TABLE, part, rec.row)
                    dropped += 1
        return dropped

    def pending(self) -> Iterator[Record]:
        yield from self.store.query(self.TABLE, "pending")


class Seen:
    TABLE = "seen"

    def __init__(self, store: Store) -> None:
        self.store = store

    def claim(self, key: str, owner: str, now: datetime, expires: datetime) -> bool:
        """True if this delivery may absorb the signal: first claim, our own earlier claim, or an expired one."""
        row = digest(key)
        part = row[:2]
        value = {"owner": owner, "expiresAt": format_timestamp(expires)}
        if self.store.insert(self.TABLE, part, row, value) is not None:
            return True
        rec = self.store.get(self.TABLE, part, row)
        if rec is None:
            return self.store.insert(self.TABLE, part, row, value) is not None
        if rec.value.get("owner") == owner:
            return True
        if parse_timestamp(rec.value["expiresAt"]) < now:
            try:
                self.store.replace(self.TABLE, part, row, value, rec.etag)
                return True
            except ConflictError:
                return False
        return False


class States:
    TABLE = "state"

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, key: str) -> tuple[ScaleSetState | None, str | None]:
        rec = self.store.get(self.TABLE, safe_key(key), "state")
        return (ScaleSetState.from_dict(rec.value), rec.etag) if rec else (None, None)

    def update(self, key: str, scale_set_id: str, fn: Callable[[ScaleSetState], T]) -> T:
        """Read-modify-write with If-Match; ``fn`` is re-run on a conflict, so it must be pure."""
        from .engine.correlate import new_state

        for _ in range(MAX_CONFLICT_RETRIES):
            state, etag = self.get(key)
            if state is None:
                state = new_state(scale_set_id)
            result = fn(state)
            try:
                if etag is None:
                    if self.store.insert(self.TABLE, safe_key(key), "state", state.to_dict()) is None:
                        continue
                else:
                    self.store.replace(self.TABLE, safe_key(key), "state", state.to_dict(), etag)
                return result
            except ConflictError:
                continue
        raise ConflictError(
            f"state of {scale_set_id} kept changing; giving up after {MAX_CONFLICT_RETRIES} tries"
        )

    def keys(self) -> Iterator[str]:
        yield from self.store.partitions(self.TABLE)

    def get_by_partition(self, part: str) -> ScaleSetState | None:
        rec = self.store.get(self.TABLE, part, "state")
        return ScaleSetState.from_dict(rec.value) if rec else None


class Incidents:
    TABLE = "incidents"

    def __init__(self, store: Store) -> None:
        self.store = store

    def save(self, incident: Incident) -> None:
        self.store.upsert(self.TABLE, "all", safe_key(incident.id), incident.to_dict())

    def get(self, incident_id: str) -> Incident | None:
        rec = self.store.get(self.TABLE, "all", safe_key(incident_id))
        return Incident.from_dict(rec.value) if rec else None

    def all(self) -> list[Incident]:
        items = [Incident.from_dict(r.value) for r in self.store.query(self.TABLE, "all")]
        return sorted(items, key=lambda i: (i.opened, i.id))


class Actions:
    TABLE = "actions"

    def __init__(self, store: Store) -> None:
        self.store = store

    def claim(self, record: ActionRecord) -> bool:
        """Exactly once: the first writer of a deterministic action ID executes it."""
        return (
            self.store.insert(
                self.TABLE, safe_key(record.incident_id), safe_key(record.id), action_to_dict(record)
            )
            is not None
        )

    def save(self, record: ActionRecord) -> None:
        self.store.upsert(
            self.TABLE, safe_key(record.incident_id), safe_key(record.id), action_to_dict(record)
        )

    def for_incident(self, incident_id: str) -> list[ActionRecord]:
        return [action_from_dict(r.value) for r in self.store.query(self.TABLE, safe_key(incident_id))]

    def all(self) -> list[ActionRecord]:
        out = []
        for part in self.store.partitions(self.TABLE):
            out.extend(action_from_dict(r.value) for r in self.store.query(self.TABLE, part))
        return sorted(out, key=lambda a: (a.at, a.id))


class Leases:
    TABLE = "leases"

    def __init__(self, store: Store) -> None:
        self.store = store

    def acquire(self, key: str, owner: str, now: datetime, until: datetime) -> bool:
        value = {"owner": owner, "until": format_timestamp(until)}
        row = safe_key(key)
        if self.store.insert(self.TABLE, "lease", row, value) is not None:
            return True
        rec = self.store.get(self.TABLE, "lease", row)
        if rec is None:
            return self.store.insert(self.TABLE, "lease", row, value) is not None
        if rec.value.get("owner") == owner or parse_timestamp(rec.value["until"]) <= now:
            try:
                self.store.replace(self.TABLE, "lease", row, value, rec.etag)
                return True
            except ConflictError:
                return False
        return False

    def release(self, key: str, owner: str) -> None:
        rec = self.store.get(self.TABLE, "lease", safe_key(key))
        if rec and rec.value.get("owner") == owner:
            with contextlib.suppress(ConflictError):
                self.store.delete(self.TABLE, "lease", safe_key(key), rec.etag)


class Rejected:
    TABLE = "rejected"

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, at: datetime, channel: str, reason: str, delivery_id: str) -> None:
        row = f"{format_timestamp(at)}|{digest(delivery_id + reason)}"
        self.store.upsert(
            self.TABLE,
            "all",
            safe_key(row),
            {"at": format_timestamp(at), "channel": channel, "reason": reason[:2000]},
        )

    def all(self) -> list[dict[str, Any]]:
        return [r.value for r in self.store.query(self.TABLE, "all")]
