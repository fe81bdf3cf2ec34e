"""A realistic notification, for ``notify-test`` and for checking how every channel renders.

The story is the common one the responder exists for: instance 3 of ``vmss-search`` turns
Unhealthy in zone 1, automatic repairs are not enabled on the scale set so nothing will repair
it, and in observe mode the responder records the restart it would have run (shadow) instead of
running it. Snapshots are built with the engine's own dataclasses so they have exactly the shape
the engine stores.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ..engine.incident import ActionRecord, Incident, Status, action_to_dict
from .model import Notification, Reason, Severity

SUBSCRIPTION = "6f1c9a52-0d2e-4b7a-9c1e-3a5d7e8f9012"
SCALE_SET = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-search-prod"
    "/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-search"
)

_DEFAULT_REASON: dict[str, Reason] = {"page": "escalated", "info": "opened", "resolved": "closed"}
_SEQ: dict[str, int] = {"info": 1, "page": 2, "resolved": 3}


def sample_incident(now: datetime, severity: Severity = "page", scale_set: str = SCALE_SET) -> Incident:
    """The vmss-search incident as it stands when a ``severity`` notification about it goes out."""
    opened = now - timedelta(minutes=12)
    name = scale_set.rsplit("/", 1)[-1]
    inc = Incident(
        id=f"{name}-{opened:%Y%m%dT%H%M%SZ}",
        scale_set=scale_set,
        status=Status.OPEN,
        opened=opened,
        first_signal=opened,
        last_signal=now - timedelta(minutes=2),
        signals=4,
        trigger="health",
        phase="holding",
    )
    inc.add_instances(["3"])
    inc.zones = {"3": "1"}
    inc.note(
        opened, "signal", "Resource Health: instance 3 Available → Unavailable (Unplanned, no annotation)"
    )
    inc.note(opened + timedelta(seconds=40), "signal", "Application Health extension: instance 3 Unhealthy")
    inc.note(
        opened + timedelta(minutes=1),
        "diagnosis",
        "No scale, power, reimage or upgrade operation on vmss-search in the last 60 minutes",
    )
    inc.add_finding(
        "repairs_disabled",
        "The scale set's instance view lists no AutomaticRepairs orchestration service "
        "(automaticRepairsPolicy.enabled = false), so the platform will not repair instance 3; "
        "it has been Unhealthy for 12 minutes.",
        ["3"],
    )
    inc.note(
        opened + timedelta(minutes=1, seconds=5), "decision", "Hold 10 minutes (holdPeriod) for recovery"
    )
    inc.explanation = (
        "Instance 3 has been Unhealthy for 12 minutes with no operation to explain it, "
        "and automatic repairs are off on vmss-search."
    )
    if severity in ("page", "resolved"):
        inc.note(
            opened + timedelta(minutes=11),
            "action",
            "restart_instance on 3 recorded as shadow: mode is observe",
        )
        inc.note(opened + timedelta(minutes=11, seconds=5), "notification", "Paged on-call")
        inc.status = Status.ESCALATED
        inc.phase = "paged"
        inc.paged = True
        inc.notified = True
        inc.actions = [f"{inc.id}:restart_instance:3"]
    if severity == "resolved":
        inc.note(now - timedelta(minutes=1), "signal", "Application Health extension: instance 3 Healthy")
        inc.note(now, "decision", "Instance 3 healthy in the live instance view; closing")
        inc.closed = now
        inc.phase = "closed"
    return inc


def sample_action(inc: Incident) -> ActionRecord:
    """The restart the responder decided on but, in observe mode, only recorded."""
    return ActionRecord(
        id=f"{inc.id}:restart_instance:3",
        at=inc.opened + timedelta(minutes=11),
        op="restart_instance",
        scale_set=inc.scale_set,
        instance_ids=["3"],
        mode="shadow",
        result="skipped",
        reason="mode is observe: restart_instance would run in act mode with restart_instance in allowedActions",
        incident_id=inc.id,
        detail="Instance 3 is not protected, no repair is pending and 1 of 6 instances (17%) is unhealthy",
    )


def sample_notification(severity: Severity, now: datetime, reason: Reason | None = None) -> Notification:
    """A notification of ``severity`` about the sample incident, sent at ``now``."""
    inc = sample_incident(now, severity)
    actions = [action_to_dict(sample_action(inc))] if inc.actions else []
    titles = {
        "page": "vmss-search: instance 3 Unhealthy and automatic repairs are off",
        "info": "vmss-search: instance 3 Unhealthy, holding for recovery",
        "resolved": "vmss-search: instance 3 recovered",
    }
    seq = _SEQ[severity]
    return Notification(
        id=f"{inc.id}:{seq}",
        incident_id=inc.id,
        seq=seq,
        severity=severity,
        reason=reason or _DEFAULT_REASON[severity],
        at=now,
        title=titles[severity],
        incident=inc.to_dict(),
        actions=actions,
    )


def sample_digest(now: datetime, count: int = 6) -> Notification:
    """A digest of ``count`` incidents on three scale sets, as the engine sends during a storm."""
    names = ("vmss-search", "vmss-index", "vmss-api")
    incidents = []
    for i in range(count):
        name = names[i % len(names)]
        inc = sample_incident(
            now - timedelta(minutes=i), "page" if i % 2 else "info", SCALE_SET.replace("vmss-search", name)
        )
        inc.id = f"{inc.id}-{i}"
        incidents.append(inc.to_dict())
    digest_id = f"digest-{now:%Y%m%dT%H%M%SZ}"
    return Notification(
        id=f"{digest_id}:1",
        incident_id=digest_id,
        seq=1,
        severity="page",
        reason="digest",
        at=now,
        title=f"{count} incidents on {min(count, len(names))} scale sets",
        incident={},
        digest=incidents,
    )
