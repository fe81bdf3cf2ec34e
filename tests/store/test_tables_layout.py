"""Entity layout of the Table Storage backend: within Azure's limits, which Azurite does not enforce."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from vmss_responder.store import StoreError
from vmss_responder.store.tables import (
    BINARY_BYTES,
    ENTITY_BYTES,
    MAX_PROPERTIES,
    entity_size,
    layout,
    text_of,
)

P = "part"
AZURE_STRING_UNITS = 32_768  # 64 KiB of UTF-16
AZURE_ENTITY_BYTES = 1_048_576


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _assert_within_azure_limits(partition: str, row: str, props: dict[str, str | bytes]) -> None:
    assert entity_size(partition, row, props) <= AZURE_ENTITY_BYTES
    assert len(props) <= MAX_PROPERTIES
    for value in props.values():
        assert _units(value) <= AZURE_STRING_UNITS if isinstance(value, str) else len(value) <= 65_536


@settings(max_examples=60, deadline=None)
@given(piece=st.text(min_size=1, max_size=40), times=st.integers(1, 40_000))
def test_layout_round_trips_within_azure_limits(piece: str, times: int) -> None:
    text = piece * times
    try:
        props = layout(P, "row", text, "w1")
    except StoreError:
        # Refused only when even UTF-8 binary chunks could not fit.
        assert len(text.encode()) > ENTITY_BYTES - 4_000
        return
    _assert_within_azure_limits(P, "row", props)
    assert text_of(props) == text


def test_layout_keeps_small_and_medium_text_readable() -> None:
    assert layout(P, "r", '{"a":1}', "w1") == {"w": "w1", "d0": '{"a":1}'}
    props = layout(P, "r", "x" * 200_000, "w1")
    assert all(isinstance(v, str) for v in props.values()) and len(props) == 8


def test_layout_switches_to_binary_when_utf16_strings_would_exceed_an_entity() -> None:
    text = "x" * 850 * 1024  # 1.7 MB as UTF-16 strings; 850 KiB as UTF-8
    props = layout(P, "r", text, "w1")
    chunks = [v for k, v in props.items() if k != "w"]
    assert all(isinstance(c, bytes) and len(c) <= BINARY_BYTES for c in chunks)
    _assert_within_azure_limits(P, "r", props)
    assert text_of(props) == text
