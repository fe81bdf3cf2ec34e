"""Writes the scenario library: one JSON file per story, payloads in the platform's own shapes.

Why a generator rather than hand-written JSON: a scenario is mostly boilerplate (ARM IDs repeated
in five places, one GUID per event), and hand-copied payloads drift from the shapes Azure sends.
Here each payload shape is built by one small function, copied field for field from the public
example scenarios (Event Grid AvailabilityStatusChanged / ResourceAnnotated / Resource*Success,
Common Alert Schema Resource Health / Administrative / Autoscale, the autoscale webhook), and each
story only says what happens when.

Every ID is ``uuid5(NAMESPACE, "<scenario>/<n>")`` for the n-th ID the story asks for, so running
the script again writes byte-identical files. The four public scenarios (copied verbatim from the
contract's examples) are not written here and never touched.

Each story's ``expect`` is what the responder's documented rules imply (hold 10 min, operation
window start -2 min to completion +15 min, verify 5 min after acting, one instance at a time below
20, ...), written down before the story was ever replayed.

    .venv/bin/python scenarios/build_scenarios.py
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from vmss_responder.durations import parse_offset

HERE = Path(__file__).resolve().parent
NAMESPACE = uuid.UUID("3b6f0a4e-9d1c-5e2b-8a7f-6c5d4e3b2a19")
SUB = "6f1c9a52-0d2e-4b7a-9c1e-3a5d7e8f9012"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
START = datetime(2026, 5, 4, 9, 0, tzinfo=timezone.utc)
AZURE_CLI_APP = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"  # the Azure CLI's public client ID
RESPONDER_APP = "5d8e2c41-7a93-4f0b-b6e2-9c14a7d3e805"  # the responder's own identity (scenario 11)
HEALTH_EXTENSION = {"name": "HealthExtension", "status": "Succeeded", "message": ""}
EVERY_ACTION = ["resume_repairs", "restart_instance", "reimage_instance", "replace_instance", "run_command"]
HEALTH_EVENT = "Microsoft.ResourceNotifications.HealthResources.AvailabilityStatusChanged"
ANNOTATION_EVENT = "Microsoft.ResourceNotifications.HealthResources.ResourceAnnotated"


# --- ARM IDs ---------------------------------------------------------------------------------


def vmss_id(rg: str, name: str) -> str:
    return (
        f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachineScaleSets/{name}"
    )


def vm_id(rg: str, name: str, instance_id: str) -> str:
    return f"{vmss_id(rg, name)}/virtualMachines/{instance_id}"


def autoscale_setting_id(rg: str, name: str) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/microsoft.insights/autoscalesettings/autoscale-{name}"


def azure_time(when: datetime) -> str:
    """Azure's 7-digit fraction, as Event Grid and alerts write timestamps."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def log_time(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the fleet -------------------------------------------------------------------------------


def instance(
    instance_id: int,
    zone: int | None,
    health: str | None = "Healthy",
    *,
    provisioning: str = "Succeeded",
    power: str = "running",
    protect_scale_in: bool = False,
    protect_actions: bool = False,
    extensions: list[dict[str, str]] | None = None,
    after_repair: dict[str, Any] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "instanceId": str(instance_id),
        "zone": None if zone is None else str(zone),
        "provisioningState": provisioning,
        "powerState": power,
        "health": health,
        "latestModelApplied": True,
        "protectionPolicy": {
            "protectFromScaleIn": protect_scale_in,
            "protectFromScaleSetActions": protect_actions,
        },
        "extensions": extensions if extensions is not None else [dict(HEALTH_EXTENSION)],
    }
    if after_repair is not None:
        out["afterRepair"] = after_repair
    return out


def zone_of(instance_id: int, zones: int = 3) -> int:
    """Round-robin zones, as a zone-balanced scale set places consecutive instances."""
    return instance_id % zones + 1


def instances(count: int, unhealthy: tuple[int, ...] = (), **overrides: Any) -> list[dict[str, Any]]:
    return [
        instance(i, zone_of(i), "Unhealthy" if i in unhealthy else "Healthy", **overrides)
        for i in range(count)
    ]


def repairs(enabled: bool = True, grace: str = "PT10M", action: str = "Replace") -> dict[str, Any]:
    return {"enabled": enabled, "gracePeriod": grace, "repairAction": action}


def scale_set(
    rg: str,
    name: str,
    members: list[dict[str, Any]],
    *,
    policy: dict[str, Any] | None = None,
    service_state: str | None = None,
    upgrade: str = "Rolling",
    location: str = "eastus",
) -> dict[str, Any]:
    services = (
        [] if service_state is None else [{"serviceName": "AutomaticRepairs", "serviceState": service_state}]
    )
    return {
        "resourceGroup": rg,
        "name": name,
        "location": location,
        "orchestrationMode": "Uniform",
        "automaticRepairsPolicy": policy,
        "orchestrationServices": services,
        "upgradePolicy": {"mode": upgrade},
        "instances": members,
    }


# --- a story ---------------------------------------------------------------------------------


class Story:
    """One scenario being written: its scale set, its timeline and its deterministic IDs."""

    def __init__(
        self, name: str, description: str, *, until: str, config: dict[str, Any], fleet: dict[str, Any]
    ):
        self.name = name
        self.description = description
        self.until = until
        self.config = config
        self.fleet = fleet
        self.rg = fleet["resourceGroup"]
        self.vmss = fleet["name"]
        self.steps: list[dict[str, Any]] = []
        self.expect: dict[str, Any] = {}
        self._ids = 0

    # identity and time
    def uuid(self) -> str:
        self._ids += 1
        return str(uuid.uuid5(NAMESPACE, f"{self.name}/{self._ids}"))

    def when(self, offset: str) -> datetime:
        return START + parse_offset(offset)

    @property
    def set_id(self) -> str:
        return vmss_id(self.rg, self.vmss)

    def vm(self, instance_id: str | int) -> str:
        return vm_id(self.rg, self.vmss, str(instance_id))

    # timeline steps
    def deliver(self, at: str, channel: str, payload: Any) -> None:
        self.steps.append({"at": at, "deliver": {"channel": channel, "payload": payload}})

    def change(self, at: str, op: str, **fields: Any) -> None:
        self.steps.append({"at": at, "fleet": {"op": op, "scaleSet": self.vmss, **fields}})

    def set_instance(self, at: str, instance_id: int, **fields: Any) -> None:
        self.change(at, "set_instance", instanceId=str(instance_id), **fields)

    def activity(self, at: str, **entry: Any) -> None:
        self.steps.append({"at": at, "activityLog": entry})

    def rerun(self, at: str, dry_run: bool) -> None:
        self.steps.append({"at": at, "rerun": {"resourceId": self.set_id, "dryRun": dry_run}})

    # common deliveries
    def degraded(self, at: str, via: str = "eventgrid", previous: str = "Available") -> None:
        """The scale set turns Degraded: Event Grid, or the Resource Health alert that repeats it."""
        if via == "eventgrid":
            self.deliver(at, "eventgrid", [availability(self, at, self.set_id, "Degraded", previous)])
        else:
            self.deliver(at, "alert", health_alert(self, at, "Degraded", previous))

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "start": log_time(START),
            "until": self.until,
            "config": self.config,
            "fleet": {"subscriptionId": SUB, "scaleSets": [self.fleet]},
            "timeline": self.steps,
            "expect": self.expect,
        }


# --- payloads, in the platform's shapes --------------------------------------------------------


def availability(story: Story, at: str, resource_id: str, state: str, previous: str) -> dict[str, Any]:
    """Event Grid (HealthResources system topic) AvailabilityStatusChanged for a scale set or instance."""
    event_id = story.uuid()
    stamp = azure_time(story.when(at))
    target_type = (
        "Microsoft.Compute/virtualMachineScaleSets/virtualMachines"
        if "/virtualMachines/" in resource_id
        else "Microsoft.Compute/virtualMachineScaleSets"
    )
    return {
        "id": event_id,
        "topic": f"/subscriptions/{SUB}",
        "subject": resource_id,
        "data": {
            "resourceInfo": {
                "id": f"{resource_id}/providers/Microsoft.ResourceHealth/availabilityStatuses/{event_id}",
                "name": event_id,
                "type": "Microsoft.ResourceHealth/availabilityStatuses",
                "properties": {
                    "targetResourceId": resource_id,
                    "targetResourceType": target_type,
                    "occurredTime": stamp,
                    "previousAvailabilityState": previous,
                    "availabilityState": state,
                },
            },
            "operationalInfo": {"resourceEventTime": stamp},
            "apiVersion": "2023-12-01",
        },
        "eventType": HEALTH_EVENT,
        "dataVersion": "1",
        "metadataVersion": "1",
        "eventTime": stamp,
    }


def annotation(
    story: Story,
    at: str,
    resource_id: str,
    *,
    name: str,
    reason: str,
    summary: str,
    context: str,
    category: str,
    impact: str | None = None,
) -> dict[str, Any]:
    """Event Grid ResourceAnnotated (Resource Health's VM annotations) on an instance."""
    event_id = story.uuid()
    stamp = azure_time(story.when(at))
    props: dict[str, Any] = {
        "targetResourceId": resource_id,
        "targetResourceType": "Microsoft.Compute/virtualMachineScaleSets/virtualMachines",
        "occurredTime": stamp,
        "annotationName": name,
        "reason": reason,
        "summary": summary,
        "context": context,
        "category": category,
    }
    if impact is not None:
        props["impactType"] = impact
    return {
        "id": event_id,
        "topic": f"/subscriptions/{SUB}",
        "subject": resource_id,
        "data": {
            "resourceInfo": {
                "id": f"{resource_id}/providers/Microsoft.ResourceHealth/resourceAnnotations/{event_id}",
                "name": event_id,
                "type": "Microsoft.ResourceHealth/resourceAnnotations",
                "properties": props,
            },
            "operationalInfo": {"resourceEventTime": stamp},
            "apiVersion": "2022-08-01",
        },
        "eventType": ANNOTATION_EVENT,
        "dataVersion": "1",
        "metadataVersion": "1",
        "eventTime": stamp,
    }


def user_claims(upn: str, display_name: str) -> dict[str, str]:
    """An operator signed in with the Azure CLI."""
    return {
        "name": display_name,
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": upn,
        "appid": AZURE_CLI_APP,
        "http://schemas.microsoft.com/identity/claims/tenantid": TENANT,
    }


def app_claims(app_id: str) -> dict[str, str]:
    """A service principal (the autoscale engine's or the responder's own identity)."""
    return {"appid": app_id, "http://schemas.microsoft.com/identity/claims/tenantid": TENANT}


def arm_event(
    story: Story,
    at: str,
    event_type: str,
    resource_uri: str,
    operation: str,
    *,
    method: str,
    url_path: str,
    claims: dict[str, str],
    principal_type: str,
    event_time: str | None = None,
) -> dict[str, Any]:
    """Event Grid subscription topic ``Microsoft.Resources.Resource{Write,Action}Success``."""
    event_id = story.uuid()
    correlation, request = story.uuid(), story.uuid()
    return {
        "subject": resource_uri,
        "eventType": event_type,
        "eventTime": azure_time(story.when(event_time or at)),
        "id": event_id,
        "data": {
            "authorization": {
                "scope": resource_uri,
                "action": operation,
                "evidence": {
                    "role": "Contributor",
                    "roleAssignmentScope": f"/subscriptions/{SUB}",
                    "principalType": principal_type,
                },
            },
            "claims": claims,
            "correlationId": correlation,
            "httpRequest": {
                "clientRequestId": request,
                "clientIpAddress": "10.0.0.4",
                "method": method,
                "url": f"https://management.azure.com{url_path}?api-version=2024-11-01",
            },
            "resourceProvider": "Microsoft.Compute",
            "resourceUri": resource_uri,
            "operationName": operation,
            "status": "Succeeded",
            "subscriptionId": SUB,
            "tenantId": TENANT,
        },
        "dataVersion": "2",
        "metadataVersion": "1",
        "topic": f"/subscriptions/{SUB}",
    }


def _essentials(story: Story, at: str, rule: str, service: str, target: str, item: str) -> dict[str, Any]:
    return {
        "alertId": f"/subscriptions/{SUB}/providers/Microsoft.AlertsManagement/alerts/{story.uuid()}",
        "alertRule": rule,
        "severity": "Sev4",
        "signalType": "Activity Log",
        "monitorCondition": "Fired",
        "monitoringService": service,
        "alertTargetIDs": [target.lower()],
        "configurationItems": [item],
        "originAlertId": f"{story.uuid()}_00000000000000000000000000000000",
        "firedDateTime": azure_time(story.when(at)),
        "description": "",
        "essentialsVersion": "1.0",
        "alertContextVersion": "1.0",
    }


def _cas(essentials: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    return {
        "schemaId": "azureMonitorCommonAlertSchema",
        "data": {"essentials": essentials, "alertContext": context},
    }


def health_alert(story: Story, at: str, current: str, previous: str) -> dict[str, Any]:
    """Common Alert Schema, Resource Health Activity Log alert on the scale set."""
    stamp = azure_time(story.when(at))
    essentials = _essentials(story, at, "vmss-resource-health", "Resource Health", story.set_id, story.vmss)
    return _cas(
        essentials,
        {
            "channels": "Admin, Operation",
            "correlationId": story.uuid(),
            "eventSource": "ResourceHealth",
            "eventTimestamp": stamp,
            "eventDataId": story.uuid(),
            "level": "Warning",
            "operationName": "Microsoft.Resourcehealth/healthevent/Activated/action",
            "operationId": story.uuid(),
            "properties": {
                "title": current,
                "details": None,
                "currentHealthStatus": current,
                "previousHealthStatus": previous,
                "type": "Degradation" if current == "Degraded" else "Downtime",
                "cause": "Unknown",
            },
            "status": "Active",
            "submissionTimestamp": stamp,
            "Activity Log Event Description": None,
        },
    )


def admin_alert(
    story: Story,
    at: str,
    operation: str,
    *,
    caller: str,
    claims: str = "{}",
    request_body: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Common Alert Schema, Activity Log Administrative alert for an operation on the scale set."""
    stamp = azure_time(story.when(at))
    essentials = _essentials(
        story, at, "vmss-admin-operations", "Activity Log - Administrative", story.set_id, story.vmss
    )
    properties: dict[str, str] = {
        "eventCategory": "Administrative",
        "entity": story.set_id,
        "message": operation,
    }
    if request_body is not None:
        properties["requestbody"] = json.dumps(request_body, separators=(",", ":"))
    return _cas(
        essentials,
        {
            "authorization": {"action": operation, "scope": story.set_id},
            "channels": "Operation",
            "claims": claims,
            "caller": caller,
            "correlationId": story.uuid(),
            "eventSource": "Administrative",
            "eventTimestamp": stamp,
            "eventDataId": story.uuid(),
            "level": "Informational",
            "operationName": operation,
            "operationId": story.uuid(),
            "properties": properties,
            "status": "Succeeded",
            "subStatus": "",
            "submissionTimestamp": stamp,
            "Activity Log Event Description": "",
        },
    )


def platform_suspended_repairs(story: Story, at: str) -> dict[str, Any]:
    """The platform (caller Microsoft.Compute) changed AutomaticRepairs: it suspends after failed repairs."""
    return admin_alert(
        story,
        at,
        "Microsoft.Compute/virtualMachineScaleSets/setOrchestrationServiceState/action",
        caller="Microsoft.Compute",
    )


def autoscale_alert(story: Story, at: str, old: int, new: int) -> dict[str, Any]:
    """Common Alert Schema, Activity Log Autoscale alert: the scale action completed."""
    stamp = azure_time(story.when(at))
    setting = autoscale_setting_id(story.rg, story.vmss)
    essentials = _essentials(
        story, at, "vmss-autoscale", "Activity Log - Autoscale", setting, f"autoscale-{story.vmss}"
    )
    verb = "Scaleup" if new > old else "Scaledown"
    return _cas(
        essentials,
        {
            "channels": "Admin, Operation",
            "claims": '{"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/spn":"Microsoft.Insights/autoscaleSettings"}',
            "caller": "Microsoft.Insights/autoscaleSettings",
            "correlationId": story.uuid(),
            "eventSource": "Autoscale",
            "eventTimestamp": stamp,
            "eventDataId": story.uuid(),
            "level": "Informational",
            "operationName": f"Microsoft.Insights/AutoscaleSettings/{verb}/Action",
            "operationId": story.uuid(),
            "properties": {
                "description": f"The autoscale engine attempting to scale resource '{story.set_id}' from {old} instances count to {new} instances count.",
                "resourceName": story.set_id,
                "oldInstancesCount": str(old),
                "newInstancesCount": str(new),
                "lastScaleActionTime": stamp,
            },
            "status": "Succeeded",
            "submissionTimestamp": stamp,
        },
    )


def autoscale_webhook(story: Story, at: str, old: int, new: int) -> dict[str, Any]:
    """The autoscale setting's notification webhook, sent when the scale action starts."""
    setting = autoscale_setting_id(story.rg, story.vmss)
    return {
        "version": "1.0",
        "status": "Activated",
        "operation": "Scale Out" if new > old else "Scale In",
        "context": {
            "timestamp": azure_time(story.when(at)),
            "id": setting,
            "name": f"autoscale-{story.vmss}",
            "details": f"Autoscale successfully started scale operation for resource '{story.vmss}' from capacity '{old}' to capacity '{new}'",
            "subscriptionId": SUB,
            "resourceGroupName": story.rg,
            "resourceName": story.vmss,
            "resourceType": "microsoft.compute/virtualmachinescalesets",
            "resourceId": story.set_id,
            "portalLink": f"https://portal.azure.com/#resource{story.set_id}",
            "resourceRegion": "East US",
            "oldCapacity": str(old),
            "newCapacity": str(new),
        },
        "properties": {},
    }


def autoscale_write(story: Story, at: str) -> dict[str, Any]:
    """The PUT on the scale set the autoscale engine makes to change its capacity."""
    return arm_event(
        story,
        at,
        "Microsoft.Resources.ResourceWriteSuccess",
        story.set_id,
        "Microsoft.Compute/virtualMachineScaleSets/write",
        method="PUT",
        url_path=story.set_id,
        claims=app_claims(story.uuid()),
        principal_type="ServicePrincipal",
    )


def scale(story: Story, at: str, done: str, old: int, new: int, **fleet_step: Any) -> None:
    """An autoscale action: the webhook when it starts; the fleet change and the completion alert when done."""
    story.deliver(at, "autoscale", autoscale_webhook(story, at, old, new))
    story.change(done, **fleet_step)
    story.deliver(done, "alert", autoscale_alert(story, done, old, new))


# --- expectations ------------------------------------------------------------------------------


def act(*allowed: str, **more: Any) -> dict[str, Any]:
    return {"mode": "act", "allowedActions": list(allowed), **more}


def action(story: Story, op: str, ids: list[str] | None = None, mode: str = "executed") -> dict[str, Any]:
    out: dict[str, Any] = {"op": op, "scaleSet": story.vmss}
    if ids is not None:
        out["instanceIds"] = ids
    out["mode"] = mode
    return out


def incident(story: Story, status: str, *findings: str) -> dict[str, Any]:
    return {"scaleSet": story.vmss, "status": status, "findings": list(findings)}


def forbid_executed(*ops: str) -> list[dict[str, str]]:
    return [{"op": op, "mode": "executed"} for op in ops]


# --- the stories -------------------------------------------------------------------------------

STORIES: list[Callable[[], Story]] = []


def story(fn: Callable[[], Story]) -> Callable[[], Story]:
    STORIES.append(fn)
    return fn


@story
def ecommerce_extension_update_probe_failure() -> Story:
    custom_ok = {"name": "CustomScript", "status": "Succeeded", "message": ""}
    custom_failed = {
        "name": "CustomScript",
        "status": "Failed",
        "message": "Enable failed: script exited with code 1",
    }
    s = Story(
        "ecommerce-extension-update-probe-failure",
        "An operator updates the CustomScript extension of the shop's web tier at 09:00 (Event Grid "
        "ResourceWriteSuccess for extensions/write). Three minutes later instance 2 fails its health probe: its "
        "CustomScript extension failed ('Enable failed: script exited with code 1'). The scale set goes Degraded "
        "at 09:04 and the Resource Health alert repeats it at 09:20; automatic repairs were never configured. "
        "Rule: the extension change explains the Degraded signal only until it completes plus the 15-minute settle "
        "period (09:15); the instance is still unhealthy then, so the responder diagnoses it like an unexplained "
        "problem, finds extension_failed and reimages instance 2 (a reimage re-runs the extension on a clean disk), "
        "then verifies the recovery. Nobody is paged.",
        until="+45m",
        config=act("reimage_instance"),
        fleet=scale_set(
            "rg-shop-prod",
            "vmss-shop-web",
            instances(6, extensions=[dict(HEALTH_EXTENSION), custom_ok]),
            upgrade="Automatic",
        ),
    )
    extension = f"{s.set_id}/extensions/CustomScript"
    s.deliver(
        "+0m",
        "eventgrid",
        [
            arm_event(
                s,
                "+0m",
                "Microsoft.Resources.ResourceWriteSuccess",
                extension,
                "Microsoft.Compute/virtualMachineScaleSets/extensions/write",
                method="PUT",
                url_path=extension,
                claims=user_claims("dana.whitfield@contoso.com", "Dana Whitfield"),
                principal_type="User",
            )
        ],
    )
    s.set_instance(
        "+3m",
        2,
        health="Unhealthy",
        extensions=[dict(HEALTH_EXTENSION), custom_failed],
        afterRepair={"health": "Healthy", "extensions": [dict(HEALTH_EXTENSION), custom_ok]},
    )
    s.degraded("+4m")
    s.degraded("+20m", via="alert")
    s.expect = {
        "pages": 0,
        "incidents": [incident(s, "remediated", "extension_failed")],
        "actions": [action(s, "reimage_instance", ["2"])],
        "exactActions": True,
    }
    return s


@story
def zone_outage_after_scale_out() -> Story:
    s = Story(
        "zone-outage-after-scale-out",
        "Autoscale scales the API tier out from 6 to 9 at 09:00; the three new instances land one per zone and are "
        "healthy by 09:02. At 09:06 every instance in zone 2 (1, 4 and 7) fails its health probe while zones 1 and 3 "
        "stay healthy; Event Grid reports them Unavailable and the scale set Degraded at 09:07. Repairs are not "
        "configured and every action is allowed. Rule: the scale-out explains the signals until it completed plus the "
        "settle period (09:17); after that the failures are concentrated in one zone, which points at the platform, "
        "not the instances: no restart, reimage, replace or resume, one page.",
        until="+45m",
        config=act(*EVERY_ACTION),
        fleet=scale_set("rg-api-prod", "vmss-api", instances(6), upgrade="Rolling"),
    )
    scale(s, "+0m", "+2m", 6, 9, op="add_instances", instances=[instance(i, zone_of(i)) for i in (6, 7, 8)])
    s.deliver("+20s", "eventgrid", [autoscale_write(s, "+20s")])
    zone2 = [i for i in range(9) if zone_of(i) == 2]
    for i in zone2:
        s.set_instance("+6m", i, health="Unhealthy")
    s.deliver(
        "+7m", "eventgrid", [availability(s, "+7m", s.vm(i), "Unavailable", "Available") for i in zone2]
    )
    s.degraded("+7m")
    s.expect = {
        "pages": 1,
        "incidents": [incident(s, "escalated", "zone_concentrated")],
        "forbidActions": forbid_executed(
            "restart_instance", "reimage_instance", "replace_instance", "resume_repairs"
        ),
    }
    return s


@story
def stateful_protected_from_scale_in() -> Story:
    s = Story(
        "stateful-protected-from-scale-in",
        "A three-node stateful ledger tier protects every instance from scale-in. Automatic repairs are enabled and "
        "Running, but the platform does not repair protected instances, so instance 1, unhealthy from the start, "
        "would stay broken. The scale set is Degraded at 09:00. Rule: after the 10-minute hold (and one Activity Log "
        "lookup that finds nothing) the responder notes protected_instance and does the smallest correct action: a "
        "restart, which keeps the instance and its disks. It never replaces a protected instance. Recovery is "
        "verified; nobody is paged.",
        until="+40m",
        config=act("restart_instance", "replace_instance"),
        fleet=scale_set(
            "rg-ledger-prod",
            "vmss-ledger-db",
            [
                instance(i, zone_of(i), "Unhealthy" if i == 1 else "Healthy", protect_scale_in=True)
                for i in range(3)
            ],
            policy=repairs(),
            service_state="Running",
            upgrade="Manual",
        ),
    )
    s.degraded("+0m")
    s.expect = {
        "pages": 0,
        "incidents": [incident(s, "remediated", "protected_instance")],
        "actions": [action(s, "restart_instance", ["1"])],
        "exactActions": True,
        "forbidActions": forbid_executed("replace_instance"),
    }
    return s


@story
def probe_misconfigured_no_resume() -> Story:
    s = Story(
        "probe-misconfigured-no-resume",
        "Five of six checkout instances, spread over all three zones, report unhealthy, and the platform suspended "
        "automatic repairs after its repairs kept coming back unhealthy (Administrative alert: "
        "setOrchestrationServiceState by Microsoft.Compute at 09:00). Rule: when most instances are unhealthy across "
        "zones the health probe or the application is broken, not the instances: resuming repairs or restarting "
        "would only churn capacity. The responder takes no action at all, not even a shadow one, and pages once with "
        "probe_misconfigured and repairs_suspended.",
        until="+30m",
        config=act("resume_repairs", "restart_instance"),
        fleet=scale_set(
            "rg-checkout-prod",
            "vmss-checkout",
            instances(6, unhealthy=(0, 1, 2, 4, 5)),
            policy=repairs(),
            service_state="Suspended",
        ),
    )
    s.deliver("+0m", "alert", platform_suspended_repairs(s, "+0m"))
    s.expect = {
        "pages": 1,
        "incidents": [incident(s, "escalated", "probe_misconfigured", "repairs_suspended")],
        "noActions": True,
    }
    return s


@story
def repairs_not_running_restart() -> Story:
    s = Story(
        "repairs-not-running-restart",
        "The render farm's automatic repairs policy exists but is disabled (enabled false, AutomaticRepairs "
        "NotRunning). Instance 2 fails its health probe; the scale set is Degraded at 09:00 and again at 09:05. "
        "Rule: a disabled policy is repairs_disabled, not a suspension, so there is nothing to resume (resuming a "
        "disabled policy is not possible); after the hold the responder restarts instance 2 and verifies it. Nobody "
        "is paged.",
        until="+40m",
        config=act("resume_repairs", "restart_instance"),
        fleet=scale_set(
            "rg-render-prod",
            "vmss-render",
            instances(4, unhealthy=(2,)),
            policy=repairs(enabled=False),
            service_state="NotRunning",
            upgrade="Manual",
        ),
    )
    s.degraded("+0m")
    s.degraded("+5m", via="alert")
    s.expect = {
        "pages": 0,
        "incidents": [incident(s, "remediated", "repairs_disabled")],
        "actions": [action(s, "restart_instance", ["2"])],
        "exactActions": True,
        "forbidActions": [{"op": "resume_repairs"}],
    }
    return s


@story
def grace_period_platform_repairs() -> Story:
    s = Story(
        "grace-period-platform-repairs",
        "Automatic repairs are Running (grace period PT10M, repair action Replace). Instance 4 of the transcoding "
        "tier fails its probe at 09:00 and the scale set goes Degraded. The responder may restart, and its hold is "
        "shortened to 5 minutes. Rule: when the platform is about to repair an instance (grace_period) the responder "
        "waits for it instead of acting; the platform replaces instance 4 after the grace period and the scale set "
        "is Available again, so the incident is resolved without any action and without a page.",
        until="+45m",
        config=act("restart_instance", holdPeriod="PT5M"),
        fleet=scale_set(
            "rg-media-prod", "vmss-transcode", instances(6), policy=repairs(), service_state="Running"
        ),
    )
    s.set_instance("+0m", 4, health="Unhealthy")
    s.degraded("+0m")
    s.deliver("+12m", "eventgrid", [availability(s, "+12m", s.set_id, "Available", "Degraded")])
    s.expect = {
        "pages": 0,
        "incidents": [incident(s, "resolved", "grace_period")],
        "forbidActions": forbid_executed("restart_instance"),
    }
    return s


@story
def provisioning_failed_protected() -> Story:
    new_ok = instance(4, 2)
    failed = instance(5, 3, "Unhealthy", provisioning="Failed", power="stopped", protect_scale_in=True)
    s = Story(
        "provisioning-failed-protected",
        "Autoscale scales the ingest workers out from 4 to 6; the team's bootstrap protects every new worker from "
        "scale-in as it is created, and instance 5 fails provisioning. The Degraded signal starts inside the "
        "scale-out window and does not clear when the operation settles. Automatic repairs never fix provisioning "
        "failures, and the only fix, a replacement, would delete an instance the team protected. Rule: a protected "
        "instance is never replaced; the responder pages with provisioning_failed and protected_instance.",
        until="+45m",
        config=act("replace_instance"),
        fleet=scale_set(
            "rg-ingest-prod", "vmss-ingest", instances(4), policy=repairs(), service_state="Running"
        ),
    )
    scale(s, "+0m", "+2m", 4, 6, op="add_instances", instances=[new_ok, failed])
    s.deliver("+20s", "eventgrid", [autoscale_write(s, "+15s")])
    s.degraded("+3m")
    s.expect = {
        "pages": 1,
        "incidents": [incident(s, "escalated", "provisioning_failed", "protected_instance")],
        "forbidActions": forbid_executed("replace_instance"),
    }
    return s


@story
def protected_from_scale_set_actions() -> Story:
    members = instances(4)
    members[1] = instance(1, zone_of(1), "Unhealthy", protect_actions=True)
    s = Story(
        "protected-from-scale-set-actions",
        "Instance 1 of the payments tier is protected from scale set actions (the team is investigating it) and "
        "fails its health probe; repairs are not configured and the scale set is Degraded at 09:00. Restart, "
        "reimage and replace are all allowed. Rule: protectFromScaleSetActions means hands off for the responder "
        "as for the platform: after the hold it takes no action, not even a shadow one, and pages with "
        "protected_instance.",
        until="+30m",
        config=act("restart_instance", "reimage_instance", "replace_instance"),
        fleet=scale_set("rg-payments-prod", "vmss-payments", members),
    )
    s.degraded("+0m")
    s.expect = {
        "pages": 1,
        "incidents": [incident(s, "escalated", "protected_instance")],
        "noActions": True,
    }
    return s


@story
def blast_radius_one_at_a_time() -> Story:
    s = Story(
        "blast-radius-one-at-a-time",
        "Ten edge instances over three zones; instances 1, 5 and 9, each in a different zone, fail their health "
        "probes, repairs are not configured, and the scale set is Degraded at 09:00. Rule: below 20 instances the "
        "responder acts on one instance at a time: after the hold it restarts instance 1, verifies it five minutes "
        "later before restarting 5, then 9, and closes the incident as remediated. Nobody is paged.",
        until="+60m",
        config=act("restart_instance"),
        fleet=scale_set("rg-cdn-prod", "vmss-edge", instances(10, unhealthy=(1, 5, 9))),
    )
    s.degraded("+0m")
    s.expect = {
        "pages": 0,
        "incidents": [incident(s, "remediated")],
        "actions": [action(s, "restart_instance", [i]) for i in ("1", "5", "9")],
        "exactActions": True,
    }
    return s


@story
def failed_action_hands_over() -> Story:
    s = Story(
        "failed-action-hands-over",
        "Ten queue workers, repairs not configured, restarts allowed. Instances 1 and 5 fail their health probes and "
        "the scale set is Degraded at 09:00. After the hold the responder restarts instance 1 (one at a time), but "
        "instance 1 comes back unhealthy: the restart did not help. Rule: once an action fails to remediate, on-call "
        "owns the incident: the responder pages once and never acts again in that incident, not on instance 5 either, "
        "not on any later recheck.",
        until="+90m",
        config=act("restart_instance"),
        fleet=scale_set(
            "rg-queue-prod",
            "vmss-workers",
            [
                instance(
                    i,
                    zone_of(i),
                    "Unhealthy" if i in (1, 5) else "Healthy",
                    after_repair={"health": "Unhealthy"} if i == 1 else None,
                )
                for i in range(10)
            ],
        ),
    )
    s.degraded("+0m")
    s.degraded("+40m", via="alert")
    s.expect = {
        "pages": 1,
        "incidents": [incident(s, "escalated", "repairs_disabled")],
        "actions": [action(s, "restart_instance", ["1"])],
        "exactActions": True,
        "forbidActions": [{"op": "restart_instance", "instanceIds": ["5"], "mode": "executed"}],
    }
    return s


@story
def platform_initiated_annotation() -> Story:
    s = Story(
        "platform-initiated-annotation",
        "Resource Health annotates instance 3 of the analytics cluster: VirtualMachinePossiblyDegradedDueToHardwareFailure "
        "(Platform Initiated, Unplanned). The instance fails its probe at the same time; Event Grid reports it "
        "Unavailable and the scale set Degraded a minute later. Every action is allowed; repairs are not configured. "
        "Rule: a platform-initiated annotation means the host is at fault: restarting or reimaging on the same "
        "hardware will not help, so the responder holds every action and pages with platform_initiated.",
        until="+40m",
        config=act(*EVERY_ACTION),
        fleet=scale_set("rg-analytics-prod", "vmss-spark", instances(6)),
    )
    s.deliver(
        "+0m",
        "eventgrid",
        [
            annotation(
                s,
                "+0m",
                s.vm(3),
                name="VirtualMachinePossiblyDegradedDueToHardwareFailure",
                reason="Virtual machine possibly degraded due to hardware failure",
                summary="We have detected a hardware degradation on the host of this virtual machine. It may be impacted "
                "until it is migrated to a healthy host.",
                context="Platform Initiated",
                category="Unplanned",
                impact="Degraded",
            )
        ],
    )
    s.set_instance("+0m", 3, health="Unhealthy")
    s.deliver(
        "+1m",
        "eventgrid",
        [
            availability(s, "+1m", s.vm(3), "Unavailable", "Available"),
            availability(s, "+1m", s.set_id, "Degraded", "Available"),
        ],
    )
    s.expect = {
        "pages": 1,
        "incidents": [incident(s, "escalated", "platform_initiated")],
        "forbidActions": forbid_executed(*EVERY_ACTION),
    }
    return s


@story
def own_operations_ignored() -> Story:
    s = Story(
        "own-operations-ignored",
        "The responder's own earlier work echoes back: an Administrative alert for setOrchestrationServiceState "
        "(Resume) whose caller is the responder's application ID, and an Event Grid ResourceActionSuccess for an "
        "instance restart whose claims carry the same appid. Nothing is unhealthy. Rule: the responder's own "
        "operations (ownPrincipals) never open incidents or trigger a diagnosis, so it does not even read the scale "
        "set.",
        until="+30m",
        config={
            "mode": "act",
            "allowedActions": ["resume_repairs", "restart_instance"],
            "ownPrincipals": [RESPONDER_APP],
        },
        fleet=scale_set(
            "rg-queue-prod", "vmss-workers", instances(4), policy=repairs(), service_state="Running"
        ),
    )
    s.deliver(
        "+0m",
        "alert",
        admin_alert(
            s,
            "+0m",
            "Microsoft.Compute/virtualMachineScaleSets/setOrchestrationServiceState/action",
            caller=RESPONDER_APP,
            claims=json.dumps(app_claims(RESPONDER_APP), separators=(",", ":")),
            request_body={"serviceName": "AutomaticRepairs", "action": "Resume"},
        ),
    )
    restart = f"{s.vm(2)}/restart"
    s.deliver(
        "+1m",
        "eventgrid",
        [
            arm_event(
                s,
                "+1m",
                "Microsoft.Resources.ResourceActionSuccess",
                s.vm(2),
                "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/restart/action",
                method="POST",
                url_path=restart,
                claims=app_claims(RESPONDER_APP),
                principal_type="ServicePrincipal",
            )
        ],
    )
    s.expect = {"pages": 0, "incidents": [], "noActions": True, "maxArmReads": 0}
    return s


@story
def run_command_diagnostics() -> Story:
    s = Story(
        "run-command-diagnostics",
        "Instance 3 of the identity tier fails its health probe; repairs are not configured and the scale set is "
        "Degraded at 09:00. The responder may run its diagnostics script and restart. Rule: when run_command is "
        "allowed the responder collects diagnostics from the failing instance before the restart wipes the "
        "evidence, then restarts it and verifies the recovery.",
        until="+40m",
        config=act("run_command", "restart_instance"),
        fleet=scale_set("rg-auth-prod", "vmss-identity", instances(5, unhealthy=(3,))),
    )
    s.degraded("+0m")
    s.expect = {
        "pages": 0,
        "incidents": [incident(s, "remediated")],
        "actions": [action(s, "run_command", ["3"]), action(s, "restart_instance", ["3"])],
    }
    return s


@story
def dry_run_rerun() -> Story:
    s = Story(
        "dry-run-rerun",
        "Instance 2 of the reporting tier has been unhealthy since before anyone noticed. At 09:02 an engineer asks "
        "for a dry-run rerun of the scale set: the responder reads it and records what it would do, a restart of "
        "instance 2, as a shadow action, changing nothing. At 09:05 the scale set goes Degraded; after the hold the "
        "responder restarts instance 2 for real and verifies it.",
        until="+40m",
        config=act("restart_instance"),
        fleet=scale_set("rg-reports-prod", "vmss-reports", instances(4, unhealthy=(2,))),
    )
    s.rerun("+2m", dry_run=True)
    s.degraded("+5m")
    s.expect = {
        "pages": 0,
        "incidents": [incident(s, "remediated")],
        "actions": [
            action(s, "restart_instance", ["2"], mode="shadow"),
            action(s, "restart_instance", ["2"]),
        ],
        "exactActions": True,
    }
    return s


@story
def out_of_scope_rejected() -> Story:
    s = Story(
        "out-of-scope-rejected",
        "The responder serves only rg-allowed. A scale set in rg-other, with an unhealthy instance, goes Degraded and "
        "someone asks for a rerun of it. Rule: payloads and reruns about anything outside the configured scopes are "
        "rejected before any ARM call: no incident, no read.",
        until="+20m",
        config={
            "mode": "act",
            "allowedActions": ["restart_instance"],
            "scopes": [f"/subscriptions/{SUB}/resourceGroups/rg-allowed"],
        },
        fleet=scale_set("rg-other", "vmss-legacy", instances(3, unhealthy=(0,))),
    )
    s.degraded("+0m")
    s.rerun("+1m", dry_run=False)
    s.expect = {"pages": 0, "incidents": [], "minRejected": 2, "maxArmReads": 0}
    return s


@story
def resume_budget_loop() -> Story:
    members = instances(6)
    members[2] = instance(2, zone_of(2), "Unhealthy", after_repair={"health": "Unhealthy"})
    s = Story(
        "resume-budget-loop",
        "The platform suspended automatic repairs on the cache tier (alert at 09:00); one of six instances is "
        "unhealthy, and every replacement of it comes back unhealthy too (a bad image for that role). The responder "
        "resumes repairs once; the platform replaces the instance three times without success and suspends repairs "
        "again at 09:30 (alert at 09:31). Rule: a resume must show recovery within the grace period + 10 min + "
        "5 min; it does not, so the responder hands over to on-call with one page and never resumes again in the "
        "same incident.",
        until="+90m",
        config=act("resume_repairs"),
        fleet=scale_set("rg-cache-prod", "vmss-cache", members, policy=repairs(), service_state="Suspended"),
    )
    s.deliver("+0m", "alert", platform_suspended_repairs(s, "+0m"))
    s.deliver("+31m", "alert", platform_suspended_repairs(s, "+31m"))
    s.expect = {
        "pages": 1,
        "incidents": [incident(s, "escalated", "repairs_suspended")],
        "actions": [action(s, "resume_repairs")],
        "exactActions": True,
    }
    return s


@story
def autoscale_flapping() -> Story:
    s = Story(
        "autoscale-flapping",
        "The matchmaking tier's autoscale rules fight each other: out from 4 to 6 at 09:00, in to 4 at 09:08, out to "
        "6 again at 09:16, each completing two minutes later. Every instance stays healthy. Rule: two reversals of "
        "direction within 30 minutes is autoscale_flapping, reported (as information) so the rules get fixed; "
        "nobody is paged.",
        until="+40m",
        config={"mode": "observe"},
        fleet=scale_set("rg-games-prod", "vmss-matchmaker", instances(4)),
    )
    scale(s, "+0m", "+2m", 4, 6, op="add_instances", instances=[instance(i, zone_of(i)) for i in (4, 5)])
    scale(s, "+8m", "+10m", 6, 4, op="remove_instances", instanceIds=["4", "5"])
    scale(s, "+16m", "+18m", 4, 6, op="add_instances", instances=[instance(i, zone_of(i)) for i in (6, 7)])
    s.expect = {"pages": 0, "findingsAnywhere": ["autoscale_flapping"], "noActions": True}
    return s


def _persistent_degraded(s: Story, until_alert: int) -> None:
    """The Degraded signal of persistent-degraded-escalated: Event Grid at 09:00, the alert every 5 minutes."""
    s.degraded("+0m")
    for minute in range(5, until_alert + 1, 5):
        s.degraded(f"+{minute}m", via="alert")


@story
def escalated_then_recovers() -> Story:
    s = Story(
        "escalated-then-recovers",
        "As in persistent-degraded-escalated: the mail relay is Degraded with no operation to explain it, instance 3 "
        "fails its probe and repairs were never configured (observe mode). On-call is paged after the hold. At 09:40 "
        "the instance recovers (someone fixed it by hand) and Event Grid reports the scale set Available at 09:41. "
        "Rule: an escalated incident keeps its status when it later recovers; it is closed with exactly one resolved "
        "notification.",
        until="+70m",
        config={"mode": "observe"},
        fleet=scale_set("rg-mail-prod", "vmss-smtp", instances(6, unhealthy=(3,))),
    )
    _persistent_degraded(s, 35)
    s.set_instance("+40m", 3, health="Healthy")
    s.deliver("+41m", "eventgrid", [availability(s, "+41m", s.set_id, "Available", "Degraded")])
    s.expect = {
        "pages": 1,
        "incidents": [incident(s, "escalated", "repairs_disabled")],
        "forbidActions": [{"mode": "executed"}],
    }
    return s


@story
def maintenance_poweroff_activity_log() -> Story:
    s = Story(
        "maintenance-poweroff-activity-log",
        "An operator powers off instances 1 and 2 of the ERP tier at 09:00:30 for maintenance and powers them on "
        "40 minutes later. No alert rule covers power operations, so only the health signals arrive: instances 1 "
        "and 2 Unavailable, the scale set Degraded, and Available again at 09:42. The operations are in the Activity "
        "Log. Rule: before paging an unexplained problem the responder queries the Activity Log once; it finds the "
        "power-off of both instances, which explains the signals (a stop on purpose), so the incident is suppressed "
        "as scale_operation and nobody is paged.",
        until="+60m",
        config={"mode": "observe"},
        fleet=scale_set("rg-erp-prod", "vmss-erp-app", instances(4), upgrade="Manual"),
    )
    operator = "ops@contoso.com"

    def power(op: str, started: str, done: str, visible: str) -> None:
        """One operation per instance (its own correlation ID), Started then Succeeded."""
        correlations = {i: s.uuid() for i in (1, 2)}
        for i in (1, 2):
            for status, when in (("Started", started), ("Succeeded", done)):
                s.activity(
                    visible,
                    operationName=f"Microsoft.Compute/virtualMachineScaleSets/virtualMachines/{op}/action",
                    resourceId=s.vm(i),
                    status=status,
                    caller=operator,
                    correlationId=correlations[i],
                    eventTimestamp=log_time(s.when(when)),
                )

    for i in (1, 2):
        s.set_instance("+1m", i, powerState="stopped", health=None)
    s.deliver(
        "+1m", "eventgrid", [availability(s, "+1m", s.vm(i), "Unavailable", "Available") for i in (1, 2)]
    )
    s.degraded("+1m30s")
    power("powerOff", "+30s", "+1m", "+4m")  # Activity Log entries become queryable minutes after the fact
    for i in (1, 2):
        s.set_instance("+41m", i, powerState="running", health="Healthy")
    s.deliver(
        "+42m",
        "eventgrid",
        [availability(s, "+42m", s.vm(i), "Available", "Unavailable") for i in (1, 2)]
        + [availability(s, "+42m", s.set_id, "Available", "Degraded")],
    )
    power("start", "+40m30s", "+41m", "+44m")
    s.expect = {
        "pages": 0,
        "incidents": [incident(s, "suppressed", "scale_operation")],
        "noActions": True,
    }
    return s


@story
def activity_log_unreachable() -> Story:
    s = Story(
        "activity-log-unreachable",
        "As in persistent-degraded-escalated: the wiki tier is Degraded with no operation to explain it, instance 3 "
        "fails its probe and repairs were never configured (observe mode). The configured Log Analytics workspace "
        "is one the responder cannot query. Rule: a failed Activity Log lookup means 'unknown', never 'no "
        "operation': the responder pages as it would have, once, and says the lookup failed.",
        until="+90m",
        config={"mode": "observe", "workspaceId": "11111111-2222-3333-4444-555555555555"},
        fleet=scale_set("rg-wiki-prod", "vmss-wiki", instances(6, unhealthy=(3,))),
    )
    _persistent_degraded(s, 60)
    s.expect = {"pages": 1, "incidents": [incident(s, "escalated", "repairs_disabled")]}
    return s


def write_all(folder: Path = HERE) -> list[Path]:
    written = []
    for build in STORIES:
        s = build()
        path = folder / f"{s.name}.json"
        path.write_text(json.dumps(s.to_json(), indent=2, ensure_ascii=False) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_all():
        print(path.name)
