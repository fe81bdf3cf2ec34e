"""Action-group webhooks: Common Alert Schema families, the legacy schema, type drift, malformed bodies."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from vmss_responder.identity import parse_resource_id
from vmss_responder.parse import parse
from vmss_responder.signals import Availability, Kind, OpCategory, PayloadError, Phase

ROOT = Path(__file__).resolve().parents[2]
RECEIVED = datetime(2026, 5, 4, 12, 0, tzinfo=timezone.utc)
SUB = "6f1c9a52-0d2e-4b7a-9c1e-3a5d7e8f9012"
VMSS = f"/subscriptions/{SUB}/resourceGroups/rg-search-prod/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-search"


def delivery(scenario: str, index: int) -> dict:
    path = ROOT / "tests" / "fixtures" / "scenario-deliveries" / f"{scenario}.json"
    return copy.deepcopy(json.loads(path.read_text())["deliveries"][index]["payload"])


def resource_health() -> dict:
    """A Resource Health alert on vmss-search: Degraded (was Available), cause Unknown."""
    return delivery("persistent-degraded-escalated", 1)


def autoscale() -> dict:
    return delivery("scale-in-transient-degraded", 5)


def administrative() -> dict:
    """setOrchestrationServiceState on vmss-search, Succeeded."""
    return delivery("suspended-repairs-resumed", 0)


def service_health() -> dict:
    path = ROOT / "tests" / "fixtures" / "azure" / "alerts" / "common-schema.service-health.test-action.json"
    return json.loads(path.read_text())


def legacy(event_source: str, **fields: object) -> dict:
    return {
        "schemaId": "Microsoft.Insights/activityLogs",
        "data": {
            "status": "Activated",
            "context": {
                "activityLog": {
                    "eventSource": event_source,
                    "eventTimestamp": "2026-05-04T09:00:00Z",
                    "eventDataId": "e1",
                    "correlationId": "c1",
                    "resourceId": VMSS,
                    **fields,
                }
            },
        },
    }


def one(payload):
    parsed = parse("alert", payload, received_at=RECEIVED)
    assert parsed.ignored == []
    assert len(parsed.signals) == 1
    return parsed.signals[0]


def ignored(payload) -> str:
    parsed = parse("alert", payload, received_at=RECEIVED)
    assert parsed.signals == []
    assert len(parsed.ignored) == 1
    return parsed.ignored[0].reason


def rejected(payload) -> str:
    with pytest.raises(PayloadError) as raised:
        parse("alert", payload, received_at=RECEIVED)
    return raised.value.field


# --- Resource Health ------------------------------------------------------------------------


def test_resource_health_alert_with_lower_cased_target_is_the_same_scale_set():
    signal = one(resource_health())
    assert signal.kind is Kind.HEALTH
    assert (signal.state, signal.previous_state, signal.cause) == (
        Availability.DEGRADED,
        Availability.AVAILABLE,
        "Unknown",
    )
    # alertTargetIDs are lower-cased; the identity still equals the ARM-cased one.
    assert signal.scale_set == parse_resource_id(VMSS)[0]
    assert signal.scale_set.key == VMSS.lower()
    assert signal.source == "cas:ResourceHealth"
    assert signal.source_id == "27edb0f4-fff2-53ef-8cbc-898d677cec2d"
    assert signal.event_time == datetime(2026, 5, 4, 9, 5, tzinfo=timezone.utc)


def test_resolved_monitor_condition_reads_available():
    payload = resource_health()
    payload["data"]["essentials"]["monitorCondition"] = "Resolved"
    assert one(payload).state is Availability.AVAILABLE


@pytest.mark.parametrize(
    ("status", "title", "expected"),
    [
        ("Resolved", "Degraded", Availability.AVAILABLE),
        ("Active", "Virtual Machine health status changed to unavailable", Availability.UNAVAILABLE),
        ("Active", "Degraded", Availability.DEGRADED),
    ],
)
def test_null_current_status_is_derived_from_status_then_title(status, title, expected):
    payload = resource_health()
    context = payload["data"]["alertContext"]
    context["status"] = status
    context["properties"].update(currentHealthStatus=None, title=title)
    assert one(payload).state is expected


def test_null_current_status_without_any_clue_is_ignored():
    payload = resource_health()
    payload["data"]["alertContext"]["properties"].update(currentHealthStatus=None, title="Rebooted by user")
    assert "without a health status" in ignored(payload)


def test_unknown_health_status_is_malformed():
    payload = resource_health()
    payload["data"]["alertContext"]["properties"]["currentHealthStatus"] = "Sideways"
    assert rejected(payload) == "data.alertContext.properties.currentHealthStatus"


def test_missing_ids_and_times_fall_back_to_the_envelope():
    payload = resource_health()
    context = payload["data"]["alertContext"]
    del context["eventDataId"], context["eventTimestamp"]
    context["properties"]["cause"] = None
    signal = one(payload)
    essentials = payload["data"]["essentials"]
    assert signal.source_id == f"{essentials['alertId']}|Fired"
    assert signal.event_time == datetime(2026, 5, 4, 9, 5, tzinfo=timezone.utc)  # firedDateTime
    assert signal.cause == "Degradation"  # type, when cause is null


def test_an_alert_on_several_instances_yields_a_signal_each_with_distinct_ids():
    payload = resource_health()
    target = payload["data"]["essentials"]["alertTargetIDs"][0]
    payload["data"]["essentials"]["alertTargetIDs"] = [
        f"{target}/virtualmachines/1",
        f"{target}/virtualmachines/2",
    ]
    parsed = parse("alert", payload, received_at=RECEIVED)
    assert [s.instance_id for s in parsed.signals] == ["1", "2"]
    assert len({s.source_id for s in parsed.signals}) == 2
    assert len({s.dedup_key for s in parsed.signals}) == 2


def test_resource_health_on_a_vm_is_ignored():
    payload = resource_health()
    payload["data"]["essentials"]["alertTargetIDs"] = [
        f"/subscriptions/{SUB}/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm1"
    ]
    assert ignored(payload).startswith("not about a scale set: virtual machine 'vm1'")


# --- Administrative -------------------------------------------------------------------------


def test_administrative_alert_prefers_the_scope_which_keeps_arm_casing():
    signal = one(administrative())
    assert signal.kind is Kind.OPERATION
    assert signal.category is OpCategory.REPAIR_STATE
    assert signal.phase is Phase.SUCCEEDED
    assert signal.scale_set.id == VMSS  # from authorization.scope, not the lower-cased target
    assert (signal.caller, signal.correlation_id) == (
        "Microsoft.Compute",
        "c8e4bddb-a2f8-5dcc-88f5-5acfab81cd3e",
    )


def test_administrative_target_falls_back_to_entity_then_alert_targets():
    payload = administrative()
    context = payload["data"]["alertContext"]
    context["authorization"]["scope"] = f"/subscriptions/{SUB}/resourceGroups/rg-search-prod"
    assert one(payload).scale_set.name == "vmss-search"  # properties.entity
    del context["properties"]["entity"]
    assert one(payload).scale_set.key == VMSS.lower()  # alertTargetIDs
    payload["data"]["essentials"]["alertTargetIDs"] = []
    assert ignored(payload) == "not about a scale set: resource group 'rg-search-prod'"


@pytest.mark.parametrize(
    ("status", "phase"),
    [
        ("Started", Phase.STARTED),
        ("Accepted", Phase.STARTED),
        ("Succeeded", Phase.SUCCEEDED),
        ("Failed", Phase.FAILED),
        ("Canceled", Phase.CANCELED),
    ],
)
def test_administrative_status_maps_to_phase(status, phase):
    payload = administrative()
    payload["data"]["alertContext"]["status"] = status
    assert one(payload).phase is phase


def test_administrative_status_that_is_not_an_operation_status_is_malformed():
    payload = administrative()
    payload["data"]["alertContext"]["status"] = "Active"
    assert rejected(payload) == "data.alertContext.status"
    del payload["data"]["alertContext"]["status"]
    assert rejected(payload) == "data.alertContext.status"


def test_caller_comes_from_claims_text_when_the_caller_field_is_absent():
    payload = administrative()
    context = payload["data"]["alertContext"]
    del context["caller"]
    context["claims"] = json.dumps(
        {"name": "Ops Person", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": "ops@contoso.com"}
    )
    assert one(payload).caller == "ops@contoso.com"
    context["claims"] = "{...}"  # the docs' placeholder: no claims, not a malformed body
    assert one(payload).caller is None


# --- Autoscale ------------------------------------------------------------------------------


def test_autoscale_alert_reads_the_scaled_set_and_string_counts():
    signal = one(autoscale())
    assert (signal.category, signal.phase) == (OpCategory.SCALE, Phase.SUCCEEDED)
    assert (signal.old_capacity, signal.new_capacity) == (6, 4)
    assert signal.scale_set.id == VMSS  # properties.resourceName, not the autoscale setting target
    assert signal.operation == "Microsoft.Insights/AutoscaleSettings/Scaledown/Action"


@pytest.mark.parametrize(
    "counts",
    [{"OldInstancesCount": "6", "NewInstancesCount": "4"}, {"oldInstancesCount": 6, "newInstancesCount": 4}],
)
def test_autoscale_counts_as_pascal_case_or_numbers(counts):
    payload = autoscale()
    props = payload["data"]["alertContext"]["properties"]
    del props["oldInstancesCount"], props["newInstancesCount"]
    props.update(counts)
    assert (one(payload).old_capacity, one(payload).new_capacity) == (6, 4)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p.update(newInstancesCount="four"), "data.alertContext.properties.newInstancesCount"),
        (lambda p: p.update(oldInstancesCount=True), "data.alertContext.properties.oldInstancesCount"),
        (lambda p: p.pop("resourceName"), "data.alertContext.properties.resourceName"),
        (
            lambda p: p.update(
                resourceName="/subscriptions/<GUID>/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/v"
            ),
            "data.alertContext.properties.resourceName",
        ),
    ],
)
def test_malformed_autoscale_properties(mutate, field):
    payload = autoscale()
    mutate(payload["data"]["alertContext"]["properties"])
    assert rejected(payload) == field


# --- Service Health -------------------------------------------------------------------------


def test_service_health_with_int_enums_and_an_impacted_services_array():
    signal = one(service_health())
    assert signal.kind is Kind.SERVICE_HEALTH
    assert signal.scale_set is None
    assert signal.subscription == "aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e"
    assert (signal.services, signal.regions, signal.tracking_id) == (
        ("AzureServiceName",),
        ("Global",),
        "TEST-TTT",
    )
    assert signal.dedup_key.startswith("service|TEST-TTT|")


def test_impacted_services_as_json_text_reads_the_same():
    payload = service_health()
    props = payload["data"]["alertContext"]["properties"]
    props["impactedServices"] = json.dumps(
        [
            {
                "ImpactedRegions": [{"RegionName": "East US"}, {"RegionName": "West US"}],
                "ServiceName": "Virtual Machines",
            },
            {"ImpactedRegions": [{"RegionName": "East US"}], "ServiceName": "Virtual Machine Scale Sets"},
        ]
    )
    signal = one(payload)
    assert signal.services == ("Virtual Machines", "Virtual Machine Scale Sets")
    assert signal.regions == ("East US", "West US")
    props["impactedServices"] = "[{not json"
    assert rejected(payload) == "data.alertContext.properties.impactedServices"
    props["impactedServices"] = json.dumps([{"ServiceName": "x", "ImpactedRegions": "East US"}])
    assert rejected(payload) == "data.alertContext.properties.impactedServices[0].ImpactedRegions"


def test_service_health_without_impacted_services_uses_service_and_region():
    payload = service_health()
    props = payload["data"]["alertContext"]["properties"]
    del props["impactedServices"]
    props.update(service="Virtual Machines", region="East US")
    assert (one(payload).services, one(payload).regions) == (("Virtual Machines",), ("East US",))


def test_service_health_needs_a_subscription():
    payload = service_health()
    payload["data"]["essentials"]["alertTargetIDs"] = []
    assert rejected(payload) == "data.essentials.alertTargetIDs"


# --- What is ignored and what is malformed ------------------------------------------------


def test_metric_alert_on_a_scale_set_is_ignored():
    payload = resource_health()
    payload["data"]["essentials"].update(monitoringService="Platform", signalType="Metric")
    payload["data"]["alertContext"] = {
        "conditionType": "SingleResourceMultipleMetricCriteria",
        "condition": {},
    }
    reason = ignored(payload)
    assert reason.startswith("Metric alert from Platform is not a platform health or operation signal")


def test_event_source_decides_when_monitoring_service_is_absent():
    payload = resource_health()
    del payload["data"]["essentials"]["monitoringService"]
    assert one(payload).kind is Kind.HEALTH


def test_unknown_schema_is_ignored_and_missing_schema_is_malformed():
    assert "common alert schema" in ignored({"schemaId": "AzureMonitorMetricAlert", "data": {}})
    assert rejected({"data": {}}) == "schemaId"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (
            lambda p: p["data"]["essentials"].update(alertTargetIDs="/subscriptions/x"),
            "data.essentials.alertTargetIDs",
        ),
        (
            lambda p: p["data"]["essentials"].update(alertTargetIDs=[VMSS, 3]),
            "data.essentials.alertTargetIDs[1]",
        ),
        (lambda p: p["data"]["essentials"].pop("alertTargetIDs"), "data.essentials.alertTargetIDs"),
        (lambda p: p["data"].pop("essentials"), "data.essentials"),
        (lambda p: p.update(data=[]), "data"),
        (lambda p: p["data"].pop("alertContext"), "data.alertContext"),
        (
            lambda p: p["data"]["alertContext"].update(eventTimestamp="2026-13-45"),
            "data.alertContext.eventTimestamp",
        ),
        (lambda p: p["data"]["essentials"].update(firedDateTime=12), "data.essentials.firedDateTime"),
    ],
)
def test_malformed_common_alerts_name_the_field(mutate, field):
    payload = resource_health()
    mutate(payload)
    assert rejected(payload) == field


@pytest.mark.parametrize("payload", [[], "text", 3, None])
def test_alert_body_must_be_an_object(payload):
    assert rejected(payload) == "$"


# --- Legacy Activity Log schema ---------------------------------------------------------------


def test_legacy_resource_health_on_an_instance():
    payload = legacy(
        "ResourceHealth",
        resourceId=VMSS + "/virtualMachines/2",
        properties={
            "currentHealthStatus": "Unavailable",
            "previousHealthStatus": "Available",
            "cause": "PlatformInitiated",
        },
    )
    signal = one(payload)
    assert (signal.kind, signal.state, signal.instance_id, signal.cause) == (
        Kind.HEALTH,
        Availability.UNAVAILABLE,
        "2",
        "PlatformInitiated",
    )
    assert signal.source == "legacy-activity-log:ResourceHealth"
    assert signal.detail.endswith("via Resource Health alert (legacy schema)")


def test_legacy_resolved_alert_without_status_reads_available():
    payload = legacy("ResourceHealth", properties={"currentHealthStatus": None})
    payload["data"]["status"] = "Resolved"
    assert one(payload).state is Availability.AVAILABLE


def test_legacy_administrative_with_placeholder_claims_and_no_event_source():
    payload = legacy(
        "Administrative",
        operationName="Microsoft.Compute/virtualMachineScaleSets/deallocate/action",
        status="Started",
        claims="{...}",
        httpRequest="{...}",
        caller="me@contoso.com",
    )
    del payload["data"]["context"]["activityLog"]["eventSource"]
    signal = one(payload)
    assert (signal.category, signal.phase, signal.caller) == (
        OpCategory.POWER,
        Phase.STARTED,
        "me@contoso.com",
    )
    assert signal.source == "legacy-activity-log:Administrative"


def test_legacy_other_event_sources_are_ignored():
    assert "Policy" in ignored(
        legacy("Policy", operationName="Microsoft.Authorization/policies/audit/action")
    )


def test_legacy_service_health_takes_the_subscription_field():
    payload = legacy(
        "ServiceHealth",
        resourceId=None,
        subscriptionId=SUB,
        properties={
            "trackingId": "AB-12",
            "incidentType": "Incident",
            "service": "Virtual Machines",
            "region": "East US",
        },
    )
    signal = one(payload)
    assert (signal.subscription, signal.tracking_id, signal.services) == (SUB, "AB-12", ("Virtual Machines",))
