"""State storage behind one small interface: SQLite (embedded default) and Azure Table Storage."""

from .base import ConflictError, Record, Store, StoreError

__all__ = ["ConflictError", "Record", "Store", "StoreError", "open_store"]


def open_store(url: str) -> Store:
    """Open a store from a URL.

    - ``sqlite:///path/to/file.sqlite`` or ``sqlite://:memory:`` -> :class:`~.sqlite.SqliteStore`
    - ``tables:<connection string>`` or ``tables+mi:https://<account>.table.core.windows.net``
      -> :class:`~.tables.TableStore` (connection string, or managed identity)

    Backends are imported on first use so that importing the app stays cheap.
    """
    if url.startswith("sqlite://"):
        from .sqlite import SqliteStore

        path = url[len("sqlite://") :]
        if path.startswith("/") and path != "/:memory:":
            path = path[1:] if path.startswith("//") else path
        return SqliteStore(":memory:" if path in (":memory:", "/:memory:") else path)
    if url.startswith("tables:") or url.startswith("tables+mi:"):
        from .tables import TableStore

        return TableStore.from_url(url)
    raise StoreError(f"unknown store URL {url.split(':', 1)[0]!r}: use sqlite://… or tables:…")
