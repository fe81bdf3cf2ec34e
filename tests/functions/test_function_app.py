"""The Functions app, tested as Microsoft recommends for the v2 model: the registrations through
``app.get_functions()``, and each function called with real ``azure.functions`` objects built
from the fixtures, on a real Responder (SQLite store, ARM emulator, virtual time)."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from azure.functions.eventgrid import EventGridEventInConverter
from azure.functions.meta import Datum
from azure.functions.timer import TimerRequest

from function_app import app
from handlers import eventgrid
from handlers.routes import ROUTES
from vmss_responder.clock import VirtualClock
from vmss_responder.parse import parse
from vmss_responder.runner import Responder
from vmss_responder.sim.emulator import ArmEmulator
from vmss_responder.sim.scenario import Scenario

from .helpers import FIXTURES, azure_fixture, deliveries, http_request, json_body

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = {f.get_function_name(): f for f in app.get_functions()}
VALIDATION_FIXTURE = "eventgrid/subscription-validation-event.eventgrid.json"


def call(name: str, *args: Any) -> Any:
    return FUNCTIONS[name].get_user_function()(*args)


def trigger(name: str) -> dict[str, Any]:
    return FUNCTIONS[name].get_trigger().get_dict_repr()


def decode_event(event: dict[str, Any]) -> func.EventGridEvent | func.CloudEvent:
    """What the worker hands the function: the converter picks the schema from the JSON."""
    return EventGridEventInConverter.decode(Datum(json.dumps(event), "json"), trigger_metadata={})


def as_cloudevent(event: dict[str, Any]) -> dict[str, Any]:
    """The same system event as Event Grid delivers it to a CloudEvents 1.0 subscription."""
    return {
        "id": event["id"],
        "source": event["topic"],
        "subject": event["subject"],
        "type": event["eventType"],
        "time": event["eventTime"],
        "specversion": "1.0",
        "data": event["data"],
    }


def first_event(scenario: Scenario) -> dict[str, Any]:
    return deliveries(scenario, "eventgrid")[0][0]


def scale_set_id(scenario: Scenario) -> str:
    ss = scenario.fleet["scaleSets"][0]
    return f"/subscriptions/{scenario.subscription_id}/resourceGroups/{ss['resourceGroup']}/providers/Microsoft.Compute/virtualMachineScaleSets/{ss['name']}"


def list_incidents(**params: str) -> list[dict[str, Any]]:
    response = call("incidents", http_request("GET", "incidents", params=params))
    assert response.status_code == 200
    return json_body(response)["incidents"]


# ------------------------------------------------------------------ registrations


def test_every_function_is_registered_with_its_trigger() -> None:
    kinds = {name: trigger(name)["type"] for name in FUNCTIONS}
    assert kinds == {
        "eventgrid_trigger": "eventGridTrigger",
        "sweep": "timerTrigger",
        "eventgrid_webhook": "httpTrigger",
        "alerts": "httpTrigger",
        "autoscale": "httpTrigger",
        "rerun": "httpTrigger",
        "incidents": "httpTrigger",
        "incident": "httpTrigger",
        "health": "httpTrigger",
    }


def test_http_routes_methods_and_auth_levels_are_the_documented_ones() -> None:
    documented = {
        ("POST", "eventgrid"),
        ("OPTIONS", "eventgrid"),
        ("POST", "alerts"),
        ("POST", "autoscale"),
        ("POST", "rerun"),
        ("GET", "incidents"),
        ("GET", "incidents/{id}"),
        ("GET", "health"),
    }
    served = set()
    for route in ROUTES:
        binding = trigger(route.name)
        assert binding["route"] == route.template
        # every method is bound so the API, not the host, answers a wrong one (405 + Allow)
        assert {str(m.value) for m in binding["methods"]} == {m.value for m in func.HttpMethod}
        expected_level = func.AuthLevel.ANONYMOUS if route.name == "health" else func.AuthLevel.FUNCTION
        assert binding["authLevel"] == expected_level
        served |= {(method, route.template) for method in route.methods}
    assert served == documented


def test_the_sweep_timer_reads_its_schedule_from_an_app_setting() -> None:
    binding = trigger("sweep")
    assert binding["schedule"] == "%TIMER_SCHEDULE%"
    assert binding["runOnStartup"] is False


def test_the_event_grid_trigger_binds_one_event_argument() -> None:
    binding = trigger("eventgrid_trigger")
    assert binding["name"] == "event"
    assert binding["direction"].name == "IN"


def test_host_json_keeps_api_routes_and_excludes_requests_from_sampling() -> None:
    host = json.loads((ROOT / "host.json").read_text())
    assert host["version"] == "2.0"
    assert host["extensionBundle"] == {
        "id": "Microsoft.Azure.Functions.ExtensionBundle",
        "version": "[4.*, 5.0.0)",
    }
    assert host.get("extensions", {}).get("http", {}).get("routePrefix", "api") == "api"
    sampling = host["logging"]["applicationInsights"]["samplingSettings"]
    assert set(sampling["excludedTypes"].split(";")) == {"Request", "Exception"}
    assert host["functionTimeout"]


def test_requirements_are_the_runtime_dependencies_the_app_imports() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    lines = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    required = [line for line in lines if line and not line.startswith("#")]
    local_only = ("starlette", "uvicorn", "trustme")
    assert required == [dep for dep in project if not dep.startswith(local_only)]
    assert not any(line.startswith("azure-functions-worker") for line in required)


# ------------------------------------------------------------------ Event Grid trigger


def test_an_event_grid_event_opens_a_held_incident_without_calling_arm(
    scenario: Scenario, responder: Responder, arm: ArmEmulator
) -> None:
    event = decode_event(first_event(scenario))
    assert isinstance(event, func.EventGridEvent)
    call("eventgrid_trigger", event)
    (incident,) = list_incidents()
    assert incident["scaleSet"] == scale_set_id(scenario)
    assert (incident["status"], incident["phase"], incident["signals"]) == ("open", "holding", 1)
    assert arm.counts()["reads"] == 0


def test_a_redelivered_event_is_absorbed_once(scenario: Scenario, responder: Responder) -> None:
    for _ in range(3):  # Event Grid delivers at least once
        call("eventgrid_trigger", decode_event(first_event(scenario)))
    (incident,) = list_incidents()
    assert incident["signals"] == 1


def test_a_cloudevents_schema_event_reaches_the_same_incident(
    scenario: Scenario, responder: Responder
) -> None:
    event = decode_event(as_cloudevent(first_event(scenario)))
    assert isinstance(event, func.CloudEvent)
    call("eventgrid_trigger", event)
    call("eventgrid_trigger", decode_event(first_event(scenario)))  # the same event, other schema
    (incident,) = list_incidents()
    assert incident["signals"] == 1


EVENT_FIXTURES = sorted(
    p.relative_to(FIXTURES / "azure").as_posix()
    for p in (FIXTURES / "azure" / "eventgrid").glob("*.json")
    if "subscription-validation" not in p.name
)


@pytest.mark.parametrize("name", EVENT_FIXTURES)
def test_the_trigger_rebuilds_each_microsoft_event_as_the_parser_reads_the_original(
    name: str, clock: VirtualClock
) -> None:
    fixture = azure_fixture(name)
    for original in (
        fixture if isinstance(fixture, list) else [fixture]
    ):  # the trigger gets one event at a time
        channel, rebuilt = eventgrid.from_trigger(decode_event(original))
        assert channel == ("cloudevents" if "specversion" in original else "eventgrid")
        assert rebuilt["id"] == original["id"]
        now = clock.now()
        assert parse(channel, rebuilt, received_at=now) == parse(channel, original, received_at=now)


def test_a_malformed_event_is_recorded_as_rejected_and_not_retried(
    scenario: Scenario, responder: Responder
) -> None:
    event = first_event(scenario)
    bad = func.EventGridEvent(
        id="poison-1",
        topic=event["topic"],
        subject=event["subject"],
        event_type=event["eventType"],
        event_time=None,
        data={"resourceInfo": "not an object"},
        data_version="1",
    )
    assert call("eventgrid_trigger", bad) is None  # returns: the host acknowledges, no retry storm
    (rejected,) = responder.rejected.all()
    assert rejected["channel"] == "eventgrid"
    assert "data.resourceInfo" in rejected["reason"]
    assert list_incidents() == []


def test_an_event_that_could_not_be_stored_raises_so_event_grid_retries(
    scenario: Scenario, responder: Responder
) -> None:
    responder.store.close()
    with pytest.raises(Exception, match="closed"):
        call("eventgrid_trigger", decode_event(first_event(scenario)))


# ------------------------------------------------------------------ timer


def test_the_timer_sweep_evaluates_a_held_incident_once_its_hold_ends(
    scenario: Scenario, responder: Responder, clock: VirtualClock, arm: ArmEmulator
) -> None:
    call("eventgrid_trigger", decode_event(first_event(scenario)))
    call("sweep", TimerRequest(past_due=False))
    assert list_incidents()[0]["status"] == "open"
    clock.advance((responder.settings.hold_period + timedelta(minutes=1)).total_seconds())
    call("sweep", TimerRequest(past_due=True))
    (incident,) = list_incidents()
    assert incident["status"] == "escalated"
    assert "repairs_disabled" in incident["findings"]
    assert arm.counts()["reads"] > 0


def test_deliveries_ingested_while_the_timer_sweeps_are_absorbed_once(
    scenario: Scenario, responder: Responder, arm: ArmEmulator
) -> None:
    """In Azure the timer runs beside HTTP and Event Grid invocations, on this or another instance."""
    alerts = deliveries(scenario, "alert")
    stop = threading.Event()

    def sweep_continuously() -> None:
        while not stop.is_set():
            call("sweep", TimerRequest())

    sweeper = threading.Thread(target=sweep_continuously)
    sweeper.start()
    try:
        accepted = sum(
            json_body(call("alerts", http_request("POST", "alerts", alert)))["signals"] for alert in alerts
        )
    finally:
        stop.set()
        sweeper.join()
    (incident,) = list_incidents()
    assert incident["signals"] == accepted == len(alerts)


# ------------------------------------------------------------------ Event Grid webhook


def test_event_grid_subscription_validation_handshake(responder: Responder) -> None:
    validation = azure_fixture(VALIDATION_FIXTURE)
    response = call(
        "eventgrid_webhook",
        http_request("POST", "eventgrid", validation, headers={"aeg-event-type": "SubscriptionValidation"}),
    )
    assert response.status_code == 200
    assert json_body(response) == azure_fixture("eventgrid/subscription-validation-response.json")


def test_a_validation_without_its_code_is_refused_naming_the_field(responder: Responder) -> None:
    validation = azure_fixture(VALIDATION_FIXTURE)
    del validation[0]["data"]["validationCode"]
    response = call(
        "eventgrid_webhook",
        http_request("POST", "eventgrid", validation, headers={"aeg-event-type": "SubscriptionValidation"}),
    )
    assert response.status_code == 400
    assert json_body(response)["field"] == "[0].data.validationCode"


def test_cloudevents_options_handshake(responder: Responder) -> None:
    origin = "eventgrid.azure.net"
    response = call(
        "eventgrid_webhook", http_request("OPTIONS", "eventgrid", headers={"WebHook-Request-Origin": origin})
    )
    assert response.status_code == 200
    assert response.headers["WebHook-Allowed-Origin"] == origin
    assert response.headers["WebHook-Allowed-Rate"]
    refused = call("eventgrid_webhook", http_request("OPTIONS", "eventgrid"))
    assert refused.status_code == 400
    assert json_body(refused)["field"] == "WebHook-Request-Origin"


def test_webhook_delivery_is_stored_then_acknowledged(scenario: Scenario, responder: Responder) -> None:
    batch = deliveries(scenario, "eventgrid")[0]
    response = call(
        "eventgrid_webhook",
        http_request("POST", "eventgrid", batch, headers={"aeg-event-type": "Notification"}),
    )
    assert response.status_code == 202
    body = json_body(response)
    assert (body["accepted"], body["signals"]) == (True, 1)
    assert [i["scaleSet"] for i in list_incidents()] == [scale_set_id(scenario)]


def test_webhook_cloudevents_batch_is_read_as_cloudevents(scenario: Scenario, responder: Responder) -> None:
    batch = [as_cloudevent(first_event(scenario))]
    response = call(
        "eventgrid_webhook",
        http_request(
            "POST",
            "eventgrid",
            batch,
            headers={"Content-Type": "application/cloudevents-batch+json; charset=utf-8"},
        ),
    )
    assert response.status_code == 202
    assert json_body(response)["signals"] == 1


# ------------------------------------------------------------------ alerts and autoscale


def test_a_common_alert_schema_alert_is_accepted(scenario: Scenario, responder: Responder) -> None:
    response = call("alerts", http_request("POST", "alerts", deliveries(scenario, "alert")[0]))
    assert response.status_code == 202
    assert json_body(response)["signals"] == 1
    assert list_incidents(scaleSet="vmss-search")


def test_an_autoscale_webhook_about_another_resource_is_accepted_and_ignored(responder: Responder) -> None:
    response = call(
        "autoscale",
        http_request("POST", "autoscale", azure_fixture("autoscale/autoscale-webhook.scale-out.json")),
    )
    assert response.status_code == 202
    body = json_body(response)
    assert body["signals"] == 0
    assert body["ignored"]


@pytest.mark.parametrize(
    ("name", "body", "field"),
    [
        ("alerts", {"schemaId": "azureMonitorCommonAlertSchema", "data": {}}, "data.essentials"),
        ("autoscale", {"operation": 5}, "operation"),
        ("alerts", [], "$"),
        ("eventgrid_webhook", "an event", "$"),
    ],
)
def test_malformed_bodies_are_refused_naming_the_field(
    name: str, body: Any, field: str, responder: Responder
) -> None:
    route = {"alerts": "alerts", "autoscale": "autoscale", "eventgrid_webhook": "eventgrid"}[name]
    response = call(name, http_request("POST", route, body))
    assert response.status_code == 400
    assert json_body(response)["field"] == field
    assert list_incidents() == []


def test_invalid_json_is_refused_naming_the_position(responder: Responder) -> None:
    response = call("alerts", http_request("POST", "alerts", raw=b'{"schemaId": "x",\n "data": }'))
    assert response.status_code == 400
    assert (json_body(response)["line"], json_body(response)["column"]) == (2, 10)


def test_wrong_method_is_405_with_allow(responder: Responder) -> None:
    response = call("alerts", http_request("GET", "alerts"))
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"


def test_a_body_over_one_megabyte_is_413_and_not_stored(scenario: Scenario, responder: Responder) -> None:
    alert = deliveries(scenario, "alert")[0]
    alert["padding"] = "x" * (1024 * 1024)
    response = call("alerts", http_request("POST", "alerts", alert))
    assert response.status_code == 413
    assert list(responder.inbox.pending()) == [] and list_incidents() == []


def test_a_store_failure_is_503_so_the_sender_retries(scenario: Scenario, responder: Responder) -> None:
    responder.store.close()
    response = call("alerts", http_request("POST", "alerts", deliveries(scenario, "alert")[0]))
    assert response.status_code == 503


# ------------------------------------------------------------------ rerun


def test_a_dry_run_rerun_reads_live_state_and_changes_nothing(
    scenario: Scenario, responder: Responder, arm: ArmEmulator
) -> None:
    call("eventgrid_trigger", decode_event(first_event(scenario)))
    response = call(
        "rerun", http_request("POST", "rerun", {"resourceId": scale_set_id(scenario), "dryRun": True})
    )
    assert response.status_code == 200
    body = json_body(response)
    assert body["dryRun"] is True
    assert body["incident"]["scaleSet"] == scale_set_id(scenario)
    assert any("dry run" in entry["text"] for entry in body["incident"]["timeline"])
    assert arm.counts()["reads"] > 0 and arm.counts()["writes"] == 0


def test_a_rerun_by_incident_id(scenario: Scenario, responder: Responder) -> None:
    call("eventgrid_trigger", decode_event(first_event(scenario)))
    (incident,) = list_incidents()
    response = call("rerun", http_request("POST", "rerun", {"incidentId": incident["id"]}))
    assert response.status_code == 200
    assert json_body(response)["incident"]["id"] == incident["id"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (
            {
                "resourceId": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/other"
            },
            403,
            "resourceId",
        ),
        ({"incidentId": "vmss-search-20990101T000000Z-nope"}, 404, "incidentId"),
        (
            {
                "resourceId": "/subscriptions/6f1c9a52-0d2e-4b7a-9c1e-3a5d7e8f9012/resourceGroups/rg-search-prod"
            },
            400,
            "resourceId",
        ),
        ({}, 400, "resourceId"),
        ({"resourceId": 7}, 400, "resourceId"),
        ({"incidentId": "x", "dryRun": "yes"}, 400, "dryRun"),
        ({"resourceId": "x", "incidentId": "y"}, 400, "incidentId"),
        ({"resource": "x"}, 400, "resource"),
    ],
)
def test_rerun_refusals(
    body: dict[str, Any], status: int, field: str, responder: Responder, arm: ArmEmulator
) -> None:
    response = call("rerun", http_request("POST", "rerun", body))
    assert response.status_code == status
    assert json_body(response)["field"] == field
    assert arm.counts()["reads"] == 0


def test_an_out_of_scope_rerun_names_the_scope_problem(responder: Responder) -> None:
    other = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/other"
    response = call("rerun", http_request("POST", "rerun", {"resourceId": other}))
    assert "outside the configured scopes" in json_body(response)["error"]


# ------------------------------------------------------------------ incident queries and health


def test_incident_queries_filter_by_status_and_scale_set(scenario: Scenario, responder: Responder) -> None:
    call("eventgrid_trigger", decode_event(first_event(scenario)))
    assert len(list_incidents(status="open")) == 1
    assert list_incidents(status="escalated,resolved") == []
    assert len(list_incidents(scaleSet=scale_set_id(scenario).lower())) == 1
    assert list_incidents(scaleSet="vmss-other") == []
    refused = call("incidents", http_request("GET", "incidents", params={"status": "burning"}))
    assert refused.status_code == 400
    assert json_body(refused)["field"] == "status"


def test_one_incident_with_its_timeline_and_actions(
    scenario: Scenario, responder: Responder, clock: VirtualClock
) -> None:
    call("eventgrid_trigger", decode_event(first_event(scenario)))
    clock.advance((responder.settings.hold_period + timedelta(minutes=1)).total_seconds())
    call("sweep", TimerRequest())
    (summary,) = list_incidents()
    response = call(
        "incident", http_request("GET", f"incidents/{summary['id']}", route_params={"id": summary["id"]})
    )
    assert response.status_code == 200
    body = json_body(response)
    assert body["incident"]["id"] == summary["id"]
    assert [e["kind"] for e in body["incident"]["timeline"]][0] == "signal"
    assert {a["mode"] for a in body["actions"]} <= {"shadow"}  # observe mode never executes
    missing = call("incident", http_request("GET", "incidents/nope", route_params={"id": "nope"}))
    assert missing.status_code == 404


def test_health_answers_and_reports_a_broken_store(responder: Responder) -> None:
    response = call("health", http_request("GET", "health"))
    assert (response.status_code, json_body(response)["status"]) == (200, "ok")
    responder.store.close()
    broken = call("health", http_request("GET", "health"))
    assert (broken.status_code, json_body(broken)["reason"]) == (503, "store")
