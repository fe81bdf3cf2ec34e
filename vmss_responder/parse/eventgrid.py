"""Event Grid deliveries, in the Event Grid schema or CloudEvents 1.0, as signals.

Event types are azure-eventgrid's ``SystemEventNames``, imported on the first delivery rather
than with the module: the package pulls in azure.core's pipeline (about 100 ms), which
``import function_app`` must not pay. Its model classes stay off the hot path:
``EventGridEvent.from_dict`` costs about 115 µs an event (the msrest deserializer), several
times the whole parse budget, and ``CloudEvent.from_dict`` invents a random ``id`` when one is
missing, which would defeat deduplication. :func:`read_envelopes` validates the envelope
instead; the contract tests check that it reads every fixture exactly as those models do.

A batch is all or nothing: one malformed event rejects the delivery with its index in the path
(Event Grid retries or dead-letters a batch as a whole anyway). Envelopes are validated for
every event, bodies only for the event types the responder reads, and only once the event is
known to be about a scale set: an unrelated event with an odd body must not poison a batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache, partial

from ..signals import Annotation, Ignored, Parsed, PayloadError, Phase, Signal
from . import build
from .fields import (
    as_object,
    at,
    availability,
    caller_from_claims,
    claims,
    kind_of,
    obj,
    opt_availability,
    opt_obj,
    opt_prose,
    opt_text,
    opt_time,
    shown,
    target,
    text,
)

_VIA = {"eventgrid": "Event Grid", "cloudevents": "Event Grid (CloudEvents)"}


@dataclass(frozen=True, slots=True)
class Envelope:
    """What the responder needs from an event's envelope, whichever schema carried it."""

    id: str
    type: str
    subject: str | None
    time: datetime | None
    data: object
    path: str  # the event's JSON path in the delivery: "" for a lone event, "[3]" in an array


Handler = Callable[[Envelope, str, datetime], "Signal | Ignored"]


def read_envelopes(channel: str, payload: object) -> list[Envelope]:
    """Validate the envelopes of a delivery: one event object, or an array of them."""
    read = _eventgrid_envelope if channel == "eventgrid" else _cloudevents_envelope
    if isinstance(payload, list):
        return [read(item, f"[{i}]") for i, item in enumerate(payload)]
    if isinstance(payload, dict):
        return [read(payload, "")]
    raise PayloadError("$", f"expected an event object or an array of events, got {kind_of(payload)}")


def _eventgrid_envelope(item: object, path: str) -> Envelope:
    event = as_object(item, path)
    if "eventType" not in event and "specversion" in event:
        raise PayloadError(
            at(path, "eventType"), "missing (a CloudEvents event: deliver it on the cloudevents channel)"
        )
    event_type = text(event, "eventType", path)
    return Envelope(
        id=text(event, "id", path),
        type=event_type,
        subject=opt_text(event, "subject", path),
        time=opt_time(event, "eventTime", path),
        data=event.get("data"),
        path=path,
    )


def _cloudevents_envelope(item: object, path: str) -> Envelope:
    event = as_object(item, path)
    if "type" not in event and "eventType" in event:
        raise PayloadError(
            at(path, "type"), "missing (an Event Grid schema event: deliver it on the eventgrid channel)"
        )
    event_type = text(event, "type", path)
    if event.get("specversion") != "1.0":
        raise PayloadError(at(path, "specversion"), f"expected '1.0', got {shown(event.get('specversion'))}")
    text(event, "source", path)  # required by CloudEvents 1.0, not used
    return Envelope(
        id=text(event, "id", path),
        type=event_type,
        subject=opt_text(event, "subject", path),
        time=opt_time(event, "time", path),
        data=event.get("data"),
        path=path,
    )


def parse_events(channel: str, payload: object, *, received_at: datetime) -> Parsed:
    envelopes = read_envelopes(channel, payload)
    handlers = _handlers()
    out = Parsed()
    for envelope in envelopes:
        handler = handlers.get(envelope.type.lower())
        if handler is None:
            result: Signal | Ignored = Ignored(
                channel,
                _source(channel, envelope),
                envelope.id,
                f"event type {envelope.type} is not a scale set health or operation event",
            )
        else:
            result = handler(envelope, channel, received_at)
        if isinstance(result, Signal):
            out.signals.append(result)
        else:
            out.ignored.append(result)
    return out


@cache
def _handlers() -> dict[str, Handler]:
    """Event type (lower-cased) -> handler, keyed by the SDK's names; built on first use."""
    from azure.eventgrid import SystemEventNames as N

    table: dict[str, Handler] = {
        N.ResourceNotificationsHealthResourcesAvailabilityStatusChangedEventName: _availability_changed,
        N.ResourceNotificationsHealthResourcesAnnotatedEventName: _annotated,
        N.ResourceNotificationsResourceManagementCreatedOrUpdatedEventName: partial(
            _resource_changed, verb="write"
        ),
        N.ResourceNotificationsResourceManagementDeletedEventName: partial(_resource_changed, verb="delete"),
        N.EventGridSubscriptionValidationEventName: _validation,
    }
    # Microsoft.Resources.Resource{Write,Action,Delete}{Success,Failure,Cancel}: the type decides
    # the phase, whatever data.status says (the SDK's ResourceWriteFailure sample says "Succeeded").
    for verb in ("Write", "Action", "Delete"):
        for outcome, phase in (
            ("Success", Phase.SUCCEEDED),
            ("Failure", Phase.FAILED),
            ("Cancel", Phase.CANCELED),
        ):
            table[getattr(N, f"Resource{verb}{outcome}EventName")] = partial(_arm_operation, phase=phase)
    return {name.value.lower(): handler for name, handler in table.items()}


def _source(channel: str, envelope: Envelope) -> str:
    return f"{channel}:{envelope.type.rsplit('.', 1)[-1]}"


def _data(envelope: Envelope) -> tuple[dict, str]:
    path = at(envelope.path, "data")
    return as_object(envelope.data, path), path


def _resource_id(value: str | None, envelope: Envelope, path: str) -> str:
    """The resource an event is about, falling back to the envelope's subject."""
    resource_id = value or envelope.subject
    if resource_id is None:
        raise PayloadError(path, "missing (and the event has no subject)")
    return resource_id


@dataclass(frozen=True, slots=True)
class _HealthBody:
    """The body of a HealthResources event: ``data.resourceInfo.properties`` and its target."""

    data: dict
    path: str
    props: dict
    props_path: str
    resource_id: str

    @classmethod
    def read(cls, envelope: Envelope) -> _HealthBody:
        data, path = _data(envelope)
        info_path = at(path, "resourceInfo")
        props = obj(obj(data, "resourceInfo", path), "properties", info_path)
        props_path = at(info_path, "properties")
        resource_id = _resource_id(
            opt_text(props, "targetResourceId", props_path), envelope, at(props_path, "targetResourceId")
        )
        return cls(data, path, props, props_path, resource_id)

    def time(self, envelope: Envelope, received_at: datetime) -> datetime:
        """occurredTime, else operationalInfo.resourceEventTime (absent in the 2023-09 shape), else eventTime."""
        when = opt_time(self.props, "occurredTime", self.props_path)
        if when is None:
            operational = opt_obj(self.data, "operationalInfo", self.path)
            if operational is not None:
                when = opt_time(operational, "resourceEventTime", at(self.path, "operationalInfo"))
        return when or envelope.time or received_at


def _availability_changed(envelope: Envelope, channel: str, received_at: datetime) -> Signal | Ignored:
    body = _HealthBody.read(envelope)
    source = _source(channel, envelope)
    found = target(body.resource_id, at(body.props_path, "targetResourceId"))
    if found is None:
        return build.ignored_target(channel, source, envelope.id, body.resource_id)
    props, props_path = body.props, body.props_path
    return build.health(
        channel=channel,
        source=source,
        source_id=envelope.id,
        when=body.time(envelope, received_at),
        target=found,
        state=availability(props.get("availabilityState"), at(props_path, "availabilityState")),
        previous=opt_availability(props, "previousAvailabilityState", props_path),
        cause=None,
        via=_VIA[channel],
    )


def _annotated(envelope: Envelope, channel: str, received_at: datetime) -> Signal | Ignored:
    body = _HealthBody.read(envelope)
    source = _source(channel, envelope)
    found = target(body.resource_id, at(body.props_path, "targetResourceId"))
    if found is None:
        return build.ignored_target(channel, source, envelope.id, body.resource_id)
    props, props_path = body.props, body.props_path
    return build.annotation(
        channel=channel,
        source=source,
        source_id=envelope.id,
        when=body.time(envelope, received_at),
        target=found,
        found=Annotation(
            name=text(props, "annotationName", props_path),
            context=opt_text(props, "context", props_path),
            category=opt_text(props, "category", props_path),
            impact_type=opt_text(props, "impactType", props_path),
            reason=opt_prose(props, "reason", props_path),
            summary=opt_prose(props, "summary", props_path),
        ),
        via=_VIA[channel],
    )


def _resource_changed(
    envelope: Envelope, channel: str, received_at: datetime, *, verb: str
) -> Signal | Ignored:
    """ResourceNotifications.Resources.CreatedOrUpdated / Deleted: a write or delete that succeeded.

    The payload names no operation; it is the resource type plus ``/write`` or ``/delete``,
    which classifies like the matching ARM operation.
    """
    data, path = _data(envelope)
    info_path = at(path, "resourceInfo")
    info = obj(data, "resourceInfo", path)
    resource_id = _resource_id(opt_text(info, "id", info_path), envelope, at(info_path, "id"))
    source = _source(channel, envelope)
    found = target(resource_id, at(info_path, "id"))
    if found is None:
        return build.ignored_target(channel, source, envelope.id, resource_id)
    default_type = (
        "Microsoft.Compute/virtualMachineScaleSets/virtualMachines"
        if found[1] is not None
        else "Microsoft.Compute/virtualMachineScaleSets"
    )
    operational = opt_obj(data, "operationalInfo", path)
    when = opt_time(operational, "resourceEventTime", at(path, "operationalInfo")) if operational else None
    return build.operation(
        channel=channel,
        source=source,
        source_id=envelope.id,
        when=when or envelope.time or received_at,
        target=found,
        name=f"{opt_text(info, 'type', info_path) or default_type}/{verb}",
        phase=Phase.SUCCEEDED,
        correlation_id=None,
        caller=None,
        via=_VIA[channel],
    )


def _arm_operation(
    envelope: Envelope, channel: str, received_at: datetime, *, phase: Phase
) -> Signal | Ignored:
    data, path = _data(envelope)
    resource_id = _resource_id(opt_text(data, "resourceUri", path), envelope, at(path, "resourceUri"))
    source = _source(channel, envelope)
    found = target(resource_id, at(path, "resourceUri"))
    if found is None:
        return build.ignored_target(channel, source, envelope.id, resource_id)
    return build.operation(
        channel=channel,
        source=source,
        source_id=envelope.id,
        when=envelope.time or received_at,
        target=found,
        name=text(data, "operationName", path),
        phase=phase,
        correlation_id=opt_text(data, "correlationId", path),
        caller=caller_from_claims(claims(data.get("claims"), at(path, "claims"))),
        via=_VIA[channel],
    )


def _validation(envelope: Envelope, channel: str, received_at: datetime) -> Ignored:
    return Ignored(
        channel,
        _source(channel, envelope),
        envelope.id,
        "subscription validation is answered by the HTTP handshake (validationResponse), not a signal",
    )
