"""The fleet model: scenario validation, timeline steps, action effects and the platform's repairs."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.fleet_data import instance
from vmss_responder.sim.fleet import Conflict, Fleet
from vmss_responder.sim.fleet_spec import FleetError, parse_step

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=timezone.utc)
SUB = "6f1c9a52-0d2e-4b7a-9c1e-3a5d7e8f9012"


def at(minutes: float = 0, seconds: float = 0) -> datetime:
    return T0 + timedelta(minutes=minutes, seconds=seconds)


def fleet_data(
    instances: list[dict[str, Any]],
    *,
    state: str | None = "Running",
    action: str = "Replace",
    enabled: bool = True,
    policy: bool = True,
) -> dict[str, Any]:
    scale_set: dict[str, Any] = {
        "resourceGroup": "rg-search-prod",
        "name": "vmss-search",
        "location": "eastus",
        "orchestrationMode": "Uniform",
        "upgradePolicy": {"mode": "Rolling"},
        "instances": instances,
    }
    if policy:
        scale_set["automaticRepairsPolicy"] = {
            "enabled": enabled,
            "gracePeriod": "PT10M",
            "repairAction": action,
        }
    if state is not None:
        scale_set["orchestrationServices"] = [{"serviceName": "AutomaticRepairs", "serviceState": state}]
    return {"subscriptionId": SUB, "scaleSets": [scale_set]}


def build(instances: list[dict[str, Any]], **kwargs: Any) -> Fleet:
    return Fleet.from_spec(fleet_data(instances, **kwargs), T0)


def view(fleet: Fleet) -> dict[str, dict[str, Any]]:
    return fleet.snapshot()["vmss-search"]["instances"]


def healthy_set(count: int) -> list[dict[str, Any]]:
    return [instance(str(i), zone=str(i % 3 + 1)) for i in range(count)]


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "field", "words"),
    [
        (
            lambda d: d["scaleSets"][0]["instances"][2].update(powerState="on"),
            "fleet.scaleSets[0].instances[2].powerState",
            "running, stopped",
        ),
        (
            lambda d: d["scaleSets"][0]["instances"][1].update(healthState="Healthy"),
            "fleet.scaleSets[0].instances[1].healthState",
            "not a field",
        ),
        (
            lambda d: d["scaleSets"][0]["instances"][1].update(instanceId="0"),
            "fleet.scaleSets[0]",
            "duplicate instanceId '0'",
        ),
        (
            lambda d: d["scaleSets"][0]["automaticRepairsPolicy"].update(gracePeriod="PT5M"),
            "fleet.scaleSets[0].automaticRepairsPolicy.gracePeriod",
            "PT10M to PT90M",
        ),
        (
            lambda d: d["scaleSets"][0]["automaticRepairsPolicy"].update(repairAction="Redeploy"),
            "fleet.scaleSets[0].automaticRepairsPolicy.repairAction",
            "Replace, Reimage, Restart",
        ),
        (
            lambda d: d["scaleSets"][0]["orchestrationServices"][0].update(serviceState="Paused"),
            "fleet.scaleSets[0].orchestrationServices[0].serviceState",
            "Running, Suspended, NotRunning",
        ),
        (
            lambda d: d["scaleSets"][0]["instances"][0].update(instanceId="vm-1"),
            "fleet.scaleSets[0].instances[0].instanceId",
            "'vm-1'",
        ),
        (lambda d: d["scaleSets"][0].pop("resourceGroup"), "fleet.scaleSets[0].resourceGroup", "is required"),
        (lambda d: d.update(scaleSets=[]), "fleet.scaleSets", "at least 1"),
    ],
)
def test_invalid_fleet_names_the_field(mutate: Any, field: str, words: str) -> None:
    data = fleet_data(healthy_set(3))
    mutate(data)
    with pytest.raises(FleetError) as caught:
        Fleet.from_spec(data, T0)
    assert caught.value.field == field
    assert words in caught.value.message
    assert str(caught.value).startswith(field + ": ")


def test_fleet_accepts_the_docs_string_boolean_and_defaults_the_rest() -> None:
    data = fleet_data([{"instanceId": 4}], state=None)
    data["scaleSets"][0]["automaticRepairsPolicy"] = {"enabled": "true"}
    fleet = Fleet.from_spec(data, T0)
    ss = fleet.scale_set("VMSS-SEARCH")
    assert (
        ss.repairs_policy is not None
        and ss.repairs_policy.enabled
        and ss.repairs_policy.repairAction == "Replace"
    )
    assert ss.repairs_state == "Running"  # an enabled policy runs the service
    assert view(fleet) == {
        "4": {"health": "Healthy", "provisioningState": "Succeeded", "powerState": "running"}
    }


def test_invalid_steps_name_the_field() -> None:
    with pytest.raises(FleetError, match=r"^timeline\[3\]\.fleet\.op: must be one of set_instance"):
        parse_step({"op": "explode"}, "timeline[3].fleet")
    with pytest.raises(FleetError, match=r"^timeline\[3\]\.fleet\.health: must be one of Healthy"):
        parse_step(
            {"op": "set_instance", "scaleSet": "vmss-search", "instanceId": "1", "health": "ok"},
            "timeline[3].fleet",
        )
    with pytest.raises(FleetError, match=r"^timeline\[3\]\.fleet\.status: must be one of 0, 429, 500, 503"):
        parse_step({"op": "arm_faults", "count": 1, "status": 404}, "timeline[3].fleet")
    fleet = build(healthy_set(2))
    with pytest.raises(
        FleetError, match=r"^t\.instanceId: vmss-search has no instance 7 now \(instances: 0, 1\)"
    ):
        fleet.apply_step(
            {"op": "set_instance", "scaleSet": "vmss-search", "instanceId": "7", "health": "Healthy"},
            at(1),
            "t",
        )
    with pytest.raises(FleetError, match=r"^t\.scaleSet: no scale set named 'vmss-other'"):
        fleet.apply_step(
            {"op": "remove_instances", "scaleSet": "vmss-other", "instanceIds": ["1"]}, at(1), "t"
        )


# --- timeline steps ---------------------------------------------------------------------------


def test_timeline_steps_change_the_fleet() -> None:
    fleet = build(healthy_set(3))
    fleet.apply_step(
        {
            "op": "set_instance",
            "scaleSet": "vmss-search",
            "instanceId": "1",
            "health": "Unknown",
            "powerState": "stopped",
        },
        at(1),
    )
    fleet.apply_step({"op": "remove_instances", "scaleSet": "vmss-search", "instanceIds": ["2"]}, at(2))
    fleet.apply_step(
        {
            "op": "add_instances",
            "scaleSet": "vmss-search",
            "instances": [{"health": "Initializing"}, instance("9")],
        },
        at(3),
    )
    fleet.apply_step(
        {
            "op": "set_scale_set",
            "scaleSet": "vmss-search",
            "orchestrationServices": [{"serviceName": "AutomaticRepairs", "serviceState": "Suspended"}],
        },
        at(4),
    )
    fleet.apply_step({"op": "arm_faults", "count": 2, "status": 429, "retryAfterSeconds": 30}, at(5))

    assert view(fleet) == {
        "0": {"health": "Healthy", "provisioningState": "Succeeded", "powerState": "running"},
        "1": {"health": "Unknown", "provisioningState": "Succeeded", "powerState": "stopped"},
        "3": {"health": "Initializing", "provisioningState": "Succeeded", "powerState": "running"},
        "9": {"health": "Healthy", "provisioningState": "Succeeded", "powerState": "running"},
    }
    assert fleet.snapshot()["vmss-search"]["serviceState"] == "Suspended"
    faults = [fleet.take_fault(), fleet.take_fault(), fleet.take_fault()]
    assert [(f.status, f.retry_after) if f else None for f in faults] == [(429, 30), (429, 30), None]


def test_removing_the_policy_removes_the_service_and_null_health_is_kept() -> None:
    fleet = build([instance("0", health=None)])
    fleet.apply_step(
        {"op": "set_scale_set", "scaleSet": "vmss-search", "automaticRepairsPolicy": None}, at(1)
    )
    assert fleet.snapshot() == {
        "vmss-search": {
            "serviceState": None,
            "instances": {"0": {"health": None, "provisioningState": "Succeeded", "powerState": "running"}},
        }
    }


# --- responder actions --------------------------------------------------------------------------


def test_restart_shows_progress_then_applies_after_repair() -> None:
    failed = [{"name": "HealthExtension", "status": "Failed", "message": "exit 1"}]
    fleet = build(
        [
            instance("0", health="Unhealthy", afterRepair={"health": "Unhealthy"}, extensions=failed),
            instance("1", health="Unhealthy", extensions=failed, latestModelApplied=False),
        ],
        state="NotRunning",
    )
    first = fleet.restart("vmss-search", "0", at(1))
    second = fleet.reimage("vmss-search", "1", at(1))
    assert view(fleet)["0"] == {
        "health": "Initializing",
        "provisioningState": "Updating",
        "powerState": "starting",
    }
    with pytest.raises(Conflict) as busy:
        fleet.restart("vmss-search", "0", at(1, 5))
    assert busy.value.code == "RetryableErrorDueToAnotherOperation"
    fleet.tick(at(1, 10))
    assert (first.status, second.status) == ("Succeeded", "Succeeded")
    assert view(fleet) == {
        "0": {"health": "Unhealthy", "provisioningState": "Succeeded", "powerState": "running"},
        "1": {"health": "Healthy", "provisioningState": "Succeeded", "powerState": "running"},
    }
    ss = fleet.scale_set("vmss-search")
    assert ss.instance("0").extensions[0].status == "Failed"  # a restart does not rerun extensions
    assert ss.instance("1").extensions[0].status == "Succeeded"  # a reimage does
    assert ss.instance("1").latest_model_applied is False  # only a new VM takes the latest model


def test_resume_needs_an_enabled_policy_and_restarts_the_grace_period() -> None:
    disabled = build([instance("0", health="Unhealthy")], state="NotRunning", enabled=False)
    with pytest.raises(Conflict) as refused:
        disabled.set_orchestration_service_state("vmss-search", "AutomaticRepairs", "Resume", at(1))
    assert (refused.value.code, refused.value.status) == ("OperationNotAllowed", 409)

    fleet = build([instance("0", health="Unhealthy"), instance("1")], state="Suspended")
    fleet.tick(at(30))
    assert "0" in view(fleet)  # suspended: no repair however long it waits
    fleet.set_orchestration_service_state("vmss-search", "AutomaticRepairs", "Resume", at(30))
    assert fleet.snapshot()["vmss-search"]["serviceState"] == "Running"
    fleet.tick(at(39, 59))
    assert "0" in view(fleet)  # grace restarted at the resume
    fleet.tick(at(40))
    assert "0" not in view(fleet) and view(fleet)["2"]["provisioningState"] == "Creating"
    fleet.tick(at(40, 10))
    assert view(fleet)["2"] == {
        "health": "Healthy",
        "provisioningState": "Succeeded",
        "powerState": "running",
    }


def test_delete_instances_and_run_command() -> None:
    fleet = build(
        [
            instance("0"),
            instance("1", runCommandOutput="curl: (7) Failed to connect to localhost port 8080"),
            instance("2", powerState="stopped"),
        ]
    )
    op = fleet.delete_instances("vmss-search", ["0"], at(1))
    assert view(fleet)["0"]["provisioningState"] == "Deleting"
    fleet.tick(at(1, 10))
    assert op.status == "Succeeded" and "0" not in view(fleet)
    with pytest.raises(Conflict) as bad:
        fleet.delete_instances("vmss-search", ["0"], at(2))
    assert (bad.value.code, bad.value.status) == ("InvalidParameter", 400)

    scripted = fleet.run_command("vmss-search", "1", "RunShellScript", at(3))
    assert (
        scripted.output is not None
        and scripted.output.stdout == "curl: (7) Failed to connect to localhost port 8080"
    )
    with pytest.raises(Conflict):
        fleet.run_command("vmss-search", "1", "RunShellScript", at(3, 1))  # one script at a time per VM
    with pytest.raises(Conflict):
        fleet.run_command("vmss-search", "2", "RunShellScript", at(3))  # not running


def test_capacity_grows_from_the_model_and_shrinks_unprotected_highest_ids() -> None:
    fleet = build(
        [
            instance("0", zone="1"),
            instance("1", zone="2"),
            instance(
                "2",
                zone="3",
                protectionPolicy={"protectFromScaleIn": True, "protectFromScaleSetActions": False},
            ),
            instance("3", zone="1"),
        ]
    )
    fleet.apply_step({"op": "remove_instances", "scaleSet": "vmss-search", "instanceIds": ["3"]}, at(1))
    fleet.set_capacity("vmss-search", 6, at(2))
    ss = fleet.scale_set("vmss-search")
    assert [(i.instance_id, i.zone, i.health, i.latest_model_applied) for i in ss.sorted_instances()][3:] == [
        ("4", "1", "Healthy", True),  # 3 was used once: IDs never come back
        ("5", "2", "Healthy", True),
        ("6", "3", "Healthy", True),
    ]
    assert [e.name for e in ss.instance("4").extensions] == ["HealthExtension"]
    fleet.set_capacity("vmss-search", 2, at(3))
    assert sorted(view(fleet), key=int) == ["0", "2"]  # 2 is protected from scale-in
    with pytest.raises(Conflict):
        fleet.set_capacity("vmss-search", 0, at(4))


def test_replace_by_delete_then_restore_capacity() -> None:
    """A deleted instance stops counting towards capacity when the delete is accepted."""
    fleet = build(healthy_set(4))
    fleet.delete_instances("vmss-search", ["1"], at(1))
    assert fleet.scale_set("vmss-search").capacity == 3
    fleet.set_capacity("vmss-search", 4, at(1, 1))
    fleet.tick(at(1, 10))
    assert sorted(view(fleet), key=int) == ["0", "2", "3", "4"]


# --- the platform's automatic repairs -------------------------------------------------------------


def test_repair_waits_for_the_grace_period_and_replaces_with_the_next_free_id() -> None:
    fleet = build(healthy_set(4))
    fleet.apply_step(
        {"op": "set_instance", "scaleSet": "vmss-search", "instanceId": "3", "health": "Unhealthy"}, at(2)
    )
    fleet.tick(at(11, 59))
    assert view(fleet)["3"]["health"] == "Unhealthy"
    fleet.tick(at(12, 10))
    assert sorted(view(fleet), key=int) == ["0", "1", "2", "4"]
    assert view(fleet)["4"]["health"] == "Healthy"
    replaced = fleet.scale_set("vmss-search").instance("4")
    assert (replaced.zone, replaced.extensions[0].status) == ("1", "Succeeded")  # the old one's zone


def test_repairs_go_one_at_a_time_below_twenty_instances() -> None:
    fleet = build(
        [instance(str(i), health="Unhealthy" if i < 3 else "Healthy") for i in range(6)], action="Reimage"
    )
    started: list[tuple[str, str]] = []
    for second in range(0, 11 * 60, 5):
        fleet.tick(at(0, second))
        started += [
            (iid, str(at(0, second).time()))
            for iid, v in view(fleet).items()
            if v["provisioningState"] == "Updating" and iid not in dict(started)
        ]
    assert started == [("0", "09:10:00"), ("1", "09:10:10"), ("2", "09:10:20")]
    assert all(v["health"] == "Healthy" for v in view(fleet).values())  # Reimage keeps the IDs


def test_repairs_go_five_percent_at_a_time_from_twenty_instances() -> None:
    fleet = build(
        [instance(str(i), health="Unhealthy" if i < 6 else "Healthy") for i in range(40)], action="Restart"
    )
    fleet.tick(at(10))
    assert sum(v["provisioningState"] == "Updating" for v in view(fleet).values()) == 2
    fleet.tick(at(10, 25))
    assert sum(v["health"] == "Healthy" for v in view(fleet).values()) == 34 + 4


def test_protected_failed_and_not_unhealthy_instances_are_not_repaired() -> None:
    fleet = build(
        [
            instance(
                "0",
                health="Unhealthy",
                protectionPolicy={"protectFromScaleIn": True, "protectFromScaleSetActions": False},
            ),
            instance(
                "1",
                health="Unhealthy",
                protectionPolicy={"protectFromScaleIn": False, "protectFromScaleSetActions": True},
            ),
            instance("2", health="Unhealthy", provisioningState="Failed", powerState="stopped"),
            instance("3", health="Initializing"),
            instance("4", health=None),
            instance("5", health="Unknown"),
        ]
    )
    before = view(fleet)
    fleet.tick(at(60))
    after = view(fleet)
    assert {k: after[k] for k in ["0", "1", "2", "3", "4"]} == {
        k: before[k] for k in ["0", "1", "2", "3", "4"]
    }
    assert "5" not in after and after["6"]["health"] == "Healthy"  # Unknown counts as unhealthy


def test_no_repairs_without_a_running_service_or_an_enabled_policy() -> None:
    for kwargs in (
        {"state": "Suspended"},
        {"state": "NotRunning", "enabled": False},
        {"state": None, "policy": False},
    ):
        fleet = build([instance("0", health="Unhealthy")], **kwargs)
        fleet.tick(at(90))
        assert view(fleet)["0"]["health"] == "Unhealthy", kwargs


def test_repairs_that_keep_failing_suspend_the_service() -> None:
    fleet = build(
        [instance("0", health="Unhealthy", afterRepair={"health": "Unhealthy"}), instance("1"), instance("2")]
    )
    fleet.tick(at(10, 10))
    assert sorted(view(fleet), key=int) == ["1", "2", "3"]  # first replacement, still unhealthy
    fleet.tick(at(20, 20))
    assert sorted(view(fleet), key=int) == ["1", "2", "4"]
    assert fleet.snapshot()["vmss-search"]["serviceState"] == "Running"
    fleet.tick(at(30, 30))
    assert sorted(view(fleet), key=int) == ["1", "2", "5"]
    assert fleet.snapshot()["vmss-search"]["serviceState"] == "Suspended"
    fleet.tick(at(90))
    assert sorted(view(fleet), key=int) == ["1", "2", "5"]
    assert fleet.scale_set("vmss-search").service("AutomaticRepairs").last_change == at(30, 30)  # type: ignore[union-attr]


def test_the_outcome_does_not_depend_on_how_often_the_platform_is_ticked() -> None:
    instances = [
        instance(
            str(i),
            health="Unhealthy" if i % 3 == 0 else "Healthy",
            afterRepair={"health": "Unhealthy"} if i == 0 else {},
        )
        for i in range(9)
    ]
    seldom, often = build(copy.deepcopy(instances)), build(copy.deepcopy(instances))
    for second in range(0, 3600, 7):
        often.tick(at(0, second))
    often.tick(at(60))
    seldom.tick(at(60))
    assert seldom.snapshot() == often.snapshot()
