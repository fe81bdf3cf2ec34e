"""SQLite backend: the embedded default (local runs, replay, tests, single-host deployments).

One physical table holds every logical table, keyed ``(tbl, part, row)``. Each write draws a
fresh random ETag, so an ETag never comes back after delete + re-insert (a version counter
would, and a stale writer would then win).

Concurrency: one connection per store behind a lock serves any number of threads. Several
processes may open the same file: every conditional write is a single statement (atomic under
SQLite's write lock) or a ``BEGIN IMMEDIATE`` transaction, and file databases run in WAL mode
so readers do not block the writer (``synchronous=NORMAL``, see below). Lock waits use SQLite's busy timeout. Open the store in
each process (after spawn/fork), never share one across a fork.

Table names are folded to lower case because Azure table names are case-insensitive.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .base import ConflictError, Record, Store, StoreError, check_key, check_table, encode

_PAGE = 256
_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    tbl   TEXT NOT NULL,
    part  TEXT NOT NULL,
    row   TEXT NOT NULL,
    value TEXT NOT NULL,
    etag  TEXT NOT NULL,
    PRIMARY KEY (tbl, part, row)
) WITHOUT ROWID
"""


def _new_etag() -> str:
    return f'W/"{uuid.uuid4().hex}"'


def _record(part: str, row: str, value: str, etag: str) -> Record:
    return Record(part, row, json.loads(value), etag)


class SqliteStore(Store):
    """Store on a SQLite file (or ``":memory:"``, private to this object)."""

    def __init__(self, path: str | os.PathLike[str] = ":memory:", *, busy_timeout: float = 30.0) -> None:
        self._path = os.fspath(path)
        self._lock = threading.Lock()
        try:
            if self._path != ":memory:":
                Path(self._path).parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self._path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
            if self._path != ":memory:":
                self._conn.execute("PRAGMA journal_mode=WAL")
                # WAL + NORMAL: a commit survives the app being killed (what the sweep relies on); only an
                # OS crash or power loss can drop the last commits. FULL would fsync every statement,
                # which made a storm eight times slower. Production runs on Table Storage.
                self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open sqlite store {self._path!r}: {exc}") from exc

    def __repr__(self) -> str:
        return f"SqliteStore({self._path!r})"

    def _run(self, sql: str, args: tuple[Any, ...]) -> sqlite3.Cursor:
        try:
            with self._lock:
                return self._conn.execute(sql, args)
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite: {exc}") from exc

    def _fetch(self, sql: str, args: tuple[Any, ...]) -> list[Any]:
        try:
            with self._lock:
                return self._conn.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite: {exc}") from exc

    def insert(self, table: str, partition: str, row: str, value: dict[str, Any]) -> str | None:
        check_table(table)
        check_key(partition, row)
        etag = _new_etag()
        cur = self._run(
            "INSERT INTO records VALUES (?, ?, ?, ?, ?) ON CONFLICT (tbl, part, row) DO NOTHING",
            (table.lower(), partition, row, encode(value), etag),
        )
        return etag if cur.rowcount == 1 else None

    def get(self, table: str, partition: str, row: str) -> Record | None:
        check_table(table)
        check_key(partition, row)
        rows = self._fetch(
            "SELECT value, etag FROM records WHERE tbl = ? AND part = ? AND row = ?",
            (table.lower(), partition, row),
        )
        return _record(partition, row, *rows[0]) if rows else None

    def replace(self, table: str, partition: str, row: str, value: dict[str, Any], etag: str) -> str:
        check_table(table)
        check_key(partition, row)
        new = _new_etag()
        cur = self._run(
            "UPDATE records SET value = ?, etag = ? WHERE tbl = ? AND part = ? AND row = ? AND etag = ?",
            (encode(value), new, table.lower(), partition, row, etag),
        )
        if cur.rowcount != 1:
            raise ConflictError(f"{table}/{partition}/{row} changed or vanished")
        return new

    def upsert(self, table: str, partition: str, row: str, value: dict[str, Any]) -> str:
        check_table(table)
        check_key(partition, row)
        etag = _new_etag()
        self._run(
            "INSERT INTO records VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (tbl, part, row) DO UPDATE SET value = excluded.value, etag = excluded.etag",
            (table.lower(), partition, row, encode(value), etag),
        )
        return etag

    def delete(self, table: str, partition: str, row: str, etag: str | None = None) -> bool:
        check_table(table)
        check_key(partition, row)
        key = (table.lower(), partition, row)
        where = "WHERE tbl = ? AND part = ? AND row = ?"
        if etag is None:
            return self._run(f"DELETE FROM records {where}", key).rowcount == 1
        # Telling "absent" (False) from "changed" (ConflictError) takes a read and a write that
        # no other process may interleave: hold the write lock for both.
        try:
            with self._lock:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    found = self._conn.execute(f"SELECT etag FROM records {where}", key).fetchone()
                    if found is not None and found[0] == etag:
                        self._conn.execute(f"DELETE FROM records {where}", key)
                finally:
                    self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite: {exc}") from exc
        if found is None:
            return False
        if found[0] != etag:
            raise ConflictError(f"{table}/{partition}/{row} changed")
        return True

    def query(self, table: str, partition: str, prefix: str = "") -> Iterator[Record]:
        check_table(table)
        check_key(partition, prefix or partition)  # an empty prefix is valid
        return self._pages(table.lower(), partition, prefix)

    def _pages(self, table: str, partition: str, prefix: str) -> Iterator[Record]:
        # Keyset pages, so the lock is not held while the caller works on a record (the caller
        # may write to the store meanwhile). Like Table Storage pages, not a snapshot.
        after, op = prefix, ">="
        while True:
            rows = self._fetch(
                f"SELECT row, value, etag FROM records WHERE tbl = ? AND part = ? AND row {op} ?"
                " ORDER BY row LIMIT ?",
                (table, partition, after, _PAGE),
            )
            for row, value, etag in rows:
                if not row.startswith(prefix):
                    return
                yield _record(partition, row, value, etag)
            if len(rows) < _PAGE:
                return
            after, op = rows[-1][0], ">"

    def partitions(self, table: str) -> Iterator[str]:
        check_table(table)
        return self._partition_pages(table.lower())

    def _partition_pages(self, table: str) -> Iterator[str]:
        after, op = "", ">="
        while True:
            rows = self._fetch(
                f"SELECT DISTINCT part FROM records WHERE tbl = ? AND part {op} ? ORDER BY part LIMIT ?",
                (table, after, _PAGE),
            )
            yield from (r[0] for r in rows)
            if len(rows) < _PAGE:
                return
            after, op = rows[-1][0], ">"

    def close(self) -> None:
        with self._lock:
            self._conn.close()
