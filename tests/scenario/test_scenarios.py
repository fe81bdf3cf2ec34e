"""Every scenario in ``scenarios/`` replays to what its ``expect`` block says, fast.

The scenarios are the project's acceptance stories (FORMAT.md): each file's ``expect`` was
written from the responder's rules, so a failure here means the engine (or the scenario) is
wrong, never that the expectation should follow the output. ``check.py`` beside this file is the
contract's own checker, copied so the tests read nothing outside the repository.

Each scenario is replayed once per test session (through the real replay: emulator over HTTPS,
real SDK, virtual clock) and the report is shared by the specific tests below.
"""

from __future__ import annotations

import importlib.util
import json
import time
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from vmss_responder.durations import parse_offset
from vmss_responder.sim.replay import replay
from vmss_responder.sim.scenario import load_scenario

from .check import check

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "scenarios"
SCENARIOS = sorted(FOLDER.glob("*.json"))
PUBLIC = {
    "persistent-degraded-escalated",
    "provisioning-failed-replaced",
    "scale-in-transient-degraded",
    "suspended-repairs-resumed",
}
WALL_LIMIT_SECONDS = 2.0


@cache
def _replayed(name: str) -> tuple[dict[str, Any], float]:
    """(report, wall seconds) of one replay of ``scenarios/<name>.json``."""
    scenario = load_scenario(FOLDER / f"{name}.json")
    began = time.perf_counter()
    report = replay(scenario)
    return report, time.perf_counter() - began


def _document(name: str) -> dict[str, Any]:
    return json.loads((FOLDER / f"{name}.json").read_text())


def _incident(report: dict[str, Any]) -> dict[str, Any]:
    assert len(report["incidents"]) == 1, [(i["status"], i["findings"]) for i in report["incidents"]]
    return report["incidents"][0]


@pytest.fixture(scope="module", autouse=True)
def _warm_imports() -> None:
    """Pay the one-time imports (Azure SDKs, TLS set-up) outside the timed replays."""
    replay(load_scenario(FOLDER / "own-operations-ignored.json"))


# --- the library as a whole ---------------------------------------------------------------------


def test_library_holds_every_story() -> None:
    names = {p.stem for p in SCENARIOS}
    assert names >= PUBLIC
    assert len(names) >= 23


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario_is_well_formed(path: Path) -> None:
    document = json.loads(path.read_text())
    scenario = load_scenario(path)
    assert scenario.name == path.stem
    assert len(document["description"]) > 40
    assert document["expect"], "every scenario says what a correct responder does"
    assert scenario.until <= parse_offset("+90m")
    last_step = max(step.at for step in scenario.timeline)
    assert last_step < scenario.until, "every step runs before the replay stops"


def test_generator_rewrites_the_same_files(tmp_path: Path) -> None:
    """The generated files are the generator's output, byte for byte (IDs are uuid5, not random)."""
    spec = importlib.util.spec_from_file_location("build_scenarios", FOLDER / "build_scenarios.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = module.write_all(tmp_path)
    assert written, "the generator writes at least one scenario"
    assert not {p.stem for p in written} & PUBLIC, "the public scenarios are copied, never generated"
    for path in written:
        assert path.read_bytes() == (FOLDER / path.name).read_bytes(), (
            f"{path.name} is stale: rerun the generator"
        )


# --- every scenario meets its expect ------------------------------------------------------------


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario_meets_its_expect(path: Path) -> None:
    report, _ = _replayed(path.stem)
    assert check(_document(path.stem), report) == []


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_replay_is_fast(path: Path) -> None:
    _, wall = _replayed(path.stem)
    assert wall < WALL_LIMIT_SECONDS, f"{path.stem} took {wall:.2f} s of wall time"


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_one_activity_log_query_per_incident_at_most(path: Path) -> None:
    """Log queries never exceed evaluations: at most one per incident (before paging it) and one per
    manual rerun, never one per recheck."""
    report, _ = _replayed(path.stem)
    reruns = sum(1 for step in _document(path.stem)["timeline"] if "rerun" in step)
    assert report["arm"]["logQueries"] <= len(report["incidents"]) + reruns


# --- what specific stories prove ----------------------------------------------------------------


def test_escalated_incident_that_recovers_is_resolved_once() -> None:
    report, _ = _replayed("escalated-then-recovers")
    inc = _incident(report)
    assert inc["status"] == "escalated"
    assert inc["closed"] is not None
    resolved = [n for n in report["notifications"] if n["severity"] == "resolved"]
    assert len(resolved) == 1
    assert resolved[0]["incident"] == inc["id"]


def test_power_off_found_in_the_activity_log_explains_the_incident() -> None:
    report, _ = _replayed("maintenance-poweroff-activity-log")
    inc = _incident(report)
    assert "Activity Log" in inc["explanation"]
    assert any("Activity Log" in entry for entry in inc["timeline"])
    assert report["arm"]["logQueries"] == 1


def test_failed_activity_log_lookup_is_said_in_the_page() -> None:
    report, _ = _replayed("activity-log-unreachable")
    inc = _incident(report)
    assert inc["status"] == "escalated"
    assert "lookup failed" in inc["explanation"]
