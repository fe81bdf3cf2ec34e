"""PagerDuty Events API v2: pages trigger an alert, closing notifications resolve it.

PagerDuty is for waking people, so only ``page`` notifications trigger (``dedup_key`` = the
incident id, so later pages of the same incident update one alert instead of opening more), and
``resolved`` notifications resolve, but only an alert this responder actually triggered: a
resolve for an incident that never paged would be noise in PagerDuty's log. ``info``
notifications are not sent; the outbox records them as skipped with the reason. A digest of
pages triggers one alert per paged incident in it, each with its own dedup key, so each later
resolves on its own.

Severity mapping (PagerDuty's critical | error | warning):
- ``critical``: a zonal or platform event, or more than one instance affected;
- ``warning``: an autoscale-flapping incident (capacity churn, nothing down);
- ``error``: any other page (typically one instance that nothing will repair).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ..durations import format_timestamp
from .model import Notification
from .render import DigestRow, View, clip, view

MAX_SUMMARY = 1024
MAX_DEDUP_KEY = 255
CLIENT = "vmss-responder"

PdSeverity = Literal["critical", "error", "warning"]


@dataclass(frozen=True, slots=True)
class Plan:
    """What to send for one notification: events (possibly none) or why nothing is sent."""

    events: tuple[dict[str, Any], ...]
    triggers: tuple[str, ...]  # dedup keys this plan triggers (remembered to allow resolves)
    skipped: str | None = None


def plan(notification: Notification, routing_key: str, triggered: set[str] | frozenset[str]) -> Plan:
    """Events for ``notification``. ``triggered`` holds the dedup keys already triggered here."""
    if notification.severity == "info":
        return Plan((), (), "PagerDuty is for paging: info notifications are not sent there")
    v = view(notification)
    if notification.severity == "resolved":
        key = dedup_key(notification.incident_id)
        if key not in triggered:
            return Plan((), (), f"incident {notification.incident_id} was never triggered in PagerDuty")
        return Plan(({"routing_key": routing_key, "event_action": "resolve", "dedup_key": key},), ())
    if notification.reason == "digest":
        rows = [d for d in v.digest if d.paged]
        if not rows:
            return Plan((), (), "the digest holds no paged incident")
        events = tuple(_digest_trigger(routing_key, notification, d) for d in rows)
        return Plan(events, tuple(e["dedup_key"] for e in events))
    event = _trigger(routing_key, notification, v)
    return Plan((event,), (event["dedup_key"],))


def dedup_key(incident_id: str) -> str:
    return incident_id[:MAX_DEDUP_KEY]


def severity(finding_codes: list[str] | tuple[str, ...], instances: int, trigger: str) -> PdSeverity:
    if {"zone_concentrated", "platform_initiated"} & set(finding_codes) or instances > 1:
        return "critical"
    if trigger == "flapping" or "autoscale_flapping" in finding_codes:
        return "warning"
    return "error"


def _links(portal_url: str | None) -> list[dict[str, str]]:
    return [{"href": portal_url, "text": "Open the scale set in the Azure portal"}] if portal_url else []


def _trigger(routing_key: str, n: Notification, v: View) -> dict[str, Any]:
    codes = [f.code for f in v.findings]
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key(n.incident_id),
        "client": CLIENT,
        **({"client_url": v.scale_set.portal_url} if v.scale_set.portal_url else {}),
        "links": _links(v.scale_set.portal_url),
        "payload": {
            "summary": clip(f"{n.title}: {v.headline}", MAX_SUMMARY),
            "source": v.scale_set.id or n.incident_id,
            "severity": severity(codes, len(v.instances), str((n.incident or {}).get("trigger", ""))),
            "timestamp": format_timestamp(n.at),
            "component": v.scale_set.name,
            "group": v.scale_set.resource_group,
            "class": ",".join(codes) or "unhealthy",
            "custom_details": {
                "incident": n.incident_id,
                "status": v.status,
                "phase": v.phase,
                "explanation": v.explanation,
                "instances": [{"id": r.instance_id, "zone": r.zone} for r in v.instances],
                "findings": [
                    {"code": f.code, "evidence": clip(f.evidence, 2000), "instances": list(f.instance_ids)}
                    for f in v.findings
                ],
                "actions": [
                    {
                        "op": a.op,
                        "instances": list(a.instance_ids),
                        "mode": a.mode,
                        "result": a.result,
                        "reason": clip(a.reason, 500),
                        "verified": a.verified,
                    }
                    for a in v.actions
                ],
                "next_steps": [step.to_dict() for step in v.next_steps],
                "rerun": v.rerun_command,
            },
        },
    }


def _digest_trigger(routing_key: str, n: Notification, d: DigestRow) -> dict[str, Any]:
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key(d.incident_id),
        "client": CLIENT,
        "links": _links(d.scale_set.portal_url),
        "payload": {
            "summary": clip(
                f"{d.scale_set.name}: instances {', '.join(d.instance_ids)} — {d.explanation}", MAX_SUMMARY
            ),
            "source": d.scale_set.id or d.incident_id,
            "severity": severity(d.findings, len(d.instance_ids), ""),
            "timestamp": format_timestamp(n.at),
            "component": d.scale_set.name,
            "group": d.scale_set.resource_group,
            "class": ",".join(d.findings) or "unhealthy",
            "custom_details": {
                "incident": d.incident_id,
                "status": d.status,
                "findings": list(d.findings),
                "instances": list(d.instance_ids),
                "digest": n.id,
            },
        },
    }
