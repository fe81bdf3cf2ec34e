"""The emulated Log Analytics workspace's ``AzureActivity`` table.

Scenario ``activityLog`` steps record operations that happened without any event or alert
reaching the responder. Each entry becomes queryable from the step's ``at`` (in Azure, entries
reach the workspace minutes after the fact). The workspace answers only the responder's query
template (:mod:`vmss_responder.activity_query`), reading its time window and resource filter, and
intersects it with the request's ``timespan`` as the Log Analytics API does.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, field_validator

from ..activity_query import ACTIVITY_COLUMNS, ROW_LIMIT, ActivityQuery
from ..durations import format_timestamp, parse_duration, parse_timestamp
from .fleet_spec import ScenarioSpec, parse_patch


class ActivityEntrySpec(ScenarioSpec):
    """A scenario ``activityLog`` step (Activity Log field names)."""

    operationName: Annotated[str, Field(min_length=1)]
    resourceId: Annotated[str, Field(pattern=r"^/subscriptions/[^/]+/.+")]
    status: Annotated[str, Field(min_length=1)] = "Succeeded"
    subStatus: str = ""
    caller: str = ""
    correlationId: str = ""
    eventTimestamp: str | None = None
    properties: dict[str, Any] | None = None

    @field_validator("eventTimestamp")
    @classmethod
    def _is_timestamp(cls, value: str | None) -> str | None:
        if value is not None:
            parse_timestamp(value)
        return value


def parse_activity_entry(data: object, where: str = "activityLog") -> ActivityEntrySpec:
    """Validate an ``activityLog`` step; raises :class:`~vmss_responder.sim.fleet_spec.FleetError`."""
    return parse_patch(ActivityEntrySpec, data, where)


class ActivityTable:
    def __init__(self) -> None:
        self._rows: list[tuple[datetime, datetime, list[Any]]] = []  # (visible from, time, row)
        self._lock = threading.Lock()

    def add(self, entry: Mapping[str, Any] | ActivityEntrySpec, visible_from: datetime) -> None:
        spec = entry if isinstance(entry, ActivityEntrySpec) else parse_activity_entry(entry)
        when = parse_timestamp(spec.eventTimestamp) if spec.eventTimestamp else visible_from
        properties = {
            "eventCategory": "Administrative",
            "entity": spec.resourceId,
            "message": spec.operationName,
            **(spec.properties or {}),
        }
        row = [
            format_timestamp(when),
            spec.operationName.upper(),
            spec.status,
            spec.subStatus,
            spec.resourceId.upper(),
            spec.resourceId.lower(),
            spec.caller,
            spec.correlationId,
            json.dumps(properties, separators=(",", ":")),
        ]
        with self._lock:
            self._rows.append((visible_from, when, row))

    def answer(self, query: ActivityQuery, timespan: str | None, now: datetime) -> dict[str, Any]:
        """The API's response body for ``query`` as the workspace stands at ``now``."""
        start, end = query.start, query.end
        if timespan:
            span_start, span_end = _timespan(timespan, now)
            start, end = max(start, span_start), min(end, span_end)
        prefix = query.resource_prefix.lower()
        with self._lock:
            rows = sorted(
                (
                    (when, row)
                    for visible, when, row in self._rows
                    if visible <= now and start <= when <= end and row[5].startswith(prefix)
                ),
                key=lambda pair: pair[0],
            )
        columns = [
            {"name": name, "type": "datetime" if name == "TimeGenerated" else "string"}
            for name in ACTIVITY_COLUMNS
        ]
        return {
            "tables": [
                {"name": "PrimaryResult", "columns": columns, "rows": [row for _, row in rows[:ROW_LIMIT]]}
            ]
        }


def _timespan(text: str, now: datetime) -> tuple[datetime, datetime]:
    """ISO 8601 interval as the SDK sends it: ``start/end``, ``start/duration`` or ``duration``."""
    if "/" not in text:
        return now - parse_duration(text), now
    first, second = text.split("/", 1)
    start = parse_timestamp(first)
    end = start + parse_duration(second) if second.startswith("P") else parse_timestamp(second)
    return start, end
