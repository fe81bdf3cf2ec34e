"""Action-group webhooks: the Common Alert Schema and the legacy Activity Log alert schema.

Both arrive on the same endpoint. For the alerts the responder reads, Resource Health, Service
Health and Activity Log Administrative/Autoscale, both carry one Activity Log event: the
common schema as ``data.alertContext`` beside ``data.essentials``, the legacy schema as
``data.context.activityLog``. They are read by the same code once the envelope has said where
the event is, what it targets and what stands in for missing times and IDs. Metric, log and
other alerts are ignored even when they target a scale set: they are the customer's own
thresholds, not platform health or operation signals.

Alert targets are lower-cased (``alertTargetIDs``); identities compare case-insensitively, and
where the event itself names the resource with ARM's casing (``authorization.scope``,
``properties.entity``) that is preferred.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from ..signals import Availability, Ignored, Parsed, PayloadError, Phase
from . import build
from .autoscale import scale_details
from .fields import (
    as_list,
    as_object,
    at,
    availability,
    caller_from_claims,
    claims,
    json_text,
    not_a_scale_set,
    obj,
    opt_availability,
    opt_label,
    opt_list,
    opt_obj,
    opt_prose,
    opt_text,
    opt_time,
    shown,
    str_list,
    subscription_of,
    target,
    text,
)
from .operations import phase_of

_COMMON = "azuremonitorcommonalertschema"
_LEGACY = "microsoft.insights/activitylogs"
_STATE_WORD = re.compile(r"\b(unavailable|degraded|available|unknown)\b", re.IGNORECASE)


class _Family(Enum):
    """An alert family the responder reads: (source name, how the timeline names it)."""

    HEALTH = ("ResourceHealth", "Resource Health alert")
    OPERATION = ("Administrative", "Activity Log alert")
    AUTOSCALE = ("Autoscale", "autoscale Activity Log alert")
    SERVICE_HEALTH = ("ServiceHealth", "Service Health alert")


# monitoringService (common schema) or eventSource, with spaces, dashes and case removed.
_FAMILIES = {
    "resourcehealth": _Family.HEALTH,
    "activitylogadministrative": _Family.OPERATION,
    "administrative": _Family.OPERATION,
    "activitylogautoscale": _Family.AUTOSCALE,
    "autoscale": _Family.AUTOSCALE,
    "servicehealth": _Family.SERVICE_HEALTH,
}


def _family_of(name: str | None) -> _Family | None:
    return _FAMILIES.get(name.lower().replace(" ", "").replace("-", "").replace("_", "")) if name else None


@dataclass(frozen=True, slots=True)
class _Event:
    """One Activity Log event as an alert carries it, with what its envelope supplies."""

    ctx: dict  # data.alertContext (common) or data.context.activityLog (legacy)
    path: str
    schema: str  # "cas" | "legacy-activity-log"
    family: _Family
    targets: tuple[tuple[str, str], ...]  # (resource ID, its JSON path) named by the envelope
    resolved: bool  # the alert itself says resolved (monitorCondition / legacy data.status)
    fallback_time: datetime
    fallback_id: str
    subscription: str | None
    subscription_path: str

    @property
    def source(self) -> str:
        return f"{self.schema}:{self.family.value[0]}"

    @property
    def via(self) -> str:
        return self.family.value[1] + (" (legacy schema)" if self.schema != "cas" else "")

    def when(self) -> datetime:
        return opt_time(self.ctx, "eventTimestamp", self.path) or self.fallback_time

    def source_id(self) -> str:
        found = opt_text(self.ctx, "eventDataId", self.path) or self.fallback_id
        if not found:
            raise PayloadError(at(self.path, "eventDataId"), "missing")
        return found

    def ignored(self, reason: str) -> Ignored:
        return Ignored(
            "alert", self.source, opt_text(self.ctx, "eventDataId", self.path) or self.fallback_id, reason
        )

    def ignored_target(self, resource_id: str) -> Ignored:
        return self.ignored(not_a_scale_set(resource_id))


def parse_alert(payload: object, *, received_at: datetime) -> Parsed:
    body = as_object(payload, "$")
    schema = text(body, "schemaId", "")
    data = obj(body, "data", "")
    if schema.lower() == _COMMON:
        return _common(data, received_at)
    if schema.lower() == _LEGACY:
        return _legacy(data, received_at)
    return Parsed(
        ignored=[
            Ignored(
                "alert",
                f"alert:{schema}",
                "",
                f"alert schema {schema!r} is not read: enable the common alert schema on the action group",
            )
        ]
    )


def _common(data: dict, received_at: datetime) -> Parsed:
    path = "data.essentials"
    essentials = obj(data, "essentials", "data")
    targets = str_list(essentials, "alertTargetIDs", path)
    service = opt_text(essentials, "monitoringService", path)
    condition = opt_text(essentials, "monitorCondition", path) or ""
    fallback_id = f"{opt_text(essentials, 'alertId', path) or ''}|{condition}"
    context = opt_obj(data, "alertContext", "data")
    family = _family_of(service)
    if family is None and context is not None:
        family = _family_of(opt_label(context, "eventSource", "data.alertContext"))
    if family is None:
        kind = opt_text(essentials, "signalType", path) or "An"
        return Parsed(
            ignored=[
                Ignored(
                    "alert",
                    f"cas:{service}",
                    fallback_id,
                    f"{kind} alert from {service or 'an unnamed service'} is not a platform health or operation "
                    "signal (the responder reads Resource Health, Service Health and Activity Log "
                    "Administrative/Autoscale alerts)",
                )
            ]
        )
    targets_path = at(path, "alertTargetIDs")
    event = _Event(
        ctx=obj(data, "alertContext", "data"),
        path="data.alertContext",
        schema="cas",
        family=family,
        targets=tuple((rid, at(targets_path, i)) for i, rid in enumerate(targets)),
        resolved=condition.lower() == "resolved",
        fallback_time=opt_time(essentials, "firedDateTime", path) or received_at,
        fallback_id=fallback_id,
        subscription=next((s for s in map(subscription_of, targets) if s), None),
        subscription_path=targets_path,
    )
    return _READERS[family](event)


def _legacy(data: dict, received_at: datetime) -> Parsed:
    """``data.context.activityLog``; without ``eventSource`` it is Administrative (as in the docs' sample)."""
    path = "data.context.activityLog"
    log = obj(obj(data, "context", "data"), "activityLog", "data.context")
    event_source = opt_label(log, "eventSource", path)
    family = _family_of(event_source) if event_source else _Family.OPERATION
    resource_id = opt_text(log, "resourceId", path)
    fallback_id = opt_text(log, "correlationId", path) or ""
    if family is None:
        return Parsed(
            ignored=[
                Ignored(
                    "alert",
                    f"legacy-activity-log:{event_source}",
                    opt_text(log, "eventDataId", path) or fallback_id,
                    f"Activity Log {event_source} events are not platform health or operation signals",
                )
            ]
        )
    event = _Event(
        ctx=log,
        path=path,
        schema="legacy-activity-log",
        family=family,
        targets=((resource_id, at(path, "resourceId")),) if resource_id else (),
        resolved=(opt_text(data, "status", "data") or "").lower() == "resolved",
        fallback_time=received_at,
        fallback_id=fallback_id,
        subscription=opt_text(log, "subscriptionId", path)
        or (subscription_of(resource_id) if resource_id else None),
        subscription_path=at(path, "subscriptionId"),
    )
    return _READERS[family](event)


def _no_target(event: _Event) -> Parsed:
    return Parsed(ignored=[event.ignored("the alert names no target resource")])


def _health(event: _Event) -> Parsed:
    """Resource Health: one signal per scale set or instance the alert targets."""
    found = [(rid, target(rid, rid_path)) for rid, rid_path in event.targets]
    if not found:
        return _no_target(event)
    out = Parsed(ignored=[event.ignored_target(rid) for rid, t in found if t is None])
    hits = [t for _, t in found if t is not None]
    if not hits:
        return out
    props_path = at(event.path, "properties")
    props = opt_obj(event.ctx, "properties", event.path) or {}
    state = _health_state(event, props, props_path)
    base_id = event.source_id()
    if state is None:
        out.ignored.append(
            event.ignored(
                "Resource Health alert without a health status: currentHealthStatus is null, the "
                "alert is not resolved and the title names no state"
            )
        )
        return out
    for hit in hits:
        out.signals.append(
            build.health(
                channel="alert",
                source=event.source,
                # An alert naming several targets yields a signal each; their IDs must differ.
                source_id=base_id if len(hits) == 1 else f"{base_id}|{_key(hit)}",
                when=event.when(),
                target=hit,
                state=state,
                previous=opt_availability(props, "previousHealthStatus", props_path),
                cause=opt_text(props, "cause", props_path) or opt_text(props, "type", props_path),
                via=event.via,
            )
        )
    return out


def _key(hit: build.Target) -> str:
    scale_set, instance = hit
    return scale_set.key if instance is None else scale_set.instance(instance).key


def _health_state(event: _Event, props: dict, props_path: str) -> Availability | None:
    """currentHealthStatus, unless the alert is resolved; when null, from the status or the title."""
    if event.resolved:
        return Availability.AVAILABLE
    current = opt_availability(props, "currentHealthStatus", props_path)
    if current is not None:
        return current
    if (opt_text(event.ctx, "status", event.path) or "").lower() == "resolved":
        return Availability.AVAILABLE
    title = opt_prose(props, "title", props_path)
    match = _STATE_WORD.search(title) if title else None
    return availability(match.group(1), at(props_path, "title")) if match else None


def _phase(event: _Event) -> Phase:
    status = text(event.ctx, "status", event.path)
    phase = phase_of(status)
    if phase is None:
        raise PayloadError(
            at(event.path, "status"),
            f"{shown(status)} is not an operation status (Started, Accepted, Succeeded, Failed, Canceled)",
        )
    return phase


def _caller(event: _Event) -> str | None:
    return opt_text(event.ctx, "caller", event.path) or caller_from_claims(
        claims(event.ctx.get("claims"), at(event.path, "claims"))
    )


def _operation(event: _Event) -> Parsed:
    """Administrative: the first scale set among the event's own resource names, then the alert's targets."""
    ctx, path = event.ctx, event.path
    auth_path, props_path = at(path, "authorization"), at(path, "properties")
    auth = opt_obj(ctx, "authorization", path) or {}
    props = opt_obj(ctx, "properties", path) or {}
    named = (
        (opt_text(auth, "scope", auth_path), at(auth_path, "scope")),
        (opt_text(props, "entity", props_path), at(props_path, "entity")),
    )
    candidates = [(rid, rid_path) for rid, rid_path in named if rid] + list(event.targets)
    if not candidates:
        return _no_target(event)
    found = next((t for t in (target(rid, rid_path) for rid, rid_path in candidates) if t is not None), None)
    if found is None:
        return Parsed(ignored=[event.ignored_target(candidates[0][0])])
    name = opt_text(ctx, "operationName", path) or opt_text(auth, "action", auth_path)
    if name is None:
        raise PayloadError(at(path, "operationName"), "missing")
    signal = build.operation(
        channel="alert",
        source=event.source,
        source_id=event.source_id(),
        when=event.when(),
        target=found,
        name=name,
        phase=_phase(event),
        correlation_id=opt_text(ctx, "correlationId", path),
        caller=_caller(event),
        via=event.via,
    )
    return Parsed(signals=[signal])


def _autoscale(event: _Event) -> Parsed:
    """Autoscale: the scaled resource is ``properties.resourceName``; the alert targets the setting."""
    props_path = at(event.path, "properties")
    details = scale_details(obj(event.ctx, "properties", event.path), props_path)
    found = target(details.resource_id, details.resource_path)
    if found is None:
        return Parsed(ignored=[event.ignored_target(details.resource_id)])
    signal = build.operation(
        channel="alert",
        source=event.source,
        source_id=event.source_id(),
        when=event.when(),
        target=found,
        name=text(event.ctx, "operationName", event.path),
        phase=_phase(event),
        correlation_id=opt_text(event.ctx, "correlationId", event.path),
        caller=_caller(event),
        via=event.via,
        old_capacity=details.old_capacity,
        new_capacity=details.new_capacity,
    )
    return Parsed(signals=[signal])


def _service_health(event: _Event) -> Parsed:
    if event.subscription is None:
        raise PayloadError(event.subscription_path, "names no subscription (/subscriptions/{id})")
    props_path = at(event.path, "properties")
    props = obj(event.ctx, "properties", event.path)
    services, regions = _impacted(props, props_path)
    signal = build.service_health(
        channel="alert",
        source=event.source,
        source_id=event.source_id(),
        when=event.when(),
        subscription=event.subscription,
        tracking_id=opt_text(props, "trackingId", props_path),
        incident_type=opt_text(props, "incidentType", props_path),
        stage=opt_text(props, "stage", props_path),
        title=opt_prose(props, "title", props_path),
        services=services,
        regions=regions,
        via=event.via,
    )
    return Parsed(signals=[signal])


def _impacted(props: dict, path: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(services, regions) from ``impactedServices`` (an array, or the same as JSON text), else
    from ``service`` / ``region``."""
    raw = props.get("impactedServices")
    if raw is None or raw == "":
        service, region = opt_text(props, "service", path), opt_text(props, "region", path)
        return ((service,) if service else ()), ((region,) if region else ())
    services: dict[str, None] = {}
    regions: dict[str, None] = {}
    list_path = at(path, "impactedServices")
    for i, item in enumerate(as_list(json_text(raw, list_path), list_path)):
        item_path = at(list_path, i)
        entry = as_object(item, item_path)
        name = opt_text(entry, "ServiceName", item_path, any_case=True)
        if name:
            services[name] = None
        for j, region in enumerate(opt_list(entry, "ImpactedRegions", item_path, any_case=True)):
            region_path = at(at(item_path, "ImpactedRegions"), j)
            region_name = opt_text(as_object(region, region_path), "RegionName", region_path, any_case=True)
            if region_name:
                regions[region_name] = None
    return tuple(services), tuple(regions)


_READERS = {
    _Family.HEALTH: _health,
    _Family.OPERATION: _operation,
    _Family.AUTOSCALE: _autoscale,
    _Family.SERVICE_HEALTH: _service_health,
}
