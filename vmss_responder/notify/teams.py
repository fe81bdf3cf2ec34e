"""Teams messages: an Adaptive Card posted to a Workflows ("When a Teams webhook request is received") URL.

Office 365 connectors (MessageCard, ``*.webhook.office.com``) are retired, so this only speaks
the Workflows shape: ``{"type": "message", "attachments": [{"contentType":
"application/vnd.microsoft.card.adaptive", "content": <AdaptiveCard>}]}``. Cards use schema 1.4
(what Teams desktop renders reliably), only ``Action.OpenUrl``, ``Action.ShowCard`` and
``Action.ToggleVisibility`` (Workflows cards cannot post back), and are kept under
:data:`MAX_MESSAGE_BYTES`, well inside the ~28 KB at which Teams answers 413: when the full
story does not fit, the card is rebuilt with fewer timeline entries, instances and actions and
shorter texts, each cut announced by a "+N more" line, so a big incident still arrives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .model import Notification
from .render import ActionView, DigestRow, View, clip, format_time, more_line, view

CARD_VERSION = "1.4"
SCHEMA_URL = "http://adaptivecards.io/schemas/adaptive-card.json"
CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
MAX_MESSAGE_BYTES = 24_000
MAX_FINDINGS = 12  # one per finding code
_CELL = 120  # characters of one table cell

# severity -> (container style, text colour)
_STYLE: dict[str, tuple[str, str]] = {
    "page": ("attention", "attention"),
    "info": ("accent", "accent"),
    "resolved": ("good", "good"),
}


@dataclass(frozen=True, slots=True)
class Budget:
    """How much of the story one card tells; smaller budgets are tried until the card fits."""

    timeline: int
    instances: int
    actions: int
    text: int  # characters of each free text (evidence, explanation, reasons)
    digest: int


BUDGETS: tuple[Budget, ...] = (
    Budget(timeline=10, instances=25, actions=10, text=1200, digest=30),
    Budget(timeline=6, instances=12, actions=6, text=600, digest=20),
    Budget(timeline=3, instances=6, actions=3, text=300, digest=12),
    Budget(timeline=0, instances=3, actions=2, text=160, digest=6),
)


def build_message(notification: Notification, app_url: str | None = None) -> dict[str, Any]:
    """The Workflows webhook body for ``notification``, within :data:`MAX_MESSAGE_BYTES`.

    Budgets are tried largest first; the smallest one bounds every part of the card (texts are
    clipped, lists cut to a few entries), and the tests check that it fits the worst incident
    the engine can produce (every finding code, thousands of instances, actions and timeline
    entries, texts of many kilobytes).
    """
    v = view(notification, app_url)
    for budget in BUDGETS[:-1]:
        message = wrap(build_card(v, budget))
        if len(message_bytes(message)) <= MAX_MESSAGE_BYTES:
            return message
    return wrap(build_card(v, BUDGETS[-1]))


def message_bytes(message: dict[str, Any]) -> bytes:
    """The exact bytes posted (and measured against the size limit)."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def wrap(card: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "message",
        "attachments": [{"contentType": CONTENT_TYPE, "contentUrl": None, "content": card}],
    }


def build_card(v: View, budget: Budget) -> dict[str, Any]:
    body = [_header(v), _text(clip(v.headline, budget.text), spacing="Medium")]
    if v.reason == "digest":
        return _card(body + _digest(v.digest, budget), [])
    if v.explanation:
        body.append(_text(clip(v.explanation, budget.text), isSubtle=True, spacing="Small"))
    body.append({"type": "FactSet", "facts": [{"title": k, "value": clip(val, 200)} for k, val in v.facts]})
    body += _findings(v, budget)
    body += _instances(v, budget)
    body += _actions(v.actions, budget)
    body += _next_steps(v, budget)
    actions: list[dict[str, Any]] = []
    if v.scale_set.portal_url:
        actions.append(
            {"type": "Action.OpenUrl", "title": "Open in Azure portal", "url": v.scale_set.portal_url}
        )
    timeline = _timeline(v, budget)
    if timeline:
        body += timeline
        actions.append(
            {"type": "Action.ToggleVisibility", "title": "Timeline", "targetElements": ["timeline"]}
        )
    if v.rerun_command:
        actions.append(_rerun(v))
    return _card(body, actions)


# --- pieces ------------------------------------------------------------------------------------


def _card(body: list[dict[str, Any]], actions: list[dict[str, Any]]) -> dict[str, Any]:
    card: dict[str, Any] = {
        "$schema": SCHEMA_URL,
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "msteams": {"width": "Full"},
        "body": body,
    }
    if actions:
        card["actions"] = actions
    return card


def _text(text: str, **props: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **props}


def _heading(text: str) -> dict[str, Any]:
    return _text(text, weight="Bolder", size="Medium", separator=True, spacing="Medium")


def _header(v: View) -> dict[str, Any]:
    style, colour = _STYLE.get(v.severity, ("emphasis", "default"))
    subtitle = clip(
        " · ".join(x for x in (v.scale_set.name, v.scale_set.resource_group, format_time(v.at)) if x), 300
    )
    return {
        "type": "Container",
        "style": style,
        "bleed": True,
        "items": [
            _text(v.badge, size="Small", weight="Bolder", color=colour),
            _text(clip(v.title, 300), size="Large", weight="Bolder", spacing="None"),
            _text(subtitle, isSubtle=True, spacing="None", size="Small"),
        ],
    }


def _findings(v: View, budget: Budget) -> list[dict[str, Any]]:
    if not v.findings:
        return []
    out = [_heading("Findings")]
    for f in v.findings[:MAX_FINDINGS]:
        items = [
            _text(clip(f"{f.label} ({f.code})", 200), weight="Bolder"),
            _text(clip(f.evidence, budget.text), spacing="Small"),
        ]
        if f.instance_ids:
            shown = ", ".join(f.instance_ids[: budget.instances])
            hidden = len(f.instance_ids) - budget.instances
            items.append(
                _text(
                    clip(f"Instances: {shown}", budget.text)
                    + (f" ({more_line(hidden, 'instances')})" if hidden > 0 else ""),
                    isSubtle=True,
                    spacing="Small",
                    size="Small",
                )
            )
        out.append({"type": "Container", "spacing": "Small", "items": items})
    return out


def _row(cells: list[str], widths: tuple[str | int, ...], bold: bool = False) -> dict[str, Any]:
    """One table row. Rows are separate ColumnSets, so widths are weights or pixels, never
    ``auto``: that keeps the columns of consecutive rows aligned."""
    return {
        "type": "ColumnSet",
        "spacing": "Small",
        "columns": [
            {
                "type": "Column",
                "width": width,
                "items": [
                    _text(clip(cell, _CELL) or "—", weight="Bolder" if bold else "Default", size="Small")
                ],
            }
            for cell, width in zip(cells, widths)
        ],
    }


_DIGEST_COLUMNS = (2, 2, 5)


def _instances(v: View, budget: Budget) -> list[dict[str, Any]]:
    """Instance, zone and findings per row: a FactSet is the most compact aligned table."""
    if not v.instances:
        return []
    facts = [
        {
            "title": clip(r.instance_id, _CELL),
            "value": clip(
                " · ".join(
                    x for x in (f"zone {r.zone}" if r.zone else "no zone", ", ".join(r.findings)) if x
                ),
                _CELL,
            ),
        }
        for r in v.instances[: budget.instances]
    ]
    out = [_heading(f"Instances ({len(v.instances)})"), {"type": "FactSet", "facts": facts}]
    hidden = len(v.instances) - budget.instances
    if hidden > 0:
        out.append(_text(more_line(hidden, "instances (see the portal)"), isSubtle=True, size="Small"))
    return out


def _action_text(a: ActionView) -> str:
    target = f" on {', '.join(a.instance_ids)}" if a.instance_ids else ""
    verified = "" if a.verified is None else ", verified" if a.verified else ", not verified"
    return f"{a.label}{target}: {a.mode}, {a.result}{verified}"


def _actions(actions: tuple[ActionView, ...], budget: Budget) -> list[dict[str, Any]]:
    if not actions:
        return []
    out = [_heading("Actions")]
    for a in actions[: budget.actions]:
        items = [
            _text(
                clip(_action_text(a), budget.text),
                weight="Bolder",
                color="warning" if a.mode == "shadow" else "default",
            ),
            _text(clip(a.reason, budget.text), isSubtle=True, spacing="None", size="Small"),
        ]
        if a.detail:
            items.append(_text(clip(a.detail, budget.text), spacing="None", size="Small"))
        if a.output:
            items.append(
                _text(clip(a.output, budget.text // 2), fontType="Monospace", spacing="Small", size="Small")
            )
        out.append({"type": "Container", "spacing": "Small", "items": items})
    hidden = len(actions) - budget.actions
    if hidden > 0:
        out.append(_text(more_line(hidden, "actions"), isSubtle=True, size="Small"))
    return out


def _next_steps(v: View, budget: Budget) -> list[dict[str, Any]]:
    out = [_heading("Next steps")]
    for step in v.next_steps[:MAX_FINDINGS]:
        out.append(_text("• " + clip(step.text, budget.text), spacing="Small"))
        out += [
            _text(clip(c, 400), fontType="Monospace", size="Small", spacing="None") for c in step.commands
        ]
    return out


def _timeline(v: View, budget: Budget) -> list[dict[str, Any]]:
    if not v.timeline or budget.timeline <= 0:
        return []
    tail = v.timeline[-budget.timeline :]
    items: list[dict[str, Any]] = [_heading(f"Timeline (last {len(tail)} of {len(v.timeline)})")]
    hidden = len(v.timeline) - len(tail)
    if hidden > 0:
        items.append(_text(more_line(hidden, "earlier entries"), isSubtle=True, size="Small"))
    facts = [
        {"title": f"{t.at:%H:%M:%S} {clip(t.kind, 20)}", "value": clip(t.text, budget.text // 2)}
        for t in tail
    ]
    items.append({"type": "FactSet", "facts": facts})
    return [{"type": "Container", "id": "timeline", "isVisible": False, "items": items}]


def _rerun(v: View) -> dict[str, Any]:
    return {
        "type": "Action.ShowCard",
        "title": "Rerun",
        "card": {
            "type": "AdaptiveCard",
            "body": [
                _text("Re-run the diagnosis for this scale set from a shell:", size="Small"),
                _text(clip(v.rerun_command, 1000), fontType="Monospace", size="Small"),
                _text("or over HTTP (function key from the portal):", size="Small"),
                _text(clip(v.rerun_http, 1000), fontType="Monospace", size="Small"),
            ],
        },
    }


def _digest(rows: tuple[DigestRow, ...], budget: Budget) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        _row(["Scale set", "Instances", "Status · findings"], _DIGEST_COLUMNS, bold=True)
    ]
    for d in rows[: budget.digest]:
        status = " · ".join(x for x in (d.status, ", ".join(d.findings)) if x)
        row = _row([d.scale_set.name, ", ".join(d.instance_ids[:8]), clip(status, 200)], _DIGEST_COLUMNS)
        if d.scale_set.portal_url:
            row["selectAction"] = {
                "type": "Action.OpenUrl",
                "title": "Open in Azure portal",
                "url": d.scale_set.portal_url,
            }
        out.append(row)
    hidden = len(rows) - budget.digest
    if hidden > 0:
        out.append(_text(more_line(hidden, "incidents"), isSubtle=True, size="Small"))
    out.append(_text("Select a row to open the scale set in the Azure portal.", isSubtle=True, size="Small"))
    return out
