"""Whole scenarios replayed with every channel configured against real local receivers.

Teams (Workflows webhook), the signed JSON webhook and PagerDuty's Events API each get a receiver
on 127.0.0.1; the replay's outbox delivers over real HTTP. The acceptance of issue 6: a persistent
Degraded scale set gives exactly one page to each channel, and when such a problem later clears,
exactly one resolved notification to each.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from vmss_responder.notify.webhook import verify_signature
from vmss_responder.sim.replay import replay
from vmss_responder.sim.scenario import load_scenario

from .helpers import ROUTING_KEY, SECRET, teams_url
from .receiver import Received, Receiver

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def teams_kind(r: Received) -> str:
    """The severity badge on the card (``PAGE · …``, ``RESOLVED · …``, ``INFO · …``)."""
    text = r.body.decode()
    return next(
        kind
        for kind in ("page", "resolved", "info")
        if f"{kind.upper()} \\u00b7" in text or f"{kind.upper()} ·" in text
    )


def webhook_kind(r: Received) -> str:
    assert verify_signature(r.body, r.headers.get("X-VMSS-Responder-Signature"), SECRET)
    return json.loads(r.body)["severity"]


def pagerduty_kind(r: Received) -> str:
    event = json.loads(r.body)
    assert event["routing_key"] == ROUTING_KEY
    return {"trigger": "page", "resolve": "resolved"}[event["event_action"]]


def replay_with_every_channel(name: str, receivers: Callable[[], Receiver]) -> dict[str, list[str]]:
    teams, hook, pd = receivers(), receivers(), receivers()
    channels = {
        "teamsWebhookUrl": teams_url(teams),
        "webhookUrl": hook.url,
        "webhookSecret": SECRET,
        "pagerdutyRoutingKey": ROUTING_KEY,
        "pagerdutyUrl": pd.url,
    }
    report = replay(load_scenario(SCENARIOS / f"{name}.json"), settings_overrides=channels)
    got = {
        "teams": [teams_kind(r) for r in teams.accepted()],
        "webhook": [webhook_kind(r) for r in hook.accepted()],
        "pagerduty": [pagerduty_kind(r) for r in pd.accepted()],
    }
    by_channel = {c: [n["severity"] for n in report["notifications"] if n["channel"] == c] for c in got}
    assert by_channel == got, "the report lists exactly what the receivers accepted"
    return got


@pytest.mark.parametrize("name", ["persistent-degraded-escalated"])
def test_a_persistent_degraded_scale_set_pages_each_channel_exactly_once(
    name: str, receivers: Callable[[], Receiver]
) -> None:
    got = replay_with_every_channel(name, receivers)
    for channel, kinds in got.items():
        assert kinds.count("page") == 1, (channel, kinds)
        assert "resolved" not in kinds, (channel, kinds)


def test_a_problem_that_later_clears_resolves_each_channel_exactly_once(
    receivers: Callable[[], Receiver],
) -> None:
    got = replay_with_every_channel("escalated-then-recovers", receivers)
    for channel, kinds in got.items():
        assert kinds.count("page") == 1, (channel, kinds)
        assert kinds.count("resolved") == 1, (channel, kinds)
        assert kinds[-1] == "resolved", (channel, kinds)
