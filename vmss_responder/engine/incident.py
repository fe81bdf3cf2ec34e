"""Incidents: one per problem episode on a scale set, with findings, actions and a timeline.

An incident is what on-call sees. It is opened by the first unexplained-or-not-yet-explained
health signal (or by a diagnosis that finds a real problem), absorbs every later signal of the
episode, and ends with exactly one outcome status (see FORMAT.md). Records are plain
dataclasses that round-trip through JSON for the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from ..durations import format_timestamp, parse_timestamp

SIGNAL_NOTES_FIRST = 10  # how a storm incident began ...
SIGNAL_NOTES_LAST = 30  # ... and what it looks like now
TIMELINE_FIRST = 20  # every kind: how the incident began ...
TIMELINE_MAX = 150  # ... and its latest entries

FINDING_CODES: tuple[str, ...] = (
    "scale_operation",
    "autoscale_flapping",
    "repairs_suspended",
    "repairs_disabled",
    "grace_period",
    "provisioning_failed",
    "probe_misconfigured",
    "extension_failed",
    "platform_initiated",
    "zone_concentrated",
    "protected_instance",
    "stale_model",
)


class Status(str, Enum):
    OPEN = "open"
    SUPPRESSED = "suppressed"
    RESOLVED = "resolved"
    REMEDIATED = "remediated"
    ESCALATED = "escalated"


@dataclass(slots=True)
class Finding:
    code: str
    evidence: str
    instance_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class TimelineEntry:
    at: datetime
    kind: str  # signal | operation | diagnosis | decision | action | activity_log | notification
    text: str


@dataclass(slots=True)
class ActionRecord:
    """A mutating ARM call the responder decided on, executed or not."""

    id: str
    at: datetime
    op: str
    scale_set: str
    instance_ids: list[str]
    mode: str  # executed | shadow
    result: str  # succeeded | failed | skipped | pending
    reason: str
    incident_id: str
    correlation_id: str | None = None  # x-ms-client-request-id of the call, to recognize its echoes
    verified: bool | None = None
    output: str | None = None  # run command output (last 4 KB)
    detail: str = ""
    capacity: int | None = None  # replace_instance: the capacity to restore once the instance is gone
    continuation: str | None = None  # run_command: LRO continuation token to collect the output
    attempts: int = (
        1  # calls sent: a call with no definite answer is confirmed from the live view, then resent
    )
    unconfirmed: bool = False  # the last call got no definite answer (5xx, lost connection, long throttle)
    last_sent: datetime | None = None  # the latest call: verification waits from here


@dataclass(slots=True)
class Incident:
    id: str
    scale_set: str  # full ARM ID, in the fleet's casing once known
    status: Status
    opened: datetime
    first_signal: datetime
    last_signal: datetime
    closed: datetime | None = None
    signals: int = 0
    instance_ids: list[str] = field(default_factory=list)
    zones: dict[str, str] = field(default_factory=dict)  # instance ID -> zone
    findings: list[Finding] = field(default_factory=list)
    explanation: str = ""
    timeline: list[TimelineEntry] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)  # ActionRecord ids
    phase: str = "holding"  # holding | waiting_operation | waiting_repair | verifying | paged | closed
    next_check: datetime | None = None
    paged: bool = False
    notified: bool = False  # any notification (info or page) already went out
    explained_by: list[str] = field(default_factory=list)  # operation keys
    trigger: str = "health"  # health | diagnosis | flapping
    timeline_omitted: int = 0  # entries dropped from the middle of the timeline (see note)

    @property
    def is_open(self) -> bool:
        return self.closed is None

    def finding_codes(self) -> list[str]:
        return [f.code for f in self.findings]

    def add_finding(self, code: str, evidence: str, instance_ids: list[str] | None = None) -> bool:
        """Add or refresh a finding. Returns True when the code is new (a material change)."""
        if code not in FINDING_CODES:
            raise ValueError(f"unknown finding code {code!r}")
        for f in self.findings:
            if f.code == code:
                f.evidence = evidence
                f.instance_ids = sorted(set(instance_ids or []), key=_instance_order)
                return False
        self.findings.append(Finding(code, evidence, sorted(set(instance_ids or []), key=_instance_order)))
        return True

    def note(self, at: datetime, kind: str, text: str) -> None:
        """Add a timeline entry, keeping the record small (it is rewritten on every delivery): the
        first entries and the latest are kept, the middle counted in ``timeline_omitted``. Signal
        entries have a tighter bound of their own, so a storm never pushes the decisions out."""
        self.timeline.append(TimelineEntry(at, kind, text))
        if kind == "signal":
            signal_at = [i for i, e in enumerate(self.timeline) if e.kind == "signal"]
            if len(signal_at) > SIGNAL_NOTES_FIRST + SIGNAL_NOTES_LAST:
                del self.timeline[signal_at[SIGNAL_NOTES_FIRST]]
                self.timeline_omitted += 1
        if len(self.timeline) > TIMELINE_MAX:
            del self.timeline[TIMELINE_FIRST]
            self.timeline_omitted += 1

    def add_instances(self, ids: list[str] | set[str]) -> None:
        merged = set(self.instance_ids) | set(ids)
        self.instance_ids = sorted(merged, key=_instance_order)

    # --- serialization -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        out = _dump(self, skip="timeline")
        # the bulk of the record, dumped on every delivery: by hand
        out["timeline"] = [
            {"at": format_timestamp(e.at), "kind": e.kind, "text": e.text} for e in self.timeline
        ]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Incident:
        data = dict(data)
        data["status"] = Status(data["status"])
        data["findings"] = [Finding(**f) for f in data.get("findings", [])]
        data["timeline"] = [
            TimelineEntry(parse_timestamp(t["at"]), t["kind"], t["text"]) for t in data.get("timeline", [])
        ]
        return _load(cls, data)


def action_to_dict(action: ActionRecord) -> dict[str, Any]:
    return _dump(action)


def action_from_dict(data: dict[str, Any]) -> ActionRecord:
    return _load(ActionRecord, dict(data))


def _instance_order(instance_id: str) -> tuple[int, str]:
    return (0, f"{int(instance_id):012d}") if instance_id.isdigit() else (1, instance_id)


def instance_order(instance_id: str) -> tuple[int, str]:
    """Sort key: numeric instance IDs numerically, then names."""
    return _instance_order(instance_id)


def _dump(obj: Any, skip: str = "") -> dict[str, Any]:
    """Dataclass -> JSON-ready dict. Shallow by hand: ``asdict`` deep-copies, and state is dumped per delivery."""

    def conv(v: Any) -> Any:
        if isinstance(v, datetime):
            return format_timestamp(v)
        if isinstance(v, Enum):
            return v.value
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, list):
            return [conv(x) for x in v]
        if is_dataclass(v):
            return _dump(v)
        return v

    return {f.name: conv(getattr(obj, f.name)) for f in fields(obj) if f.name != skip}


def _load(cls: type, data: dict[str, Any]) -> Any:
    names = {f.name: f for f in fields(cls)}
    kwargs = {}
    for key, value in data.items():
        if key not in names:
            continue
        ftype = str(names[key].type)
        if "datetime" in ftype and isinstance(value, str):
            value = parse_timestamp(value)
        kwargs[key] = value
    return cls(**kwargs)
