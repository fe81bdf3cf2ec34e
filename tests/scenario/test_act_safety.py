"""In ``act`` mode with every action allowed, no scenario makes the responder issue a forbidden mutation.

The scenarios' own ``config`` keeps most of them in observe mode; here each one is replayed with
``mode: act`` and all five actions allowed, and an auditor sits on the emulator's mutating entry
points (where ARM would execute the call). For every mutation it looks at the fleet exactly as ARM
sees it at that instant and checks the rules of issue 4 independently of the engine's code:

- only the five actions exist (resume is ``Resume`` of AutomaticRepairs; capacity only grows back
  after the responder's own delete; every per-instance call names its instances);
- resume only what is ``Suspended`` on a set whose repairs are configured, within the budget, and
  never when most instances are unhealthy;
- never touch a protected instance (scale-in protection for a delete), a healthy instance, or a
  provisioning failure with anything but a replacement;
- no per-instance action while repairs run and the instance is inside its grace period, when most
  instances are unhealthy (probe), when the failures sit in one zone, or under a platform annotation;
- blast radius: one instance at a time below 20 instances, 5% above.

And the report tells the truth: every executed action is a mutation the emulator saw, and back.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from vmss_responder.config import Settings
from vmss_responder.durations import parse_duration, parse_timestamp
from vmss_responder.engine.decide import blast_radius
from vmss_responder.sim.fleet import Fleet
from vmss_responder.sim.fleet_state import UNHEALTHY, ScaleSet
from vmss_responder.sim.replay import replay
from vmss_responder.sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.json"))
EVERYTHING = {
    "mode": "act",
    "allowedActions": [
        "resume_repairs",
        "restart_instance",
        "reimage_instance",
        "replace_instance",
        "run_command",
    ],
}
DEFAULTS = Settings()
PER_INSTANCE = {"restart", "reimage", "delete"}


@dataclass
class Mutation:
    at: datetime
    op: str
    scale_set: str
    instance_ids: tuple[str, ...]
    detail: str = ""


@dataclass
class Auditor:
    """Checks each mutation against the fleet as ARM holds it when the call arrives."""

    violations: list[str] = field(default_factory=list)
    mutations: list[Mutation] = field(default_factory=list)
    resumes: Counter[str] = field(default_factory=Counter)
    deleted: dict[str, int] = field(default_factory=dict)  # scale set -> capacity before our deletes
    acted: dict[str, dict[str, datetime]] = field(default_factory=dict)  # scale set -> instance -> when

    def flag(self, m: Mutation, rule: str) -> None:
        self.violations.append(f"{m.at:%H:%M:%S} {m.op} {m.scale_set} {list(m.instance_ids)}: {rule}")

    def check(self, ss: ScaleSet, m: Mutation) -> None:
        self.mutations.append(m)
        unhealthy = [i for i in ss.instances.values() if _app_unhealthy(i)]
        most_unhealthy = (
            len(ss.instances) >= 2
            and len(unhealthy) >= 2
            and len(unhealthy) / len(ss.instances) >= DEFAULTS.probe_misconfigured_fraction
        )
        if m.op == "resume":
            self.resumes[ss.name] += 1
            if m.detail != "Resume":
                self.flag(m, f"orchestration service action {m.detail!r} (only Resume is ours)")
            if not (ss.repairs_policy and ss.repairs_policy.enabled) or ss.repairs_state != "Suspended":
                self.flag(
                    m,
                    f"resumed repairs that are {ss.repairs_state} (policy enabled: {bool(ss.repairs_policy and ss.repairs_policy.enabled)})",
                )
            if most_unhealthy:
                self.flag(
                    m, f"resumed with {len(unhealthy)} of {len(ss.instances)} unhealthy (probe or app broken)"
                )
            if self.resumes[ss.name] > DEFAULTS.resume_budget:
                self.flag(
                    m, f"resume number {self.resumes[ss.name]} is over the budget of {DEFAULTS.resume_budget}"
                )
            return
        if m.op == "capacity":
            before = self.deleted.pop(ss.name, None)
            if before is None or int(m.detail) > before or int(m.detail) < ss.capacity:
                self.flag(
                    m,
                    f"capacity {ss.capacity} -> {m.detail} is not restoring our own delete (before: {before})",
                )
            return
        if not m.instance_ids:
            self.flag(m, "no instance IDs: a wildcard")
            return
        for iid in m.instance_ids:
            inst = ss.instances.get(iid)
            if inst is None:
                self.flag(m, f"instance {iid} does not exist")
                continue
            if inst.protect_from_scale_set_actions:
                self.flag(m, f"instance {iid} is protected from scale set actions")
            if m.op == "delete" and inst.protect_from_scale_in:
                self.flag(m, f"instance {iid} is protected from scale-in")
            failed = inst.provisioning_state == "Failed"
            broken = (
                failed
                or inst.health in UNHEALTHY
                or inst.power_state in ("stopped", "deallocated")
                or any(e.status == "Failed" for e in inst.extensions)
            )
            if not broken:
                self.flag(
                    m,
                    f"instance {iid} is healthy ({inst.health}, {inst.provisioning_state}, {inst.power_state})",
                )
            if failed and m.op in ("restart", "reimage", "runCommand"):
                self.flag(m, f"instance {iid} failed provisioning: only a replacement fixes it")
            grace = (
                parse_duration(ss.repairs_policy.gracePeriod)
                if ss.repairs_active and ss.repairs_policy
                else None
            )
            if (
                m.op != "delete"
                and not failed
                and grace
                and inst.unhealthy_since
                and m.at < inst.unhealthy_since + grace
            ):
                self.flag(m, f"instance {iid} is inside the {grace} grace period while repairs run")
        if m.op == "runCommand":
            if m.detail != "RunShellScript":  # the script text comes from the repo's library (actions.py)
                self.flag(m, f"run command {m.detail!r} is not the library's shell script runner")
            return
        if most_unhealthy:
            self.flag(
                m,
                f"per-instance action with {len(unhealthy)} of {len(ss.instances)} unhealthy (probe or app broken)",
            )
        zones = {i.zone for i in unhealthy if i.zone}
        if len(unhealthy) >= DEFAULTS.zone_concentration_min and len(zones) == 1 and len(set(ss.zones)) > 1:
            self.flag(m, f"per-instance action while the failures concentrate in zone {next(iter(zones))}")
        self._blast_radius(ss, m)
        if m.op == "delete":
            self.deleted.setdefault(ss.name, ss.capacity)

    def _blast_radius(self, ss: ScaleSet, m: Mutation) -> None:
        """Instances we acted on that have not come back yet count against the limit."""
        mine = self.acted.setdefault(ss.name, {})
        for iid in m.instance_ids:
            mine[iid] = m.at
        window = DEFAULTS.verify_timeout
        in_flight = {
            iid
            for iid, at in mine.items()
            if m.at - at < window and (iid in m.instance_ids or _not_back(ss, iid))
        }
        limit = blast_radius(len(ss.instances))
        if len(in_flight) > limit:
            self.flag(
                m,
                f"{len(in_flight)} instances in flight ({sorted(in_flight)}); the limit for {len(ss.instances)} is {limit}",
            )


def _app_unhealthy(inst: Any) -> bool:
    return inst.health in UNHEALTHY and inst.provisioning_state != "Failed" and inst.power_state == "running"


def _not_back(ss: ScaleSet, iid: str) -> bool:
    inst = ss.instances.get(iid)
    return inst is not None and not (
        inst.health == "Healthy" and inst.provisioning_state == "Succeeded" and inst.power_state == "running"
    )


def _audited(
    fleet_method: Callable[..., Any], describe: Callable[..., Mutation], auditor: Auditor
) -> Callable[..., Any]:
    @functools.wraps(fleet_method)
    def wrapper(self: Fleet, *args: Any, **kwargs: Any) -> Any:
        m = describe(*args, **kwargs)
        with self.lock:
            self.tick(m.at)
            auditor.check(self.scale_set(m.scale_set), m)
        return fleet_method(self, *args, **kwargs)

    return wrapper


@pytest.fixture
def auditor(monkeypatch: pytest.MonkeyPatch) -> Iterator[Auditor]:
    aud = Auditor()
    entry_points: dict[str, Callable[..., Mutation]] = {
        "set_orchestration_service_state": lambda ss, service, action, now: Mutation(
            now, "resume", ss, (), action
        ),
        "restart": lambda ss, iid, now: Mutation(now, "restart", ss, (iid,)),
        "reimage": lambda ss, iid, now: Mutation(now, "reimage", ss, (iid,)),
        "delete_instances": lambda ss, ids, now: Mutation(now, "delete", ss, tuple(ids)),
        "set_capacity": lambda ss, capacity, now: Mutation(now, "capacity", ss, (), str(capacity)),
        "run_command": lambda ss, iid, command, now: Mutation(now, "runCommand", ss, (iid,), command),
    }
    for name, describe in entry_points.items():
        monkeypatch.setattr(Fleet, name, _audited(getattr(Fleet, name), describe, aud))
    yield aud


EMULATOR_OP = {
    "resume_repairs": ("resume",),
    "restart_instance": ("restart",),
    "reimage_instance": ("reimage",),
    "replace_instance": ("delete",),
    "run_command": ("runCommand",),
}


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_act_mode_with_every_action_allowed_never_issues_a_forbidden_mutation(
    path: Path, auditor: Auditor
) -> None:
    scenario = load_scenario(path)
    report = replay(dataclasses.replace(scenario, config={**scenario.config, **EVERYTHING}))
    assert auditor.violations == []

    executed = Counter(
        (op, a["scaleSet"].rsplit("/", 1)[-1].lower(), tuple(a["instanceIds"]))
        for a in report["actions"]
        if a["mode"] == "executed"
        for op in EMULATOR_OP[a["op"]]
    )
    seen = Counter(
        (m.op, m.scale_set.lower(), m.instance_ids) for m in auditor.mutations if m.op != "capacity"
    )
    assert seen == executed, "every executed action is one mutation, and every mutation is a reported action"

    for inc in report["incidents"]:
        if {"platform_initiated", "zone_concentrated", "probe_misconfigured"} & set(inc["findings"]):
            opened = parse_timestamp(inc["opened"])
            closed = (
                parse_timestamp(inc["closed"])
                if inc.get("closed")
                else datetime.max.replace(tzinfo=opened.tzinfo)
            )
            acted = [
                a
                for a in report["actions"]
                if a["mode"] == "executed"
                and a["scaleSet"] == inc["scaleSet"]
                and a["op"] != "resume_repairs"
                and a["op"] != "run_command"
                and opened <= parse_timestamp(a["at"]) <= closed
            ]
            assert acted == [], f"per-instance actions on a platform/probe incident: {acted}"


def test_the_auditor_catches_a_forbidden_mutation(auditor: Auditor) -> None:
    """The oracle has teeth: restarting a healthy, protected instance directly is flagged."""
    scenario = load_scenario(ROOT / "scenarios" / "persistent-degraded-escalated.json")
    fleet = Fleet.from_spec(scenario.fleet, scenario.start)
    ss = fleet.scale_sets[0]
    target = ss.sorted_instances()[0]
    target.protect_from_scale_set_actions = True
    target.set_health("Healthy", scenario.start)
    fleet.restart(ss.name, target.instance_id, scenario.start + timedelta(minutes=1))
    assert any("protected from scale set actions" in v for v in auditor.violations)
    assert any("is healthy" in v for v in auditor.violations)
