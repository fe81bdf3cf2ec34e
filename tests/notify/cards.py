"""Every kind of Teams card the product can produce, for schema and browser checks.

Built from the sample incident (``vmss_responder.notify.sample``) plus two stress shapes: a busy
incident (dozens of instances, several findings and actions, a long timeline) and the worst
case (every finding code, thousands of instances, hundreds of actions and timeline entries,
multi-kilobyte texts with multi-byte characters) that exercises every truncation.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from vmss_responder.durations import format_timestamp
from vmss_responder.engine.incident import FINDING_CODES
from vmss_responder.notify import teams
from vmss_responder.notify.model import Notification
from vmss_responder.notify.render import view
from vmss_responder.notify.sample import sample_digest, sample_notification

_WORDS = "Unhealthy → Unavailable après reimage; probe /healthz answered 503 from 10.1.0.7:8080 ü "


def _long(n: int) -> str:
    return (_WORDS * (n // len(_WORDS) + 1))[:n]


def scaled_notification(
    now: datetime, instances: int, findings: int, actions: int, timeline: int, text: int
) -> Notification:
    """The sample page, grown to the given numbers of items and text lengths."""
    n = sample_notification("page", now)
    ids = [str(i) for i in range(instances)]
    inc: dict[str, Any] = dict(n.incident)
    inc["instance_ids"] = ids
    inc["zones"] = {i: str(int(i) % 3 + 1) for i in ids}
    inc["explanation"] = _long(text)
    inc["findings"] = [
        {"code": code, "evidence": _long(text), "instance_ids": ids} for code in FINDING_CODES[:findings]
    ]
    inc["timeline"] = [
        {
            "at": format_timestamp(now - timedelta(seconds=timeline - k)),
            "kind": "signal",
            "text": _long(text // 4),
        }
        for k in range(timeline)
    ]
    template = n.actions[0]
    acts = [
        {
            **template,
            "id": f"{template['id']}-{k}",
            "op": ("restart_instance", "reimage_instance", "run_command")[k % 3],
            "instance_ids": ids[:50],
            "mode": ("shadow", "executed")[k % 2],
            "result": ("skipped", "succeeded", "failed")[k % 3],
            "verified": (None, True, False)[k % 3],
            "reason": _long(text),
            "detail": _long(text),
            "output": _long(min(text, 4096)),
        }
        for k in range(actions)
    ]
    return replace(n, title=_long(max(text // 4, 60)), incident=inc, actions=acts)


def worst_case(now: datetime) -> Notification:
    return scaled_notification(
        now, instances=2000, findings=len(FINDING_CODES), actions=200, timeline=1000, text=10_000
    )


def busy(now: datetime) -> Notification:
    return scaled_notification(now, instances=40, findings=5, actions=8, timeline=30, text=400)


@functools.cache
def catalogue(now: datetime) -> dict[str, dict[str, Any]]:
    """name -> Workflows message, one per kind of card (built once per ``now``; do not mutate)."""
    out: dict[str, dict[str, Any]] = {
        "page": teams.build_message(sample_notification("page", now)),
        "info": teams.build_message(sample_notification("info", now)),
        "resolved": teams.build_message(sample_notification("resolved", now)),
        "test": teams.build_message(sample_notification("info", now, reason="test")),
        "digest": teams.build_message(sample_digest(now)),
        "digest-large": teams.build_message(sample_digest(now, count=120)),
        "busy": teams.build_message(busy(now)),
        "worst-case": teams.build_message(worst_case(now)),
    }
    busy_view = view(busy(now))  # every budget's layout, as a smaller incident gets it
    for k, budget in enumerate(teams.BUDGETS):
        out[f"busy-budget-{k}"] = teams.wrap(teams.build_card(busy_view, budget))
    return out


def card_of(message: dict[str, Any]) -> dict[str, Any]:
    return message["attachments"][0]["content"]
