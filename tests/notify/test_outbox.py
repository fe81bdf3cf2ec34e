"""The outbox over real HTTP receivers and a real SQLite store, in virtual time."""

from __future__ import annotations

import json
import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from email.utils import format_datetime

import httpx
import pytest

from vmss_responder.clock import VirtualClock
from vmss_responder.config import Settings
from vmss_responder.notify import outbox as outbox_module
from vmss_responder.notify.model import Notification
from vmss_responder.notify.outbox import Outbox
from vmss_responder.notify.senders import PD_TRIGGERS_TABLE, Redactor, Sender, SendResult, build_senders
from vmss_responder.store import Store
from vmss_responder.store.sqlite import SqliteStore

from .helpers import ROUTING_KEY, SECRET, START, TEAMS_SIG, advance, notification, settings_for, teams_url
from .receiver import Answer, Receiver


def webhook_outbox(
    store: Store, clock: VirtualClock, receiver: Receiver, client: httpx.Client, **settings: object
) -> Outbox:
    s = settings_for(webhookUrl=receiver.url, webhookSecret=SECRET, **settings)
    return Outbox(store, s, clock, build_senders(s, store, clock, client))


def delivered_ids(receiver: Receiver) -> list[str]:
    return [r.headers["X-VMSS-Responder-Delivery"] for r in receiver.accepted()]


def test_enqueue_is_idempotent(
    any_store: Store, clock: VirtualClock, receiver: Receiver, client: httpx.Client
) -> None:
    box = webhook_outbox(any_store, clock, receiver, client)
    n = notification("inc-a", 1, START)
    assert box.enqueue(n) == ["webhook"]
    assert box.enqueue(n) == []
    assert box.pending_count() == 1


def test_one_record_per_configured_channel(
    store: SqliteStore, clock: VirtualClock, receivers: Callable[[], Receiver], client: httpx.Client
) -> None:
    teams, hook, pd = receivers(), receivers(), receivers()
    s = settings_for(
        teamsWebhookUrl=teams_url(teams),
        webhookUrl=hook.url,
        pagerdutyRoutingKey=ROUTING_KEY,
        pagerdutyUrl=pd.url,
    )
    box = Outbox(store, s, clock, build_senders(s, store, clock, client))
    assert box.enqueue(notification("inc-a", 1, START, "page")) == ["teams", "webhook", "pagerduty"]
    finished = box.deliver_due()
    assert sorted((d.channel, d.outcome) for d in finished) == [
        ("pagerduty", "sent"),
        ("teams", "sent"),
        ("webhook", "sent"),
    ]
    body = json.loads(teams.accepted()[0].body)
    assert body["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert len(hook.accepted()) == len(pd.accepted()) == 1


def test_nothing_is_sent_twice_after_success(
    any_store: Store, clock: VirtualClock, receiver: Receiver, client: httpx.Client
) -> None:
    box = webhook_outbox(any_store, clock, receiver, client)
    n = notification("inc-a", 1, START)
    box.enqueue(n)
    assert [d.outcome for d in box.deliver_due()] == ["sent"]
    assert box.enqueue(n) == []  # the engine re-enqueues after a crash: already delivered
    advance(clock, 30)
    assert box.deliver_due() == []
    assert delivered_ids(receiver) == [n.id]
    assert box.pending_count() == 0
    [d] = box.deliveries()
    assert (d.channel, d.incident_id, d.seq, d.severity, d.at) == ("webhook", "inc-a", 1, "info", START)


def test_later_seq_waits_while_an_earlier_one_retries(
    any_store: Store, clock: VirtualClock, receiver: Receiver, client: httpx.Client
) -> None:
    box = webhook_outbox(any_store, clock, receiver, client)
    receiver.script(Answer(503))
    for seq in (1, 2, 3):
        box.enqueue(notification("inc-a", seq, START))
    assert box.deliver_due() == []  # seq 1 failed; 2 and 3 were not attempted
    assert len(receiver.requests) == 1
    assert [p.attempts for p in box.pending()] == [1, 0, 0]
    advance(clock, 1)
    assert [d.seq for d in box.deliver_due()] == [1, 2, 3]
    assert delivered_ids(receiver) == ["inc-a:1", "inc-a:2", "inc-a:3"]


def test_incidents_do_not_block_each_other_across_sweeps(
    store: SqliteStore, clock: VirtualClock, receiver: Receiver, client: httpx.Client
) -> None:
    box = webhook_outbox(store, clock, receiver, client)
    box.enqueue(notification("inc-a", 1, START))
    box.enqueue(notification("inc-b", 1, START + timedelta(seconds=1)))
    receiver.script(Answer(500))
    box.deliver_due()  # inc-a fails: the channel pauses for this sweep
    advance(clock, 0.5)
    receiver.script(Answer(500))
    box.deliver_due()  # inc-a is backing off; inc-b gets its turn (and fails)
    assert [(p.incident_id, p.attempts) for p in box.pending()] == [("inc-a", 1), ("inc-b", 1)]


def test_429_retry_after_sets_the_next_attempt(
    store: SqliteStore, clock: VirtualClock, receiver: Receiver, client: httpx.Client
) -> None:
    box = webhook_outbox(store, clock, receiver, client)
    receiver.script(Answer(429, {"Retry-After": "300"}))
    box.enqueue(notification("inc-a", 1, START))
    assert box.deliver_due() == []
    [p] = box.pending()
    assert p.next_attempt == START + timedelta(seconds=300)
    assert p.last_status == 429 and p.attempts == 1
    advance(clock, 4)
    assert box.deliver_due() == [] and len(receiver.requests) == 1  # still waiting
    advance(clock, 1)
    assert [d.outcome for d in box.deliver_due()] == ["sent"]


def test_retry_after_as_an_http_date(
    store: SqliteStore, clock: VirtualClock, receiver: Receiver, client: httpx.Client
) -> None:
    box = webhook_outbox(store, clock, receiver, client)
    receiver.script(Answer(503, {"Retry-After": format_datetime(START + timedelta(minutes=7), usegmt=True)}))
    box.enqueue(notification("inc-a", 1, START))
    box.deliver_due()
    assert box.pending()[0].next_attempt == START + timedelta(minutes=7)


def test_permanent_4xx_is_dead_with_the_reason_and_never_retried(
    store: SqliteStore, clock: VirtualClock, receiver: Receiver, client: httpx.Client
) -> None:
    box = webhook_outbox(store, clock, receiver, client)
    receiver.answer(404, body=b"no such hook")
    box.enqueue(notification("inc-a", 1, START))
    box.enqueue(notification("inc-a", 2, START))
    finished = box.deliver_due()
    assert [(d.seq, d.outcome, d.status) for d in finished] == [(1, "dead", 404), (2, "dead", 404)]
    assert finished[0].detail == "HTTP 404: no such hook"
    for _ in range(10):
        advance(clock, 10)
        box.deliver_due()
    assert len(receiver.requests) == 2 and box.pending_count() == 0
    assert box.deliveries() == [] and len(box.deliveries(("dead",))) == 2


def test_5xx_backs_off_exponentially_then_gives_up(
    store: SqliteStore, clock: VirtualClock, receiver: Receiver, client: httpx.Client
) -> None:
    box = webhook_outbox(store, clock, receiver, client, notifyMaxAttempts=5, notifyBackoffMax="PT5M")
    receiver.answer(500)
    box.enqueue(notification("inc-a", 1, START))
    waits = []
    finished = []
    for _ in range(60):  # an hour of one-minute sweeps
        before = clock.now()
        finished += box.deliver_due()
        pending = box.pending()
        if pending and pending[0].attempts > len(waits):
            waits.append(pending[0].next_attempt - before)
        advance(clock, 1)
    assert waits == [timedelta(minutes=m) for m in (1, 2, 4, 5)]  # capped by notifyBackoffMax
    [dead] = finished
    assert dead.outcome == "dead" and dead.attempts == 5
    assert dead.detail == "gave up after 5 attempts; last: HTTP 500"
    assert len(receiver.requests) == 5


def test_a_timeout_is_retried(store: SqliteStore, clock: VirtualClock, receiver: Receiver) -> None:
    s = settings_for(webhookUrl=receiver.url)
    with httpx.Client(timeout=httpx.Timeout(0.2)) as quick:
        box = Outbox(store, s, clock, build_senders(s, store, clock, quick))
        receiver.script(Answer(202, delay=1.0))
        box.enqueue(notification("inc-a", 1, START))
        assert box.deliver_due() == []
        [p] = box.pending()
        assert p.last_error == "timeout: ReadTimeout" and p.last_status is None


def test_without_channels_notifications_go_to_the_log(
    store: SqliteStore, clock: VirtualClock, caplog: pytest.LogCaptureFixture
) -> None:
    box = Outbox(store, Settings(), clock)
    n = notification("inc-a", 1, START, "page")
    assert box.enqueue(n) == ["log"]
    with caplog.at_level(logging.INFO, logger="vmss_responder.notify"):
        [d] = box.deliver_due()
    assert d.channel == "log" and d.outcome == "sent"
    [line] = [r for r in caplog.records if r.getMessage().startswith(f"notification {n.id}")]
    assert line.levelno == logging.WARNING
    assert "[page/escalated]" in line.getMessage()
    assert line.notification["findings"] == ["repairs_disabled"]  # type: ignore[attr-defined]


def test_secrets_never_reach_stored_records_or_logs(
    store: SqliteStore,
    clock: VirtualClock,
    receivers: Callable[[], Receiver],
    client: httpx.Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    teams, hook, pd = receivers(), receivers(), receivers()
    url = teams_url(teams)
    s = settings_for(
        teamsWebhookUrl=url, webhookUrl=hook.url, webhookSecret=SECRET, pagerdutyRoutingKey=ROUTING_KEY,
        pagerdutyUrl=pd.url,
    )  # fmt: skip
    box = Outbox(store, s, clock, build_senders(s, store, clock, client))
    # Receivers that echo the credentials back in their error bodies, then one that is down.
    teams.answer(400, body=f"bad request to {url}".encode())
    pd.answer(400, body=f'{{"errors":["routing_key {ROUTING_KEY} is invalid"]}}'.encode())
    hook.answer(500, body=f"secret was {SECRET}".encode())
    with caplog.at_level(logging.DEBUG):
        box.enqueue(notification("inc-a", 1, START, "page"))
        box.deliver_due()
        hook.down()
        advance(clock, 5)
        box.deliver_due()
    stored = json.dumps(
        [r.value for table in ("outbox", "outboxdone", PD_TRIGGERS_TABLE) for p in store.partitions(table)
         for r in store.query(table, p)]
    )  # fmt: skip
    logged = caplog.text + "".join(str(getattr(r, "notification", "")) for r in caplog.records)
    for secret in (SECRET, ROUTING_KEY, TEAMS_SIG.split("=", 1)[1], url):
        assert secret not in stored
        assert secret not in logged
    assert "[REDACTED]" in stored  # the errors were kept, masked
    assert "connection failed: ConnectError" in stored


def test_two_app_instances_never_send_the_same_record(
    store_pair: tuple[Store, Store], clock: VirtualClock, receiver: Receiver
) -> None:
    """Two outboxes on separate connections to one database, sweeping at the same time."""
    s = settings_for(webhookUrl=receiver.url, digestThreshold=100)  # no digest: each record on its own
    receiver.answer(202, delay=0.02)
    clients = [httpx.Client(timeout=5.0) for _ in store_pair]
    boxes = [Outbox(st, s, clock, build_senders(s, st, clock, c)) for st, c in zip(store_pair, clients)]
    expected = [
        notification(f"inc-{i}", seq, START + timedelta(seconds=i)) for i in range(6) for seq in (1, 2, 3)
    ]
    for n in expected:
        boxes[0].enqueue(n)
    try:
        for _ in range(10):
            threads = [threading.Thread(target=b.deliver_due) for b in boxes]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            if boxes[0].pending_count() == 0:
                break
            advance(clock, 1)
    finally:
        for c in clients:
            c.close()
    got = delivered_ids(receiver)
    assert sorted(got) == sorted(n.id for n in expected)  # each exactly once
    by_incident = defaultdict(list)
    for nid in got:
        incident, seq = nid.rsplit(":", 1)
        by_incident[incident].append(int(seq))
    assert all(seqs == [1, 2, 3] for seqs in by_incident.values())


class CrashAfterSend(BaseException):
    """The process dies right after the receiver accepted the request."""


class DyingSender:
    """A real webhook sender whose host crashes after the send, before the outbox records it."""

    def __init__(self, inner: Sender) -> None:
        self._inner = inner

    def send(self, notification: Notification) -> SendResult:
        self._inner.send(notification)
        raise CrashAfterSend


def test_a_crash_between_send_and_mark_resends_once_after_the_lease(
    any_store: Store, clock: VirtualClock, receiver: Receiver, client: httpx.Client
) -> None:
    s = settings_for(webhookUrl=receiver.url, leaseDuration="PT5M")
    real = build_senders(s, any_store, clock, client)
    dying = Outbox(any_store, s, clock, {"webhook": DyingSender(real["webhook"])})
    dying.enqueue(notification("inc-a", 1, START))
    with pytest.raises(CrashAfterSend):
        dying.deliver_due()
    survivor = Outbox(any_store, s, clock, real)
    assert survivor.deliver_due() == []  # the dead instance's lease still holds
    advance(clock, 5)
    assert [d.outcome for d in survivor.deliver_due()] == ["sent"]
    advance(clock, 60)
    assert survivor.deliver_due() == []
    assert delivered_ids(receiver) == ["inc-a:1", "inc-a:1"]  # at most one duplicate, same delivery id


def test_backoff_schedule() -> None:
    first, cap = timedelta(minutes=1), timedelta(minutes=10)
    assert [outbox_module.backoff(a, first, cap) for a in (1, 2, 3, 4, 5, 6, 48)] == [
        timedelta(minutes=m) for m in (1, 2, 4, 8, 10, 10, 10)
    ]


def test_redactor_masks_secrets_and_signature_parameters() -> None:
    redact = Redactor(["https://example.invalid/hook?sig=abc", "pd-key-123"])
    assert redact("POST https://example.invalid/hook?sig=abc failed") == "POST [REDACTED] failed"
    assert redact("routing key pd-key-123") == "routing key [REDACTED]"
    assert redact("other?sp=x&sig=zzz&code=yyy") == "other?sp=x&sig=[REDACTED]&code=[REDACTED]"


def test_the_outage_hour(
    any_store: Store, clock: VirtualClock, receivers: Callable[[], Receiver], client: httpx.Client
) -> None:
    """Receivers down for an hour of virtual time, sweep every minute: afterwards every notification
    arrives exactly once, per incident in seq order, within one backoff period of the recovery."""
    teams, hook = receivers(), receivers()
    s = settings_for(teamsWebhookUrl=teams_url(teams), webhookUrl=hook.url, webhookSecret=SECRET)
    box = Outbox(any_store, s, clock, build_senders(s, any_store, clock, client))
    # (minute, incident, seq, severity): what the engine decides during the outage.
    plan = [
        (0, "inc-a", 1, "info"), (3, "inc-b", 1, "info"), (10, "inc-a", 2, "page"), (18, "inc-c", 1, "page"),
        (25, "inc-b", 2, "page"), (40, "inc-a", 3, "resolved"), (52, "inc-c", 2, "resolved"),
        (59, "inc-d", 1, "info"),
    ]  # fmt: skip
    teams.down()
    hook.down()
    expected = []
    for minute in range(60):
        for n in [notification(i, q, clock.now(), sev) for m, i, q, sev in plan if m == minute]:
            box.enqueue(n)
            expected.append(n.id)
        box.deliver_due()
        advance(clock, 1)
    assert teams.requests == hook.requests == [] and box.pending_count() == 2 * len(plan)
    teams.up()
    hook.up()
    recovered = clock.now()
    minutes = 0
    while box.pending_count() and minutes < 30:
        box.deliver_due()
        advance(clock, 1)
        minutes += 1
    assert box.pending_count() == 0
    assert minutes <= s.notify_backoff_max / timedelta(minutes=1) + 1
    got = delivered_ids(hook)
    assert sorted(got) == sorted(expected)  # exactly once each
    assert len(teams.accepted()) == len(expected)
    sent = box.deliveries()
    assert sorted(d.notification_id for d in sent if d.channel == "teams") == sorted(expected)
    for incident in {i for _, i, _, _ in plan}:
        for order in (
            [int(x.rsplit(":", 1)[1]) for x in got if x.startswith(incident + ":")],
            [d.seq for d in sent if d.channel == "teams" and d.incident_id == incident],
        ):
            assert order == sorted(order)
    assert len(sent) == 2 * len(plan) and all(d.at >= recovered for d in sent)
    attempts = {(d.channel, d.notification_id): d.attempts for d in sent}
    assert attempts["webhook", "inc-a:1"] > 5  # retried through the outage
    assert attempts["webhook", "inc-a:2"] == 1  # waited behind seq 1 without burning attempts


def test_delivery_history_is_pruned_after_its_retention(
    store: SqliteStore, clock: VirtualClock, receiver: Receiver, client: httpx.Client
) -> None:
    box = webhook_outbox(store, clock, receiver, client, notifyHistoryRetention="P7D")
    box.enqueue(notification("inc-old", 1, START))
    box.deliver_due()
    advance(clock, 6 * 24 * 60)
    box.enqueue(notification("inc-new", 1, clock.now()))
    box.deliver_due()
    assert box.prune_history(clock.now()) == 0  # both inside seven days
    advance(clock, 2 * 24 * 60)
    assert box.prune_history(clock.now()) == 1
    assert [d.incident_id for d in box.deliveries()] == ["inc-new"]
    box.enqueue(notification("inc-new", 2, clock.now()))
    box.deliver_due()
    assert box.prune_history(clock.now()) == 0  # at most one scan an hour
