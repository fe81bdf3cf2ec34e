"""Work done by each racing thread or process in the concurrency tests.

Module-level functions so that ``multiprocessing`` (spawn) can import them in a fresh
interpreter; each process opens its own store from a URL, as separate Functions workers do.
"""

from __future__ import annotations

import os
from typing import Any

from vmss_responder.store import ConflictError, Store, open_store

COUNTER = ("counter", "c")


def claim(store: Store, table: str, key: str, who: str) -> str | None:
    """Insert-if-absent of ``key``; the ETag if this racer won."""
    return store.insert(table, "race", key, {"owner": who})


def replace_after_all_read(store: Store, table: str, who: str, barrier: Any) -> bool:
    """Read the counter, wait until every racer has read the same version, then replace it."""
    record = store.get(table, *COUNTER)
    assert record is not None
    barrier.wait(timeout=60)
    try:
        store.replace(table, *COUNTER, {"n": record.value["n"] + 1, "by": who}, record.etag)
    except ConflictError:
        return False
    return True


def increment(store: Store, table: str, times: int) -> None:
    """Read-modify-replace ``times`` increments of the counter, retrying on conflict."""
    for _ in range(times):
        while True:
            record = store.get(table, *COUNTER)
            assert record is not None
            try:
                store.replace(table, *COUNTER, {"n": record.value["n"] + 1}, record.etag)
                break
            except ConflictError:
                continue


def in_process(job: str, url: str, table: str, arg: Any, barrier: Any, results: Any) -> None:
    """Entry point of a spawned process: open the store, wait for the others, run ``job``."""
    try:
        store = open_store(url)
        try:
            who = f"pid{os.getpid()}"
            barrier.wait(timeout=60)
            if job == "claim":
                results.put(("ok", (who, claim(store, table, arg, who))))
            elif job == "stale":
                results.put(("ok", (who, replace_after_all_read(store, table, who, barrier))))
            else:
                increment(store, table, arg)
                results.put(("ok", None))
        finally:
            store.close()
    except BaseException as exc:  # reported to the parent, which fails the test with it
        results.put(("error", f"{type(exc).__name__}: {exc}"))
