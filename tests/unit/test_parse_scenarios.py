"""Every payload the public scenarios deliver parses into signals about their fleet.

The deliver steps are copied unchanged from shared/scenarios/*.json into
tests/fixtures/scenario-deliveries/ (tests do not read outside the repository).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest

from vmss_responder.durations import parse_offset, parse_timestamp
from vmss_responder.parse import parse
from vmss_responder.signals import Kind

DELIVERIES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "scenario-deliveries"
START = parse_timestamp("2026-05-04T09:00:00Z")
EXPECTED_KINDS = {
    "persistent-degraded-escalated": {Kind.HEALTH: 13},
    "provisioning-failed-replaced": {Kind.OPERATION: 3, Kind.HEALTH: 1},
    "scale-in-transient-degraded": {Kind.OPERATION: 3, Kind.HEALTH: 4},
    "suspended-repairs-resumed": {Kind.OPERATION: 1},
}


@pytest.mark.parametrize("path", sorted(DELIVERIES.glob("*.json")), ids=lambda p: p.stem)
def test_scenario_deliveries_parse(path: Path) -> None:
    document = json.loads(path.read_text())
    kinds: Counter[Kind] = Counter()
    for step in document["deliveries"]:
        arrived = START + parse_offset(step["at"])
        parsed = parse(step["channel"], step["payload"], received_at=arrived)
        assert parsed.ignored == []
        for signal in parsed.signals:
            kinds[signal.kind] += 1
            assert signal.scale_set is not None
            assert signal.scale_set.name == "vmss-search"
            assert signal.event_time <= arrived  # the payload's own time, never the arrival
            assert signal.channel == step["channel"]
    assert dict(kinds) == EXPECTED_KINDS[document["scenario"]]


def test_repeated_resource_health_alerts_are_distinct_deliveries_of_one_state():
    """The escalation scenario re-fires the same Degraded alert every 5 minutes."""
    document = json.loads((DELIVERIES / "persistent-degraded-escalated.json").read_text())
    signals = [
        parse(s["channel"], s["payload"], received_at=datetime(2026, 5, 4, 10, tzinfo=timezone.utc)).signals[
            0
        ]
        for s in document["deliveries"]
        if s["channel"] == "alert"
    ]
    assert len({s.source_id for s in signals}) == len(signals)
    assert {s.state for s in signals} == {signals[0].state}
