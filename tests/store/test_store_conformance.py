"""The Store contract, run unchanged against every backend (see conftest: sqlite and tables)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from vmss_responder.store import ConflictError, Record, Store, StoreError
from vmss_responder.store.base import MAX_RECORD_BYTES, safe_key

P = "part"


def test_insert_then_get_returns_value_and_etag(store: Store, table: str) -> None:
    etag = store.insert(table, P, "r1", {"a": 1})
    assert isinstance(etag, str) and etag
    assert store.get(table, P, "r1") == Record(P, "r1", {"a": 1}, etag)


def test_insert_existing_key_returns_none_and_keeps_value(store: Store, table: str) -> None:
    etag = store.insert(table, P, "r1", {"first": True})
    assert store.insert(table, P, "r1", {"first": False}) is None
    assert store.get(table, P, "r1") == Record(P, "r1", {"first": True}, etag)


def test_get_absent_is_none(store: Store, table: str) -> None:
    assert store.get(table, P, "nothing") is None
    store.insert(table, P, "r1", {})
    assert store.get(table, P, "r2") is None
    assert store.get(table, "other", "r1") is None


def test_replace_with_current_etag(store: Store, table: str) -> None:
    old = store.insert(table, P, "r", {"n": 1})
    new = store.replace(table, P, "r", {"n": 2}, old)
    assert new != old
    assert store.get(table, P, "r") == Record(P, "r", {"n": 2}, new)


def test_replace_with_stale_etag_conflicts(store: Store, table: str) -> None:
    stale = store.insert(table, P, "r", {"n": 1})
    current = store.replace(table, P, "r", {"n": 2}, stale)
    with pytest.raises(ConflictError):
        store.replace(table, P, "r", {"n": 3}, stale)
    assert store.get(table, P, "r") == Record(P, "r", {"n": 2}, current)


def test_replace_missing_record_conflicts(store: Store, table: str) -> None:
    etag = store.insert(table, P, "r", {"n": 1})
    store.delete(table, P, "r")
    with pytest.raises(ConflictError):
        store.replace(table, P, "r", {"n": 2}, etag)
    assert store.get(table, P, "r") is None


def test_etag_of_a_deleted_record_does_not_match_its_successor(store: Store, table: str) -> None:
    old = store.insert(table, P, "r", {"n": 1})
    store.delete(table, P, "r")
    new = store.insert(table, P, "r", {"n": 1})
    assert new != old
    with pytest.raises(ConflictError):
        store.replace(table, P, "r", {"n": 2}, old)


@pytest.mark.parametrize("bogus", ["*", "", "garbage", 'W/"nope"'])
def test_etags_not_issued_by_the_store_never_match(store: Store, table: str, bogus: str) -> None:
    etag = store.insert(table, P, "r", {"n": 1})
    with pytest.raises(ConflictError):
        store.replace(table, P, "r", {"n": 2}, bogus)
    with pytest.raises(ConflictError):
        store.delete(table, P, "r", bogus)
    assert store.get(table, P, "r") == Record(P, "r", {"n": 1}, etag)
    assert store.delete(table, P, "absent", bogus) is False
    with pytest.raises(ConflictError):
        store.replace(table, P, "absent", {"n": 2}, bogus)


def test_upsert_creates_and_replaces_whole_value(store: Store, table: str) -> None:
    first = store.upsert(table, P, "r", {"keep": 1, "drop": "x" * 100_000})
    second = store.upsert(table, P, "r", {"keep": 2})
    assert first != second
    # The whole value is replaced, not merged: nothing of the larger earlier value survives.
    assert store.get(table, P, "r") == Record(P, "r", {"keep": 2}, second)


def test_etag_changes_on_every_write(store: Store, table: str) -> None:
    etags = [store.insert(table, P, "r", {"v": 0})]
    for v in range(1, 4):
        etags.append(store.replace(table, P, "r", {"v": v}, etags[-1]))
    etags.append(store.upsert(table, P, "r", {"v": 4}))
    etags.append(store.upsert(table, P, "r", {"v": 4}))
    assert len(set(etags)) == len(etags)
    assert store.get(table, P, "r").etag == etags[-1]


def test_delete(store: Store, table: str) -> None:
    assert store.delete(table, P, "r") is False
    store.insert(table, P, "r", {})
    assert store.delete(table, P, "r") is True
    assert store.get(table, P, "r") is None
    assert store.delete(table, P, "r") is False


def test_conditional_delete(store: Store, table: str) -> None:
    stale = store.insert(table, P, "r", {"n": 1})
    current = store.replace(table, P, "r", {"n": 2}, stale)
    with pytest.raises(ConflictError):
        store.delete(table, P, "r", stale)
    assert store.get(table, P, "r").etag == current
    assert store.delete(table, P, "r", current) is True
    assert store.get(table, P, "r") is None
    assert store.delete(table, P, "r", current) is False


def test_query_returns_partition_in_row_order(store: Store, table: str) -> None:
    rows = ["b", "a", "c2", "c10", "C", "a-1", "a.1", "~", "0"]
    for row in rows:
        store.insert(table, P, row, {"row": row})
    store.insert(table, "other", "a", {"row": "elsewhere"})
    store.insert(table + "x", P, "a", {"row": "other table"})
    got = list(store.query(table, P))
    assert [r.row for r in got] == sorted(rows)
    assert all(r.partition == P and r.value == {"row": r.row} for r in got)
    assert [r.etag for r in got] == [store.get(table, P, r.row).etag for r in got]


def test_query_by_prefix(store: Store, table: str) -> None:
    rows = ["a", "ab", "abc", "abd", "ac", "b", "aa", "ab~", "ac0"]
    for row in rows:
        store.insert(table, P, row, {})
    assert [r.row for r in store.query(table, P, "ab")] == ["ab", "abc", "abd", "ab~"]
    assert [r.row for r in store.query(table, P, "ac")] == ["ac", "ac0"]
    assert [r.row for r in store.query(table, P, "a")] == sorted(r for r in rows if r.startswith("a"))
    assert list(store.query(table, P, "zz")) == []
    assert list(store.query(table, "nobody", "")) == []


def test_query_by_unicode_prefix(store: Store, table: str) -> None:
    rows = ["été", "étage", "étoile", "eté", "f", "日本", "日本語", "日曜"]
    for row in rows:
        store.insert(table, P, row, {})
    assert [r.row for r in store.query(table, P, "ét")] == ["étage", "étoile", "été"]  # code point order
    assert [r.row for r in store.query(table, P, "日本")] == ["日本", "日本語"]


def test_partitions_are_distinct_and_sorted(store: Store, table: str) -> None:
    assert list(store.partitions(table)) == []
    for part in ["p2", "p1", "p3"]:
        for row in ["a", "b", "c"]:
            store.insert(table, part, row, {})
    store.insert(table + "x", "p9", "a", {})
    assert list(store.partitions(table)) == ["p1", "p2", "p3"]


def test_table_names_are_case_insensitive(store: Store, table: str) -> None:
    etag = store.insert(table, P, "r", {"n": 1})
    assert store.get(table.upper(), P, "r") == Record(P, "r", {"n": 1}, etag)


VALUES = {
    "nested": {"a": {"b": [1, 2.5, {"c": None, "d": [True, False]}]}, "e": [], "f": {}},
    "unicode": {"text": "Grüße, 日本語, עברית, emoji 🚒🔥", "🔑": "ключ"},
    "numbers": {"big": 2**62, "neg": -17, "float": 1e-300, "zero": 0.0},
    "escapes": {"quote": "\"'", "ctrl": "\n\t\r\x00\x1f", "backslash": "\\", "slash": "/"},
    "empty": {},
}


@pytest.mark.parametrize("name", VALUES)
def test_json_round_trip(store: Store, table: str, name: str) -> None:
    store.insert(table, P, name, VALUES[name])
    assert store.get(table, P, name).value == VALUES[name]
    assert [r.value for r in store.query(table, P)] == [VALUES[name]]


LARGE = {
    # ~200 KiB of ASCII: several string properties on Tables
    "ascii-200k": {"lines": [f"line {i:06d} " + "x" * 90 for i in range(2_000)]},
    # ~850 KiB of ASCII: beyond 1 MiB as UTF-16 strings, so binary properties on Tables
    "ascii-850k": {"blob": "y" * (850 * 1024)},
    # 100,000 BMP characters (600 KB as JSON \u escapes)
    "cjk-100k-chars": {"text": "漢字かな" * 25_000},
    # 50,000 astral characters (surrogate pairs in JSON, 600 KB)
    "emoji-50k-chars": {"text": "🚒🔥" * 25_000 + "end"},
}


@pytest.mark.parametrize("name", LARGE)
def test_large_value_round_trip(store: Store, table: str, name: str) -> None:
    value = LARGE[name]
    etag = store.insert(table, P, name, value)
    assert store.get(table, P, name) == Record(P, name, value, etag)
    smaller = {"n": 1}
    store.replace(table, P, name, smaller, etag)
    assert store.get(table, P, name).value == smaller


def test_oversize_value_is_rejected(store: Store, table: str) -> None:
    big = {"blob": "z" * (MAX_RECORD_BYTES + 1)}
    with pytest.raises(StoreError, match="exceeds"):
        store.insert(table, P, "big", big)
    with pytest.raises(StoreError, match="exceeds"):
        store.upsert(table, P, "big", big)
    etag = store.insert(table, P, "big", {"small": True})
    with pytest.raises(StoreError, match="exceeds"):
        store.replace(table, P, "big", big, etag)
    assert store.get(table, P, "big") == Record(P, "big", {"small": True}, etag)


BAD_KEYS = ["", "a/b", "a\\b", "a#b", "a?b", "tab\there", "nl\n", "del\x7f", "x" * 513]


@pytest.mark.parametrize("bad", BAD_KEYS, ids=repr)
def test_bad_keys_are_rejected(store: Store, table: str, bad: str) -> None:
    calls = [
        lambda: store.insert(table, bad, "r", {}),
        lambda: store.insert(table, P, bad, {}),
        lambda: store.get(table, P, bad),
        lambda: store.replace(table, P, bad, {}, "etag"),
        lambda: store.upsert(table, bad, "r", {}),
        lambda: store.delete(table, P, bad),
        lambda: store.query(table, bad),
    ]
    if bad:
        calls.append(lambda: store.query(table, P, bad))
    for call in calls:
        with pytest.raises(StoreError, match="invalid"):
            call()
    assert list(store.partitions(table)) == []


@pytest.mark.parametrize("bad", ["", "ab", "1abc", "has-dash", "under_score", "x" * 64, "ümlaut"])
def test_bad_table_names_are_rejected(store: Store, bad: str) -> None:
    with pytest.raises(StoreError, match="invalid table"):
        store.insert(bad, P, "r", {})
    with pytest.raises(StoreError, match="invalid table"):
        store.partitions(bad)


def test_awkward_but_valid_keys(store: Store, table: str) -> None:
    keys = ["it's", "a b", "100%", "a&b=c", "+plus", "ünï©ødé", "🚒", "'", "a'b''c", "x" * 512]
    for key in keys:
        store.insert(table, key, key, {"k": key})
    for key in keys:
        assert store.get(table, key, key).value == {"k": key}
        assert [r.row for r in store.query(table, key)] == [key]
    assert sorted(store.partitions(table)) == sorted(keys)


def test_safe_key_makes_resource_ids_storable(store: Store, table: str) -> None:
    rid = "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/web#1?x"
    store.insert(table, safe_key(rid), "state", {"id": rid})
    (record,) = store.query(table, safe_key(rid))
    assert record.value == {"id": rid}
    assert record.partition == safe_key(rid)


def test_query_pages_through_many_records(store: Store, table: str) -> None:
    """More than one Table Storage page (1000) and several SQLite pages, in one partition."""
    rows = [f"r{i:05d}" for i in range(1_150)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda row: store.insert(table, P, row, {"row": row}), rows))
    store.insert(table, "p0", "x", {})
    store.insert(table, "p9", "x", {})
    got = list(store.query(table, P))
    assert [r.row for r in got] == rows
    assert all(r.value == {"row": r.row} for r in got)
    assert [r.row for r in store.query(table, P, "r009")] == [f"r009{i:02d}" for i in range(100)]
    assert [r.row for r in store.query(table, P, "r01")] == rows[1_000:1_150]
    assert list(store.partitions(table)) == ["p0", "p9", P]


def test_writes_while_iterating_a_query(store: Store, table: str) -> None:
    """Callers update or delete records as they sweep a partition."""
    for i in range(300):
        store.insert(table, P, f"r{i:04d}", {"n": i})
    seen = 0
    for record in store.query(table, P):
        seen += 1
        if record.value["n"] % 2:
            store.delete(table, P, record.row, record.etag)
        else:
            store.replace(table, P, record.row, {"n": record.value["n"], "swept": True}, record.etag)
    assert seen == 300
    left = list(store.query(table, P))
    assert [r.value for r in left] == [{"n": n, "swept": True} for n in range(0, 300, 2)]
