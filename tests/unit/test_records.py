"""The inbox's delivery leases and tombstones, and the dedup claims, on the SQLite store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from vmss_responder.records import Inbox, Seen
from vmss_responder.store.sqlite import SqliteStore

NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)
PAYLOAD = {"data": {"essentials": {"alertId": "a-1"}}}


@pytest.fixture
def inbox(tmp_path: Path) -> Inbox:
    return Inbox(SqliteStore(str(tmp_path / "records.sqlite")))


def test_a_delivery_ingest_is_handling_is_left_alone_by_the_sweep_until_its_lease_runs_out(
    inbox: Inbox,
) -> None:
    did, fresh = inbox.accept("alert", PAYLOAD, NOW, "ingest-1", NOW + LEASE)
    assert fresh
    (rec,) = inbox.pending()
    assert not inbox.take(rec, "sweep-1", NOW + timedelta(minutes=1), NOW + timedelta(minutes=1) + LEASE)
    later = NOW + LEASE + timedelta(seconds=1)  # ingest crashed: its lease expired
    (rec,) = inbox.pending()
    assert inbox.take(rec, "sweep-1", later, later + LEASE)
    (rec,) = inbox.pending()
    assert rec.row == did and rec.value["owner"] == "sweep-1" and rec.value["attempts"] == 1


def test_only_one_of_two_sweeps_takes_a_delivery(inbox: Inbox) -> None:
    inbox.accept("alert", PAYLOAD, NOW, "ingest-1", NOW)
    (seen_by_a,) = inbox.pending()
    (seen_by_b,) = inbox.pending()
    assert inbox.take(seen_by_a, "sweep-a", NOW, NOW + LEASE)
    assert not inbox.take(seen_by_b, "sweep-b", NOW, NOW + LEASE)  # stale ETag


def test_a_failed_delivery_is_released_to_the_sweep_at_once(inbox: Inbox) -> None:
    did, _ = inbox.accept("alert", PAYLOAD, NOW, "ingest-1", NOW + LEASE)
    inbox.release(did, "someone-else", NOW)  # not the holder: no effect
    (rec,) = inbox.pending()
    assert not inbox.take(rec, "sweep-1", NOW + timedelta(seconds=1), NOW + LEASE)
    inbox.release(did, "ingest-1", NOW)
    (rec,) = inbox.pending()
    assert inbox.take(rec, "sweep-1", NOW + timedelta(seconds=1), NOW + LEASE)


def test_a_redelivery_is_recognized_while_pending_and_after_success_until_the_tombstone_expires(
    inbox: Inbox,
) -> None:
    did, _ = inbox.accept("alert", PAYLOAD, NOW, "ingest-1", NOW + LEASE)
    assert inbox.accept("alert", PAYLOAD, NOW, "ingest-2", NOW + LEASE) == (did, False)
    inbox.done(did, NOW)
    assert list(inbox.pending()) == []
    assert inbox.accept("alert", PAYLOAD, NOW + timedelta(days=2), "ingest-3", NOW + LEASE) == (did, False)
    assert list(inbox.pending()) == []
    assert inbox.expire(NOW + timedelta(days=Inbox.DONE_DAYS)) == 1
    assert inbox.accept("alert", PAYLOAD, NOW + timedelta(days=Inbox.DONE_DAYS), "ingest-4", NOW) == (
        did,
        True,
    )


def test_a_signal_is_claimed_once_except_by_its_own_delivery_or_after_expiry(tmp_path: Path) -> None:
    seen = Seen(SqliteStore(str(tmp_path / "seen.sqlite")))
    expires = NOW + timedelta(hours=48)
    assert seen.claim("sig", "delivery-1", NOW, expires)
    assert seen.claim("sig", "delivery-1", NOW, expires)  # a retry of the same delivery resumes its work
    assert not seen.claim("sig", "delivery-2", NOW, expires)
    assert seen.claim("sig", "delivery-2", expires + timedelta(seconds=1), expires + timedelta(hours=48))
