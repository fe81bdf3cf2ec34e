"""Signal construction shared by every parser, with the one-line timeline entry.

Each schema family finds the same facts in different places; once found, a health state or an
operation becomes the same :class:`Signal` with the same wording whichever way it arrived, so
the incident timeline reads alike for Event Grid, alerts, webhooks and Activity Log rows.
"""

from __future__ import annotations

from datetime import datetime

from ..identity import ScaleSetRef
from ..signals import Annotation, Availability, Ignored, Kind, Phase, Signal
from .fields import not_a_scale_set
from .operations import classify, describe

Target = tuple[ScaleSetRef, str | None]


def label(target: Target) -> str:
    scale_set, instance = target
    return f"{scale_set.name} instance {instance}" if instance is not None else scale_set.name


def health(
    *,
    channel: str,
    source: str,
    source_id: str,
    when: datetime,
    target: Target,
    state: Availability,
    previous: Availability | None,
    cause: str | None,
    via: str,
) -> Signal:
    notes = [f"was {previous.value}"] if previous else []
    if cause:
        notes.append(f"cause {cause}")
    extra = f" ({', '.join(notes)})" if notes else ""
    return Signal(
        kind=Kind.HEALTH,
        channel=channel,
        source=source,
        source_id=source_id,
        event_time=when,
        scale_set=target[0],
        instance_id=target[1],
        state=state,
        previous_state=previous,
        cause=cause,
        detail=f"Resource Health: {label(target)} {state.value}{extra} via {via}",
    )


def annotation(
    *, channel: str, source: str, source_id: str, when: datetime, target: Target, found: Annotation, via: str
) -> Signal:
    context = ", ".join(v for v in (found.context, found.category, found.impact_type) if v)
    why = f": {found.reason}" if found.reason else ""
    return Signal(
        kind=Kind.ANNOTATION,
        channel=channel,
        source=source,
        source_id=source_id,
        event_time=when,
        scale_set=target[0],
        instance_id=target[1],
        annotation=found,
        cause=found.context,
        detail=f"Resource Health annotation on {label(target)}: {found.name}"
        f"{f' ({context})' if context else ''}{why} via {via}",
    )


def operation(
    *,
    channel: str,
    source: str,
    source_id: str,
    when: datetime,
    target: Target,
    name: str,
    phase: Phase,
    correlation_id: str | None,
    caller: str | None,
    via: str,
    old_capacity: int | None = None,
    new_capacity: int | None = None,
) -> Signal:
    capacity = (
        f": {old_capacity} -> {new_capacity} instances"
        if old_capacity is not None and new_capacity is not None
        else ""
    )
    by = f", by {caller}" if caller else ""
    return Signal(
        kind=Kind.OPERATION,
        channel=channel,
        source=source,
        source_id=source_id,
        event_time=when,
        scale_set=target[0],
        instance_id=target[1],
        operation=name,
        category=classify(name),
        phase=phase,
        correlation_id=correlation_id,
        caller=caller,
        old_capacity=old_capacity,
        new_capacity=new_capacity,
        detail=f"Operation {describe(name)} on {label(target)} {phase.value}{capacity} ({name}{by}) via {via}",
    )


def service_health(
    *,
    channel: str,
    source: str,
    source_id: str,
    when: datetime,
    subscription: str,
    tracking_id: str | None,
    incident_type: str | None,
    stage: str | None,
    title: str | None,
    services: tuple[str, ...],
    regions: tuple[str, ...],
    via: str,
) -> Signal:
    what = " ".join(v for v in (incident_type or "event", tracking_id) if v)
    scope = ", ".join(services) or "Azure"
    where = f" in {', '.join(regions)}" if regions else ""
    return Signal(
        kind=Kind.SERVICE_HEALTH,
        channel=channel,
        source=source,
        source_id=source_id,
        event_time=when,
        scale_set=None,
        subscription=subscription,
        tracking_id=tracking_id,
        cause=incident_type,
        services=services,
        regions=regions,
        detail=f"Service Health {what}{f' ({stage})' if stage else ''}: {scope}{where}"
        f"{f' - {title}' if title else ''} via {via}",
    )


def ignored_target(channel: str, source: str, source_id: str, resource_id: str) -> Ignored:
    return Ignored(channel, source, source_id, not_a_scale_set(resource_id))
