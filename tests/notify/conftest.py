"""Fixtures for notification tests: virtual time, a SQLite store, real HTTP receivers."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.azurite import AZURITE_TABLE, MISSING, azurite_tables
from vmss_responder.clock import VirtualClock
from vmss_responder.store import Store
from vmss_responder.store.sqlite import SqliteStore
from vmss_responder.store.tables import TableStore

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


@pytest.fixture(scope="session")
def azurite_url() -> Iterator[str]:
    """A Table Storage URL on an in-memory Azurite shared by this package's tests."""
    if not AZURITE_TABLE.exists():
        pytest.fail(MISSING, pytrace=False)  # fail, never skip: the outbox must run on Tables too
    with azurite_tables() as conn:
        yield "tables:" + conn


BACKENDS = ["sqlite", pytest.param("tables", marks=pytest.mark.azurite)]


@pytest.fixture(params=BACKENDS)
def store_pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    """Two stores on the same data, as two app instances have: separate SQLite connections to
    one file, or two Table Storage clients on one Azurite account (tables of their own)."""
    if request.param == "sqlite":
        path = tmp_path / "shared.sqlite"
        pair: tuple[Store, Store] = (SqliteStore(path), SqliteStore(path))
    else:
        url, prefix = request.getfixturevalue("azurite_url"), "t" + uuid.uuid4().hex[:12]
        pair = (TableStore.from_url(url, prefix=prefix), TableStore.from_url(url, prefix=prefix))
    yield pair
    for s in pair:
        s.close()


@pytest.fixture
def any_store(store_pair: tuple[Store, Store]) -> Store:
    """The outbox's store on every backend (SQLite and Table Storage on Azurite)."""
    return store_pair[0]
