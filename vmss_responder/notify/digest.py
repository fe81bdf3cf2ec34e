"""Storm digests: when many incidents open within minutes, a channel gets one message, not many.

A zone outage or a fleet-wide rollout opens dozens of incidents in a few minutes; one message
each buries the one that matters. Each channel keeps a small gate record (table ``outboxgate``,
partition = channel) with the incidents that had a message of their own in the last
``digestWindow``:

- an incident already announced in the window keeps its own thread (updates, resolved);
- a new incident gets its own message while fewer than ``digestThreshold - 1`` others had one
  in the window; after that, new incidents are *held* until the window ends;
- at the end of the window everything held goes out as one digest (``reason: digest``) listing
  each incident's latest snapshot; the held records are finished as ``skipped`` naming the
  digest, so nothing is lost and nothing is sent twice. A lone held incident is sent normally.
- while the storm goes on (another incident arrives within a window of the last digest), the
  next one is held at once: one digest per window.

The gate is pure bookkeeping over its record; the outbox owns the sending.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ..config import Settings
from ..durations import format_timestamp, parse_timestamp
from ..store.base import ConflictError, Store
from .model import Notification

GATE_TABLE = "outboxgate"
GATE_ROW = "gate"


@dataclass
class Gate:
    """One channel's view of the current storm window."""

    announced: dict[str, datetime] = field(default_factory=dict)  # incident -> its own first message
    hold_until: datetime | None = None  # new incidents wait for the digest until then
    last_digest: datetime | None = None
    etag: str | None = None

    def prune(self, now: datetime, settings: Settings) -> None:
        self.announced = {i: at for i, at in self.announced.items() if at > now - settings.digest_window}

    def admits(self, incident_id: str, now: datetime, settings: Settings) -> bool:
        """May this incident's record go out on its own now? Starts a hold when the storm begins."""
        if incident_id in self.announced:
            return True
        if self.hold_until is not None:
            return False
        storming = self.last_digest is not None and now < self.last_digest + settings.digest_window
        if storming or len(self.announced) >= settings.digest_threshold - 1:
            self.hold_until = (
                self.last_digest if storming and self.last_digest else now
            ) + settings.digest_window
            return False
        return True

    def releasing(self, now: datetime) -> bool:
        return self.hold_until is not None and now >= self.hold_until


class Gates:
    """Load and save the per-channel gates (If-Match: two sweeps never both release a digest)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def load(self, channel: str, now: datetime, settings: Settings) -> Gate:
        rec = self._store.get(GATE_TABLE, channel, GATE_ROW)
        if rec is None:
            return Gate()
        v = rec.value
        gate = Gate(
            announced={i: parse_timestamp(at) for i, at in v.get("announced", {}).items()},
            hold_until=parse_timestamp(v["holdUntil"]) if v.get("holdUntil") else None,
            last_digest=parse_timestamp(v["lastDigest"]) if v.get("lastDigest") else None,
            etag=rec.etag,
        )
        gate.prune(now, settings)
        return gate

    def save(self, channel: str, gate: Gate) -> bool:
        """False if another instance changed the gate first (the caller stops for this sweep)."""
        value = {
            "announced": {i: format_timestamp(at) for i, at in gate.announced.items()},
            "holdUntil": format_timestamp(gate.hold_until) if gate.hold_until else None,
            "lastDigest": format_timestamp(gate.last_digest) if gate.last_digest else None,
        }
        try:
            if gate.etag is None:
                etag = self._store.insert(GATE_TABLE, channel, GATE_ROW, value)
                if etag is None:
                    return False
            else:
                etag = self._store.replace(GATE_TABLE, channel, GATE_ROW, value, gate.etag)
        except ConflictError:
            return False
        gate.etag = etag
        return True


def digest_of(channel: str, held: list[Notification], hold_until: datetime, now: datetime) -> Notification:
    """One notification for the held records: each incident's latest snapshot; a page if any was.

    Its id depends only on the channel and the window, so a retried or re-built digest of the same
    window carries the same idempotency key.
    """
    latest: dict[str, Notification] = {}
    for n in sorted(held, key=lambda n: (n.incident_id, n.seq)):
        latest[n.incident_id] = n
    snapshots = [n.incident for n in sorted(latest.values(), key=lambda n: (n.at, n.incident_id))]
    severity = "page" if any(n.severity == "page" for n in held) else "info"
    sets = {str(s.get("scale_set", "")).lower() for s in snapshots}
    digest_id = f"digest-{channel}-{hold_until:%Y%m%dT%H%M%SZ}"
    return Notification(
        id=f"{digest_id}:1",
        incident_id=digest_id,
        seq=1,
        severity=severity,
        reason="digest",
        at=now,
        title=f"{len(snapshots)} incidents on {len(sets)} scale set{'s' if len(sets) != 1 else ''}",
        incident={},
        digest=snapshots,
    )
