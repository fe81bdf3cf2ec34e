"""Fixtures of the multi-process reliability tests: Azurite, a webhook receiver, figures output."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.azurite import AZURITE_TABLE, MISSING, azurite_tables
from tests.reliability.procs.receiver import WebhookReceiver

FIGURES_ENV = "RELIABILITY_FIGURES_DIR"


@pytest.fixture(scope="session")
def azurite_url() -> Iterator[str]:
    """Store URL of an in-memory Azurite Table service for the session (the production backend)."""
    if not AZURITE_TABLE.exists():
        pytest.fail(MISSING, pytrace=False)  # never skip: CI must run these against Table Storage
    with azurite_tables() as conn:
        yield "tables:" + conn


@pytest.fixture
def empty_store(azurite_url: str) -> str:
    """The session's Azurite with no tables: every run starts from an empty store."""
    from azure.data.tables import TableServiceClient

    with TableServiceClient.from_connection_string(azurite_url.removeprefix("tables:")) as service:
        for table in list(service.list_tables()):
            service.delete_table(table.name)
    return azurite_url


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hook = WebhookReceiver(secret="reliability-webhook-secret")
    yield hook
    hook.close()


@pytest.fixture(scope="session")
def record_figures() -> Callable[[str, Any], None]:
    """Write a test's figures to ``$RELIABILITY_FIGURES_DIR/<name>.json`` (for docs/reliability.md)."""

    def write(name: str, figures: Any) -> None:
        folder = os.environ.get(FIGURES_ENV)
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            (Path(folder) / f"{name}.json").write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")

    return write
