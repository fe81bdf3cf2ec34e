"""The store interface: a few tables of JSON records with optimistic concurrency.

Everything the responder persists (accepted deliveries, dedup claims, per-scale-set engine
state, incidents, action claims, the notification outbox) is a JSON object under a
``(partition, row)`` key in a named table. The operations are the ones Azure Table Storage
offers natively, so the two backends behave the same:

- ``insert``: insert-if-absent (Tables: POST -> 409 if it exists). The basis of idempotency:
  of N concurrent inserts of one key exactly one returns True.
- ``replace``: If-Match on the ETag (Tables: 412 on mismatch) -> :class:`ConflictError`.
- ``upsert``: unconditional write (use only for records nobody races on).
- ``delete``: optional If-Match.
- ``query``: all records of a partition, optionally by row-key prefix, in row-key order.

Limits are enforced here, not left to the backend (Azurite accepts what Azure refuses):
keys <= 512 characters without ``/ \\ # ?`` or control characters; a record's JSON <= 900 KiB.
Expiry is handled by callers storing ``expiresAt`` and checking it (Tables has no TTL).
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

MAX_KEY = 512
MAX_RECORD_BYTES = 900 * 1024
_BAD_KEY = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")
TABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,62}$")


class StoreError(RuntimeError):
    """The store failed or was asked something it cannot do."""


class ConflictError(StoreError):
    """A conditional write lost: the record changed (ETag mismatch) or vanished."""


@dataclass(frozen=True, slots=True)
class Record:
    partition: str
    row: str
    value: dict[str, Any]
    etag: str


def check_key(partition: str, row: str) -> None:
    for name, key in (("partition", partition), ("row", row)):
        if not isinstance(key, str) or not key or len(key) > MAX_KEY or _BAD_KEY.search(key):
            raise StoreError(
                f"invalid {name} key {str(key)[:80]!r}: 1-{MAX_KEY} chars, no / \\ # ? or control characters"
            )


def check_table(table: str) -> None:
    if not TABLE_NAME.match(table):
        raise StoreError(f"invalid table name {table!r}")


def encode(value: dict[str, Any]) -> str:
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
    if len(text.encode()) > MAX_RECORD_BYTES:
        raise StoreError(f"record of {len(text.encode())} bytes exceeds the {MAX_RECORD_BYTES} byte limit")
    return text


def safe_key(text: str) -> str:
    """Turn any identity (resource IDs contain '/') into a valid key, reversibly readable."""
    return (
        text.replace("%", "%25")
        .replace("/", "%2F")
        .replace("\\", "%5C")
        .replace("#", "%23")
        .replace("?", "%3F")
    )


class Store(ABC):
    """A table-of-JSON-records store with conditional writes. Implementations must be thread-safe."""

    @abstractmethod
    def insert(self, table: str, partition: str, row: str, value: dict[str, Any]) -> str | None:
        """Insert if absent. Returns the new ETag, or None if the key already exists."""

    @abstractmethod
    def get(self, table: str, partition: str, row: str) -> Record | None: ...

    @abstractmethod
    def replace(self, table: str, partition: str, row: str, value: dict[str, Any], etag: str) -> str:
        """Replace only if the stored ETag equals ``etag``; returns the new ETag or raises ConflictError."""

    @abstractmethod
    def upsert(self, table: str, partition: str, row: str, value: dict[str, Any]) -> str: ...

    @abstractmethod
    def delete(self, table: str, partition: str, row: str, etag: str | None = None) -> bool:
        """Delete; with ``etag`` only if unchanged (ConflictError otherwise). False if absent."""

    @abstractmethod
    def query(self, table: str, partition: str, prefix: str = "") -> Iterator[Record]:
        """Records of one partition whose row key starts with ``prefix``, in row-key order."""

    @abstractmethod
    def partitions(self, table: str) -> Iterator[str]:
        """Distinct partition keys of a table (for sweeps and listings)."""

    def close(self) -> None:  # pragma: no cover - backends override when they hold resources
        return None
