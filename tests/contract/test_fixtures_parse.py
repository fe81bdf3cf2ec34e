"""Every published Azure payload the responder can receive parses as the contract says.

Each fixture under tests/fixtures/azure/{eventgrid,alerts,autoscale,activitylog}/ has a case
below, and a fixture added without one fails ``test_every_fixture_has_a_case``. Most Microsoft
samples are about a VM, a storage account or an App Service plan, so as published they must be
ignored with a reason. Most cases are then also *retargeted*: the same JSON with only its
resource IDs and operation names replaced by a scale set's (plain text substitution, nothing
else touched), which must parse into the signal the shape promises. That exercises the real
published shapes, since no Microsoft sample targets a scale set.

Adaptations, each stated where it is used:
- ``alert-context-fragment.*`` are only the ``alertContext``; they are wrapped in a minimal
  Common Alert Schema envelope.
- ``activitylog/`` holds Activity Log events in the REST / export shape. The responder reads the
  Activity Log through Log Analytics (``AzureActivity`` rows), so each event is converted with
  the table's documented column mapping (:func:`azure_activity_row`) and parsed on the
  ``activity_log`` channel.
- ``legacy-activity-log-webhook.common.jsonc`` is not JSON (the docs elide fields with ``...``):
  it must fail to decode, and the body as text must be rejected.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pytest

from vmss_responder.parse import parse
from vmss_responder.parse.eventgrid import read_envelopes
from vmss_responder.parse.operations import SCALE_IN, SCALE_OUT
from vmss_responder.signals import Availability, Kind, OpCategory, PayloadError, Phase

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "azure"
PARSED_DIRS = ("eventgrid", "alerts", "autoscale", "activitylog")
RECEIVED = datetime(2026, 5, 4, 9, 0, tzinfo=timezone.utc)

SUB = "6f1c9a52-0d2e-4b7a-9c1e-3a5d7e8f9012"
VMSS_TAIL = "Microsoft.Compute/virtualMachineScaleSets/vmss-web"
INSTANCE_TAIL = VMSS_TAIL + "/virtualMachines/3"
VMSS = f"/subscriptions/{SUB}/resourceGroups/rg-web/providers/{VMSS_TAIL}"
VM_LOWER = f"/subscriptions/{SUB}/resourcegroups/rg-web/providers/microsoft.compute/virtualmachines/vm-web"
SETTING = (
    f"/subscriptions/{SUB}/resourceGroups/rg-web/providers/microsoft.insights/autoscalesettings/autoscale-web"
)


@dataclass(frozen=True)
class Signals:
    """Expect exactly one signal with these attributes (dotted names reach into ``annotation``)."""

    attrs: dict


@dataclass(frozen=True)
class IgnoredBecause:
    """Expect no signal and one ignored entry whose reason contains ``words``."""

    words: str


@dataclass(frozen=True)
class Rejected:
    """Expect PayloadError naming ``field``."""

    field: str


Outcome = Signals | IgnoredBecause | Rejected


def cas_envelope(service: str, target: str) -> Callable[[dict], dict]:
    """Wrap a docs ``alertContext`` fragment in a minimal Common Alert Schema body."""

    def wrap(fragment: dict) -> dict:
        return {
            "schemaId": "azureMonitorCommonAlertSchema",
            "data": {
                "essentials": {
                    "alertId": f"/subscriptions/{SUB}/providers/Microsoft.AlertsManagement/alerts/fixture",
                    "alertRule": "fixture",
                    "severity": "Sev4",
                    "signalType": "Activity Log",
                    "monitorCondition": "Fired",
                    "monitoringService": service,
                    "alertTargetIDs": [target.lower()],
                    "firedDateTime": "2019-01-01T00:00:00Z",
                    "essentialsVersion": "1.0",
                    "alertContextVersion": "1.0",
                },
                "alertContext": fragment["alertContext"],
            },
        }

    return wrap


def azure_activity_row(event: dict) -> dict:
    """An Activity Log event (REST / export shape) as the Log Analytics ``AzureActivity`` row.

    Columns as the AzureActivity table reference documents their sources: the ``.value`` of
    operationName/status/subStatus, the resource ID (the REST list sample carries only the event
    ``id``, which is ``{resourceId}/events/{eventDataId}/ticks/{ticks}``), and ``properties`` as
    JSON text.
    """
    resource_id = event.get("resourceId") or event["id"].split("/events/")[0]
    return {
        "TimeGenerated": event["eventTimestamp"],
        "OperationNameValue": event["operationName"]["value"],
        "ActivityStatusValue": event["status"]["value"],
        "ActivitySubstatusValue": (event.get("subStatus") or {}).get("value"),
        "ResourceId": resource_id,
        "_ResourceId": resource_id.lower(),
        "Caller": event.get("caller"),
        "CorrelationId": event.get("correlationId"),
        "EventDataId": event.get("eventDataId"),
        "Properties": json.dumps(event.get("properties") or {}),
    }


def as_rows(document: dict) -> list[dict]:
    """One event, or a REST ``ActivityLogs_List`` example (``responses.200.body.value``), as rows."""
    events = document["responses"]["200"]["body"]["value"] if "responses" in document else [document]
    return [azure_activity_row(e) for e in events]


@dataclass(frozen=True)
class Case:
    channel: str
    published: Outcome
    retarget: tuple[tuple[str, str], ...] = ()
    retargeted: Outcome | None = None
    adapt: Callable[[dict], object] | None = field(default=None)


def health(
    state: Availability, previous: Availability | None, instance: str | None, **more: object
) -> Signals:
    return Signals(
        {"kind": Kind.HEALTH, "state": state, "previous_state": previous, "instance_id": instance, **more}
    )


def op(
    operation: str, phase: Phase, category: OpCategory, instance: str | None = None, **more: object
) -> Signals:
    return Signals(
        {
            "kind": Kind.OPERATION,
            "operation": operation,
            "phase": phase,
            "category": category,
            "instance_id": instance,
            **more,
        }
    )


def service(**attrs: object) -> Signals:
    return Signals({"kind": Kind.SERVICE_HEALTH, "scale_set": None, **attrs})


VM_DOC = "virtual machine"
DOC_VM_TO_INSTANCE = (
    ("{subscription-id}", SUB),
    ("{rg-name}", "rg-web"),
    ("Microsoft.Compute/virtualMachines/{vm-name}", INSTANCE_TAIL),
)
DOC_STORAGE_TO_VMSS = (
    ("{subscription-id}", SUB),
    ("{subcription-id}", SUB),  # the docs' own typo
    ("{rg-name}", "rg-web"),
    ("Microsoft.Storage/storageAccounts/{storageAccount-name}", VMSS_TAIL),
    ('"type": "Microsoft.Storage/storageAccounts"', '"type": "Microsoft.Compute/virtualMachineScaleSets"'),
)
DOC_STORAGE_TO_INSTANCE = (
    ("{subscription-id}", SUB),
    ("{rg-name}", "rg-web"),
    ("Microsoft.Storage/storageAccounts/{storageAccount-name}", INSTANCE_TAIL),
    (
        '"type": "Microsoft.Storage/storageAccounts"',
        '"type": "Microsoft.Compute/virtualMachineScaleSets/virtualMachines"',
    ),
)
ARM_EVENTHUB_TO_VMSS_RESTART = (
    ("{subscription-id}", SUB),
    ("{resource-group}", "rg-web"),
    ("Microsoft.EventHub/namespaces/{namespace}/AuthorizationRules/RootManageSharedAccessKey", VMSS_TAIL),
    (
        "Microsoft.EventHub/namespaces/AuthorizationRules/listKeys/action",
        "Microsoft.Compute/virtualMachineScaleSets/restart/action",
    ),
)
ARM_STORAGE_DELETE_TO_INSTANCE_DELETE = (
    ("{subscription-id}", SUB),
    ("{resource-group}", "rg-web"),
    ("Microsoft.Storage/storageAccounts/{storage-name}", INSTANCE_TAIL),
    (
        "Microsoft.Storage/storageAccounts/delete",
        "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/delete",
    ),
)
HEALTH_TIME = datetime(2023, 7, 24, 19, 20, 37, 924507, tzinfo=timezone.utc)
ANNOTATED = Signals(
    {
        "kind": Kind.ANNOTATION,
        "instance_id": "3",
        "annotation.name": "VirtualMachineDeallocationInitiated",
        "annotation.context": "Customer Initiated",
        "annotation.category": "Not Applicable",
        "annotation.reason": "Stopping and deallocating",
        "annotation.customer_initiated": True,
        "event_time": HEALTH_TIME,
    }
)

CASES: dict[str, Case] = {
    # --- Event Grid -------------------------------------------------------------------------
    "eventgrid/health-resources.availability-status-changed.eventgrid.json": Case(
        "eventgrid",
        IgnoredBecause(VM_DOC),
        DOC_VM_TO_INSTANCE,
        health(Availability.AVAILABLE, Availability.UNAVAILABLE, "3", event_time=HEALTH_TIME),
    ),
    "eventgrid/health-resources.availability-status-changed.cloudevents.json": Case(
        "cloudevents",
        IgnoredBecause(VM_DOC),
        DOC_VM_TO_INSTANCE,
        health(Availability.AVAILABLE, Availability.UNAVAILABLE, "3", event_time=HEALTH_TIME),
    ),
    "eventgrid/health-resources.availability-status-changed.eventgrid.2023-09-doc-version.json": Case(
        "eventgrid",
        IgnoredBecause(VM_DOC),
        (("Microsoft.Compute/virtualMachines/virtualMachineTestHealth", VMSS_TAIL),),
        health(
            Availability.AVAILABLE,
            Availability.UNAVAILABLE,
            None,
            event_time=datetime(2022, 11, 10, 19, 59, 59, 647000, tzinfo=timezone.utc),
            source_id="1fb6fa94-d965-4306-abeq-4810f0774e97",
        ),
    ),
    "eventgrid/health-resources.resource-annotated.eventgrid.json": Case(
        "eventgrid", IgnoredBecause(VM_DOC), DOC_VM_TO_INSTANCE, ANNOTATED
    ),
    "eventgrid/health-resources.resource-annotated.cloudevents.json": Case(
        "cloudevents", IgnoredBecause(VM_DOC), DOC_VM_TO_INSTANCE, ANNOTATED
    ),
    "eventgrid/resources.created-or-updated.eventgrid.json": Case(
        "eventgrid",
        IgnoredBecause("Microsoft.Storage/storageAccounts"),
        DOC_STORAGE_TO_VMSS,
        op("Microsoft.Compute/virtualMachineScaleSets/write", Phase.SUCCEEDED, OpCategory.UPGRADE),
    ),
    "eventgrid/resources.created-or-updated.cloudevents.json": Case(
        "cloudevents",
        IgnoredBecause("Microsoft.Storage/storageAccounts"),
        DOC_STORAGE_TO_VMSS,
        op("Microsoft.Compute/virtualMachineScaleSets/write", Phase.SUCCEEDED, OpCategory.UPGRADE),
    ),
    "eventgrid/resources.deleted.eventgrid.json": Case(
        "eventgrid",
        IgnoredBecause("Microsoft.Storage/storageAccounts"),
        DOC_STORAGE_TO_INSTANCE,
        op(
            "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/delete",
            Phase.SUCCEEDED,
            OpCategory.DELETE,
            "3",
        ),
    ),
    "eventgrid/resources.deleted.cloudevents.json": Case(
        "cloudevents",
        IgnoredBecause("Microsoft.Storage/storageAccounts"),
        DOC_STORAGE_TO_INSTANCE,
        op(
            "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/delete",
            Phase.SUCCEEDED,
            OpCategory.DELETE,
            "3",
        ),
    ),
    "eventgrid/subscription-topic.resource-action-success.eventgrid.json": Case(
        "eventgrid",
        IgnoredBecause("Microsoft.EventHub/namespaces/AuthorizationRules"),
        ARM_EVENTHUB_TO_VMSS_RESTART,
        op(
            "Microsoft.Compute/virtualMachineScaleSets/restart/action",
            Phase.SUCCEEDED,
            OpCategory.POWER,
            caller="{ID}",
        ),
    ),
    "eventgrid/subscription-topic.resource-action-success.cloudevents.json": Case(
        "cloudevents",
        IgnoredBecause("Microsoft.EventHub/namespaces/AuthorizationRules"),
        ARM_EVENTHUB_TO_VMSS_RESTART,
        op(
            "Microsoft.Compute/virtualMachineScaleSets/restart/action",
            Phase.SUCCEEDED,
            OpCategory.POWER,
            caller="{ID}",
        ),
    ),
    "eventgrid/subscription-topic.resource-delete-success.eventgrid.json": Case(
        "eventgrid",
        IgnoredBecause("Microsoft.Storage/storageAccounts"),
        ARM_STORAGE_DELETE_TO_INSTANCE_DELETE,
        op(
            "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/delete",
            Phase.SUCCEEDED,
            OpCategory.DELETE,
            "3",
            caller="{user-name}",
            correlation_id="{ID}",
        ),
    ),
    "eventgrid/subscription-topic.resource-delete-success.cloudevents.json": Case(
        "cloudevents",
        IgnoredBecause("Microsoft.Storage/storageAccounts"),
        ARM_STORAGE_DELETE_TO_INSTANCE_DELETE,
        op(
            "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/delete",
            Phase.SUCCEEDED,
            OpCategory.DELETE,
            "3",
            caller="{user-name}",
            source_id="19a69642-1aad-4a96-a5ab-8d05494513ce",
        ),
    ),
    # The SDK's synthetic Failure event says status "Succeeded": the event type decides the phase.
    "eventgrid/subscription-topic.resource-write-failure.sdk-test.eventgrid.json": Case(
        "eventgrid",
        IgnoredBecause("Microsoft.EventGrid/eventSubscriptions"),
        (
            ("{subscription-id}", SUB),
            ("{resource-group}", "rg-web"),
            (
                "Microsoft.EventGrid/eventSubscriptions/LogicAppdd584bdf-8347-49c9-b9a9-d1f980783501",
                VMSS_TAIL,
            ),
            (
                "Microsoft.EventGrid/eventSubscriptions/write",
                "Microsoft.Compute/virtualMachineScaleSets/write",
            ),
        ),
        op(
            "Microsoft.Compute/virtualMachineScaleSets/write",
            Phase.FAILED,
            OpCategory.UPGRADE,
            caller=None,
            correlation_id="54ef1e39-6a82-44b3-abc1-bdeb6ce4d3c6",
        ),
    ),
    "eventgrid/subscription-topic.resource-write-success.eventgrid.json": Case(
        "eventgrid",
        IgnoredBecause("Microsoft.Storage/storageAccounts"),
        (
            ("{subscription-id}", SUB),
            ("{resource-group}", "rg-web"),
            ("Microsoft.Storage/storageAccounts/{storage-name}", VMSS_TAIL),
            ("Microsoft.Storage/storageAccounts/write", "Microsoft.Compute/virtualMachineScaleSets/write"),
        ),
        op(
            "Microsoft.Compute/virtualMachineScaleSets/write",
            Phase.SUCCEEDED,
            OpCategory.UPGRADE,
            caller="{user-name}",
            event_time=datetime(2018, 7, 19, 18, 38, 4, 611735, tzinfo=timezone.utc),
        ),
    ),
    "eventgrid/subscription-validation-event.eventgrid.json": Case("eventgrid", IgnoredBecause("handshake")),
    # The handshake's reply, not a delivery: posted as one, it has no eventType.
    "eventgrid/subscription-validation-response.json": Case("eventgrid", Rejected("eventType")),
    # --- Alerts: Common Alert Schema ---------------------------------------------------------
    "alerts/common-schema.activity-log-administrative.test-action.json": Case(
        "alert",
        IgnoredBecause(VM_DOC),
        (
            (
                "Microsoft.Compute/virtualMachines/restart/action",
                "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/restart/action",
            ),
            ("Microsoft.Compute/virtualMachines/test-VM", INSTANCE_TAIL),
            ("microsoft.compute/virtualmachines/test-VM", INSTANCE_TAIL.lower()),
        ),
        op(
            "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/restart/action",
            Phase.SUCCEEDED,
            OpCategory.POWER,
            "3",
            caller="user@contoso.com",
            correlation_id="cccc2222-dd33-4444-55ee-666666ffffff",
            source_id="dddd3333-ee44-5555-66ff-777777aaaaaa",
            source="cas:Administrative",
        ),
    ),
    "alerts/common-schema.alert-context-fragment.activity-log-administrative.json": Case(
        "alert",
        IgnoredBecause(VM_DOC),
        (
            ("<subscription ID>", SUB),
            (
                "Microsoft.Compute/virtualMachines/restart/action",
                "Microsoft.Compute/virtualMachineScaleSets/restart/action",
            ),
            ("Microsoft.Compute/virtualMachines/WCUS-R2-ActLog", VMSS_TAIL),
            ("microsoft.compute/virtualmachines/wcus-r2-actlog", VMSS_TAIL.lower()),
        ),
        op(
            "Microsoft.Compute/virtualMachineScaleSets/restart/action",
            Phase.SUCCEEDED,
            OpCategory.POWER,
            caller="22223333-cccc-4444-dddd-5555eeee6666",
            event_time=datetime(2019, 3, 22, 13, 56, 31, 291715, tzinfo=timezone.utc),
        ),
        adapt=lambda doc: cas_envelope(
            "Activity Log - Administrative", doc["alertContext"]["authorization"]["scope"]
        )(doc),
    ),
    # As published its resourceName holds "<GUID>", which is not an ARM name segment.
    "alerts/common-schema.alert-context-fragment.activity-log-autoscale.json": Case(
        "alert",
        Rejected("data.alertContext.properties.resourceName"),
        (("<GUID>", SUB),),
        op(
            SCALE_OUT,
            Phase.SUCCEEDED,
            OpCategory.SCALE,
            old_capacity=9,
            new_capacity=10,
            caller="Microsoft.Insights/autoscaleSettings",
            **{"scale_set.name": "alexademo"},
        ),
        adapt=cas_envelope("Activity Log - Autoscale", SETTING),
    ),
    "alerts/common-schema.alert-context-fragment.resource-health.json": Case(
        "alert",
        IgnoredBecause(VM_DOC),
        (("microsoft.compute/virtualmachines/vm-web", INSTANCE_TAIL.lower()),),
        health(
            Availability.UNAVAILABLE,
            Availability.AVAILABLE,
            "3",
            cause="UserInitiated",
            source="cas:ResourceHealth",
        ),
        adapt=cas_envelope("Resource Health", VM_LOWER),
    ),
    "alerts/common-schema.alert-context-fragment.service-health.json": Case(
        "alert",
        service(
            subscription=SUB,
            regions=("East US",),
            services=("Azure Synapse Analytics",),
            tracking_id="<GUID>",
            cause="Maintenance",
        ),
        adapt=cas_envelope("ServiceHealth", f"/subscriptions/{SUB}"),
    ),
    "alerts/common-schema.log-alert-v2.test-action.json": Case(
        "alert", IgnoredBecause("Log alert from Log Alerts V2")
    ),
    # A metric alert stays ignored when it targets a scale set.
    "alerts/common-schema.metric-alert.sample.json": Case(
        "alert",
        IgnoredBecause("Metric alert from Platform"),
        (("<subscription ID>", SUB), ("microsoft.compute/virtualmachines/wcus-r2-gen2", VMSS_TAIL.lower())),
        IgnoredBecause("not a platform health or operation signal"),
    ),
    "alerts/common-schema.metric-static-threshold.test-action.json": Case(
        "alert", IgnoredBecause("Metric alert")
    ),
    "alerts/common-schema.resource-health.test-action.json": Case(
        "alert",
        IgnoredBecause(VM_DOC),
        (("microsoft.compute/virtualmachines/test-VM", VMSS_TAIL.lower()),),
        health(
            Availability.UNAVAILABLE,
            Availability.AVAILABLE,
            None,
            cause="UserInitiated",
            source_id="dddd3333-ee44-5555-66ff-777777aaaaaa",
            event_time=datetime(2025, 4, 15, 18, 19, 45, 304000, tzinfo=timezone.utc),
        ),
    ),
    "alerts/common-schema.service-health.test-action.json": Case(
        "alert",
        service(
            subscription="aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e",
            regions=("Global",),
            services=("AzureServiceName",),
            tracking_id="TEST-TTT",
            source_id="eeeeeeee-4444-5555-6666-ffffffffffff",
        ),
    ),
    "alerts/common-schema.service-health.test-action.2021-doc-version.json": Case(
        "alert",
        service(
            subscription="11111111-1111-1111-1111-111111111111",
            regions=("Global",),
            services=("Azure Service Name",),
            tracking_id="ABC1-DEF",
            cause="Incident",
        ),
    ),
    # --- Alerts: legacy Activity Log schema ------------------------------------------------
    # The docs' sample is abridged: pointed at a scale set it lacks eventDataId, and no ID is invented.
    "alerts/legacy-activity-log-webhook.administrative.json": Case(
        "alert",
        IgnoredBecause("Microsoft.Insights/actionGroups"),
        (
            (
                "/subscriptions/a0a0a0a0-bbbb-cccc-dddd-e1e1e1e1e1e1/resourceGroups/CONTOSO-TEST/providers/Microsoft.Insights/actionGroups/IncidentActions",
                VMSS,
            ),
        ),
        Rejected("data.context.activityLog.eventDataId"),
    ),
    "alerts/legacy-activity-log-webhook.common.jsonc": Case("alert", Rejected("$")),
    "alerts/legacy-activity-log-webhook.resource-health.json": Case(
        "alert",
        IgnoredBecause(VM_DOC),
        (
            ("<subscription Id>", SUB),
            ("<resource group>", "rg-web"),
            ("Microsoft.Compute/virtualMachines/<resource name>", INSTANCE_TAIL),
        ),
        health(
            Availability.UNAVAILABLE,
            Availability.AVAILABLE,
            "3",
            cause="PlatformInitiated",
            source="legacy-activity-log:ResourceHealth",
            source_id="2b37e2d0-7bda-4de7-ur8c6-1447d02265b2",
        ),
    ),
    "alerts/legacy-activity-log-webhook.service-health.json": Case(
        "alert",
        service(
            subscription="cccc2c2c-dd3d-ee4e-ff5f-aaaaaa6a6a6a",
            regions=("Australia East",),
            services=("Virtual Machines",),
            tracking_id="0NIH-U2O",
            source="legacy-activity-log:ServiceHealth",
        ),
    ),
    # --- Autoscale webhook -----------------------------------------------------------------
    "autoscale/autoscale-webhook.scale-in.2017-doc-version.json": Case(
        "autoscale",
        IgnoredBecause("microsoft.classicCompute/domainNames/slots/roles"),
        (
            (
                "/subscriptions/s1/resourceGroups/rg1/providers/microsoft.classicCompute/domainNames/myCloudService/slots/Production/roles/MyCSRole",
                VMSS,
            ),
        ),
        op(
            SCALE_IN,
            Phase.STARTED,
            OpCategory.SCALE,
            old_capacity=3,
            new_capacity=2,
            correlation_id=None,
            caller="Microsoft.Insights/autoscaleSettings",
            source_id="/subscriptions/s1/resourceGroups/rg1/providers/microsoft.insights/autoscalesettings/"
            "myautoscaleSetting|2016-03-11T07:31:04.5834118Z|2",
        ),
    ),
    "autoscale/autoscale-webhook.scale-out.json": Case(
        "autoscale",
        IgnoredBecause("Microsoft.Web/serverfarms"),
        (
            (
                "/subscriptions/a0a0a0a0-bbbb-cccc-dddd-e1e1e1e1e1e1/resourceGroups/rg-001/providers/Microsoft.Web/serverfarms/ScaleableAppServicePlan",
                VMSS,
            ),
        ),
        op(SCALE_OUT, Phase.STARTED, OpCategory.SCALE, old_capacity=1, new_capacity=2),
    ),
    # --- Activity Log events, as AzureActivity rows ------------------------------------------
    "activitylog/administrative.nsg-write.schema-doc.json": Case(
        "activity_log",
        IgnoredBecause("Microsoft.Network/networkSecurityGroups"),
        (
            ("<subscription ID>", SUB),
            (
                "resourcegroups/myResourceGroup/providers/Microsoft.Network/networkSecurityGroups/myNSG",
                f"resourceGroups/rg-web/providers/{VMSS_TAIL}",
            ),
            (
                "Microsoft.Network/networkSecurityGroups/write",
                "Microsoft.Compute/virtualMachineScaleSets/write",
            ),
        ),
        op(
            "Microsoft.Compute/virtualMachineScaleSets/write",
            Phase.SUCCEEDED,
            OpCategory.UPGRADE,
            caller="rob@contoso.com",
            channel="activity_log",
            source_id="aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e",
        ),
        adapt=as_rows,
    ),
    "activitylog/autoscale.scale-down.schema-doc.json": Case(
        "activity_log",
        IgnoredBecause("Microsoft.ClassicCompute/domainNames/slots/roles"),
        (
            ("<subscription ID>", SUB),
            (
                "/resourceGroups/myResourceGroup/providers/Microsoft.ClassicCompute/domainNames/myResourceGroup/slots/Production/roles/myResource",
                f"/resourceGroups/rg-web/providers/{VMSS_TAIL}",
            ),
        ),
        op(SCALE_IN, Phase.SUCCEEDED, OpCategory.SCALE, old_capacity=3, new_capacity=2),
        adapt=as_rows,
    ),
    "activitylog/resource-health.vm-unavailable.schema-doc.json": Case(
        "activity_log", IgnoredBecause("is a health event, not an operation"), adapt=as_rows
    ),
    "activitylog/rest-api.get-activity-logs-filtered.2015-04-01.json": Case(
        "activity_log", IgnoredBecause("microsoft.support/supporttickets"), adapt=as_rows
    ),
}


def fixture_names() -> set[str]:
    return {
        f"{d}/{p.name}"
        for d in PARSED_DIRS
        for p in (FIXTURES / d).iterdir()
        if p.suffix in (".json", ".jsonc")
    }


def test_every_fixture_has_a_case() -> None:
    assert fixture_names() == set(CASES)


def load(name: str, case: Case, substitutions: tuple[tuple[str, str], ...]) -> object:
    document = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    text = json.dumps(case.adapt(document) if case.adapt else document)
    for old, new in substitutions:
        assert old in text, f"substitution {old!r} does not occur in {name}"
        text = text.replace(old, new)
    return json.loads(text)


def attribute(signal: object, dotted: str) -> object:
    value = signal
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def check(channel: str, payload: object, expected: Outcome) -> None:
    if isinstance(expected, Rejected):
        with pytest.raises(PayloadError) as raised:
            parse(channel, payload, received_at=RECEIVED)
        assert raised.value.field == expected.field
        return
    parsed = parse(channel, payload, received_at=RECEIVED)
    if isinstance(expected, IgnoredBecause):
        assert parsed.signals == []
        assert len(parsed.ignored) == 1
        assert expected.words in parsed.ignored[0].reason
        assert parsed.ignored[0].channel == channel
        return
    assert parsed.ignored == []
    assert len(parsed.signals) == 1
    signal = parsed.signals[0]
    assert signal.channel == channel
    assert signal.detail
    assert signal.event_time.tzinfo is not None
    actual = {name: attribute(signal, name) for name in expected.attrs}
    assert actual == expected.attrs
    if signal.kind is not Kind.SERVICE_HEALTH:
        assert signal.scale_set is not None
        assert signal.scale_set.name.lower() == str(expected.attrs.get("scale_set.name", "vmss-web")).lower()


@pytest.mark.parametrize("name", sorted(n for n in CASES if n.endswith(".json")))
def test_fixture_as_published(name: str) -> None:
    case = CASES[name]
    check(case.channel, load(name, case, ()), case.published)


@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if c.retargeted is not None))
def test_fixture_retargeted_to_a_scale_set(name: str) -> None:
    case = CASES[name]
    assert case.retargeted is not None
    check(case.channel, load(name, case, case.retarget), case.retargeted)


def test_jsonc_sample_is_not_json_and_the_body_is_rejected() -> None:
    """The docs' legacy "common" sample elides fields with a literal ``...``."""
    text = (FIXTURES / "alerts/legacy-activity-log-webhook.common.jsonc").read_text(encoding="utf-8")
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    check("alert", text, CASES["alerts/legacy-activity-log-webhook.common.jsonc"].published)


EVENT_FIXTURES = sorted(
    n for n in CASES if n.startswith("eventgrid/") and CASES[n].published != Rejected("eventType")
)


@pytest.mark.parametrize("name", EVENT_FIXTURES)
def test_envelope_reads_like_the_sdk_models(name: str) -> None:
    """The hand-rolled envelope reader agrees with azure-eventgrid / azure-core's models."""
    from azure.core.messaging import CloudEvent
    from azure.eventgrid import EventGridEvent

    case = CASES[name]
    document = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    events = document if isinstance(document, list) else [document]
    envelopes = read_envelopes(case.channel, document)
    assert len(envelopes) == len(events)
    for envelope, event in zip(envelopes, events, strict=True):
        if case.channel == "eventgrid":
            model = EventGridEvent.from_dict(event)
            assert (envelope.id, envelope.type, envelope.subject, envelope.time) == (
                model.id,
                model.event_type,
                model.subject or None,  # the validation event's subject is ""
                model.event_time,
            )
        else:
            model = CloudEvent.from_dict(event)
            assert (envelope.id, envelope.type, envelope.subject, envelope.time) == (
                model.id,
                model.type,
                model.subject,
                model.time,
            )
        assert envelope.data == model.data


def test_the_published_event_grid_and_cloudevents_pair_dedups_as_one_event():
    """Microsoft's two renderings of the same health event, pointed at a scale set instance."""
    signals = [
        parse(channel, load(name, CASES[name], DOC_VM_TO_INSTANCE), received_at=RECEIVED).signals[0]
        for channel, name in (
            ("eventgrid", "eventgrid/health-resources.availability-status-changed.eventgrid.json"),
            ("cloudevents", "eventgrid/health-resources.availability-status-changed.cloudevents.json"),
        )
    ]
    assert signals[0].channel != signals[1].channel
    assert signals[0].dedup_key == signals[1].dedup_key
    assert signals[0].source_id == signals[1].source_id
