"""Decisions: the rules of FORMAT.md applied to one scale set's state and live view."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from tests.unit.engine_builders import (
    ACT_ALL,
    T0,
    annotation,
    at,
    decide_after_hold,
    failed_extension,
    fleet,
    folded,
    health,
    instance,
    operation,
    ops,
    pages,
    record,
    settings,
)
from vmss_responder.engine.decide import blast_radius, evaluate
from vmss_responder.engine.incident import Status
from vmss_responder.signals import Phase

NOT_RUNNING = {"service_state": "NotRunning"}
SUSPENDED = {"service_state": "Suspended"}


def codes(st) -> list[str]:
    return st.incident.finding_codes()


# --- waiting before acting ----------------------------------------------------------------


def test_an_unexplained_degraded_is_held_before_anything_is_decided() -> None:
    st = folded(health(T0, "4"))
    now = at(minutes=3)
    d = evaluate(st, fleet(unhealthy=["4"], **NOT_RUNNING), now, settings(**ACT_ALL), [])
    assert d.actions == [] and d.notifications == []
    assert st.incident.phase == "holding" and st.due == at(minutes=10)


def test_nothing_is_done_while_an_operation_explains_the_failure() -> None:
    st = folded(operation(T0), health(at(minutes=1), "4"), operation(at(minutes=3), phase=Phase.SUCCEEDED))
    now = at(minutes=12)  # past the hold, inside the scale-in's settle period (until 09:18)
    d = evaluate(st, fleet(unhealthy=["4"], **NOT_RUNNING), now, settings(**ACT_ALL), [])
    assert d.actions == [] and pages(d) == 0
    assert st.incident.phase == "waiting_operation" and st.due == at(minutes=18)


def test_a_failure_that_outlasts_the_operations_window_is_acted_on() -> None:
    st = folded(operation(T0), health(at(minutes=1), "4"), operation(at(minutes=3), phase=Phase.SUCCEEDED))
    d = evaluate(st, fleet(unhealthy=["4"], **NOT_RUNNING), at(minutes=18), settings(**ACT_ALL), [])
    assert ops(d, executed=True) == [("restart_instance", ["4"])]


def test_a_recovery_without_any_action_or_operation_closes_as_resolved_silently() -> None:
    st = folded(health(T0, "4"))
    d = evaluate(st, fleet(), at(minutes=11), settings(), [])
    assert d.closed is not None and d.closed.status is Status.RESOLVED
    assert d.notifications == [] and st.incident is None and st.due is None


# --- probe or application broken everywhere -------------------------------------------------


@pytest.mark.parametrize("bad", [["0", "1", "2", "3", "4", "5"], ["0", "1", "2", "3"]], ids=["all", "most"])
def test_most_instances_unhealthy_is_a_broken_probe_paged_with_no_resume_and_no_instance_action(bad) -> None:
    facts = fleet(unhealthy=bad, **SUSPENDED)
    st, d = decide_after_hold(facts, ACT_ALL, instances=bad)
    assert "probe_misconfigured" in codes(st)
    assert d.actions == []
    assert pages(d) == 1 and st.incident.status is Status.ESCALATED
    assert "restarting them would only remove capacity" in st.incident.explanation


# --- automatic repairs suspended ----------------------------------------------------------


def test_suspended_repairs_with_a_local_cause_are_resumed_as_shadow_in_observe_mode() -> None:
    st, d = decide_after_hold(fleet(unhealthy=["4"], **SUSPENDED))
    assert "repairs_suspended" in codes(st)
    assert ops(d, executed=False) == [("resume_repairs", [])]  # what act mode would do: no restart on top
    assert ops(d, executed=True) == []
    assert "shadow: observe mode" in d.actions[0].reason


def test_suspended_repairs_fall_back_to_the_instance_when_resume_is_not_allowed() -> None:
    st, d = decide_after_hold(
        fleet(unhealthy=["4"], **SUSPENDED), {"mode": "act", "allowedActions": ["restart_instance"]}
    )
    assert ops(d) == [("resume_repairs", []), ("restart_instance", ["4"])]
    assert ops(d, executed=True) == [("restart_instance", ["4"])]


def test_suspended_repairs_with_a_local_cause_are_resumed_in_act_mode_and_the_platform_left_to_repair() -> (
    None
):
    st, d = decide_after_hold(fleet(unhealthy=["4"], **SUSPENDED), ACT_ALL)
    assert ops(d) == [("resume_repairs", [])]  # no restart of 4 on top: the platform repairs it
    assert d.actions[0].execute
    assert pages(d) == 0 and [n.severity for n in d.notifications] == ["info"]
    assert st.incident.phase == "verifying"


def test_a_resume_not_in_allowed_actions_is_only_a_shadow() -> None:
    _, d = decide_after_hold(fleet(unhealthy=["4"], **SUSPENDED), {"mode": "act", "allowedActions": []})
    assert ("resume_repairs", []) in ops(d, executed=False) and ops(d, executed=True) == []
    assert "resume_repairs is not in allowedActions" in d.actions[0].reason


def test_a_dry_run_decides_the_resume_but_runs_nothing() -> None:
    st = folded(health(T0, "4"))
    d = evaluate(
        st, fleet(unhealthy=["4"], **SUSPENDED), at(minutes=11), settings(**ACT_ALL), [], dry_run=True
    )
    assert ("resume_repairs", []) in ops(d, executed=False) and ops(d, executed=True) == []


def test_once_the_resume_budget_is_spent_repairs_are_not_resumed_again_and_on_call_is_paged() -> None:
    st = folded(health(T0, "4"))
    st.resumes = [at(minutes=-180), at(minutes=-60)]  # the budget: 2 resumes in 24 h
    d = evaluate(st, fleet(unhealthy=["4"], **SUSPENDED), at(minutes=11), settings(mode="act"), [])
    assert "resume_repairs" not in [op for op, _ in ops(d)]
    assert pages(d) == 1
    assert "budget of 2 resumes per 24 h is spent" in st.incident.explanation


def test_a_resume_soon_after_the_last_one_backs_off() -> None:
    st = folded(health(T0, "4"))
    st.resumes = [at(minutes=-10)]
    d = evaluate(st, fleet(unhealthy=["4"], **SUSPENDED), at(minutes=11), settings(mode="act"), [])
    assert "resume_repairs" not in [op for op, _ in ops(d)]
    assert "backing off until 09:20Z" in st.incident.explanation


def test_a_resume_that_did_not_bring_the_instance_back_hands_over_without_another_resume() -> None:
    facts = fleet(unhealthy=["4"], **SUSPENDED)
    st, first = decide_after_hold(facts, ACT_ALL)
    sent = record(first, at(minutes=11))
    later = at(minutes=11) + timedelta(minutes=26)  # grace 10 + margin 10 + verify 5, and then some
    d = evaluate(st, replace(facts, read_at=later), later, settings(**ACT_ALL), sent)
    assert d.verified == {sent[0].id: False}
    assert d.actions == [] and pages(d) == 1


# --- automatic repairs not running or not configured -------------------------------------


@pytest.mark.parametrize(
    ("facts", "evidence"),
    [
        (fleet(unhealthy=["4"], **NOT_RUNNING), "serviceState is NotRunning"),
        (fleet(unhealthy=["4"], repairs=None), "not configured"),
        (fleet(unhealthy=["4"], repairs=False), "enabled is false"),
    ],
    ids=["not-running", "not-configured", "disabled"],
)
def test_repairs_that_are_off_are_never_resumed_the_instance_is_restarted(facts, evidence) -> None:
    st, d = decide_after_hold(facts, ACT_ALL)
    (finding,) = [f for f in st.incident.findings if f.code == "repairs_disabled"]
    assert evidence in finding.evidence
    assert ops(d) == [("restart_instance", ["4"])] and d.actions[0].execute
    assert pages(d) == 0


# --- grace period ------------------------------------------------------------------------


def test_an_instance_inside_the_grace_period_is_left_to_the_platform() -> None:
    facts = fleet(unhealthy=["4"])
    st, d = decide_after_hold(facts, ACT_ALL)
    assert "grace_period" in codes(st)
    assert d.actions == [] and pages(d) == 0
    assert st.incident.phase == "waiting_repair"

    # past gracePeriod (10 min) + repairWaitMargin (10 min) the platform evidently is not repairing it
    later = at(minutes=32)
    d = evaluate(st, replace(facts, read_at=later), later, settings(**ACT_ALL), [])
    assert ops(d, executed=True) == [("restart_instance", ["4"])]
    assert "past the repair grace period" in d.actions[0].reason


# --- per-instance actions ----------------------------------------------------------------


def test_a_provisioning_failure_is_replaced_never_restarted() -> None:
    failed = instance("4", health=None, provisioning_state="Failed")
    st, d = decide_after_hold(fleet(changed=[failed]), ACT_ALL)
    assert "provisioning_failed" in codes(st)
    assert ops(d) == [("replace_instance", ["4"])] and d.actions[0].execute


def test_a_provisioning_failure_is_not_restarted_when_replace_is_not_allowed() -> None:
    failed = instance("4", health=None, provisioning_state="Failed")
    _, d = decide_after_hold(fleet(changed=[failed]), {"mode": "act", "allowedActions": ["restart_instance"]})
    assert ops(d) == [("replace_instance", ["4"])] and not d.actions[0].execute


def test_an_extension_failure_is_reimaged() -> None:
    broken = failed_extension(instance("4", health="Unhealthy"))
    st, d = decide_after_hold(fleet(changed=[broken], **NOT_RUNNING), ACT_ALL)
    assert "extension_failed" in codes(st)
    assert ops(d, executed=True) == [("reimage_instance", ["4"])]


def test_an_instance_protected_from_scale_set_actions_is_not_touched_and_on_call_is_paged() -> None:
    guarded = instance("4", health="Unhealthy", protect_from_scale_set_actions=True)
    st, d = decide_after_hold(fleet(changed=[guarded], repairs=None), ACT_ALL)
    assert "protected_instance" in codes(st)
    assert d.actions == []  # not even a shadow
    assert pages(d) == 1


def test_a_failed_instance_protected_from_scale_in_is_not_replaced() -> None:
    guarded = instance("4", health=None, provisioning_state="Failed", protect_from_scale_in=True)
    st, d = decide_after_hold(fleet(changed=[guarded]), ACT_ALL)
    assert {"protected_instance", "provisioning_failed"} <= set(codes(st))
    assert d.actions == [] and pages(d) == 1


def test_an_unhealthy_instance_protected_from_scale_in_is_restarted_which_keeps_its_disks() -> None:
    guarded = instance("4", health="Unhealthy", protect_from_scale_in=True)
    st, d = decide_after_hold(fleet(changed=[guarded]), ACT_ALL)  # repairs Running: the platform skips it
    assert "protected_instance" in codes(st) and "grace_period" not in codes(st)
    assert ops(d, executed=True) == [("restart_instance", ["4"])]


def test_an_instance_acted_on_once_in_the_incident_is_not_acted_on_again() -> None:
    facts = fleet(unhealthy=["4"], **NOT_RUNNING)
    st, first = decide_after_hold(facts, ACT_ALL)
    sent = record(first, at(minutes=11))
    sent[0].verified = True  # verified once; the instance failed again in the same incident
    d = evaluate(st, replace(facts, read_at=at(minutes=40)), at(minutes=40), settings(**ACT_ALL), sent)
    assert d.actions == [] and pages(d) == 1


# --- blast radius ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "at_once"), [(1, 1), (10, 1), (19, 1), (20, 1), (40, 2), (100, 5), (250, 12)]
)
def test_blast_radius_is_one_below_20_instances_and_5_percent_above(total: int, at_once: int) -> None:
    assert blast_radius(total) == at_once


@pytest.mark.parametrize(
    ("size", "bad", "at_once"), [(10, ["1", "5", "9"], 1), (40, ["1", "5", "9", "13"], 2)]
)
def test_per_instance_actions_respect_the_blast_radius(size: int, bad: list[str], at_once: int) -> None:
    st, d = decide_after_hold(fleet(size, unhealthy=bad, **NOT_RUNNING), ACT_ALL, instances=bad)
    assert ops(d, executed=True) == [("restart_instance", [i]) for i in bad[:at_once]]
    assert ops(d, executed=False) == []
    assert pages(d) == 0  # the rest wait their turn
    for waiting in bad[at_once:]:
        assert f"on instance {waiting} deferred: blast radius allows {at_once}" in (st.incident.explanation)


def test_the_next_instance_is_restarted_once_the_first_is_verified() -> None:
    bad = ["1", "5", "9"]
    st, first = decide_after_hold(fleet(10, unhealthy=bad, **NOT_RUNNING), ACT_ALL, instances=bad)
    sent = record(first, at(minutes=11))
    now = at(minutes=16)
    d = evaluate(st, fleet(10, unhealthy=bad[1:], **NOT_RUNNING, now=now), now, settings(**ACT_ALL), sent)
    assert d.verified == {sent[0].id: True}
    assert ops(d, executed=True) == [("restart_instance", ["5"])]


# --- failures that point at the platform --------------------------------------------------


def _evaluate_twice(st, facts, config):
    first = evaluate(st, replace(facts, read_at=at(minutes=11)), at(minutes=11), settings(**config), [])
    second = evaluate(st, replace(facts, read_at=at(minutes=21)), at(minutes=21), settings(**config), [])
    return first, second


def test_failures_concentrated_in_one_zone_hold_every_action_and_page_once() -> None:
    zone2 = ["1", "4"]  # of six instances over zones 1-3
    st = folded(*(health(T0, i) for i in zone2))
    first, second = _evaluate_twice(st, fleet(unhealthy=zone2, **SUSPENDED), ACT_ALL)
    assert "zone_concentrated" in codes(st)
    assert first.actions == second.actions == []
    assert (pages(first), pages(second)) == (1, 0)
    assert "Per-instance actions held: zone_concentrated" in st.incident.explanation


def test_a_platform_initiated_annotation_holds_every_action_and_pages_once() -> None:
    st = folded(
        annotation(T0, "4", "VirtualMachinePossiblyDegradedDueToHardwareFailure", "Platform Initiated"),
        health(at(minutes=1), "4"),
    )
    first, second = _evaluate_twice(st, fleet(unhealthy=["4"], repairs=None), ACT_ALL)
    assert "platform_initiated" in codes(st)
    assert first.actions == second.actions == []
    assert (pages(first), pages(second)) == (1, 0)


def test_an_escalated_incident_that_recovers_keeps_its_status_and_sends_resolved() -> None:
    guarded = instance("4", health="Unhealthy", protect_from_scale_set_actions=True)
    st, _ = decide_after_hold(fleet(changed=[guarded], repairs=None), ACT_ALL)
    d = evaluate(st, fleet(repairs=None, now=at(minutes=30)), at(minutes=30), settings(**ACT_ALL), [])
    assert d.closed is not None and d.closed.status is Status.ESCALATED and d.closed.closed == at(minutes=30)
    assert [n.severity for n in d.notifications] == ["resolved"]
