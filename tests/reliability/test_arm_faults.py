"""ARM throttles and fails; the responder still ends where each scenario says, never stalls a
handler, and never performs a POST twice.

Every scenario is replayed with a seeded :class:`~vmss_responder.sim.faults.FaultPlan` on the
emulator failing 30% of *all* the responder's requests (ARM reads and writes, LRO/operation polls,
Log Analytics queries), in three mixes:

* ``mixed-1``/``mixed-2``: 429 (``Retry-After`` log-uniform from 1 s to 1,200 s), 500, 503, a
  connection dropped before ARM did anything (``drop``) and one dropped after ARM did it
  (``lost``: the caller cannot know whether its POST happened), equally likely;
* ``throttled``: 429 only, as in a CRP throttling storm.

Three properties, each its own test so a failure names what broke:

1. the end state: ``tests/scenario/check.py`` finds nothing short against the scenario's ``expect``
   (``maxArmReads`` excepted: retried and faulted requests are reads by design; the plain replay
   is held to it by ``tests/scenario``). The replay horizon is extended by :data:`EXTENSION`: a
   429 with ``Retry-After`` beyond ``maxRetryAfter`` (20 s) is not slept through but rescheduled,
   which delays a recheck by up to 20 minutes each time, so a faulted run reaches the same end
   later. The test first proves the extension alone changes no outcome (the plain replay with the
   same horizon still meets ``expect``).
2. no handler invocation (``ingest``, ``sweep``, ``rerun``, timed by the replay on the virtual
   clock that the SDK's retry and polling sleeps advance) blocks longer than 25 s: Event Grid
   gives a delivery 30 s.
3. no POST is performed twice: per mutation (method, path, instances in the body) ARM performed
   it at most as many times as the report says an action was executed, and never for anything
   else (a shadow action, a retry). ``lost`` faults count as performed.

``RELIABILITY_FIGURES_DIR``: if set, the figures are written to ``<dir>/arm_faults.json``.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ServiceResponseError

from vmss_responder.azure import ArmTarget, AzureClients, StaticTokenCredential
from vmss_responder.clock import VirtualClock
from vmss_responder.config import Settings
from vmss_responder.sim.emulator import ArmEmulator
from vmss_responder.sim.faults import FAULT_KINDS, FaultPlan
from vmss_responder.sim.fleet import Fleet
from vmss_responder.sim.fleet_spec import FleetError
from vmss_responder.sim.mutations import action_post, mutation_of, mutations, performed
from vmss_responder.sim.replay import ReplayTrace, replay
from vmss_responder.sim.scenario import Step, load_scenario

from ..scenario.check import check

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.json"))
RATE = 0.3
EVERY_REQUEST = frozenset({"read", "write", "poll", "logQuery"})
MIXES = {"mixed-1": FAULT_KINDS, "mixed-2": FAULT_KINDS, "throttled": ("429",)}
RETRY_AFTER = (1.0, 1200.0)
EXTENSION = timedelta(minutes=60)  # three rescheduled 1,200 s throttles in a row
MAX_BLOCKED = timedelta(seconds=25)
SLEPT_THROUGH = Settings().max_retry_after.total_seconds()  # longer Retry-After: rescheduled, not slept


@dataclasses.dataclass(frozen=True)
class Run:
    report: dict[str, Any] | None
    trace: ReplayTrace
    crash: str = ""


def _expect_without_read_budget(name: str) -> dict[str, Any]:
    document = json.loads((ROOT / "scenarios" / f"{name}.json").read_text())
    document["expect"].pop("maxArmReads", None)
    return document


def _extended(name: str) -> Any:
    scenario = load_scenario(ROOT / "scenarios" / f"{name}.json")
    return dataclasses.replace(scenario, until=scenario.until + EXTENSION)


def _replay(name: str, plan: FaultPlan | None) -> Run:
    return _replay_traced(name, plan, ReplayTrace())


def _replay_traced(name: str, plan: FaultPlan | None, trace: ReplayTrace) -> Run:
    try:
        return Run(replay(_extended(name), faults=plan, trace=trace), trace)
    except Exception as exc:  # noqa: BLE001 - a crash is a finding: keep it, report it in each test
        return Run(None, trace, f"{type(exc).__name__}: {exc}")


@cache
def _plain(name: str) -> Run:
    return _replay(name, None)


@cache
def _faulted(name: str, mix: str) -> Run:
    plan = FaultPlan(RATE, MIXES[mix], RETRY_AFTER, seed=f"{name}/{mix}", request_kinds=EVERY_REQUEST)
    return _replay(name, plan)


def _runs(name: str) -> dict[str, Run]:
    return {mix: _faulted(name, mix) for mix in MIXES}


def _posts(run: Run) -> tuple[Counter[Any], Counter[Any]]:
    """(POSTs ARM performed, POSTs the report says were executed), by mutation."""
    done = Counter({m: n for m, n in mutations(run.trace.requests).items() if m.method == "POST"})
    executed = Counter(
        action_post(a) for a in (run.report or {}).get("actions", []) if a["mode"] == "executed"
    )
    return done, executed


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_every_scenario_reaches_its_expected_end_state_under_faults(path: Path) -> None:
    expect = _expect_without_read_budget(path.stem)
    plain = _plain(path.stem)
    assert plain.report is not None and check(expect, plain.report) == [], (
        "the longer horizon alone changes the outcome"
    )
    short = {}
    for mix, run in _runs(path.stem).items():
        if run.report is None:
            short[mix] = [f"crashed: {run.crash}"]
        elif found := check(expect, run.report):
            short[mix] = found
    assert short == {}


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_no_handler_invocation_blocks_longer_than_25_seconds(path: Path) -> None:
    slow = {
        mix: [
            (i.entry, f"{i.at:%H:%M:%S}", i.blocked.total_seconds())
            for i in run.trace.invocations
            if i.blocked > MAX_BLOCKED
        ]
        for mix, run in _runs(path.stem).items()
    }
    assert {mix: found for mix, found in slow.items() if found} == {}


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_no_post_is_performed_twice(path: Path) -> None:
    for mix, run in _runs(path.stem).items():
        done, executed = _posts(run)
        assert done - executed == Counter(), f"{mix}: performed beyond the executed actions"


def test_a_throttled_dry_run_changes_nothing_later() -> None:
    """A dry run promises to change nothing. The dry-run story cut to its 09:02 rerun (act mode,
    restarts allowed), whose first ARM read is throttled with ``Retry-After`` 60 s (beyond the
    20 s the responder sleeps through): no signal ever arrives, so nothing may be executed."""
    scenario = load_scenario(ROOT / "scenarios" / "dry-run-rerun.json")
    rerun = next(step for step in scenario.timeline if step.kind == "rerun")
    throttle = Step(
        0, rerun.at, "fleet", {"op": "arm_faults", "count": 1, "status": 429, "retryAfterSeconds": 60}
    )
    cut = dataclasses.replace(scenario, timeline=[throttle, dataclasses.replace(rerun, index=1)])
    report = replay(cut)
    assert [(a["op"], a["mode"]) for a in report["actions"] if a["mode"] == "executed"] == []


ONE_FAULT = [("429", 1.0), ("429", 1200.0), ("503", 1.0), ("drop", 1.0), ("lost", 1.0)]


@pytest.mark.parametrize(
    ("kind", "retry_after"), ONE_FAULT, ids=["429-1s", "429-1200s", "503", "drop", "lost"]
)
def test_an_action_post_that_failed_once_is_carried_out_exactly_once(kind: str, retry_after: float) -> None:
    """The restart story (act mode): ARM fails the restart POST once, then works again. ARM
    throttles before it acts; after a 503 or a dropped connection the instance view says whether
    the restart ran (its ProvisioningState ``time`` moves, and the instance comes back): so the
    restart is sent again only if it did not happen, the incident is remediated, and exactly one
    restart is performed (``lost``: ARM did it and only the answer was lost)."""
    name = "repairs-not-running-restart"
    plan = FaultPlan(1.0, (kind,), (retry_after, retry_after), request_kinds=frozenset({"write"}), limit=1)
    trace = ReplayTrace()
    report = replay(_extended(name), faults=plan, trace=trace)
    assert [r.fault for r in trace.requests if r.fault] == [kind]
    assert check(_expect_without_read_budget(name), report) == []
    done, executed = _posts(Run(report, trace))
    assert done == executed and sum(done.values()) == 1


def test_two_short_throttles_in_one_invocation_do_not_block_it_over_25_seconds() -> None:
    """Each ``Retry-After`` of 15 s is under the 20 s the responder sleeps through, but the first
    evaluation's reads meet two of them: the invocation must give up (and reschedule) rather than
    wait 30 s, since Event Grid waits 30 s for an answer."""
    plan = FaultPlan(1.0, ("429",), (15.0, 15.0), request_kinds=frozenset({"read"}), limit=2)
    trace = ReplayTrace()
    report = replay(_extended("persistent-degraded-escalated"), faults=plan, trace=trace)
    assert max(i.blocked for i in trace.invocations) <= MAX_BLOCKED
    assert check(_expect_without_read_budget("persistent-degraded-escalated"), report) == []


def test_a_throttled_activity_log_query_does_not_crash_the_sweep() -> None:
    """Log Analytics throttles too (429 with ``Retry-After``). The sweep's lookup before paging
    (10 minutes after the only signal) meets one of 60 s: the sweep must carry on (retry later, or
    page saying the lookup failed), not raise and leave every other scale set for the next one."""
    name = "protected-from-scale-set-actions"
    plan = FaultPlan(1.0, ("429",), (60.0, 60.0), request_kinds=frozenset({"logQuery"}), limit=1)
    trace = ReplayTrace()
    run = _replay_traced(name, plan, trace)
    assert run.crash == ""
    assert [r.fault for r in trace.requests if r.fault] == ["429"]
    assert check(_expect_without_read_budget(name), run.report or {}) == []


@pytest.mark.parametrize("kind", ["drop", "lost"])
def test_an_activity_log_query_that_lost_its_connection_is_asked_again(kind: str) -> None:
    """The power-off story: only the Activity Log knows of the power-off that explains the
    Degraded signal. Its one Log Analytics query loses its connection: the query is read-only, so
    it is asked again, and the incident is still suppressed, nobody paged."""
    name = "maintenance-poweroff-activity-log"
    plan = FaultPlan(1.0, (kind,), request_kinds=frozenset({"logQuery"}), limit=1)
    run = _replay(name, plan)
    assert [r.fault for r in run.trace.requests if r.fault] == [kind]
    assert check(_expect_without_read_budget(name), run.report or {}) == []


# --- the fault mode itself --------------------------------------------------------------------------------


def test_the_fault_rate_is_seeded_and_hits_only_what_it_names() -> None:
    scenario = load_scenario(ROOT / "scenarios" / "persistent-degraded-escalated.json")

    def draws(seed: str) -> list[str]:
        fleet = Fleet.from_spec(scenario.fleet, scenario.start)
        fleet.set_fault_rate(FaultPlan(0.5, ("503", "lost"), seed=seed, request_kinds=frozenset({"write"})))
        assert all(fleet.take_fault(kind) is None for kind in ("read", "poll", "logQuery") for _ in range(50))
        return [f.kind if (f := fleet.take_fault("write")) else "" for _ in range(400)]

    first = draws("a")
    assert first == draws("a") != draws("b")
    assert set(first) == {"", "503", "lost"}
    assert 150 < first.count("") < 250

    fleet = Fleet.from_spec(scenario.fleet, scenario.start)
    fleet.apply_step(
        {"op": "arm_fault_rate", "rate": 1, "kinds": ["429"], "retryAfterSeconds": [30, 30]}, scenario.start
    )
    throttle = fleet.take_fault("read")
    assert throttle is not None and (throttle.status, throttle.retry_after) == (429, 30)
    fleet.apply_step({"op": "arm_fault_rate", "rate": 0}, scenario.start)
    assert fleet.take_fault("read") is None
    with pytest.raises(FleetError, match="kinds"):
        fleet.apply_step({"op": "arm_fault_rate", "rate": 0.1, "kinds": ["404"]}, scenario.start)


@pytest.mark.parametrize(("kind", "performed_by_arm"), [("drop", False), ("lost", True)])
def test_a_dropped_connection_before_or_after_arm_acted(kind: str, performed_by_arm: bool) -> None:
    """What the SDK sees is the same (no answer to a POST, not retried); what ARM did differs, and
    the instance view tells: the ProvisioningState ``time`` moves when a restart ran."""
    scenario = load_scenario(ROOT / "scenarios" / "persistent-degraded-escalated.json")
    clock = VirtualClock(scenario.start)
    fleet = Fleet.from_spec(scenario.fleet, clock.now())
    name = scenario.fleet["scaleSets"][0]["name"]
    group = scenario.fleet["scaleSets"][0]["resourceGroup"]
    with ArmEmulator(fleet, clock) as arm:
        target = ArmTarget(arm.base_url, arm.ca_path, StaticTokenCredential(clock))
        compute = AzureClients(target, clock, Settings()).compute(scenario.subscription_id)
        arm.inject_fault_rate(1.0, [kind], request_kinds=["write"])
        with pytest.raises(ServiceResponseError):
            compute.virtual_machine_scale_set_vms.begin_restart(group, name, "3", polling=False)
        clock.advance(60)
        view = compute.virtual_machine_scale_set_vms.get_instance_view(group, name, "3")
    (record,) = [r for r in arm.requests if r.kind == "write"]
    assert (record.status, record.fault, performed(record)) == (0, kind, performed_by_arm)
    assert mutation_of(record).path.endswith("/virtualmachines/3/restart")
    provisioned = next(s.time for s in view.statuses if s.code.startswith("ProvisioningState/"))
    assert (provisioned > scenario.start) is performed_by_arm


def test_figures(record_figures: Callable[[str, Any], None]) -> None:
    """What the suite injected and what came of it; written for docs/reliability.md."""
    runs = {(p.stem, mix): _faulted(p.stem, mix) for p in SCENARIOS for mix in MIXES}
    faults: Counter[str] = Counter()
    requests = rescheduled = doubled = lost = mutations_attempted = mutations_performed = 0
    blocked = timedelta(0)
    short, crashed, slow = [], [], []
    for (name, mix), run in runs.items():
        log = run.trace.requests
        requests += len(log)
        faults.update(r.fault for r in log if r.fault)
        rescheduled += sum(r.fault == "429" and (r.retry_after or 0) > SLEPT_THROUGH for r in log)
        attempted = mutations(log, only_performed=False)
        mutations_attempted += sum(attempted.values())
        mutations_performed += sum(mutations(log).values())
        done, executed = _posts(run)
        doubled += sum((done - executed).values())
        if run.report is not None:
            succeeded = Counter(
                action_post(a)
                for a in run.report["actions"]
                if a["mode"] == "executed" and a["result"] == "succeeded"
            )
            lost += sum((succeeded - done).values())
        longest = max((i.blocked for i in run.trace.invocations), default=timedelta(0))
        blocked = max(blocked, longest)
        if longest > MAX_BLOCKED:
            slow.append(f"{name} ({mix})")
        if run.report is None:
            crashed.append(f"{name} ({mix}): {run.crash}")
        elif check(_expect_without_read_budget(name), run.report):
            short.append(f"{name} ({mix})")
    figures = {
        "scenarios": len(SCENARIOS),
        "faultedReplays": len(runs),
        "rate": RATE,
        "mixes": {mix: list(kinds) for mix, kinds in MIXES.items()},
        "retryAfterSeconds": list(RETRY_AFTER),
        "horizonExtensionMinutes": EXTENSION.total_seconds() / 60,
        "deliveries": sum(i.entry == "ingest" for run in runs.values() for i in run.trace.invocations),
        "invocations": sum(len(run.trace.invocations) for run in runs.values()),
        "requests": requests,
        "faults": dict(sorted(faults.items())),
        "faultsTotal": sum(faults.values()),
        "throttlesBeyondCap": rescheduled,
        "maxBlockedSeconds": blocked.total_seconds(),
        "mutationsAttempted": mutations_attempted,
        "mutationsPerformed": mutations_performed,
        "postsDoubled": doubled,
        "actionsReportedButNotPerformed": lost,
        "endStateMissed": short,
        "crashed": crashed,
        "blockedOver25s": slow,
    }
    print(json.dumps(figures, indent=1))
    record_figures("arm_faults", figures)
    assert set(faults) == set(FAULT_KINDS), "every kind of fault was injected"
    assert figures["faultsTotal"] >= 0.2 * requests
    assert doubled == 0 and lost == 0
