"""Findings: each code comes with the evidence (and the instances) that produced it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.unit.engine_builders import (
    REF,
    T0,
    annotation,
    at,
    decide_after_hold,
    failed_extension,
    fleet,
    folded,
    instance,
    operation,
    settings,
)
from vmss_responder.engine.correlate import new_state
from vmss_responder.engine.findings import Assessment, assess
from vmss_responder.facts import ScaleSetFacts
from vmss_responder.signals import OpCategory, Phase


def assessed(facts: ScaleSetFacts, state=None) -> Assessment:
    return assess(state or new_state(REF.id), facts, at(minutes=11), settings())


def finding(a: Assessment, code: str):
    (found,) = [f for f in a.findings if f.code == code]
    return found


def test_a_healthy_fleet_has_no_problems_and_no_findings_even_with_repairs_off() -> None:
    a = assessed(fleet(service_state="NotRunning"))
    assert a.problems == {} and a.findings == [] and a.total == 6


@pytest.mark.parametrize(
    ("facts", "code", "evidence"),
    [
        (
            fleet(unhealthy=["4"], repairs=None),
            "repairs_disabled",
            "automaticRepairsPolicy is not configured",
        ),
        (
            fleet(unhealthy=["4"], repairs=False),
            "repairs_disabled",
            "automaticRepairsPolicy.enabled is false",
        ),
        (
            fleet(unhealthy=["4"], service_state="NotRunning"),
            "repairs_disabled",
            "serviceState is NotRunning",
        ),
        (fleet(unhealthy=["4"], service_state=None), "repairs_disabled", "serviceState is absent"),
        (fleet(unhealthy=["4"], service_state="Suspended"), "repairs_suspended", "serviceState is Suspended"),
    ],
    ids=["not-configured", "disabled", "not-running", "absent", "suspended"],
)
def test_the_repair_state_finding_says_which_setting_is_off(facts, code: str, evidence: str) -> None:
    found = finding(assessed(facts), code)
    assert evidence in found.evidence and found.instance_ids == ["4"]


def test_a_provisioning_failure_names_the_instance_and_its_state() -> None:
    failed = instance("2", health=None, provisioning_state="Failed")
    found = finding(assessed(fleet(changed=[failed])), "provisioning_failed")
    assert found.instance_ids == ["2"]
    assert "instance 2: ProvisioningState/failed" in found.evidence
    assert "automatic repairs do not handle provisioning failures" in found.evidence


def test_an_extension_failure_names_the_extension_and_its_message() -> None:
    broken = failed_extension(instance("3", health="Unhealthy"))
    found = finding(assessed(fleet(changed=[broken])), "extension_failed")
    assert found.instance_ids == ["3"]
    assert found.evidence == "instance 3: HealthExtension failed: Enable failed: exit code 1"


def test_a_stale_model_names_the_instances_behind() -> None:
    stale = replace(instance("5", health="Unhealthy"), latest_model_applied=False)
    found = finding(assessed(fleet(changed=[stale])), "stale_model")
    assert found.instance_ids == ["5"] and "instances 5 do not run the latest" in found.evidence


@pytest.mark.parametrize("flag", ["protect_from_scale_set_actions", "protect_from_scale_in"])
def test_a_protected_instance_names_its_protection(flag: str) -> None:
    guarded = instance("1", health="Unhealthy", **{flag: True})
    found = finding(assessed(fleet(changed=[guarded])), "protected_instance")
    words = {
        "protect_from_scale_set_actions": "protectFromScaleSetActions",
        "protect_from_scale_in": "protectFromScaleIn",
    }
    assert found.instance_ids == ["1"] and f"instance 1: {words[flag]}" in found.evidence


def test_the_grace_period_names_the_policy_and_the_instances_waiting_for_it() -> None:
    found = finding(assessed(fleet(unhealthy=["4"])), "grace_period")
    assert found.instance_ids == ["4"]
    assert "gracePeriod 0:10:00" in found.evidence and "instances 4" in found.evidence


def test_the_grace_period_ends_after_the_policys_grace_plus_the_margin() -> None:
    st = new_state(REF.id)
    st.unhealthy_since["4"] = T0
    assert not assess(st, fleet(unhealthy=["4"]), at(minutes=20), settings()).has("grace_period")
    assert assess(st, fleet(unhealthy=["4"]), at(minutes=19), settings()).has("grace_period")


def test_zone_concentration_names_the_zone_and_the_healthy_zones() -> None:
    found = finding(assessed(fleet(unhealthy=["1", "4"])), "zone_concentrated")
    assert found.instance_ids == ["1", "4"]
    assert found.evidence == "2 of 2 instances in zone 2 are unhealthy while zones 1, 3 are healthy"


def test_a_broken_probe_counts_the_unhealthy_instances() -> None:
    a = assessed(fleet(unhealthy=["0", "1", "2", "3"]))
    found = finding(a, "probe_misconfigured")
    assert found.instance_ids == ["0", "1", "2", "3"]
    assert "4 of 6 instances report unhealthy across zones 1, 2, 3" in found.evidence
    assert not a.has("zone_concentrated")


def test_a_platform_initiated_annotation_is_quoted() -> None:
    st = folded(
        annotation(T0, "4", "VirtualMachinePossiblyDegradedDueToHardwareFailure", "Platform Initiated")
    )
    found = finding(assessed(fleet(unhealthy=["4"]), st), "platform_initiated")
    assert found.instance_ids == ["4"]
    assert found.evidence == (
        "VirtualMachinePossiblyDegradedDueToHardwareFailure (Platform Initiated, Unplanned) on instance 4"
    )


def test_a_platform_annotation_on_a_healthy_instance_finds_nothing() -> None:
    st = folded(
        annotation(T0, "2", "VirtualMachinePossiblyDegradedDueToHardwareFailure", "Platform Initiated")
    )
    assert not assessed(fleet(unhealthy=["4"]), st).has("platform_initiated")


def test_an_instance_stopped_by_a_customer_operation_is_intended_not_a_problem() -> None:
    stopped = instance("4", power_state="deallocated", health=None)
    st = folded(operation(T0, OpCategory.POWER, Phase.SUCCEEDED))
    a = assessed(fleet(changed=[stopped]), st)
    assert a.problems == {} and a.findings == []
    assert "powerOff/action by ops@contoso.com at 09:00:00Z" in a.intended_stops["4"]


def test_an_instance_stopped_with_nothing_to_explain_it_is_a_problem() -> None:
    stopped = instance("4", power_state="stopped", health=None)
    a = assessed(fleet(changed=[stopped]))
    assert list(a.problems) == ["4"] and a.intended_stops == {}


def test_an_instance_still_coming_up_is_settling_not_a_problem() -> None:
    creating = instance("6", provisioning_state="Creating", health="Unknown")
    a = assessed(fleet(changed=[creating]))
    assert a.problems == {} and a.settling == ["6"]


def test_the_incident_keeps_each_findings_evidence_and_instances() -> None:
    failed = instance("2", health=None, provisioning_state="Failed")
    facts = fleet(changed=[failed], service_state="Suspended")
    expected = {(f.code, f.evidence, tuple(f.instance_ids)) for f in assessed(facts).findings}
    st, _ = decide_after_hold(facts, instances=["2"])
    kept = {(f.code, f.evidence, tuple(f.instance_ids)) for f in st.incident.findings}
    assert kept == expected and {c for c, _, _ in kept} == {"repairs_suspended", "provisioning_failed"}
