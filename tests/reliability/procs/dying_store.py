"""A SQLite store whose process "dies" at a chosen write: the one-process form of a SIGKILL.

The multi-process tests kill real processes at aimed moments; when one of those moments shows a
bug, the minimal test pins it down in-process: the write the dead process never made raises
:class:`Killed` (a ``BaseException``, so no ``except Exception`` in the product survives it, as
nothing survives a SIGKILL), and a fresh Responder or Outbox on the same file plays the restart.
"""

from __future__ import annotations

from typing import Any

from vmss_responder.store.sqlite import SqliteStore


class Killed(BaseException):
    """The process ended here."""


class DyingStore(SqliteStore):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.dies_at: tuple[str, str] | None = None  # (operation, table) of the write that never happens

    def _write(self, operation: str, table: str) -> None:
        if self.dies_at == (operation, table):
            self.dies_at = None
            raise Killed(f"killed before {operation} on {table}")

    def insert(self, table: str, partition: str, row: str, value: dict[str, Any]) -> str | None:
        self._write("insert", table)
        return super().insert(table, partition, row, value)

    def replace(self, table: str, partition: str, row: str, value: dict[str, Any], etag: str) -> str:
        self._write("replace", table)
        return super().replace(table, partition, row, value, etag)

    def upsert(self, table: str, partition: str, row: str, value: dict[str, Any]) -> str:
        self._write("upsert", table)
        return super().upsert(table, partition, row, value)

    def delete(self, table: str, partition: str, row: str, etag: str | None = None) -> bool:
        self._write("delete", table)
        return super().delete(table, partition, row, etag)
