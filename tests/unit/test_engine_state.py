"""The engine's records (state, incident) survive the store, stay small, and read as sentences."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from tests.unit.engine_builders import (
    REF,
    T0,
    annotation,
    at,
    decide_after_hold,
    fleet,
    folded,
    health,
    moves,
    operation,
    settings,
)
from vmss_responder.engine.decide import evaluate
from vmss_responder.engine.explain import describe_operation, operation_reference
from vmss_responder.engine.incident import (
    SIGNAL_NOTES_FIRST,
    SIGNAL_NOTES_LAST,
    TIMELINE_MAX,
    Incident,
    Status,
)
from vmss_responder.engine.state import Operation, ScaleSetState
from vmss_responder.signals import OpCategory, Phase


def through_store(st: ScaleSetState) -> ScaleSetState:
    return ScaleSetState.from_dict(json.loads(json.dumps(st.to_dict())))


def _busy_state() -> ScaleSetState:
    """Operations, annotations, autoscale moves, budgets and an escalated incident with findings."""
    st, _ = decide_after_hold(fleet(unhealthy=["4"], service_state="NotRunning"), {"mode": "act"})
    folded(
        *moves((2, 4, 6)),
        operation(at(minutes=12), OpCategory.POWER, Phase.SUCCEEDED),
        annotation(
            at(minutes=12), "4", "VirtualMachinePossiblyDegradedDueToHardwareFailure", "Platform Initiated"
        ),
        now=at(minutes=13),
        state=st,
    )
    st.resumes.append(at(minutes=5))
    st.instance_actions["4"] = [at(minutes=6)]
    return st


def test_a_state_round_trips_through_json_unchanged() -> None:
    st = _busy_state()
    assert st.incident is not None and st.incident.status is Status.ESCALATED and st.incident.findings
    restored = through_store(st)
    assert restored.to_dict() == st.to_dict()
    assert restored.incident is not None and restored.incident.first_signal == T0


def test_a_restored_state_decides_exactly_as_the_original() -> None:
    st = _busy_state()
    copy = through_store(st)
    now = at(minutes=30)
    facts = fleet(unhealthy=["4"], service_state="NotRunning", now=now)
    original = evaluate(st, facts, now, settings(mode="act"), [])
    again = evaluate(copy, facts, now, settings(mode="act"), [])
    assert again == original
    assert copy.to_dict() == st.to_dict()


def test_prune_forgets_old_operations_moves_and_spent_budgets() -> None:
    st = folded(*moves((0, 4, 6)), operation(T0, OpCategory.POWER, Phase.SUCCEEDED, correlation_id="p"))
    st.resumes = [T0]
    st.instance_actions = {"4": [T0]}
    day_later = T0 + timedelta(hours=25)
    st.prune(day_later, settings())
    assert st.operations == [] and st.autoscale == [] and st.resumes == [] and st.instance_actions == {}


def test_prune_keeps_the_open_incidents_health_marks() -> None:
    st = folded(health(T0, "4"))
    st.prune(T0 + timedelta(hours=7), settings())
    assert "4" in st.health


def _incident() -> Incident:
    return Incident(id="i", scale_set=REF.id, status=Status.OPEN, opened=T0, first_signal=T0, last_signal=T0)


def test_a_finding_code_outside_the_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown finding code"):
        _incident().add_finding("cosmic_rays", "evidence")


def test_refreshing_a_finding_updates_its_evidence_but_is_not_material() -> None:
    inc = _incident()
    assert inc.add_finding("grace_period", "first", ["10", "9"])
    assert not inc.add_finding("grace_period", "second", ["9"])
    assert [(f.code, f.evidence, f.instance_ids) for f in inc.findings] == [("grace_period", "second", ["9"])]


def test_a_signal_storm_keeps_the_timeline_bounded_and_the_decisions_in_it() -> None:
    inc = _incident()
    inc.note(T0, "decision", "restart_instance instance 4")
    for n in range(500):
        inc.note(T0 + timedelta(seconds=n), "signal", f"Degraded #{n}")
    signals = [e.text for e in inc.timeline if e.kind == "signal"]
    assert len(signals) == SIGNAL_NOTES_FIRST + SIGNAL_NOTES_LAST
    assert signals[0] == "Degraded #0" and signals[-1] == "Degraded #499"
    assert any(e.kind == "decision" for e in inc.timeline)
    assert inc.timeline_omitted == 500 - len(signals)
    for n in range(300):
        inc.note(T0, "decision", f"decision {n}")
    assert len(inc.timeline) == TIMELINE_MAX


def _op(category: OpCategory, name: str, **kw) -> Operation:
    return Operation(key="corr-9", category=category, operation=name, started=T0, channel="eventgrid", **kw)


@pytest.mark.parametrize(
    ("op", "sentence"),
    [
        (
            _op(
                OpCategory.SCALE,
                "x",
                caller="Microsoft.Insights/autoscaleSettings",
                old_capacity=4,
                new_capacity=6,
            ),
            "autoscale scaled out from 4 to 6",
        ),
        (
            _op(OpCategory.SCALE, "Microsoft.Insights/AutoscaleSettings/Scaledown/Action"),
            "autoscale scaled in",
        ),
        (
            _op(
                OpCategory.SCALE, "Microsoft.Compute/virtualMachineScaleSets/write", caller="ops@contoso.com"
            ),
            "ops@contoso.com scaled",
        ),
        (
            _op(
                OpCategory.POWER,
                "Microsoft.Compute/virtualMachineScaleSets/deallocate/action",
                caller="ops@contoso.com",
                instance_ids=["1", "2"],
            ),
            "ops@contoso.com deallocated instances 1, 2",
        ),
        (
            _op(OpCategory.REIMAGE, "Microsoft.Compute/virtualMachineScaleSets/reimageAll/action"),
            "an unknown caller reimaged the scale set",
        ),
    ],
)
def test_operations_are_described_in_words(op: Operation, sentence: str) -> None:
    assert describe_operation(op) == sentence


def test_an_operation_reference_says_where_it_came_from_and_whether_it_completed() -> None:
    running = _op(OpCategory.POWER, "restart")
    assert operation_reference(running, settings()) == (
        "correlation corr-9; via eventgrid; no completion seen; assumed within 20 min"
    )
    found = replace(running, key="restart|2026", channel="activity_log", ended=at(minutes=3))
    assert (
        operation_reference(found, settings())
        == "found in the Activity Log, not delivered; completed 09:03:00Z"
    )
