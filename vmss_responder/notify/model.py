"""The platform-neutral notification every channel renders.

A notification is decided by the engine from the incident (never from raw events) and carries
a snapshot of the incident as it stood, so a channel can render it at any later time (the
outbox may deliver it an hour after the fact) and still tell the whole story.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from ..durations import format_timestamp, parse_timestamp

Severity = Literal["page", "info", "resolved"]
Reason = Literal["opened", "updated", "escalated", "closed", "digest", "test"]


@dataclass(slots=True)
class Notification:
    id: str  # "{incident id}:{seq}" - stable, the idempotency key of every delivery
    incident_id: str
    seq: int  # per incident, increasing: channels deliver in this order
    severity: Severity
    reason: Reason
    at: datetime
    title: str
    incident: dict[str, Any]  # Incident.to_dict() snapshot (status, findings, instances, timeline…)
    actions: list[dict[str, Any]] = field(default_factory=list)  # action_to_dict() of the incident's actions
    digest: list[dict[str, Any]] = field(default_factory=list)  # for reason=digest: incident snapshots

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "incidentId": self.incident_id,
            "seq": self.seq,
            "severity": self.severity,
            "reason": self.reason,
            "at": format_timestamp(self.at),
            "title": self.title,
            "incident": self.incident,
            "actions": self.actions,
            "digest": self.digest,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Notification:
        return cls(
            id=data["id"],
            incident_id=data["incidentId"],
            seq=int(data["seq"]),
            severity=data["severity"],
            reason=data["reason"],
            at=parse_timestamp(data["at"]),
            title=data["title"],
            incident=data["incident"],
            actions=list(data.get("actions", [])),
            digest=list(data.get("digest", [])),
        )
