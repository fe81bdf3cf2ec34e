"""Fixtures for notification tests: virtual time, a SQLite store, real HTTP receivers."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from vmss_responder.clock import VirtualClock
from vmss_responder.store.sqlite import SqliteStore

from .helpers import START
from .receiver import Receiver


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


@pytest.fixture
def store() -> Iterator[SqliteStore]:
    s = SqliteStore(":memory:")
    yield s
    s.close()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=httpx.Timeout(5.0), follow_redirects=False) as c:
        yield c


@pytest.fixture
def receivers() -> Iterator[Callable[[], Receiver]]:
    """Start as many receivers as a test needs; all are stopped afterwards."""
    started: list[Receiver] = []

    def start() -> Receiver:
        r = Receiver()
        started.append(r)
        return r

    yield start
    for r in started:
        r.close()


@pytest.fixture
def receiver(receivers: Callable[[], Receiver]) -> Receiver:
    return receivers()
