"""AzureActivity rows from a Log Analytics query as operation signals."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from vmss_responder.parse import parse
from vmss_responder.signals import Kind, OpCategory, PayloadError, Phase

RECEIVED = datetime(2026, 5, 4, 12, 0, tzinfo=timezone.utc)
VMSS = (
    "/subscriptions/6f1c9a52-0d2e-4b7a-9c1e-3a5d7e8f9012/resourceGroups/rg-search-prod"
    "/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-search"
)
SETTING = "/subscriptions/6f1c9a52-0d2e-4b7a-9c1e-3a5d7e8f9012/resourceGroups/rg-search-prod/providers/microsoft.insights/autoscalesettings/as"


def row(**columns: object) -> dict:
    """A powerOff row as the AzureActivity table returns it (operation names upper-cased)."""
    return {
        "TimeGenerated": "2026-05-04T09:00:30Z",
        "OperationNameValue": "MICROSOFT.COMPUTE/VIRTUALMACHINESCALESETS/POWEROFF/ACTION",
        "ActivityStatusValue": "Success",
        "ActivitySubstatusValue": "",
        "ResourceId": VMSS.upper(),
        "_ResourceId": VMSS.lower(),
        "Caller": "ops@contoso.com",
        "CorrelationId": "c0ffee00-0000-0000-0000-000000000001",
        "Properties": "{}",
        **columns,
    }


def parse_rows(*rows: object):
    return parse("activity_log", list(rows), received_at=RECEIVED)


def test_row_becomes_an_operation_signal():
    parsed = parse_rows(row())
    assert parsed.ignored == []
    [signal] = parsed.signals
    assert (signal.kind, signal.channel, signal.source) == (
        Kind.OPERATION,
        "activity_log",
        "activity_log:AzureActivity",
    )
    assert (signal.category, signal.phase) == (OpCategory.POWER, Phase.SUCCEEDED)
    assert signal.scale_set.key == VMSS.lower()
    assert (signal.caller, signal.correlation_id) == (
        "ops@contoso.com",
        "c0ffee00-0000-0000-0000-000000000001",
    )
    assert signal.event_time == datetime(2026, 5, 4, 9, 0, 30, tzinfo=timezone.utc)
    assert (
        signal.source_id
        == "c0ffee00-0000-0000-0000-000000000001|MICROSOFT.COMPUTE/VIRTUALMACHINESCALESETS/POWEROFF/ACTION|Success|2026-05-04T09:00:30+00:00"
    )
    assert parse_rows(row(EventDataId="ed-1")).signals[0].source_id == "ed-1"


@pytest.mark.parametrize(
    ("status", "phase"),
    [
        ("Start", Phase.STARTED),
        ("Started", Phase.STARTED),
        ("Accepted", Phase.STARTED),
        ("Succeeded", Phase.SUCCEEDED),
        ("Success", Phase.SUCCEEDED),
        ("Failed", Phase.FAILED),
        ("Failure", Phase.FAILED),
    ],
)
def test_status_spellings_map_to_phases(status, phase):
    assert parse_rows(row(ActivityStatusValue=status)).signals[0].phase is phase


def test_time_generated_as_a_datetime_and_resource_from_the_lower_cased_column():
    """azure-monitor-query returns datetime columns as datetimes; ResourceId may be empty."""
    when = datetime(2026, 5, 4, 9, 0, 30)
    [signal] = parse_rows(row(TimeGenerated=when, ResourceId="")).signals
    assert signal.event_time == when.replace(tzinfo=timezone.utc)
    assert signal.scale_set.key == VMSS.lower()


def test_instance_rows_are_instance_signals():
    [signal] = parse_rows(
        row(
            OperationNameValue="Microsoft.Compute/virtualMachineScaleSets/virtualMachines/reimage/action",
            ResourceId=VMSS + "/virtualMachines/3",
        )
    ).signals
    assert (signal.instance_id, signal.category) == ("3", OpCategory.REIMAGE)


@pytest.mark.parametrize(
    "properties",
    [
        json.dumps({"ResourceName": VMSS, "OldInstancesCount": "3", "NewInstancesCount": "2"}),
        {"resourceName": VMSS, "oldInstancesCount": "3", "newInstancesCount": 2},
    ],
)
def test_autoscale_rows_read_the_scaled_set_from_properties(properties):
    [signal] = parse_rows(
        row(
            OperationNameValue="Microsoft.Insights/AutoscaleSettings/Scaledown/Action",
            ResourceId=SETTING,
            _ResourceId=SETTING.lower(),
            Caller="Microsoft.Insights/autoscaleSettings",
            Properties=properties,
        )
    ).signals
    assert (signal.category, signal.old_capacity, signal.new_capacity) == (OpCategory.SCALE, 3, 2)
    assert signal.scale_set.key == VMSS.lower()


def test_rows_not_about_operations_on_a_scale_set_are_ignored():
    nsg = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg"
    parsed = parse_rows(
        row(ResourceId=nsg, _ResourceId=nsg.lower()),
        row(
            OperationNameValue="Microsoft.ResourceHealth/healthevent/Activated/action",
            ActivityStatusValue="Active",
        ),
        row(ActivityStatusValue="Updated"),
        row(),
    )
    assert len(parsed.signals) == 1
    assert [i.reason.split(":")[0] for i in parsed.ignored] == [
        "not about a scale set",
        "Microsoft.ResourceHealth/healthevent/Activated/action is a health event, not an operation",
        "status 'Updated' is not an operation phase",
    ]


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"OperationNameValue": None}, "[1].OperationNameValue"),
        ({"ActivityStatusValue": 3}, "[1].ActivityStatusValue"),
        ({"TimeGenerated": "yesterday"}, "[1].TimeGenerated"),
        ({"TimeGenerated": None}, "[1].TimeGenerated"),
        ({"ResourceId": None, "_ResourceId": None}, "[1].ResourceId"),
        ({"ResourceId": "", "_ResourceId": VMSS + "?x"}, "[1]._ResourceId"),
        ({"ResourceId": VMSS + "/../other"}, "[1].ResourceId"),
        (
            {
                "OperationNameValue": "Microsoft.Insights/AutoscaleSettings/Scaleup/Action",
                "Properties": "{oops",
            },
            "[1].Properties",
        ),
        (
            {"OperationNameValue": "Microsoft.Insights/AutoscaleSettings/Scaleup/Action", "Properties": "[]"},
            "[1].Properties",
        ),
    ],
)
def test_malformed_rows_name_the_row_and_column(bad, field):
    with pytest.raises(PayloadError) as raised:
        parse_rows(row(), row(**bad))
    assert raised.value.field == field


@pytest.mark.parametrize(("payload", "field"), [({"rows": []}, "$"), ([row(), "row"], "[1]")])
def test_rows_must_be_a_list_of_objects(payload, field):
    with pytest.raises(PayloadError) as raised:
        parse("activity_log", payload, received_at=RECEIVED)
    assert raised.value.field == field
