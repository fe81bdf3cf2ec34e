"""The one KQL query the responder sends to Log Analytics: a scale set's Activity Log entries.

Activity Log entries reach the ``AzureActivity`` table even when no alert or event about them
reached the responder (a missing alert rule, a dropped delivery), so the responder asks for
them before deciding an incident is unexplained. The query is a fixed template with three
values filled in, so that

* nothing user-supplied is ever spliced into KQL (the resource ID is checked to be a plain ARM ID);
* the replay's emulated workspace can recognise it exactly (:func:`parse_activity_query`) and
  refuse anything else, as a real workspace would refuse a query it cannot run.

``_ResourceId`` is lower case in Log Analytics, so the filter is lower-cased; ``startswith`` is
case-insensitive in KQL anyway. It matches the scale set and its instances; callers compare rows
to the exact scale set, since a prefix also matches ``vmss-search2`` when asking for ``vmss-search``.
In ``AzureActivity`` ``OperationNameValue`` and ``ResourceId`` are upper case: compare them
case-insensitively.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from .durations import format_timestamp, parse_timestamp

ACTIVITY_QUERY = """AzureActivity
| where TimeGenerated between (datetime({start}) .. datetime({end}))
| where _ResourceId startswith "{resource}"
| project TimeGenerated, OperationNameValue, ActivityStatusValue, ActivitySubstatusValue, ResourceId, _ResourceId, Caller, CorrelationId, Properties
| order by TimeGenerated asc
| take 1000"""

ACTIVITY_COLUMNS: tuple[str, ...] = (
    "TimeGenerated",
    "OperationNameValue",
    "ActivityStatusValue",
    "ActivitySubstatusValue",
    "ResourceId",
    "_ResourceId",
    "Caller",
    "CorrelationId",
    "Properties",
)
ROW_LIMIT = 1000

_RESOURCE = re.compile(r"^/subscriptions/[a-z0-9\-]+(?:/[a-z0-9._()\-]+)+$")
_TIMESTAMP = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z"
_PATTERN = re.compile(
    "^"
    + re.escape(ACTIVITY_QUERY)
    .replace(re.escape("{start}"), f"(?P<start>{_TIMESTAMP})")
    .replace(re.escape("{end}"), f"(?P<end>{_TIMESTAMP})")
    .replace(re.escape("{resource}"), r"(?P<resource>[^\"\\\n]+)")
    + "$"
)


@dataclass(frozen=True)
class ActivityQuery:
    """The values of a query built from the template."""

    resource_prefix: str
    start: datetime
    end: datetime


def build_activity_query(scale_set_id: str, start: datetime, end: datetime) -> str:
    """The KQL for a scale set's Activity Log entries between ``start`` and ``end`` (inclusive)."""
    resource = scale_set_id.rstrip("/").lower()
    if not _RESOURCE.match(resource) or any(part in (".", "..") for part in resource.split("/")):
        raise ValueError(f"not a plain ARM resource ID: {scale_set_id!r}")
    if end < start:
        raise ValueError("the query window ends before it starts")
    return ACTIVITY_QUERY.format(start=format_timestamp(start), end=format_timestamp(end), resource=resource)


def parse_activity_query(kql: str) -> ActivityQuery | None:
    """The template's values, or None for any other text (the emulated workspace refuses it)."""
    match = _PATTERN.match(kql.strip().replace("\r\n", "\n"))
    if match is None:
        return None
    return ActivityQuery(
        resource_prefix=match["resource"],
        start=parse_timestamp(match["start"]),
        end=parse_timestamp(match["end"]),
    )
