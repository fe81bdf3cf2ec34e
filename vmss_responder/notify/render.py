"""Channel-neutral pieces of a notification: what every channel says, before it says it its way.

A Teams card, a webhook body, a PagerDuty event and a log line all tell the same story: which
scale set, what is wrong (findings with their evidence), what was done (actions with mode and
result), what happened when (timeline), and what on-call should do next. Building that story
once, from the notification's own snapshot, keeps the channels consistent and lets each one
decide only how much of it fits. Everything here is pure: same notification in, same view out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..durations import parse_timestamp
from ..engine.incident import instance_order
from ..identity import InvalidResourceId, parse_resource_id, portal_url
from .model import Notification

RERUN_PATH = "/api/rerun"
APP_PLACEHOLDER = "https://<app>"

FINDING_LABELS: dict[str, str] = {
    "scale_operation": "Scale operation in progress",
    "autoscale_flapping": "Autoscale is flapping",
    "repairs_suspended": "Automatic repairs suspended by the platform",
    "repairs_disabled": "Automatic repairs are off",
    "grace_period": "Inside the repair grace period",
    "provisioning_failed": "Provisioning failed",
    "probe_misconfigured": "Health probe looks misconfigured",
    "extension_failed": "A VM extension failed",
    "platform_initiated": "Azure platform event",
    "zone_concentrated": "Concentrated in one availability zone",
    "protected_instance": "Instance protected from scale set actions",
    "stale_model": "Instance not on the latest model",
}

ACTION_LABELS: dict[str, str] = {
    "resume_repairs": "Resume automatic repairs",
    "restart_instance": "Restart instance",
    "reimage_instance": "Reimage instance",
    "replace_instance": "Replace instance",
    "run_command": "Run diagnostics command",
}

REASON_LABELS: dict[str, str] = {
    "opened": "New incident",
    "updated": "Incident updated",
    "escalated": "Paging on-call",
    "closed": "Closed",
    "digest": "Digest",
    "test": "Test notification",
}

SEVERITY_LABELS: dict[str, str] = {"page": "PAGE", "info": "INFO", "resolved": "RESOLVED"}


@dataclass(frozen=True, slots=True)
class ScaleSetView:
    id: str
    name: str
    resource_group: str
    subscription: str
    portal_url: str | None


@dataclass(frozen=True, slots=True)
class NextStep:
    text: str
    commands: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {"text": self.text, "commands": list(self.commands)}


@dataclass(frozen=True, slots=True)
class FindingView:
    code: str
    label: str
    evidence: str
    instance_ids: tuple[str, ...]
    next_step: NextStep


@dataclass(frozen=True, slots=True)
class ActionView:
    id: str
    at: datetime | None
    op: str
    label: str
    instance_ids: tuple[str, ...]
    mode: str
    result: str
    reason: str
    verified: bool | None
    detail: str
    output: str


@dataclass(frozen=True, slots=True)
class InstanceRow:
    instance_id: str
    zone: str
    findings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TimelineItem:
    at: datetime
    kind: str
    text: str


@dataclass(frozen=True, slots=True)
class DigestRow:
    incident_id: str
    scale_set: ScaleSetView
    status: str
    phase: str
    opened: datetime | None
    instance_ids: tuple[str, ...]
    findings: tuple[str, ...]
    explanation: str
    paged: bool


@dataclass(frozen=True, slots=True)
class View:
    """Everything a channel may show about one notification, most important first."""

    notification_id: str
    incident_id: str
    seq: int
    severity: str
    reason: str
    at: datetime
    badge: str  # "PAGE · Paging on-call"
    title: str
    headline: str  # one sentence: what is wrong and what happens now
    explanation: str
    scale_set: ScaleSetView
    status: str
    phase: str
    facts: tuple[tuple[str, str], ...]
    instances: tuple[InstanceRow, ...]
    findings: tuple[FindingView, ...]
    actions: tuple[ActionView, ...]
    timeline: tuple[TimelineItem, ...]  # oldest first; channels show the tail they can afford
    next_steps: tuple[NextStep, ...]  # one per distinct finding step, or a default
    rerun_command: str
    rerun_http: str
    digest: tuple[DigestRow, ...]


# --- public entry point ----------------------------------------------------------------------


def view(notification: Notification, app_url: str | None = None) -> View:
    """Build the channel-neutral view. ``app_url`` is the Function app's base URL for the rerun example."""
    inc = notification.incident or {}
    scale_set = scale_set_view(str(inc.get("scale_set", "")))
    findings = tuple(_finding_view(f, scale_set) for f in inc.get("findings", []))
    instances = _instance_rows(inc, findings)
    actions = tuple(_action_view(a) for a in notification.actions)
    digest = tuple(_digest_row(d) for d in notification.digest)
    status = str(inc.get("status", ""))
    phase = str(inc.get("phase", ""))
    explanation = str(inc.get("explanation", ""))
    return View(
        notification_id=notification.id,
        incident_id=notification.incident_id,
        seq=notification.seq,
        severity=notification.severity,
        reason=notification.reason,
        at=notification.at,
        badge=f"{SEVERITY_LABELS.get(notification.severity, notification.severity.upper())} · "
        f"{REASON_LABELS.get(notification.reason, notification.reason)}",
        title=notification.title,
        headline=_headline(notification, scale_set, instances, findings, digest),
        explanation=explanation,
        scale_set=scale_set,
        status=status,
        phase=phase,
        facts=_facts(notification, inc, scale_set, instances),
        instances=instances,
        findings=findings,
        actions=actions,
        timeline=tuple(
            TimelineItem(parse_timestamp(t["at"]), str(t.get("kind", "")), str(t.get("text", "")))
            for t in inc.get("timeline", [])
        ),
        next_steps=_next_steps(notification, findings),
        rerun_command=rerun_command(scale_set.id) if scale_set.id else "",
        rerun_http=rerun_http(scale_set.id, app_url) if scale_set.id else "",
        digest=digest,
    )


def scale_set_view(resource_id: str) -> ScaleSetView:
    """Name, resource group and portal link of a scale set ID; tolerant of an empty or odd ID."""
    try:
        parsed = parse_resource_id(resource_id) if resource_id else None
    except InvalidResourceId:
        parsed = None
    if parsed is None:
        name = resource_id.rstrip("/").rsplit("/", 1)[-1]
        return ScaleSetView(resource_id, name, "", "", portal_url(resource_id) if resource_id else None)
    ref = parsed[0]
    return ScaleSetView(resource_id, ref.name, ref.resource_group, ref.subscription, portal_url(resource_id))


def rerun_command(scale_set_id: str) -> str:
    return f"vmss-responder rerun {scale_set_id}"


def rerun_http(scale_set_id: str, app_url: str | None = None) -> str:
    """The manual rerun over HTTP. The function key is a placeholder: keys never go into messages."""
    base = (app_url or APP_PLACEHOLDER).rstrip("/")
    body = json.dumps({"resourceId": scale_set_id})
    return (
        f'curl -X POST {base}{RERUN_PATH} -H "x-functions-key: <function key>" '
        f"-H \"Content-Type: application/json\" -d '{body}'"
    )


def clip(text: str, limit: int) -> str:
    """Shorten ``text`` to at most ``limit`` characters, marking the cut."""
    if limit <= 0:
        return ""
    return text if len(text) <= limit else text[: max(limit - 1, 0)].rstrip() + "…"


def format_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""


def more_line(hidden: int, what: str) -> str:
    return f"+{hidden} more {what}"


# --- next steps ------------------------------------------------------------------------------


def next_step(code: str, scale_set: ScaleSetView, instance_ids: tuple[str, ...]) -> NextStep:
    """What on-call should do about one finding, with the exact commands where they exist."""
    rg = scale_set.resource_group or "<resource group>"
    name = scale_set.name or "<scale set>"
    ids = " ".join(instance_ids) or "<instance id>"
    target = f"-g {rg} -n {name}"
    first = instance_ids[0] if instance_ids else "<instance id>"
    steps: dict[str, NextStep] = {
        "scale_operation": NextStep(
            "Expected churn from a scale operation: nothing to do unless instances stay unhealthy after it "
            "completes (the responder keeps watching)."
        ),
        "autoscale_flapping": NextStep(
            "Autoscale is scaling out and in repeatedly: widen the gap between the scale-out and scale-in "
            "thresholds or lengthen the cooldown in the autoscale setting."
        ),
        "repairs_suspended": NextStep(
            "The platform suspended automatic repairs after repeated failed repairs and gives no reason: find "
            "why new instances stay unhealthy (application health, extension logs), then resume repairs.",
            (
                f"az vmss set-orchestration-service-state {target} --service-name AutomaticRepairs --action Resume",
            ),
        ),
        "repairs_disabled": NextStep(
            "Automatic repairs are off, so nothing repairs unhealthy instances: repair them by hand, or turn "
            "automatic repairs on.",
            (
                f"az vmss restart {target} --instance-ids {ids}",
                f"az vmss update {target} --enable-automatic-repairs true --automatic-repairs-grace-period 10",
            ),
        ),
        "grace_period": NextStep(
            "The platform does not repair inside the grace period (10-90 min after the last change to the "
            "scale set): wait; the responder checks again when it ends."
        ),
        "provisioning_failed": NextStep(
            "Automatic repairs never fix provisioning failures: read the error, then reimage or delete the "
            "instance.",
            (
                f"az vmss get-instance-view {target} --instance-id {first}",
                f"az vmss reimage {target} --instance-ids {ids}",
            ),
        ),
        "probe_misconfigured": NextStep(
            "Most instances fail the health probe at once, which usually means the probe (port, path, "
            "protocol) or the Application Health extension settings are wrong, not the VMs: check the probe "
            "before repairing anything."
        ),
        "extension_failed": NextStep(
            "An extension failed: read its status in the instance view and its logs on the VM, then reimage "
            "if it does not recover.",
            (
                f"az vmss get-instance-view {target} --instance-id {first}",
                f"az vmss reimage {target} --instance-ids {ids}",
            ),
        ),
        "platform_initiated": NextStep(
            "An Azure platform event (host maintenance or hardware) hit the instance: check Service Health and "
            "Resource Health; per-instance remediation is held while it lasts."
        ),
        "zone_concentrated": NextStep(
            "The unhealthy instances share one availability zone: check Service Health for a zonal incident "
            "before repairing instance by instance."
        ),
        "protected_instance": NextStep(
            "The instance is protected from scale set actions, so neither the platform nor the responder "
            "repairs it: repair it by hand or lift the protection."
        ),
        "stale_model": NextStep(
            "The instance runs an older model: bring it to the latest model, or find why the upgrade stopped.",
            (f"az vmss update-instances {target} --instance-ids {ids}",),
        ),
    }
    return steps.get(code, NextStep("Open the scale set in the portal and check the instance view."))


def _next_steps(notification: Notification, findings: tuple[FindingView, ...]) -> tuple[NextStep, ...]:
    """Per-finding steps while the incident is live; a closed incident needs no repair advice."""
    if notification.severity == "resolved":
        return (
            NextStep("Nothing urgent: the incident is closed. The findings and timeline show what happened."),
        )
    if notification.reason == "digest":
        return (
            NextStep(
                "Open each scale set below; each has its own incident, and the responder keeps checking them."
            ),
        )
    steps = tuple(dict.fromkeys(f.next_step for f in findings))
    return steps or (
        NextStep(
            "Open the scale set in the portal and check the instance view; the responder keeps watching."
        ),
    )


# --- pieces ------------------------------------------------------------------------------------


def _finding_view(raw: dict[str, Any], scale_set: ScaleSetView) -> FindingView:
    code = str(raw.get("code", ""))
    ids = tuple(str(i) for i in raw.get("instance_ids", []))
    return FindingView(
        code=code,
        label=FINDING_LABELS.get(code, code),
        evidence=str(raw.get("evidence", "")),
        instance_ids=ids,
        next_step=next_step(code, scale_set, ids),
    )


def _instance_rows(inc: dict[str, Any], findings: tuple[FindingView, ...]) -> tuple[InstanceRow, ...]:
    zones: dict[str, str] = {str(k): str(v) for k, v in (inc.get("zones") or {}).items()}
    ids = sorted({str(i) for i in inc.get("instance_ids", [])}, key=instance_order)
    return tuple(
        InstanceRow(i, zones.get(i, ""), tuple(f.code for f in findings if i in f.instance_ids)) for i in ids
    )


def _action_view(raw: dict[str, Any]) -> ActionView:
    op = str(raw.get("op", ""))
    at = raw.get("at")
    return ActionView(
        id=str(raw.get("id", "")),
        at=parse_timestamp(at) if isinstance(at, str) and at else None,
        op=op,
        label=ACTION_LABELS.get(op, op),
        instance_ids=tuple(str(i) for i in raw.get("instance_ids", [])),
        mode=str(raw.get("mode", "")),
        result=str(raw.get("result", "")),
        reason=str(raw.get("reason", "")),
        verified=raw.get("verified"),
        detail=str(raw.get("detail") or ""),
        output=str(raw.get("output") or ""),
    )


def _digest_row(raw: dict[str, Any]) -> DigestRow:
    opened = raw.get("opened")
    return DigestRow(
        incident_id=str(raw.get("id", "")),
        scale_set=scale_set_view(str(raw.get("scale_set", ""))),
        status=str(raw.get("status", "")),
        phase=str(raw.get("phase", "")),
        opened=parse_timestamp(opened) if isinstance(opened, str) and opened else None,
        instance_ids=tuple(sorted((str(i) for i in raw.get("instance_ids", [])), key=instance_order)),
        findings=tuple(str(f.get("code", "")) for f in raw.get("findings", [])),
        explanation=str(raw.get("explanation", "")),
        paged=bool(raw.get("paged", False)),
    )


def _instances_phrase(instances: tuple[InstanceRow, ...]) -> str:
    if not instances:
        return "no instance"
    shown = ", ".join(r.instance_id + (f" (zone {r.zone})" if r.zone else "") for r in instances[:5])
    extra = f" and {len(instances) - 5} more" if len(instances) > 5 else ""
    noun = "instance" if len(instances) == 1 else "instances"
    return f"{noun} {shown}{extra}"


def _headline(
    n: Notification,
    scale_set: ScaleSetView,
    instances: tuple[InstanceRow, ...],
    findings: tuple[FindingView, ...],
    digest: tuple[DigestRow, ...],
) -> str:
    if n.reason == "digest":
        sets = {d.scale_set.id.lower() for d in digest}
        return f"{len(digest)} incidents on {len(sets)} scale sets since the last message."
    where = f"{scale_set.name}, {_instances_phrase(instances)}"
    what = "; ".join(f.label.lower() for f in findings) or "no finding yet"
    if n.severity == "page":
        return f"On-call needed for {where}: {what}."
    if n.severity == "resolved":
        return f"{where}: recovered; the incident is closed."
    return f"{where}: {what}. No page: the responder is handling or watching it."


def _facts(
    n: Notification, inc: dict[str, Any], scale_set: ScaleSetView, instances: tuple[InstanceRow, ...]
) -> tuple[tuple[str, str], ...]:
    if n.reason == "digest":
        return (("Incidents", str(len(n.digest))), ("Sent", format_time(n.at)))
    zones = sorted({r.zone for r in instances if r.zone})
    facts = [
        ("Scale set", scale_set.name),
        ("Resource group", scale_set.resource_group),
        ("Subscription", scale_set.subscription),
        ("Status", " · ".join(x for x in (str(inc.get("status", "")), str(inc.get("phase", ""))) if x)),
        ("Instances", f"{len(instances)}" + (f" in zone {', '.join(zones)}" if zones else "")),
        ("Opened", _fact_time(inc.get("opened"))),
        ("Last signal", _fact_time(inc.get("last_signal"))),
        ("Closed", _fact_time(inc.get("closed"))),
        ("Signals", str(inc.get("signals", "")) if inc.get("signals") else ""),
        ("Incident", n.incident_id),
    ]
    return tuple((k, v) for k, v in facts if v)


def _fact_time(value: Any) -> str:
    return format_time(parse_timestamp(value)) if isinstance(value, str) and value else ""
