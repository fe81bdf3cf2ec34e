"""At-least-once, out-of-order delivery changes nothing the responder decides.

Event Grid retries deliveries it did not see acknowledged and action groups each call their
webhook, so every payload may arrive more than once; nothing promises order. Every scenario is
replayed plainly and then, for each seed, rewritten by :func:`vmss_responder.sim.redelivery.redeliver`:
each delivery sent 1-3 times, each copy late by 0-180 s of virtual time (so copies overtake
each other; event times inside the payloads stay as they were), further copies of Event Grid
batches sometimes re-batched one event per delivery. Fleet, Activity Log and rerun steps stay put:
the world does the same things, only the news of them arrives differently.

The comparison is on what on-call and Azure see, not on timing (a delivery that arrives later is
acted on later): per incident its scale set, status and findings, and its ID up to the instant
embedded in it (see :func:`_incident_key`); every action's op, instances, mode and result; the
notifications (severity and channel, per incident); and the mutations ARM performed (from the
emulator's request log, which must also match the executed actions one to one).

``RELIABILITY_FIGURES_DIR``: if set, the figures (deliveries, duplicates, reorderings, what was
lost or doubled) are written to ``<dir>/redelivery.json``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from vmss_responder.sim.mutations import action_post, mutations
from vmss_responder.sim.redelivery import RedeliveryPlan, RedeliveryStats, redeliver
from vmss_responder.sim.replay import ReplayTrace, replay
from vmss_responder.sim.scenario import load_scenario

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.json"))
SEEDS = (1, 2, 3)
MAX_COPIES = 3
MAX_SKEW = timedelta(minutes=3)


@dataclasses.dataclass(frozen=True)
class Run:
    report: dict[str, Any]
    outcome: dict[str, Any]
    posts: Counter[Any]  # POSTs ARM performed, by mutation
    stats: RedeliveryStats | None = None


def _incident_key(incident_id: str) -> str:
    """An incident ID without the instant in it (``vmss-x-20260504T090000Z-abc1231`` -> ``vmss-x-*-abc1231``).

    The instant is the event time of the first problem signal to *arrive* (or, for an incident a
    diagnosis opened, when that evaluation ran), so a late or reordered delivery shifts it; the
    scale set, its digest and the per-scale-set sequence number must not change."""
    return re.sub(r"-\d{8}T\d{6}Z-", "-*-", incident_id)


def _outcome(report: dict[str, Any]) -> dict[str, Any]:
    keys = {inc["id"]: _incident_key(inc["id"]) for inc in report["incidents"]}
    return {
        "incidents": [
            (keys[inc["id"]], inc["status"], tuple(sorted(inc["findings"]))) for inc in report["incidents"]
        ],
        "actions": [(a["op"], tuple(a["instanceIds"]), a["mode"], a["result"]) for a in report["actions"]],
        "notifications": sorted(
            Counter(
                (n["severity"], keys.get(n["incident"], n["incident"]), n["channel"])
                for n in report["notifications"]
            ).items()
        ),
        "pages": sum(n["severity"] == "page" for n in report["notifications"]),
    }


def _run(scenario: Any, stats: RedeliveryStats | None = None) -> Run:
    trace = ReplayTrace()
    report = replay(scenario, trace=trace)
    posts = Counter({m: n for m, n in mutations(trace.requests).items() if m.method == "POST"})
    return Run(report, _outcome(report), posts, stats)


@cache
def _plain(name: str) -> Run:
    return _run(load_scenario(ROOT / "scenarios" / f"{name}.json"))


@cache
def _redelivered(name: str, seed: int) -> Run:
    plan = RedeliveryPlan(seed, max_copies=MAX_COPIES, max_skew=MAX_SKEW)
    scenario, stats = redeliver(load_scenario(ROOT / "scenarios" / f"{name}.json"), plan)
    return _run(scenario, stats)


def _differences(plain: Run, other: Run) -> dict[str, tuple[Any, Any]]:
    return {
        k: (plain.outcome[k], other.outcome[k]) for k in plain.outcome if plain.outcome[k] != other.outcome[k]
    }


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_redelivered_and_reordered_deliveries_change_no_outcome(path: Path) -> None:
    plain = _plain(path.stem)
    for seed in SEEDS:
        run = _redelivered(path.stem, seed)
        assert _differences(plain, run) == {}, f"seed {seed}: {run.stats}"
        assert run.posts == plain.posts, f"seed {seed}: ARM performed other mutations"


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_every_executed_action_is_one_mutation_and_every_mutation_an_action(path: Path) -> None:
    for run in (_plain(path.stem), *(_redelivered(path.stem, seed) for seed in SEEDS)):
        executed = Counter(action_post(a) for a in run.report["actions"] if a["mode"] == "executed")
        assert run.posts == executed


def test_a_late_copy_of_a_signal_from_before_the_close_opens_no_second_incident() -> None:
    """Found by this suite (fixed in engine/correlate.py), minimal: the 09:20 Degraded alert of the
    extension story (event time 09:20) arrives one minute late, after the 09:20 evaluation saw
    the instance healthy again and closed the incident as remediated. It describes a moment the
    live view already covered, so it must not open a second incident."""
    scenario = load_scenario(ROOT / "scenarios" / "ecommerce-extension-update-probe-failure.json")
    late = [
        dataclasses.replace(step, at=step.at + timedelta(minutes=1))
        if step.body.get("channel") == "alert"
        else step
        for step in scenario.timeline
    ]
    report = replay(dataclasses.replace(scenario, timeline=late))
    assert [(inc["status"], inc["signals"]) for inc in report["incidents"]] == [("remediated", 1)]


def test_a_scale_completion_before_its_start_is_not_joined_to_an_earlier_operation() -> None:
    """Found by this suite (fixed in engine/correlate.py), minimal: the flapping story with the third scale-out's
    webhook (started 09:16) delivered at 09:19, after the Activity Log alert of its completion
    (09:18). Out at 09:00, in at 09:08, out at 09:16: still two reversals in 30 minutes."""
    scenario = load_scenario(ROOT / "scenarios" / "autoscale-flapping.json")
    third_start = timedelta(minutes=16)
    late = [
        dataclasses.replace(step, at=step.at + timedelta(minutes=3))
        if step.kind == "deliver" and step.at == third_start
        else step
        for step in scenario.timeline
    ]
    report = replay(dataclasses.replace(scenario, timeline=sorted(late, key=lambda s: (s.at, s.index))))
    assert [inc["findings"] for inc in report["incidents"]] == [["autoscale_flapping"]]


def test_figures(record_figures: Callable[[str, Any], None]) -> None:
    """What the suite exercised and what it found lost or doubled; written for docs/reliability.md."""
    runs = {(p.stem, seed): _redelivered(p.stem, seed) for p in SCENARIOS for seed in SEEDS}
    lost, doubled, differing, shifted_ids = Counter(), Counter(), [], 0
    for (name, seed), run in runs.items():
        plain = _plain(name)
        for field in ("incidents", "actions"):
            before, after = Counter(plain.outcome[field]), Counter(run.outcome[field])
            lost[field] += sum((before - after).values())
            doubled[field] += sum((after - before).values())
        before, after = (
            Counter(dict(plain.outcome["notifications"])),
            Counter(dict(run.outcome["notifications"])),
        )
        lost["notifications"] += sum((before - after).values())
        doubled["notifications"] += sum((after - before).values())
        lost["mutations"] += sum((plain.posts - run.posts).values())
        doubled["mutations"] += sum((run.posts - plain.posts).values())
        if _differences(plain, run):
            differing.append(f"{name} (seed {seed})")
        elif [i["id"] for i in plain.report["incidents"]] != [i["id"] for i in run.report["incidents"]]:
            shifted_ids += 1
    stats = [run.stats for run in runs.values() if run.stats is not None]
    figures = {
        "scenarios": len(SCENARIOS),
        "seedsPerScenario": len(SEEDS),
        "replays": len(runs) + len(SCENARIOS),
        "plan": {"copies": f"1-{MAX_COPIES}", "maxSkewSeconds": MAX_SKEW.total_seconds(), "rebatch": True},
        "deliveries": sum(s.deliveries for s in stats),
        "sent": sum(s.sent for s in stats),
        "duplicates": sum(s.duplicates for s in stats),
        "reordered": sum(s.reordered for s in stats),
        "rebatched": sum(s.rebatched for s in stats),
        "maxDelaySeconds": max(s.max_delay for s in stats).total_seconds(),
        "executedActions": sum(
            sum(a["mode"] == "executed" for a in run.report["actions"]) for run in runs.values()
        ),
        "performedPosts": sum(sum(run.posts.values()) for run in runs.values()),
        "pages": sum(run.outcome["pages"] for run in runs.values()),
        "lost": dict(lost),
        "doubled": dict(doubled),
        "differingRuns": differing,
        "runsWithIncidentIdInstantShifted": shifted_ids,
    }
    print(json.dumps(figures, indent=1))
    record_figures("redelivery", figures)
    assert figures["duplicates"] > 0 and figures["reordered"] > 0 and figures["rebatched"] > 0
    assert doubled["mutations"] == 0 and lost["mutations"] == 0
    assert differing == [], f"outcomes changed by redelivery: {differing}"
