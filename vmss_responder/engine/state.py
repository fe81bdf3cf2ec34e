"""Per-scale-set engine state: known operations, latest health per target, the open incident.

One record per scale set, read and written with optimistic concurrency by the shell, so two
app instances absorbing signals for the same scale set serialize on its ETag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..config import Settings
from ..durations import format_timestamp, parse_timestamp
from ..signals import OpCategory, Phase
from .incident import Incident

# Sources disagree by up to a couple of minutes (Resource Health has no latency SLA), so a
# health signal slightly before an operation's first event is still attributed to it.
OPERATION_LEAD = timedelta(minutes=2)
# Keep operations this long after their window closes (late signals may still need them).
OPERATION_RETENTION = timedelta(hours=6)


@dataclass(slots=True)
class Operation:
    key: str  # correlation id, or a synthesized identity when the source has none
    category: OpCategory
    operation: str
    started: datetime
    ended: datetime | None = None
    phase: Phase = Phase.STARTED
    caller: str | None = None
    channel: str = ""  # how we learned of it: eventgrid | alert | autoscale | activity_log | …
    instance_ids: list[str] = field(default_factory=list)  # empty = the whole scale set
    old_capacity: int | None = None
    new_capacity: int | None = None
    own: bool = False  # the responder's own call echoing back

    def window_end(self, settings: Settings) -> datetime:
        """Signals until this instant are attributed to the operation."""
        end = self.ended or (self.started + settings.operation_max_duration)
        return end + settings.settle_period

    def covers(self, when: datetime, instance_id: str | None, settings: Settings) -> bool:
        if not (self.started - OPERATION_LEAD <= when <= self.window_end(settings)):
            return False
        if self.phase in (Phase.FAILED, Phase.CANCELED) and self.category is not OpCategory.SCALE:
            # a failed operation still churned instances while it ran, but explains nothing after it ended
            return self.ended is None or when <= self.ended + OPERATION_LEAD
        return not self.instance_ids or instance_id is None or instance_id in self.instance_ids

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "category": self.category.value,
            "operation": self.operation,
            "started": format_timestamp(self.started),
            "ended": format_timestamp(self.ended) if self.ended else None,
            "phase": self.phase.value,
            "caller": self.caller,
            "channel": self.channel,
            "instance_ids": self.instance_ids,
            "old_capacity": self.old_capacity,
            "new_capacity": self.new_capacity,
            "own": self.own,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Operation:
        return cls(
            key=d["key"],
            category=OpCategory(d["category"]),
            operation=d["operation"],
            started=parse_timestamp(d["started"]),
            ended=parse_timestamp(d["ended"]) if d.get("ended") else None,
            phase=Phase(d["phase"]),
            caller=d.get("caller"),
            channel=d.get("channel", ""),
            instance_ids=list(d.get("instance_ids", [])),
            old_capacity=d.get("old_capacity"),
            new_capacity=d.get("new_capacity"),
            own=bool(d.get("own", False)),
        )


@dataclass(slots=True)
class HealthMark:
    state: str
    at: datetime


@dataclass(slots=True)
class ScaleSetState:
    key: str
    scale_set_id: str
    operations: list[Operation] = field(default_factory=list)
    health: dict[str, HealthMark] = field(default_factory=dict)  # "" = scale set, else instance ID
    incident: Incident | None = None
    due: datetime | None = None  # next evaluation
    diagnose: str | None = None  # why a diagnosis was requested without an incident
    last_read: datetime | None = None
    unhealthy_since: dict[str, datetime] = field(
        default_factory=dict
    )  # first seen unhealthy in the live view
    autoscale: list[tuple[datetime, int]] = field(default_factory=list)  # (time, +1 out / -1 in)
    resumes: list[datetime] = field(default_factory=list)
    instance_actions: dict[str, list[datetime]] = field(default_factory=dict)
    pending_actions: list[str] = field(default_factory=list)  # action ids awaiting verification
    own_correlations: list[str] = field(default_factory=list)
    annotations: list[dict[str, Any]] = field(default_factory=list)  # recent Resource Health annotations
    outbox: list[dict[str, Any]] = field(default_factory=list)  # notifications decided, not yet in the outbox
    incident_seq: int = 0
    notify_seq: dict[str, int] = field(default_factory=dict)  # incident id -> last notification seq

    def prune(self, now: datetime, settings: Settings) -> None:
        """Forget what can no longer matter, keeping the record small."""
        keep_after = now - OPERATION_RETENTION
        self.operations = [op for op in self.operations if op.window_end(settings) >= keep_after]
        horizon = now - settings.flap_window * 2
        self.autoscale = [a for a in self.autoscale if a[0] >= horizon]
        self.resumes = [t for t in self.resumes if t >= now - settings.resume_budget_window]
        for iid in list(self.instance_actions):
            recent = [t for t in self.instance_actions[iid] if t >= now - settings.instance_action_window]
            if recent:
                self.instance_actions[iid] = recent
            else:
                del self.instance_actions[iid]
        self.own_correlations = self.own_correlations[-50:]
        self.annotations = [a for a in self.annotations if parse_timestamp(a["at"]) >= keep_after]
        if self.incident is None:
            self.health = {k: v for k, v in self.health.items() if v.at >= keep_after}

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "scale_set_id": self.scale_set_id,
            "operations": [op.to_dict() for op in self.operations],
            "health": {k: {"state": v.state, "at": format_timestamp(v.at)} for k, v in self.health.items()},
            "incident": self.incident.to_dict() if self.incident else None,
            "due": format_timestamp(self.due) if self.due else None,
            "diagnose": self.diagnose,
            "last_read": format_timestamp(self.last_read) if self.last_read else None,
            "unhealthy_since": {k: format_timestamp(v) for k, v in self.unhealthy_since.items()},
            "autoscale": [[format_timestamp(t), d] for t, d in self.autoscale],
            "resumes": [format_timestamp(t) for t in self.resumes],
            "instance_actions": {
                k: [format_timestamp(t) for t in v] for k, v in self.instance_actions.items()
            },
            "pending_actions": self.pending_actions,
            "own_correlations": self.own_correlations,
            "annotations": self.annotations,
            "outbox": self.outbox,
            "incident_seq": self.incident_seq,
            "notify_seq": self.notify_seq,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ScaleSetState:
        ts = parse_timestamp
        return cls(
            key=d["key"],
            scale_set_id=d["scale_set_id"],
            operations=[Operation.from_dict(o) for o in d.get("operations", [])],
            health={k: HealthMark(v["state"], ts(v["at"])) for k, v in d.get("health", {}).items()},
            incident=Incident.from_dict(d["incident"]) if d.get("incident") else None,
            due=ts(d["due"]) if d.get("due") else None,
            diagnose=d.get("diagnose"),
            last_read=ts(d["last_read"]) if d.get("last_read") else None,
            unhealthy_since={k: ts(v) for k, v in d.get("unhealthy_since", {}).items()},
            autoscale=[(ts(t), int(dd)) for t, dd in d.get("autoscale", [])],
            resumes=[ts(t) for t in d.get("resumes", [])],
            instance_actions={k: [ts(t) for t in v] for k, v in d.get("instance_actions", {}).items()},
            pending_actions=list(d.get("pending_actions", [])),
            own_correlations=list(d.get("own_correlations", [])),
            annotations=list(d.get("annotations", [])),
            outbox=list(d.get("outbox", [])),
            incident_seq=int(d.get("incident_seq", 0)),
            notify_seq=dict(d.get("notify_seq", {})),
        )
