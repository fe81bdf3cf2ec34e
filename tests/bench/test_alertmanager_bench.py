"""The Alertmanager comparisons (issue 9 parts 2 and 3), small: a real Alertmanager, a real
``serve`` process, real HTTP on loopback. Shapes and counts only; no timing is asserted (the
machine is shared)."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import pytest

from bench import http_ingest, pages
from bench.alertmanager import Timers, find_binary, team_config
from bench.report import Row
from bench.storm import generate_storm
from vmss_responder.sim.scenario import load_scenario

pytestmark = pytest.mark.skipif(
    find_binary() is None,
    reason="prometheus-alertmanager is not installed: apt-get install prometheus-alertmanager "
    "(make bench installs it)",
)

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
SMALL = ["persistent-degraded-escalated", "scale-in-transient-degraded"]


def test_the_team_config_passes_amtool() -> None:
    """Alertmanager's own checker accepts the configuration the benchmarks start it with."""
    amtool = Path(find_binary() or "").with_name("amtool")
    if not amtool.exists():
        pytest.skip("amtool is not installed beside the alertmanager binary")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "alertmanager.yml"
        path.write_text(json.dumps(team_config("http://127.0.0.1:9/pager", Timers().scaled(300))))

        def amtool_says(*args: str) -> str:
            done = subprocess.run([str(amtool), *args], capture_output=True, text=True, timeout=30)
            assert done.returncode == 0, done.stdout + done.stderr
            return done.stdout

        assert "1 inhibit rules" in amtool_says("check-config", str(path))
        route = ("config", "routes", "test", f"--config.file={path}")
        assert amtool_says(*route, "kind=health", "severity=page").strip() == "pager"
        assert amtool_says(*route, "kind=operation", "severity=info").strip() == "context-only"


def test_the_bridge_holds_health_and_keeps_operations_firing_through_the_settle_period() -> None:
    scenario = load_scenario(SCENARIOS / "scale-in-transient-degraded.json")
    posts = pages.bridge_posts(scenario)
    health = [p for p in posts if p.labels["kind"] == "health"]
    # Instances 4 and 5 went Unavailable at 09:01 and never reported Available (they were
    # removed): they fire after the 10-minute hold. The scale set's own Degraded recovered in time.
    assert sorted(p.labels["instance"] for p in health) == ["4", "5"]
    assert {p.at.strftime("%H:%M") for p in health} == {"09:11"}
    scale = [p for p in posts if p.labels.get("category") == "scale"]
    # Started 09:00, completed 09:03: firing until 15 minutes (settlePeriod) after completion.
    assert [(p.starts.strftime("%H:%M"), p.ends and p.ends.strftime("%H:%M")) for p in scale] == [
        ("09:00", None),
        ("09:00", "09:18"),
    ]


def test_pages_compared_on_two_scenarios() -> None:
    result = pages.measure(names=SMALL, factor=600)
    by_name = {r["scenario"]: r for r in result["scenarios"]}
    assert sorted(by_name) == SMALL
    persistent, scale_in = by_name["persistent-degraded-escalated"], by_name["scale-in-transient-degraded"]
    # 13 Degraded deliveries: the naive responder pages each, Alertmanager groups them into one
    # notification, our responder escalates once.
    assert (persistent["naive"], persistent["alertmanager"], persistent["ours"]) == (13, 1, 1)
    # Scale-in: the removed instances never recover, so Alertmanager pages once its inhibition
    # lapses; ours reads the live view and knows they are gone.
    assert (scale_in["naive"], scale_in["alertmanager"], scale_in["ours"]) == (3, 1, 0)
    # ... and not before: the scale operation inhibited them until 09:18 (completion + settle).
    assert scale_in["alertmanagerPagedAt"][0] >= "2026-05-04T09:18:00Z"
    assert persistent["oursPagedAt"] == ["2026-05-04T09:10:00Z"]
    assert result["totals"]["naive"] == 16
    assert result["alertmanager"]["scaledTimers"]["group_wait"] == "50ms"
    rows = pages.rows(result)
    assert all(isinstance(r, Row) for r in rows) and rows[1].ours == "1 / 1 / 0"
    assert "Alertmanager" in pages.table(result).splitlines()[0]


def test_http_ingest_posts_the_same_deliveries_to_both() -> None:
    storm = generate_storm(scale_sets=4, instances=10, deliveries=300, seed=1)
    result = http_ingest.measure(storm, subset=120)
    ours, peer = result["ours"], result["alertmanager"]
    assert ours["requests"] == peer["requests"] == result["deliveries"] == 120
    assert ours["statuses"] == {"202": 120}
    assert peer["statuses"] == {"200": 120}
    assert ours["signals"] > 0 and ours["duplicates"] >= 0
    assert peer["alerts"] > 0
    assert result["ratio"] > 0
    assert ours["serverCpuSeconds"] > 0 and peer["serverCpuSeconds"] >= 0
    assert [type(r) for r in http_ingest.rows(result)] == [Row] * 5
