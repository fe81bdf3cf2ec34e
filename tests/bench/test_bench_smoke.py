"""The benchmark's machinery on a tiny storm: shapes and consistent counts, never speed.

The numbers of a real run are ``vmss-responder bench``'s business; here a storm of a few
hundred deliveries goes through the same two-process path (responder pinned to one CPU, ARM
emulator in this process, shared virtual clock) so that a broken bench fails ``make test``.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench import economy, readme, throughput
from bench.report import Row, markdown_table, rows_from_dicts, text_table
from bench.storm import generate_storm
from vmss_responder.parse import parse
from vmss_responder.signals import Kind

SETS, INSTANCES, DELIVERIES = 4, 6, 300


@pytest.fixture(scope="module")
def storm():
    return generate_storm(SETS, INSTANCES, DELIVERIES, seed=3)


@pytest.fixture(scope="module")
def result(storm):
    return throughput.measure(storm, throughput.Params(budget_s=600.0))


def test_storm_has_every_channel_redeliveries_and_reordering(storm):
    assert len(storm.deliveries) == DELIVERIES
    assert set(storm.channels()) == {"eventgrid", "cloudevents", "alert", "autoscale"}
    arrivals = [d.at for d in storm.deliveries]
    assert arrivals == sorted(arrivals)
    bodies = Counter(json.dumps(d.payload, sort_keys=True) for d in storm.deliveries)
    assert sum(n - 1 for n in bodies.values()) == storm.redeliveries > 0
    event_times = [
        min(s.event_time for s in parsed.signals)
        for d in storm.deliveries
        if (parsed := parse(d.channel, d.payload, received_at=d.at)).signals
    ]
    assert event_times != sorted(event_times)  # arrival order is not event order
    assert sorted(storm.stories.values()) == sorted(
        ["zone_outage", "rolling_upgrade", "autoscale", "unexplained"]
    )
    assert generate_storm(SETS, INSTANCES, DELIVERIES, seed=3).deliveries == storm.deliveries


def test_storm_refuses_a_budget_too_small_for_its_operations():
    with pytest.raises(ValueError, match="cannot hold"):
        generate_storm(4, 6, 40)


def test_storm_run_counts_add_up(storm, result):
    assert result["complete"] is True
    assert result["deliveries"] == DELIVERIES
    carried = [parse(d.channel, d.payload, received_at=d.at) for d in storm.deliveries]
    # A first delivery reports its signals about a scale set and ignores the rest (Service Health
    # is subscription-wide); a redelivery reports all it carries as duplicates.
    seen: set[str] = set()
    expected = ignored = 0
    for d, p in zip(storm.deliveries, carried):
        body = json.dumps(d.payload, sort_keys=True)
        about_sets = sum(s.scale_set is not None for s in p.signals)
        if body in seen:
            expected += len(p.signals)
        else:
            expected += about_sets
            ignored += len(p.signals) - about_sets + len(p.ignored)
        seen.add(body)
    assert result["signals"] + result["duplicates"] == expected
    assert result["ignored"] == ignored > 0
    assert result["duplicates"] >= storm.redeliveries  # every byte-identical redelivery is recognized
    assert result["rejected"] == 0
    assert result["storm"]["deliveries"] == DELIVERIES and result["storm"]["scaleSets"] == SETS
    assert result["peakRssMiB"] >= result["baselineRssMiB"] > 0
    assert result["wallSeconds"] >= result["ingestSeconds"] > 0
    assert result["sweeps"] >= (storm.end + throughput.TAIL - storm.start) // timedelta(minutes=1)
    assert result["scaleSetsWithIncidents"] <= SETS
    assert sum(result["incidents"].values()) > 0


def test_storm_economy_counts_every_read_once(storm, result):
    eco = result["economy"]
    ours = eco["ours"]
    assert ours["totals"]["reads"] == sum(n for name, n in ours["byPolicy"].items() if "Get" in name)
    assert ours["totals"]["instanceViewReads"] <= ours["totals"]["reads"]
    assert ours["instanceViewReads"]["max"] <= ours["reads"]["max"]
    health = sum(
        1
        for d in storm.deliveries
        for s in parse(d.channel, d.payload, received_at=d.at).signals
        if s.kind is Kind.HEALTH and s.scale_set is not None
    )
    per_event = eco["perEvent"]
    assert per_event["totals"]["instanceViewReads"] == health
    cells = eco["windows"] * eco["scaleSets"]
    assert per_event["instanceViewReads"]["mean"] == pytest.approx(health / cells, abs=0.01)
    assert per_event["instanceViewReads"]["max"] >= per_event["maxPerScaleSetPerMinute"]


def test_rows_put_every_figure_beside_a_peer(result):
    rows = throughput.rows(result) + economy.rows(result["economy"])
    assert all(isinstance(r, Row) and r.ours for r in rows)
    judged = [r for r in rows if r.target]
    assert judged and all(r.verdict == "met" or r.verdict.startswith("missed: ") for r in judged)
    assert rows_from_dicts(r.to_dict() for r in rows) == rows
    assert text_table(rows).count("\n") == len(rows) + 1
    assert markdown_table(rows).count("\n") == len(rows) + 1


def test_compute_budgets_refuse_the_call_after_the_burst():
    start = datetime(2026, 5, 4, 9, tzinfo=timezone.utc)
    burst = [(start, "vmss-a", economy.GET_VMSS_HIGH)] * 31
    assert economy.over_budget(burst) == 1
    refilled = burst[:30] + [(start + timedelta(seconds=6), "vmss-a", economy.GET_VMSS_HIGH)]
    assert economy.over_budget(refilled) == 0  # 10 a minute: one token back after 6 s
    other = burst[:30] + [(start, "vmss-b", economy.GET_VMSS_HIGH)]
    assert economy.over_budget(other) == 0  # per resource
    assert economy.over_budget(other, per_subscription=True) == 0  # the subscription's bucket is bigger


@pytest.mark.parametrize(
    ("method", "path", "kind", "policy", "view"),
    [
        ("GET", "/virtualMachineScaleSets/vmss-a", "read", economy.GET_VMSS, False),
        ("GET", "/virtualMachineScaleSets/vmss-a/instanceView", "read", economy.GET_VMSS_HIGH, True),
        ("GET", "/virtualMachineScaleSets/vmss-a/virtualMachines", "read", economy.GET_VMSS_HIGH, False),
        (
            "GET",
            "/virtualMachineScaleSets/vmss-a/virtualMachines/3/instanceView",
            "read",
            economy.GET_VMSS_VM,
            False,
        ),
        (
            "POST",
            "/virtualMachineScaleSets/vmss-a/virtualMachines/3/restart",
            "write",
            economy.UPDATE_VMSS_VMS,
            False,
        ),
        ("POST", "/virtualMachineScaleSets/vmss-a/delete", "write", economy.DELETE_VMSS_VMS, False),
        (
            "POST",
            "/virtualMachineScaleSets/vmss-a/setOrchestrationServiceState",
            "write",
            economy.UPDATE_VMSS,
            False,
        ),
    ],
)
def test_requests_are_billed_to_their_crp_policy(method, path, kind, policy, view):
    prefix = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute"
    found = economy.classify(method, prefix + path, kind)
    assert found is not None and found[0] == "vmss-a" and found[2] is policy and found[3] is view


def test_readme_block_is_rewritten_in_place(tmp_path: Path, result):
    results = {
        "date": "2026-05-04T09:00:00+00:00",
        "wallSeconds": 1.0,
        "machine": {
            "cpu": "test cpu",
            "cores": 2,
            "coresAvailable": 2,
            "memoryGiB": 1.0,
            "python": "3.11",
            "platform": "linux",
            "loadAverageAtStart": [0.1],
            "loadAverageAtEnd": [0.2],
        },
        "report": {"sections": {"storm": [r.to_dict() for r in throughput.rows(result)]}, "tables": {}},
    }
    path = tmp_path / "README.md"
    path.write_text("# Bench\n\nprose before\n")
    readme.write(results, path)
    readme.write(results, path)
    text = path.read_text()
    assert text.startswith("# Bench\n\nprose before\n")
    assert text.count(readme.BEGIN) == 1 and text.count(readme.END) == 1
    assert "test cpu" in text and "storm: signals/s" in text


def test_bench_command_finds_the_checkout(monkeypatch):
    from vmss_responder import cli

    calls = []
    monkeypatch.setattr("bench.run.main", lambda json_output: calls.append(json_output) or 0)
    assert cli.main(["bench", "--json"]) == 0
    assert calls == [True]


def test_economy_windows_cover_the_whole_run():
    start = datetime(2026, 5, 4, 9, tzinfo=timezone.utc)
    fake_storm = SimpleNamespace(
        start=start,
        deliveries=[],
        fleet={"scaleSets": [{"name": "vmss-a"}, {"name": "vmss-b"}]},
        stories={"vmss-a": "autoscale", "vmss-b": "unexplained"},
    )
    prefix = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets"
    requests = [
        SimpleNamespace(
            at=start + timedelta(minutes=m),
            method="GET",
            path=f"{prefix}/vmss-a/instanceView",
            kind="read",
            status=200,
        )
        for m in (1, 2, 3, 12)
    ]
    eco = economy.measure(fake_storm, [], requests, until=start + timedelta(minutes=15))
    assert eco["windows"] == 3
    assert eco["ours"]["instanceViewReads"] == {"max": 3, "mean": round(4 / 6, 2)}
    assert eco["ours"]["instanceViewReadsByStory"] == {
        "autoscale": {"max": 3, "mean": round(4 / 3, 2)},
        "unexplained": {"max": 0, "mean": 0.0},
    }
    assert eco["perEvent"]["totals"]["instanceViewReads"] == 0
