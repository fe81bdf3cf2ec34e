"""The replay command's contract: exit codes and the report's shape (FORMAT.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vmss_responder.cli import main

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
REPORT_KEYS = {"scenario", "incidents", "actions", "notifications", "rejected", "arm", "fleetAfter"}


def test_replay_prints_one_complete_report_per_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    files = [SCENARIOS / "scale-in-transient-degraded.json", SCENARIOS / "suspended-repairs-resumed.json"]
    assert main(["replay", *map(str, files), "--json"]) == 0
    reports = json.loads(capsys.readouterr().out)
    assert [r["scenario"] for r in reports] == ["scale-in-transient-degraded", "suspended-repairs-resumed"]
    for report in reports:
        assert set(report) >= REPORT_KEYS
        assert set(report["arm"]) == {"reads", "writes", "throttled", "logQueries"}
        for inc in report["incidents"]:
            assert {
                "id",
                "scaleSet",
                "instanceIds",
                "status",
                "findings",
                "explanation",
                "opened",
                "closed",
                "signals",
            } <= set(inc)
            assert (
                "/providers/Microsoft.Compute/virtualMachineScaleSets/" in inc["scaleSet"]
            )  # the fleet's casing


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.pop("start"), "start"),
        (lambda d: d.update(until="90 minutes"), "until"),
        (
            lambda d: d["fleet"]["scaleSets"][0]["instances"][0].update(powerState="asleep"),
            "fleet.scaleSets[0].instances[0].powerState",
        ),
        (lambda d: d["timeline"][0]["deliver"].update(channel="pigeon"), "timeline[0].deliver.channel"),
        (lambda d: d["config"].update(mode="yolo"), "config"),
    ],
)
def test_an_invalid_scenario_exits_2_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mutate, field: str
) -> None:
    data = json.loads((SCENARIOS / "scale-in-transient-degraded.json").read_text())
    mutate(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    assert main(["replay", str(path), "--json"]) == 2
    assert field in capsys.readouterr().err
