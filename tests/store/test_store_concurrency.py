"""Races on one key: threads sharing a store, and spawned processes each opening their own.

Insert-if-absent must have exactly one winner; read-modify-replace with retry on conflict
must lose no update. Both hold on every backend, across threads and across processes.
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.store.racers import COUNTER, claim, in_process, increment, replace_after_all_read
from vmss_responder.store import Store

THREADS = 8
PROCESSES = 4
ROUNDS = 10
INCREMENTS = 12


def test_threads_racing_insert_have_one_winner(store: Store, table: str) -> None:
    barrier = threading.Barrier(THREADS)

    def racer(who: str, key: str) -> str | None:
        barrier.wait(timeout=30)
        return claim(store, table, key, who)

    with ThreadPoolExecutor(THREADS) as pool:
        for round_ in range(ROUNDS):
            key = f"k{round_}"
            who = [f"thread{i}" for i in range(THREADS)]
            etags = list(pool.map(racer, who, [key] * THREADS))
            winners = [(w, e) for w, e in zip(who, etags, strict=True) if e is not None]
            assert len(winners) == 1, winners
            (winner, etag), stored = winners[0], store.get(table, "race", key)
            assert (stored.value, stored.etag) == ({"owner": winner}, etag)


def test_threads_incrementing_lose_no_update(store: Store, table: str) -> None:
    store.insert(table, *COUNTER, {"n": 0})
    barrier = threading.Barrier(THREADS)

    def racer(_: int) -> int:
        barrier.wait(timeout=30)
        return increment(store, table, INCREMENTS)

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(racer, range(THREADS)))
    assert store.get(table, *COUNTER).value == {"n": THREADS * INCREMENTS}


def test_threads_replacing_one_version_have_one_winner(store: Store, table: str) -> None:
    """The lost-update race made certain: every racer holds the same ETag when it writes."""
    store.insert(table, *COUNTER, {"n": 0})
    barrier = threading.Barrier(THREADS)
    who = [f"thread{i}" for i in range(THREADS)]
    with ThreadPoolExecutor(THREADS) as pool:
        won = list(pool.map(lambda w: replace_after_all_read(store, table, w, barrier), who))
    assert won.count(True) == 1
    assert store.get(table, *COUNTER).value == {"n": 1, "by": who[won.index(True)]}


def _run_processes(job: str, url: str, table: str, arg: Any) -> list[Any]:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(PROCESSES), ctx.Queue()
    procs = [
        ctx.Process(target=in_process, args=(job, url, table, arg, barrier, results))
        for _ in range(PROCESSES)
    ]
    for proc in procs:
        proc.start()
    try:
        outcomes = [results.get(timeout=120) for _ in procs]
    finally:
        for proc in procs:
            proc.join(timeout=30)
    errors = [detail for status, detail in outcomes if status == "error"]
    assert not errors, errors
    return [detail for _, detail in outcomes]


def test_processes_racing_insert_have_one_winner(shared_url: str, shared_store: Store, table: str) -> None:
    outcomes = _run_processes("claim", shared_url, table, "key")
    winners = [(who, etag) for who, etag in outcomes if etag is not None]
    assert len(winners) == 1, outcomes
    stored = shared_store.get(table, "race", "key")
    assert (stored.value, stored.etag) == ({"owner": winners[0][0]}, winners[0][1])


def test_processes_replacing_one_version_have_one_winner(
    shared_url: str, shared_store: Store, table: str
) -> None:
    shared_store.insert(table, *COUNTER, {"n": 0})
    outcomes = _run_processes("stale", shared_url, table, None)
    winners = [who for who, won in outcomes if won]
    assert len(winners) == 1, outcomes
    assert shared_store.get(table, *COUNTER).value == {"n": 1, "by": winners[0]}


def test_processes_incrementing_lose_no_update(shared_url: str, shared_store: Store, table: str) -> None:
    shared_store.insert(table, *COUNTER, {"n": 0})
    _run_processes("increment", shared_url, table, INCREMENTS)
    assert shared_store.get(table, *COUNTER).value == {"n": PROCESSES * INCREMENTS}
