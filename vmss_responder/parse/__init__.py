"""Every payload the responder receives, as normalized signals.

``parse(channel, payload, received_at=...)`` takes the decoded JSON of one delivery and returns
the signals it carries plus what it ignored and why. A malformed payload raises
:class:`~vmss_responder.signals.PayloadError` naming the JSON path; an unknown channel raises
ValueError. One module per schema family; none imports an Azure SDK at module level.

Channels:

- ``eventgrid``: Event Grid schema, an array of events or one event.
- ``cloudevents``: CloudEvents 1.0, one event or an array.
- ``alert``: an action-group webhook body, Common Alert Schema or legacy Activity Log schema.
- ``autoscale``: an autoscale setting's notification webhook body.
- ``activity_log``: rows of the Log Analytics ``AzureActivity`` table, as dicts.
"""

from __future__ import annotations

from datetime import datetime

from ..signals import Parsed
from .activity import parse_rows
from .alerts import parse_alert
from .autoscale import parse_webhook
from .eventgrid import parse_events

CHANNELS = ("eventgrid", "cloudevents", "alert", "autoscale", "activity_log")


def parse(channel: str, payload: object, *, received_at: datetime) -> Parsed:
    """Parse one delivery. ``received_at`` stands in only where a payload carries no time at all."""
    if channel in ("eventgrid", "cloudevents"):
        return parse_events(channel, payload, received_at=received_at)
    if channel == "alert":
        return parse_alert(payload, received_at=received_at)
    if channel == "autoscale":
        return parse_webhook(payload, received_at=received_at)
    if channel == "activity_log":
        return parse_rows(payload, received_at=received_at)
    raise ValueError(f"unknown channel {channel!r}: expected one of {', '.join(CHANNELS)}")


__all__ = ["CHANNELS", "parse"]
