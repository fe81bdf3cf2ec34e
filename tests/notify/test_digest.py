"""Storm digests over a real HTTP receiver: many incidents in minutes become one message."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import httpx

from vmss_responder.clock import VirtualClock
from vmss_responder.notify.outbox import Outbox
from vmss_responder.notify.senders import build_senders
from vmss_responder.store.sqlite import SqliteStore

from .helpers import ROUTING_KEY, START, advance, notification, settings_for
from .receiver import Receiver


def webhook_box(store: SqliteStore, clock: VirtualClock, receiver: Receiver, client: httpx.Client) -> Outbox:
    s = settings_for(webhookUrl=receiver.url, digestThreshold=5, digestWindow="PT5M")
    return Outbox(store, s, clock, build_senders(s, store, clock, client))


def bodies(receiver: Receiver) -> list[dict]:
    return [json.loads(r.body) for r in receiver.accepted()]


def storm(box: Outbox, clock: VirtualClock, incidents: int, start: int = 0, severity: str = "page") -> None:
    """Incidents opening 20 s apart, each flushed at once as the engine does after an evaluation."""
    for i in range(start, start + incidents):
        box.enqueue(notification(f"inc-{i}", 1, clock.now(), severity))  # type: ignore[arg-type]
        box.deliver_due()
        clock.advance(20)


def test_a_storm_sends_four_incidents_then_one_digest_of_the_rest(
    store: SqliteStore, clock: VirtualClock, receiver: Receiver, client: httpx.Client
) -> None:
    box = webhook_box(store, clock, receiver, client)
    storm(box, clock, 10)
    assert [b["incident"]["id"] for b in bodies(receiver)] == ["inc-0", "inc-1", "inc-2", "inc-3"]
    assert box.pending_count() == 6  # held, not lost

    box.enqueue(notification("inc-1", 2, clock.now(), "resolved", "closed"))  # an announced thread goes on
    box.deliver_due()
    assert (
        bodies(receiver)[-1]["incident"]["id"] == "inc-1" and bodies(receiver)[-1]["severity"] == "resolved"
    )

    advance(clock, 5)
    box.deliver_due()
    digest = bodies(receiver)[-1]
    assert digest["reason"] == "digest" and digest["severity"] == "page"
    assert sorted(d["incidentId"] for d in digest["digest"]) == [f"inc-{i}" for i in range(4, 10)]
    assert box.pending_count() == 0
    folded = [d for d in box.deliveries(("skipped",)) if d.detail.startswith("folded into digest-webhook-")]
    assert sorted(d.incident_id for d in folded) == [f"inc-{i}" for i in range(4, 10)]
    box.deliver_due()
    assert len(receiver.accepted()) == 6  # nothing twice


def test_while_the_storm_goes_on_one_digest_per_window_and_a_lone_incident_goes_alone(
    store: SqliteStore, clock: VirtualClock, receiver: Receiver, client: httpx.Client
) -> None:
    box = webhook_box(store, clock, receiver, client)
    storm(box, clock, 6)
    advance(clock, 5)
    box.deliver_due()
    assert [b["reason"] for b in bodies(receiver)][-1] == "digest"

    storm(box, clock, 3, start=6)  # more within the window after the digest: held at once
    assert len(receiver.accepted()) == 5
    advance(clock, 5)
    box.deliver_due()
    assert sorted(d["incidentId"] for d in bodies(receiver)[-1]["digest"]) == ["inc-6", "inc-7", "inc-8"]

    advance(clock, 4)
    storm(box, clock, 1, start=9)  # still within a window of the last digest: held ...
    assert len(receiver.accepted()) == 6
    advance(clock, 5)
    box.deliver_due()
    last = bodies(receiver)[-1]  # ... but alone: sent as itself, not a digest of one
    assert last["reason"] != "digest" and last["incident"]["id"] == "inc-9"


def test_a_failed_digest_is_retried_and_sent_once(
    store: SqliteStore, clock: VirtualClock, receiver: Receiver, client: httpx.Client
) -> None:
    box = webhook_box(store, clock, receiver, client)
    storm(box, clock, 7)
    advance(clock, 5)
    receiver.answer(503)
    box.deliver_due()
    assert box.pending_count() == 1  # the digest itself, folding the three held records, waits for its retry
    receiver.answer(202)
    for _ in range(10):
        advance(clock, 1)
        box.deliver_due()
    digests = [b for b in bodies(receiver) if b["reason"] == "digest"]
    assert len(digests) == 1 and len(digests[0]["digest"]) == 3
    assert box.pending_count() == 0


def test_pagerduty_keeps_one_event_per_incident(
    store: SqliteStore, clock: VirtualClock, receivers: Callable[[], Receiver], client: httpx.Client
) -> None:
    """Each page needs its own dedup_key so it can be resolved; PagerDuty groups alerts itself."""
    pd = receivers()
    s = settings_for(pagerdutyRoutingKey=ROUTING_KEY, pagerdutyUrl=pd.url)
    box = Outbox(store, s, clock, build_senders(s, store, clock, client))
    storm(box, clock, 8)
    keys = [json.loads(r.body)["dedup_key"] for r in pd.accepted()]
    assert keys == [f"inc-{i}" for i in range(8)]
    assert clock.now() - START < timedelta(minutes=5)
