"""PagerDuty Events API v2 through the outbox: trigger, resolve, and what is deliberately not sent."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import httpx
import pytest

from vmss_responder.clock import VirtualClock
from vmss_responder.notify import pagerduty
from vmss_responder.notify.outbox import Outbox
from vmss_responder.notify.sample import sample_digest, sample_notification
from vmss_responder.notify.senders import build_senders
from vmss_responder.store.sqlite import SqliteStore

from .helpers import ROUTING_KEY, START, notification, settings_for
from .receiver import Receiver


@pytest.fixture
def outbox(store: SqliteStore, clock: VirtualClock, receiver: Receiver, client: httpx.Client) -> Outbox:
    settings = settings_for(pagerdutyRoutingKey=ROUTING_KEY, pagerdutyUrl=receiver.url)
    return Outbox(store, settings, clock, build_senders(settings, store, clock, client))


def events(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in receiver.accepted()]


def test_page_triggers_with_the_incident_as_dedup_key(outbox: Outbox, receiver: Receiver) -> None:
    n = sample_notification("page", START)
    assert outbox.enqueue(n) == ["pagerduty"]
    [delivery] = outbox.deliver_due()
    assert delivery.outcome == "sent" and delivery.status == 202
    [event] = events(receiver)
    assert event["routing_key"] == ROUTING_KEY
    assert event["event_action"] == "trigger" and event["dedup_key"] == n.incident_id
    payload = event["payload"]
    assert payload["source"] == n.incident["scale_set"]
    assert payload["severity"] == "error"  # one instance, nothing zonal or platform-wide
    assert payload["component"] == "vmss-search" and payload["group"] == "rg-search-prod"
    assert payload["class"] == "repairs_disabled"
    assert payload["summary"].startswith("vmss-search: instance 3 Unhealthy and automatic repairs are off")
    details = payload["custom_details"]
    assert (
        details["findings"][0]["code"] == "repairs_disabled"
        and "automaticRepairsPolicy" in details["findings"][0]["evidence"]
    )
    assert details["instances"] == [{"id": "3", "zone": "1"}]
    assert details["actions"][0]["mode"] == "shadow"
    assert event["links"][0]["href"].startswith("https://portal.azure.com/#resource/subscriptions/")


def test_resolved_resolves_the_same_alert(outbox: Outbox, receiver: Receiver, clock: VirtualClock) -> None:
    page = sample_notification("page", START)
    outbox.enqueue(page)
    outbox.deliver_due()
    resolved = sample_notification("resolved", START)
    assert resolved.incident_id == page.incident_id and resolved.seq > page.seq
    outbox.enqueue(resolved)
    [delivery] = outbox.deliver_due()
    assert delivery.outcome == "sent"
    trigger, resolve = events(receiver)
    assert resolve == {
        "routing_key": ROUTING_KEY,
        "event_action": "resolve",
        "dedup_key": trigger["dedup_key"],
    }


def test_info_is_not_sent_and_the_reason_is_recorded(outbox: Outbox, receiver: Receiver) -> None:
    outbox.enqueue(sample_notification("info", START))
    [delivery] = outbox.deliver_due()
    assert delivery.outcome == "skipped" and "info notifications are not sent" in delivery.detail
    assert receiver.requests == []
    assert outbox.deliveries() == [] and outbox.deliveries(("skipped",)) == [delivery]


def test_resolve_without_a_trigger_there_is_skipped(outbox: Outbox, receiver: Receiver) -> None:
    outbox.enqueue(notification("inc-quiet", 1, START, "info"))
    outbox.enqueue(notification("inc-quiet", 2, START, "resolved"))
    finished = outbox.deliver_due()
    assert [d.outcome for d in finished] == ["skipped", "skipped"]
    assert "was never triggered in PagerDuty" in finished[1].detail
    assert receiver.requests == []


def test_a_rejected_trigger_is_dead_and_its_resolve_is_skipped(outbox: Outbox, receiver: Receiver) -> None:
    receiver.answer(
        400,
        {"Content-Type": "application/json"},
        b'{"status":"invalid event","message":"Event object is invalid"}',
    )
    outbox.enqueue(notification("inc-bad", 1, START, "page"))
    outbox.enqueue(notification("inc-bad", 2, START, "resolved"))
    dead, skipped = outbox.deliver_due()
    assert dead.outcome == "dead" and dead.status == 400 and "Event object is invalid" in dead.detail
    assert skipped.outcome == "skipped"
    assert len(receiver.requests) == 1


def test_a_digest_triggers_each_paged_incident(outbox: Outbox, receiver: Receiver) -> None:
    digest = sample_digest(START, count=6)  # odd-numbered entries paged
    outbox.enqueue(digest)
    [delivery] = outbox.deliver_due()
    assert delivery.outcome == "sent"
    sent = events(receiver)
    paged = [d["id"] for d in digest.digest if d["paged"]]
    assert [e["dedup_key"] for e in sent] == paged and len(paged) == 3
    assert {e["event_action"] for e in sent} == {"trigger"}


def test_summary_is_capped_at_1024_characters() -> None:
    n = replace(sample_notification("page", START), title="x" * 5000)
    plan = pagerduty.plan(n, ROUTING_KEY, frozenset())
    assert len(plan.events[0]["payload"]["summary"]) == pagerduty.MAX_SUMMARY


@pytest.mark.parametrize(
    ("codes", "instances", "trigger", "expected"),
    [
        (["repairs_disabled"], 1, "health", "error"),
        (["repairs_disabled"], 3, "health", "critical"),
        (["zone_concentrated"], 1, "health", "critical"),
        (["platform_initiated"], 1, "health", "critical"),
        (["autoscale_flapping"], 1, "flapping", "warning"),
    ],
)
def test_severity_mapping(codes: list[str], instances: int, trigger: str, expected: str) -> None:
    assert pagerduty.severity(codes, instances, trigger) == expected
