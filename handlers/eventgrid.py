"""Event Grid, both ways it can reach the app.

- **Webhook** (``POST /api/eventgrid``): the subscription's endpoint is this route. It must
  answer the validation handshakes itself: the Event Grid schema posts a
  ``SubscriptionValidationEvent`` with ``aeg-event-type: SubscriptionValidation`` and wants
  ``{"validationResponse": code}``; the CloudEvents schema sends ``OPTIONS`` with
  ``WebHook-Request-Origin`` and wants the origin echoed in ``WebHook-Allowed-Origin``.
- **Functions trigger** (``eventgrid_trigger``): the host does the handshakes and invokes once
  per event. An exception makes the host answer 500 and Event Grid redeliver the batch, so we
  raise only when the event was not stored; a malformed event is recorded as rejected and
  returned from, or Event Grid would retry a poison event for 24 hours.

Both schemas reach the same parser: channel ``eventgrid`` or ``cloudevents``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .http_api import BadRequest, Request, Response, error, ingest, json_response, read_json

if TYPE_CHECKING:
    from vmss_responder.runner import IngestResult

log = logging.getLogger("vmss_responder.eventgrid")

VALIDATION_EVENT = "microsoft.eventgrid.subscriptionvalidationevent"


def webhook(request: Request) -> Response:
    if request.method == "OPTIONS":
        return _cloudevents_handshake(request)
    payload = read_json(request, dict, list)
    if request.header("aeg-event-type").lower() == "subscriptionvalidation":
        return _validation_response(payload)
    return ingest(_channel(request, payload), payload)


def _cloudevents_handshake(request: Request) -> Response:
    """CloudEvents 1.0 webhook abuse protection: allow the origin that asks, at any rate."""
    origin = request.header("webhook-request-origin")
    if not origin:
        return error(
            400,
            "OPTIONS is the CloudEvents validation handshake: WebHook-Request-Origin is missing",
            field="WebHook-Request-Origin",
        )
    return Response(
        200, {"WebHook-Allowed-Origin": origin, "WebHook-Allowed-Rate": "*", "Allow": "POST, OPTIONS"}
    )


def _validation_response(payload: Any) -> Response:
    from vmss_responder.parse.fields import at

    event, path = (payload[0], "[0]") if isinstance(payload, list) and payload else (payload, "")
    if not isinstance(event, dict):
        raise BadRequest(400, "expected a SubscriptionValidationEvent object", field=path or "$")
    if str(event.get("eventType", "")).lower() != VALIDATION_EVENT:
        raise BadRequest(
            400,
            "aeg-event-type is SubscriptionValidation but the event is not a SubscriptionValidationEvent",
            field=at(path, "eventType"),
        )
    data = event.get("data")
    if not isinstance(data, dict):
        raise BadRequest(400, "missing or not an object", field=at(path, "data"))
    code = data.get("validationCode")
    if not isinstance(code, str) or not code:
        raise BadRequest(400, "missing or not a string", field=at(at(path, "data"), "validationCode"))
    log.info("answered the Event Grid subscription validation for topic %s", event.get("topic"))
    return json_response(200, {"validationResponse": code})


def _channel(request: Request, payload: Any) -> str:
    """Event Grid labels CloudEvents deliveries by content type; otherwise the envelope tells."""
    if request.header("content-type").lower().startswith("application/cloudevents"):
        return "cloudevents"
    first = payload[0] if isinstance(payload, list) and payload else payload
    return "cloudevents" if isinstance(first, dict) and "specversion" in first else "eventgrid"


# ---------------------------------------------------------------------- Functions trigger


def from_trigger(event: Any) -> tuple[str, dict[str, Any]]:
    """Rebuild the wire event from ``func.EventGridEvent`` / ``func.CloudEvent`` (duck-typed)."""
    from vmss_responder.durations import format_timestamp

    def wire(time_field: str, when: Any, **fields: Any) -> dict[str, Any]:
        fields[time_field] = format_timestamp(when) if when else None
        return {k: v for k, v in fields.items() if v is not None}

    if hasattr(event, "specversion"):
        return "cloudevents", wire(
            "time",
            event.time,
            id=event.id,
            source=event.source,
            type=event.type,
            specversion=event.specversion,
            subject=event.subject,
            datacontenttype=event.datacontenttype,
            dataschema=event.dataschema,
            data=event.get_json(),
            **event.extension_attrs,
        )
    return "eventgrid", wire(
        "eventTime",
        event.event_time,
        id=event.id,
        topic=event.topic,
        subject=event.subject,
        eventType=event.event_type,
        data=event.get_json(),
        dataVersion=event.data_version,
    )


def handle_trigger(event: Any) -> IngestResult:
    """One event from the Event Grid trigger. Raises only if it was not stored (Event Grid retries)."""
    from . import runtime

    channel, payload = from_trigger(event)
    result = runtime.responder().ingest(channel, payload)
    if not result.accepted:
        log.warning(
            "rejected malformed %s event %s: %s: %s", channel, payload.get("id"), result.field, result.error
        )
    return result
