"""The generic JSON webhook: a documented, versioned, signed body for any receiver.

The body follows ``docs/webhook-schema.v1.json`` (``schemaVersion`` "1.0", ``type``
``vmss-responder.notification``) and is independent of the engine's internal field names:
the incident snapshot is mapped to camelCase here, so refactoring the engine cannot silently
break a receiver. Within major version 1 fields are only ever added, never renamed or removed;
receivers must ignore fields they do not know.

Every request carries:

- ``X-VMSS-Responder-Delivery``: the notification id, identical on every retry. Receivers
  dedup on it (the outbox delivers at least once; see ``docs/webhooks.md``).
- ``X-VMSS-Responder-Timestamp``: Unix seconds when this attempt was sent (informational).
- ``X-VMSS-Responder-Signature``: ``sha256=<hex HMAC-SHA256 of the exact body bytes>`` with the
  shared secret (only when ``webhookSecret`` is set). :func:`verify_signature` is the receiver
  side, meant to be copied.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

from ..durations import format_timestamp
from .model import Notification
from .render import DigestRow, ScaleSetView, View, view

SCHEMA_VERSION = "1.0"
EVENT_TYPE = "vmss-responder.notification"
DELIVERY_HEADER = "X-VMSS-Responder-Delivery"
TIMESTAMP_HEADER = "X-VMSS-Responder-Timestamp"
SIGNATURE_HEADER = "X-VMSS-Responder-Signature"
MAX_TIMELINE = 100  # newest entries kept; older ones are counted in timelineOmitted


def build_payload(notification: Notification, app_url: str | None = None) -> dict[str, Any]:
    """The schema 1.0 document for ``notification``."""
    v = view(notification, app_url)
    inc = notification.incident or {}
    return {
        "schemaVersion": SCHEMA_VERSION,
        "type": EVENT_TYPE,
        "id": notification.id,
        "incidentId": notification.incident_id,
        "seq": notification.seq,
        "severity": notification.severity,
        "reason": notification.reason,
        "at": notification.to_dict()["at"],
        "title": notification.title,
        "summary": v.headline,
        "scaleSet": _scale_set(v.scale_set) if v.scale_set.id else None,
        "incident": _incident(inc, v) if inc else None,
        "actions": [_action(a) for a in notification.actions],
        "digest": [_digest_entry(row) for row in v.digest],
        "nextSteps": [step.to_dict() for step in v.next_steps],
        "rerun": {"command": v.rerun_command, "http": v.rerun_http} if v.rerun_command else None,
    }


def body_bytes(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent and signed: compact, key-sorted UTF-8 JSON, identical on every retry."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str | None, secret: str) -> bool:
    """Receiver side: True when ``header`` is ``sha256=<hex>`` of ``body`` under ``secret``.

    Compute over the raw request bytes before any JSON parsing (re-serialising changes them),
    and compare in constant time.
    """
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header[len("sha256=") :].strip().lower())


def build_request(
    notification: Notification, secret: str | None, sent_at: datetime, app_url: str | None = None
) -> tuple[bytes, dict[str, str]]:
    """Body bytes and headers for one delivery attempt."""
    body = body_bytes(build_payload(notification, app_url))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        DELIVERY_HEADER: notification.id,
        TIMESTAMP_HEADER: str(int(sent_at.timestamp())),
    }
    if secret:
        headers[SIGNATURE_HEADER] = sign(body, secret)
    return body, headers


# --- mapping ------------------------------------------------------------------------------------


def _scale_set(s: ScaleSetView) -> dict[str, Any]:
    return {
        "id": s.id,
        "name": s.name,
        "resourceGroup": s.resource_group,
        "subscriptionId": s.subscription,
        "portalUrl": s.portal_url,
    }


def _incident(inc: dict[str, Any], v: View) -> dict[str, Any]:
    timeline = inc.get("timeline", [])
    kept = timeline[-MAX_TIMELINE:]
    return {
        "id": inc.get("id", v.incident_id),
        "status": v.status,
        "phase": v.phase,
        "trigger": inc.get("trigger"),
        "opened": inc.get("opened"),
        "firstSignal": inc.get("first_signal"),
        "lastSignal": inc.get("last_signal"),
        "closed": inc.get("closed"),
        "signals": int(inc.get("signals", 0)),
        "paged": bool(inc.get("paged", False)),
        "instanceIds": [r.instance_id for r in v.instances],
        "zones": {r.instance_id: r.zone for r in v.instances if r.zone},
        "explanation": v.explanation,
        "findings": [
            {
                "code": f.code,
                "label": f.label,
                "evidence": f.evidence,
                "instanceIds": list(f.instance_ids),
                "nextStep": f.next_step.to_dict(),
            }
            for f in v.findings
        ],
        "timeline": [{"at": t["at"], "kind": t.get("kind", ""), "text": t.get("text", "")} for t in kept],
        "timelineOmitted": len(timeline) - len(kept),
    }


def _action(a: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": a.get("id", ""),
        "at": a.get("at"),
        "op": a.get("op", ""),
        "instanceIds": list(a.get("instance_ids", [])),
        "mode": a.get("mode", ""),
        "result": a.get("result", ""),
        "reason": a.get("reason", ""),
        "verified": a.get("verified"),
        "output": a.get("output"),
        "detail": a.get("detail") or "",
    }


def _digest_entry(row: DigestRow) -> dict[str, Any]:
    return {
        "incidentId": row.incident_id,
        "scaleSet": _scale_set(row.scale_set),
        "status": row.status,
        "phase": row.phase,
        "opened": format_timestamp(row.opened) if row.opened else None,
        "instanceIds": list(row.instance_ids),
        "findings": list(row.findings),
        "explanation": row.explanation,
        "paged": row.paged,
    }
