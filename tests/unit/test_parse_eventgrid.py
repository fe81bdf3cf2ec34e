"""Event Grid and CloudEvents deliveries: envelopes, batches, fallbacks, malformed events, dedup."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from vmss_responder.parse import parse
from vmss_responder.signals import Availability, Kind, OpCategory, PayloadError, Phase

ROOT = Path(__file__).resolve().parents[2]
DELIVERIES = ROOT / "tests" / "fixtures" / "scenario-deliveries"
RECEIVED = datetime(2026, 5, 4, 12, 0, tzinfo=timezone.utc)
VMSS = (
    "/subscriptions/6f1c9a52-0d2e-4b7a-9c1e-3a5d7e8f9012/resourceGroups/rg-search-prod"
    "/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-search"
)


def deliveries(scenario: str) -> list[dict]:
    return json.loads((DELIVERIES / f"{scenario}.json").read_text())["deliveries"]


def health_event() -> dict:
    """The scale-in scenario's instance-4 AvailabilityStatusChanged event (Event Grid schema)."""
    return copy.deepcopy(deliveries("scale-in-transient-degraded")[2]["payload"][0])


def write_event() -> dict:
    return copy.deepcopy(deliveries("scale-in-transient-degraded")[1]["payload"][0])


def as_cloudevent(event: dict) -> dict:
    """The same event in CloudEvents 1.0, as Event Grid maps the schemas."""
    ce = {
        k: v
        for k, v in event.items()
        if k not in ("eventType", "eventTime", "topic", "dataVersion", "metadataVersion")
    }
    return {
        **ce,
        "type": event["eventType"],
        "time": event["eventTime"],
        "source": event["topic"],
        "specversion": "1.0",
    }


def one(parsed):
    assert parsed.ignored == []
    assert len(parsed.signals) == 1
    return parsed.signals[0]


def test_health_event_becomes_an_instance_signal():
    signal = one(parse("eventgrid", [health_event()], received_at=RECEIVED))
    assert signal.kind is Kind.HEALTH
    assert (signal.state, signal.previous_state) == (Availability.UNAVAILABLE, Availability.AVAILABLE)
    assert signal.scale_set.id == VMSS
    assert signal.instance_id == "4"
    assert signal.event_time == datetime(2026, 5, 4, 9, 1, tzinfo=timezone.utc)
    assert signal.source == "eventgrid:AvailabilityStatusChanged"
    assert signal.source_id == "34ae6c34-160d-5d38-95f1-9be68abd8a9d"
    assert (
        signal.detail == "Resource Health: vmss-search instance 4 Unavailable (was Available) via Event Grid"
    )


def test_single_event_object_is_accepted_and_paths_have_no_index():
    event = health_event()
    assert one(parse("eventgrid", event, received_at=RECEIVED)).instance_id == "4"
    del event["data"]["resourceInfo"]["properties"]["availabilityState"]
    with pytest.raises(PayloadError) as raised:
        parse("eventgrid", event, received_at=RECEIVED)
    assert raised.value.field == "data.resourceInfo.properties.availabilityState"


def test_same_event_in_both_schemas_has_the_same_identity():
    event = health_event()
    from_eventgrid = one(parse("eventgrid", [event], received_at=RECEIVED))
    from_cloudevents = one(parse("cloudevents", as_cloudevent(event), received_at=RECEIVED))
    assert from_cloudevents.channel == "cloudevents"
    assert from_cloudevents.dedup_key == from_eventgrid.dedup_key
    assert from_cloudevents.source_id == from_eventgrid.source_id


def test_a_malformed_event_rejects_the_whole_batch_naming_its_index():
    bad = health_event()
    bad["data"]["resourceInfo"]["properties"]["occurredTime"] = "yesterday"
    with pytest.raises(PayloadError) as raised:
        parse("eventgrid", [health_event(), bad], received_at=RECEIVED)
    assert raised.value.field == "[1].data.resourceInfo.properties.occurredTime"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda e: e.pop("eventType"), "[0].eventType"),
        (lambda e: e.update(eventType=7), "[0].eventType"),
        (lambda e: e.pop("id"), "[0].id"),
        (lambda e: e.update(eventTime="not a time"), "[0].eventTime"),
        (lambda e: e.update(data="text"), "[0].data"),
        (lambda e: e["data"].pop("resourceInfo"), "[0].data.resourceInfo"),
        (lambda e: e["data"]["resourceInfo"].update(properties=[]), "[0].data.resourceInfo.properties"),
        (
            lambda e: e["data"]["resourceInfo"]["properties"].update(availabilityState="Sideways"),
            "[0].data.resourceInfo.properties.availabilityState",
        ),
        (
            lambda e: e["data"]["resourceInfo"]["properties"].update(targetResourceId=42),
            "[0].data.resourceInfo.properties.targetResourceId",
        ),
        # Path tricks are rejected, not mapped.
        (
            lambda e: e["data"]["resourceInfo"]["properties"].update(
                targetResourceId=VMSS.replace("rg-search-prod", "..")
            ),
            "[0].data.resourceInfo.properties.targetResourceId",
        ),
        (
            lambda e: e["data"]["resourceInfo"]["properties"].update(
                targetResourceId=VMSS + "?api-version=1"
            ),
            "[0].data.resourceInfo.properties.targetResourceId",
        ),
    ],
)
def test_malformed_health_events_name_the_field(mutate, field):
    event = health_event()
    mutate(event)
    with pytest.raises(PayloadError) as raised:
        parse("eventgrid", [event], received_at=RECEIVED)
    assert raised.value.field == field


def test_target_falls_back_to_subject_and_errors_when_neither_exists():
    event = health_event()
    del event["data"]["resourceInfo"]["properties"]["targetResourceId"]
    assert one(parse("eventgrid", [event], received_at=RECEIVED)).instance_id == "4"
    del event["subject"]
    with pytest.raises(PayloadError) as raised:
        parse("eventgrid", [event], received_at=RECEIVED)
    assert raised.value.field == "[0].data.resourceInfo.properties.targetResourceId"


def test_health_time_falls_back_from_occurred_to_resource_event_to_event_time_to_received():
    event = health_event()
    props = event["data"]["resourceInfo"]["properties"]
    event["data"]["operationalInfo"]["resourceEventTime"] = "2026-05-04T09:01:05Z"
    event["eventTime"] = "2026-05-04T09:01:09Z"
    expected = [
        datetime(2026, 5, 4, 9, 1, tzinfo=timezone.utc),
        datetime(2026, 5, 4, 9, 1, 5, tzinfo=timezone.utc),
        datetime(2026, 5, 4, 9, 1, 9, tzinfo=timezone.utc),
        RECEIVED,
    ]
    seen = []
    for strip in (
        lambda: None,
        lambda: props.pop("occurredTime"),
        lambda: event["data"].pop("operationalInfo"),
        lambda: event.pop("eventTime"),
    ):
        strip()
        seen.append(one(parse("eventgrid", [event], received_at=RECEIVED)).event_time)
    assert seen == expected


def test_cloudevents_envelope_is_validated():
    event = as_cloudevent(health_event())
    with pytest.raises(PayloadError) as raised:
        parse("cloudevents", [{**event, "specversion": "0.3"}], received_at=RECEIVED)
    assert raised.value.field == "[0].specversion"
    with pytest.raises(PayloadError) as raised:
        parse("cloudevents", {k: v for k, v in event.items() if k != "source"}, received_at=RECEIVED)
    assert raised.value.field == "source"


def test_an_event_on_the_wrong_schema_channel_says_so():
    with pytest.raises(PayloadError, match="cloudevents channel") as raised:
        parse("eventgrid", [as_cloudevent(health_event())], received_at=RECEIVED)
    assert raised.value.field == "[0].eventType"
    with pytest.raises(PayloadError, match="eventgrid channel") as raised:
        parse("cloudevents", health_event(), received_at=RECEIVED)
    assert raised.value.field == "type"


@pytest.mark.parametrize("payload", ["[]x", 42, None, "text", True])
def test_payload_that_is_neither_object_nor_array_is_rejected(payload):
    with pytest.raises(PayloadError) as raised:
        parse("eventgrid", payload, received_at=RECEIVED)
    assert raised.value.field == "$"


def test_write_event_reads_operation_correlation_and_caller():
    signal = one(parse("eventgrid", [write_event()], received_at=RECEIVED))
    assert signal.kind is Kind.OPERATION
    assert signal.operation == "Microsoft.Compute/virtualMachineScaleSets/write"
    assert (signal.phase, signal.category) == (Phase.SUCCEEDED, OpCategory.UPGRADE)
    assert signal.correlation_id == "ad686e6a-f512-58e9-b7ee-d3b842e2f6f5"
    assert signal.caller == "3e7eac98-c371-5177-891a-be5aa09d81fd"  # appid: a service principal
    assert signal.instance_id is None


@pytest.mark.parametrize(
    ("event_type", "phase"),
    [
        ("Microsoft.Resources.ResourceWriteFailure", Phase.FAILED),
        ("Microsoft.Resources.ResourceActionCancel", Phase.CANCELED),
        ("Microsoft.Resources.ResourceDeleteSuccess", Phase.SUCCEEDED),
    ],
)
def test_event_type_decides_the_phase_whatever_data_status_says(event_type, phase):
    event = write_event()
    event["eventType"] = event_type
    assert event["data"]["status"] == "Succeeded"
    assert one(parse("eventgrid", [event], received_at=RECEIVED)).phase is phase


def test_claims_as_json_text_name_the_user():
    event = write_event()
    event["data"]["claims"] = json.dumps(
        {"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": "ops@contoso.com", "appid": "x"}
    )
    assert one(parse("eventgrid", [event], received_at=RECEIVED)).caller == "ops@contoso.com"


def test_operation_name_is_required_only_for_scale_set_events():
    event = write_event()
    del event["data"]["operationName"]
    with pytest.raises(PayloadError) as raised:
        parse("eventgrid", [event], received_at=RECEIVED)
    assert raised.value.field == "[0].data.operationName"
    event["data"]["resourceUri"] = (
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg"
    )
    parsed = parse("eventgrid", [event], received_at=RECEIVED)
    assert parsed.signals == []
    assert parsed.ignored[0].reason == "not about a scale set: Microsoft.Network/networkSecurityGroups 'nsg'"


def test_flexible_orchestration_vm_is_ignored_with_the_reason():
    event = health_event()
    vm = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vmss-search_1a2b3c"
    event["data"]["resourceInfo"]["properties"]["targetResourceId"] = vm
    parsed = parse("eventgrid", [event], received_at=RECEIVED)
    assert parsed.signals == []
    assert "Flexible-orchestration" in parsed.ignored[0].reason
    assert parsed.ignored[0].source_id == event["id"]


def test_unknown_event_types_and_validation_are_ignored_per_event():
    storage = {
        "id": "b1",
        "eventType": "Microsoft.Storage.BlobCreated",
        "subject": "/x",
        "eventTime": "2026-05-04T09:00:00Z",
        "data": {},
    }
    validation = {
        "id": "v1",
        "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
        "subject": "",
        "eventTime": "2026-05-04T09:00:00Z",
        "data": {"validationCode": "c"},
    }
    parsed = parse("eventgrid", [storage, health_event(), validation], received_at=RECEIVED)
    assert [s.instance_id for s in parsed.signals] == ["4"]
    assert [(i.source_id, i.source) for i in parsed.ignored] == [
        ("b1", "eventgrid:BlobCreated"),
        ("v1", "eventgrid:SubscriptionValidationEvent"),
    ]
    assert "not a scale set health or operation event" in parsed.ignored[0].reason
    assert "handshake" in parsed.ignored[1].reason


def test_resource_created_or_updated_with_int_booleans_is_a_write():
    event = {
        "id": "c1",
        "eventType": "Microsoft.ResourceNotifications.Resources.CreatedOrUpdated",
        "subject": VMSS,
        "eventTime": "2026-05-04T09:00:02Z",
        "data": {
            "resourceInfo": {
                "id": VMSS,
                "type": "Microsoft.Compute/virtualMachineScaleSets",
                "properties": {"singlePlacementGroup": 0, "overprovision": 1, "sku": {"capacity": "4"}},
            },
            "operationalInfo": {"resourceEventTime": "2026-05-04T09:00:01Z"},
        },
    }
    signal = one(parse("eventgrid", [event], received_at=RECEIVED))
    assert (signal.operation, signal.phase, signal.category) == (
        "Microsoft.Compute/virtualMachineScaleSets/write",
        Phase.SUCCEEDED,
        OpCategory.UPGRADE,
    )
    assert signal.event_time == datetime(2026, 5, 4, 9, 0, 1, tzinfo=timezone.utc)
    del event["data"]["resourceInfo"]["type"]
    event["eventType"] = "Microsoft.ResourceNotifications.Resources.Deleted"
    event["data"]["resourceInfo"]["id"] = VMSS + "/virtualMachines/7"
    signal = one(parse("eventgrid", [event], received_at=RECEIVED))
    assert (signal.operation, signal.instance_id, signal.category) == (
        "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/delete",
        "7",
        OpCategory.DELETE,
    )


def test_annotation_carries_context_and_platform_flag():
    event = health_event()
    event["eventType"] = "Microsoft.ResourceNotifications.HealthResources.ResourceAnnotated"
    props = event["data"]["resourceInfo"]["properties"]
    props.update(
        annotationName="VirtualMachinePossiblyDegradedDueToHardwareFailure",
        context="Platform Initiated",
        category="Unplanned",
        impactType="Degraded",
    )
    signal = one(parse("eventgrid", [event], received_at=RECEIVED))
    assert signal.kind is Kind.ANNOTATION
    assert signal.annotation.platform_initiated
    assert signal.annotation.impact_type == "Degraded"
    del props["annotationName"]
    with pytest.raises(PayloadError) as raised:
        parse("eventgrid", [event], received_at=RECEIVED)
    assert raised.value.field == "[0].data.resourceInfo.properties.annotationName"


def test_importing_the_parsers_does_not_import_the_eventgrid_sdk():
    """Cold start: azure.eventgrid (~100 ms) loads on the first Event Grid delivery, not on import."""
    code = "import sys, vmss_responder.parse; print('azure.eventgrid' in sys.modules, 'azure.core' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split() == ["False", "False"]
