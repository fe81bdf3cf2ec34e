"""Correlation: health attributed to operations, arrival order, duplicates, read pacing, flapping."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from tests.unit.engine_builders import (
    REF,
    T0,
    annotation,
    at,
    autoscale,
    fleet,
    folded,
    health,
    moves,
    operation,
    scale,
    settings,
)
from vmss_responder.engine.correlate import MIN_READ_GAP, absorb, flapping, new_state, schedule
from vmss_responder.engine.decide import evaluate
from vmss_responder.engine.incident import Status
from vmss_responder.signals import Availability, OpCategory, Phase

EXPLAINING = [OpCategory.SCALE, OpCategory.POWER, OpCategory.REIMAGE]
SETTLE = settings().settle_period


@pytest.mark.parametrize("category", EXPLAINING, ids=lambda c: c.value)
def test_degraded_during_an_operation_waits_for_the_operation_instead_of_holding(
    category: OpCategory,
) -> None:
    st = folded(
        operation(T0, category),
        health(at(minutes=1), "4"),
        health(at(minutes=1)),
        operation(at(minutes=3), category, Phase.SUCCEEDED),
    )

    inc = st.incident
    assert inc is not None and inc.status is Status.OPEN
    assert inc.explained_by == ["corr-1"]
    assert inc.phase == "waiting_operation"
    # rechecked when the operation's window closes (completion + settle period), not after the hold
    assert st.due == at(minutes=3) + SETTLE


@pytest.mark.parametrize(
    ("category", "named"),
    [
        (OpCategory.SCALE, "autoscale scaled in from 6 to 4"),
        (OpCategory.POWER, "ops@contoso.com powered off instance 4"),
        (OpCategory.REIMAGE, "ops@contoso.com reimaged instance 4"),
    ],
    ids=lambda v: v.value if isinstance(v, OpCategory) else "",
)
def test_a_degraded_episode_an_operation_explains_is_closed_as_suppressed_naming_it(
    category: OpCategory, named: str
) -> None:
    st = folded(
        operation(T0, category),
        health(at(minutes=1), "4"),
        operation(at(minutes=3), category, Phase.SUCCEEDED),
    )
    assert st.due is not None
    d = evaluate(st, fleet(now=st.due), st.due, settings(), [])

    assert d.closed is not None and d.closed.status is Status.SUPPRESSED
    assert d.closed.finding_codes() == ["scale_operation"]
    assert named in d.closed.explanation and "correlation corr-1" in d.closed.explanation
    assert d.notifications == [] and d.actions == []


def test_degraded_on_another_instance_than_the_one_operated_on_is_not_explained() -> None:
    st = folded(operation(T0, OpCategory.POWER), health(at(minutes=1), "2"))
    assert st.incident is not None
    assert st.incident.explained_by == []
    assert st.incident.phase == "holding"
    assert st.due == at(minutes=1) + settings().hold_period


def test_an_operation_that_arrives_after_the_health_signal_it_explains_still_explains_it() -> None:
    st = folded(health(at(minutes=1), "4"), now=at(minutes=1))
    assert st.incident is not None and st.incident.explained_by == []
    assert st.due == at(minutes=11)  # held

    # the operation started a minute before the health signal but is delivered two minutes after it
    folded(operation(T0), operation(at(minutes=2), phase=Phase.SUCCEEDED), now=at(minutes=3), state=st)

    assert st.incident.explained_by == ["corr-1"]
    assert st.incident.phase == "waiting_operation"
    assert st.due == at(minutes=2) + SETTLE


def test_health_slightly_before_the_operations_first_event_is_still_attributed_to_it() -> None:
    """Sources disagree by a minute or two: Degraded at 09:00, the scale-in logged at 09:01."""
    st = folded(health(T0, "4"), operation(at(minutes=1)), now=at(minutes=2))
    assert st.incident is not None and st.incident.explained_by == ["corr-1"]


def test_folding_the_same_signals_twice_does_not_change_the_outcome() -> None:
    signals = [operation(T0), health(at(minutes=1), "4"), operation(at(minutes=3), phase=Phase.SUCCEEDED)]
    once = folded(*signals)
    twice = folded(*signals)
    folded(*signals, state=twice)

    assert len(twice.operations) == len(once.operations) == 1
    assert twice.incident is not None and once.incident is not None
    assert twice.incident.explained_by == once.incident.explained_by
    assert twice.incident.instance_ids == once.incident.instance_ids
    assert twice.due == once.due
    now = once.due
    assert now is not None
    closed = [evaluate(st, fleet(now=now), now, settings(), []).closed for st in (once, twice)]
    assert closed[0] is not None and closed[1] is not None
    assert closed[0].status is closed[1].status is Status.SUPPRESSED
    assert closed[0].explanation == closed[1].explanation


def test_a_duplicate_autoscale_notification_is_one_scale_operation_not_a_reversal() -> None:
    move = scale(T0, 6, 4)
    st = folded(move)
    folded(move, state=st)
    assert len(st.operations) == 1
    assert st.autoscale == [(T0, -1)]
    assert st.diagnose is None


def test_the_autoscale_webhook_and_the_activity_log_completion_join_into_one_operation() -> None:
    st = folded(
        scale(T0, 6, 4), operation(at(minutes=4), phase=Phase.SUCCEEDED, correlation_id="activity-corr")
    )
    (op,) = st.operations
    assert op.key == "activity-corr"  # the platform's correlation ID replaces the synthesized one
    assert (op.started, op.ended, op.phase) == (T0, at(minutes=4), Phase.SUCCEEDED)


def test_a_recovery_does_not_open_an_incident_and_health_marks_keep_the_latest_state() -> None:
    st = folded(health(at(minutes=2), "4", Availability.AVAILABLE), health(at(minutes=1), "4"))
    assert st.health["4"].state == "Available"  # the Degraded event is older
    assert st.incident is not None  # but it was a problem when it happened
    empty = folded(health(at(minutes=2), "4", Availability.AVAILABLE))
    assert empty.incident is None and empty.due is None


def test_a_late_copy_of_a_degraded_the_last_live_read_already_saw_opens_nothing() -> None:
    st = new_state(REF.id)
    st.last_read = at(minutes=5)
    folded(health(at(minutes=4), "4"), now=at(minutes=6), state=st)
    assert st.incident is None and st.due is None


def test_a_customer_initiated_stop_annotation_explains_the_instance_like_an_operation() -> None:
    st = folded(
        annotation(T0, "4", "VirtualMachineDeallocationInitiated", "Customer Initiated"),
        health(at(minutes=1), "4", Availability.UNAVAILABLE),
    )
    assert st.incident is not None and len(st.incident.explained_by) == 1
    assert st.incident.phase == "waiting_operation"


# --- read pacing (commit 05bcf09) -------------------------------------------------------------

NOW = at(minutes=40)
LAST_READ = NOW - timedelta(seconds=30)


def _recently_read():
    st = new_state(REF.id)
    st.last_read = LAST_READ
    return st


def _flap(st) -> None:
    folded(*moves((20, 4, 6), (28, 6, 4), (36, 4, 6)), now=NOW, state=st)


def _repair_state_changed(st) -> None:
    change = operation(
        at(minutes=39), OpCategory.REPAIR_STATE, Phase.SUCCEEDED, caller="AzureAutomaticRepairs"
    )
    folded(change, now=NOW, state=st)


@pytest.mark.parametrize("cause", [_flap, _repair_state_changed], ids=["flapping", "repair-state"])
def test_a_requested_diagnosis_still_waits_out_the_read_gap(cause) -> None:
    st = _recently_read()
    cause(st)
    assert st.diagnose  # a diagnosis was asked for ...
    assert st.due == LAST_READ + MIN_READ_GAP  # ... but not sooner than 150 s after the last read


@pytest.mark.parametrize("cause", [_flap, _repair_state_changed], ids=["flapping", "repair-state"])
def test_a_requested_diagnosis_reads_at_once_when_nothing_was_read_recently(cause) -> None:
    st = new_state(REF.id)
    st.last_read = NOW - MIN_READ_GAP - timedelta(seconds=1)
    cause(st)
    assert st.diagnose and st.due == NOW


def test_an_overdue_incident_recheck_and_a_recovery_hint_are_paced_too() -> None:
    st = folded(health(at(minutes=1), "4"), now=at(minutes=1))
    assert st.incident is not None
    st.last_read = LAST_READ  # the hold (09:11) is long over: the recheck is overdue
    folded(health(at(minutes=39, seconds=50), "4", Availability.AVAILABLE), now=NOW, state=st)
    assert st.due == LAST_READ + MIN_READ_GAP

    st.incident.next_check = None
    st.diagnose = "asked"
    schedule(st, NOW, settings())
    assert st.due == LAST_READ + MIN_READ_GAP


def test_pacing_never_brings_a_later_recheck_forward() -> None:
    st = folded(health(at(minutes=39, seconds=45), "4"), now=NOW)
    st.last_read = LAST_READ
    schedule(st, NOW, settings())
    assert st.due == at(minutes=49, seconds=45)  # the hold's end, later than the read gap


def test_the_responders_own_scale_and_repair_state_operations_ask_for_no_diagnosis() -> None:
    own = settings(ownPrincipals=["responder-mi"])
    st = new_state(REF.id)
    flaps = moves((0, 4, 6), (8, 6, 4), (16, 4, 6), caller="responder-mi")
    resumed = operation(at(minutes=19), OpCategory.REPAIR_STATE, Phase.SUCCEEDED, caller="responder-mi")
    absorb(st, [*flaps, resumed], at(minutes=19), own)
    assert len(st.autoscale) == 3  # the moves are recorded ...
    assert st.diagnose is None and st.due is None  # ... but ask for nothing


# --- flapping ------------------------------------------------------------------------------

FLAPPING = ((0, 4, 6), (8, 6, 4), (16, 4, 6))  # the autoscale-flapping scenario's moves


def test_two_reversals_within_the_flap_window_are_flapping() -> None:
    st = folded(*moves(*FLAPPING[:2]))
    assert flapping(st, at(minutes=10), settings()) is None  # one reversal is just autoscale working
    assert st.diagnose is None
    folded(*moves(FLAPPING[2]), state=st)
    verdict = flapping(st, at(minutes=18), settings())
    assert verdict is not None and "reversed direction 2 times in 30 min" in verdict
    assert "out at 09:00Z, in at 09:08Z, out at 09:16Z" in verdict
    assert st.diagnose == verdict
    assert len(st.operations) == 3  # each webhook joined its own completion


def test_webhook_only_flapping_is_three_operations_and_flapping() -> None:
    """Without completion alerts the 09:16 scale-out must not join the 09:00 one (same target,
    within its maximum duration, never completed): the scale-in between them overtook it."""
    st = folded(*(scale(at(minutes=m), old, new) for m, old, new in FLAPPING))
    assert len(st.operations) == 3 and len(st.autoscale) == 3
    assert st.diagnose is not None and "reversed direction 2 times" in st.diagnose


def test_a_late_completion_still_joins_its_own_start_after_a_later_move_arrived() -> None:
    start_out, done_out = autoscale(T0, 4, 6)
    start_in = scale(at(minutes=8), 6, 4)
    st = folded(start_out, start_in, now=at(minutes=8))
    folded(done_out, now=at(minutes=9), state=st)  # the 09:02 completion arrives after the 09:08 move
    assert len(st.operations) == 2


def test_moves_in_one_direction_or_spread_beyond_the_window_are_not_flapping() -> None:
    same_way = folded(*moves((0, 2, 4), (8, 4, 6), (16, 6, 8)))
    assert flapping(same_way, at(minutes=18), settings()) is None
    spread = folded(*moves((0, 4, 6), (20, 6, 4), (40, 4, 6)))
    assert flapping(spread, at(minutes=42), settings()) is None
    assert flapping(spread, at(minutes=42), settings(flapWindow="PT45M")) is not None


def test_flapping_with_every_instance_healthy_opens_an_info_incident_not_a_page() -> None:
    st = folded(*moves(*FLAPPING))
    now = at(minutes=18)
    d = evaluate(st, fleet(now=now), now, settings(), [])

    inc = st.incident
    assert inc is not None and inc.trigger == "flapping" and inc.finding_codes() == ["autoscale_flapping"]
    assert [(n.severity, n.reason) for n in d.notifications] == [("info", "opened")]
    assert d.actions == [] and st.due == now + settings().flap_window
    assert "Widen the gap" in inc.explanation


def test_evaluating_again_within_the_watch_sends_nothing_more() -> None:
    st = folded(*moves(*FLAPPING))
    evaluate(st, fleet(), at(minutes=18), settings(), [])
    again = evaluate(st, replace(fleet(), read_at=at(minutes=28)), at(minutes=28), settings(), [])
    assert again.notifications == [] and again.closed is None
