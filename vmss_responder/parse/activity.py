"""Rows of the Log Analytics ``AzureActivity`` table as operation signals.

The responder queries the Activity Log through Log Analytics when no alert or event told it
about an operation (a missing alert rule, a dropped delivery). Rows come as dicts keyed by
column: TimeGenerated (text, or a datetime from azure-monitor-query), OperationNameValue (often
upper-cased), ActivityStatusValue (``Start``/``Success``/``Failure`` or the ``Started``/
``Succeeded``/``Failed`` spellings), ResourceId or _ResourceId, Caller, CorrelationId, and
Properties (JSON text or a dict). An autoscale row's resource is the setting; the scaled
resource and the counts are in Properties, as in the autoscale alert.

A query result is not a delivery that can be retried, so rows that are well-formed but carry no
operation phase (Resource Health's ``Active``, a status the table adds later) are ignored with
the reason rather than rejecting every row; a structurally malformed row still raises.
"""

from __future__ import annotations

from datetime import datetime

from ..signals import Ignored, Parsed, PayloadError, Signal
from . import build
from .autoscale import scale_details
from .fields import as_list, as_object, at, json_text, opt_text, target, text, timestamp
from .operations import phase_of

_SOURCE = "activity_log:AzureActivity"
_NOT_OPERATIONS = ("microsoft.resourcehealth/", "microsoft.servicehealth/")


def parse_rows(payload: object, *, received_at: datetime) -> Parsed:
    """``received_at`` is unused: every row has TimeGenerated."""
    out = Parsed()
    for i, row in enumerate(as_list(payload, "$")):
        result = _row(as_object(row, f"[{i}]"), f"[{i}]")
        if isinstance(result, Signal):
            out.signals.append(result)
        else:
            out.ignored.append(result)
    return out


def _row(row: dict, path: str) -> Signal | Ignored:
    name = text(row, "OperationNameValue", path)
    status = text(row, "ActivityStatusValue", path)
    when = timestamp(row.get("TimeGenerated"), at(path, "TimeGenerated"))
    correlation_id = opt_text(row, "CorrelationId", path)
    source_id = opt_text(row, "EventDataId", path) or f"{correlation_id}|{name}|{status}|{when.isoformat()}"
    if name.lower().startswith(_NOT_OPERATIONS):
        return Ignored(
            "activity_log",
            _SOURCE,
            source_id,
            f"{name} is a health event, not an operation: Resource Health and Service Health reach the "
            "responder as alerts and Event Grid events",
        )
    old_capacity = new_capacity = None
    if name.lower().startswith("microsoft.insights/autoscalesettings/"):
        props_path = at(path, "Properties")
        details = scale_details(
            as_object(json_text(row.get("Properties"), props_path), props_path), props_path
        )
        resource_id, resource_path = details.resource_id, details.resource_path
        old_capacity, new_capacity = details.old_capacity, details.new_capacity
    else:
        resource_id = opt_text(row, "ResourceId", path) or opt_text(row, "_ResourceId", path)
        if resource_id is None:
            raise PayloadError(at(path, "ResourceId"), "missing, and so is _ResourceId")
        resource_path = at(path, "ResourceId" if row.get("ResourceId") else "_ResourceId")
    found = target(resource_id, resource_path)
    if found is None:
        return build.ignored_target("activity_log", _SOURCE, source_id, resource_id)
    phase = phase_of(status)
    if phase is None:
        return Ignored("activity_log", _SOURCE, source_id, f"status {status!r} is not an operation phase")
    return build.operation(
        channel="activity_log",
        source=_SOURCE,
        source_id=source_id,
        when=when,
        target=found,
        name=name,
        phase=phase,
        correlation_id=correlation_id,
        caller=opt_text(row, "Caller", path),
        via="Activity Log query",
        old_capacity=old_capacity,
        new_capacity=new_capacity,
    )
