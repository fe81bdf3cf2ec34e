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


def increment(store: Store, table: str, times: int) -> int:
    """Read-modify-replace ``times`` increments of the counter, retrying on conflict.

    Returns how many conflicts it met (evidence that the racers really overlapped).
    """
    conflicts = 0
    for _ in range(times):
        while True:
            record = store.get(table, *COUNTER)
            assert record is not None
            try:
                store.replace(table, *COUNTER, {"n": record.value["n"] + 1}, record.etag)
                break
            except ConflictError:
                conflicts += 1
    return conflicts


def in_process(job: str, url: str, table: str, arg: Any, barrier: Any, results: Any) -> None:
    """Entry point of a spawned process: open the store, wait for the others, run ``job``."""
    try:
        store = open_store(url)
        try:
            barrier.wait(timeout=60)
            if job == "claim":
                who = f"pid{os.getpid()}"
                results.put(("ok", (who, claim(store, table, arg, who))))
            else:
                results.put(("ok", increment(store, table, arg)))
        finally:
            store.close()
    except BaseException as exc:  # reported to the parent, which fails the test with it
        results.put(("error", f"{type(exc).__name__}: {exc}"))
