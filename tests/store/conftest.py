"""Fixtures running every store test against each backend: SQLite and Table Storage on Azurite."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.azurite import AZURITE_TABLE, MISSING, azurite_tables
from vmss_responder.store import Store, open_store


@pytest.fixture(scope="session")
def azurite() -> Iterator[str]:
    """Connection string of an in-memory Azurite Table service shared by the session."""
    if not AZURITE_TABLE.exists():
        # Fail, never skip: CI must exercise the Table Storage backend.
        pytest.fail(MISSING, pytrace=False)
    with azurite_tables() as conn:
        yield conn


TABLES = pytest.param("tables", marks=pytest.mark.azurite)


def _url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite-file":
        return f"sqlite://{tmp_path_factory.mktemp('store')}/store.sqlite"
    if request.param == "sqlite-memory":
        return "sqlite://:memory:"
    return "tables:" + request.getfixturevalue("azurite")


@pytest.fixture(params=["sqlite-file", "sqlite-memory", TABLES])
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Every backend: a fresh SQLite file, a private in-memory SQLite, the session's Azurite."""
    return _url(request, tmp_path_factory)


@pytest.fixture(params=["sqlite-file", TABLES])
def shared_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A URL several processes can open onto the same data."""
    return _url(request, tmp_path_factory)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    yield opened
    opened.close()


@pytest.fixture
def shared_store(shared_url: str) -> Iterator[Store]:
    """The parent's view of the data that spawned processes write through ``shared_url``."""
    opened = open_store(shared_url)
    yield opened
    opened.close()


@pytest.fixture
def table() -> str:
    """A table name of its own per test (Azurite lives for the whole session)."""
    return "t" + uuid.uuid4().hex[:16]
