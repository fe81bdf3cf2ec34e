"""Autoscale: the setting's notification webhook, and the scale details of autoscale Activity Log events.

The webhook is sent when scaling *starts* and carries no correlation ID and no instance IDs, so
it becomes a STARTED operation named like the Activity Log's autoscale operation
(``…/AutoscaleSettings/Scaleup/Action`` for "Scale Out"), which lets the correlator join it
with the alert or Activity Log row that reports the same action. Its identity is the setting,
the timestamp and the new capacity (repeated deliveries carry the same three).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..signals import Parsed, PayloadError, Phase
from . import build
from .fields import (
    as_object,
    at,
    int_value,
    obj,
    opt_int,
    opt_text,
    present_key,
    shown,
    target,
    text,
    timestamp,
)
from .operations import SCALE_IN, SCALE_OUT

AUTOSCALE_CALLER = "Microsoft.Insights/autoscaleSettings"
_OPERATIONS = {"scale out": SCALE_OUT, "scale in": SCALE_IN}
_SOURCE = "autoscale:webhook"


@dataclass(frozen=True, slots=True)
class ScaleDetails:
    """The scaled resource and counts in an autoscale Activity Log event's properties."""

    resource_id: str
    resource_path: str
    old_capacity: int | None
    new_capacity: int | None


def scale_details(props: dict, path: str) -> ScaleDetails:
    """``resourceName`` (the scaled resource's full ID; the setting is the event's resource) and
    ``old/newInstancesCount`` as text, in camelCase (alerts) or PascalCase (Activity Log)."""
    return ScaleDetails(
        resource_id=text(props, "resourceName", path, any_case=True),
        resource_path=at(path, present_key(props, "resourceName")),
        old_capacity=opt_int(props, "oldInstancesCount", path, any_case=True),
        new_capacity=opt_int(props, "newInstancesCount", path, any_case=True),
    )


def parse_webhook(payload: object, *, received_at: datetime) -> Parsed:
    """The autoscale notification body: ``{version, status, operation, context{…}, properties}``.

    ``received_at`` is unused: the body always carries ``context.timestamp``.
    """
    body = as_object(payload, "$")
    verb = text(body, "operation", "")
    name = _OPERATIONS.get(verb.strip().lower())
    if name is None:
        raise PayloadError("operation", f"expected 'Scale Out' or 'Scale In', got {shown(verb)}")
    context = obj(body, "context", "")
    setting = text(context, "id", "context")
    stamp = text(context, "timestamp", "context")
    new_capacity = int_value(context, "newCapacity", "context")
    source_id = f"{setting}|{stamp}|{new_capacity}"
    resource_id = text(context, "resourceId", "context")
    found = target(resource_id, "context.resourceId")
    if found is None:
        return Parsed(ignored=[build.ignored_target("autoscale", _SOURCE, source_id, resource_id)])
    signal = build.operation(
        channel="autoscale",
        source=_SOURCE,
        source_id=source_id,
        when=timestamp(stamp, "context.timestamp"),
        target=found,
        name=name,
        phase=Phase.STARTED,
        correlation_id=None,
        caller=AUTOSCALE_CALLER,
        via=f"autoscale webhook ({opt_text(context, 'name', 'context') or setting})",
        old_capacity=int_value(context, "oldCapacity", "context"),
        new_capacity=new_capacity,
    )
    return Parsed(signals=[signal])
