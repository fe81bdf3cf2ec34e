"""``vmss-responder serve`` over real HTTP: the server runs in its own process, as an operator
starts it (``--emulator`` on a scenario file, ``--port 0``), and is called with httpx."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
SCENARIO = FIXTURES / "scenarios" / "persistent-degraded-escalated.json"
KEY = "serve-test-key-6b1f"
OTHER_SCALE_SET = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/other"
STARTUP_SECONDS = 60


@dataclass
class Server:
    process: subprocess.Popen[str]
    log: list[str] = field(default_factory=list)
    url: str = ""
    ready: threading.Event = field(default_factory=threading.Event)
    reader: threading.Thread | None = None

    def follow(self) -> None:
        """Drain stderr (so the server never blocks on it) and spot the address it announces."""
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line)
            found = re.search(r"serving on (http://\S+?)/api/", line)
            if found:
                self.url = found.group(1)
                self.ready.set()
        self.ready.set()

    def finish(self, timeout: float) -> int:
        """Wait for the process to exit and for its last log lines to be read."""
        code = self.process.wait(timeout=timeout)
        if self.reader is not None:
            self.reader.join(timeout=10)
        return code

    def saw(self, pattern: str) -> bool:
        return any(re.search(pattern, line) for line in list(self.log))


def start_server(
    tmp: Path, *args: str, key: str | None = KEY, extra_env: dict[str, str] | None = None
) -> Server:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VMSS_RESPONDER_")}
    env.update(extra_env or {})
    if key:
        env["VMSS_RESPONDER_API_KEY"] = key
    command = [
        sys.executable,
        "-m",
        "vmss_responder.serve",
        "--port",
        "0",
        "--store",
        f"sqlite://{tmp}/serve.sqlite",
        *args,
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    server = Server(process)
    server.reader = threading.Thread(target=server.follow, daemon=True)
    server.reader.start()
    return server


def stop_server(server: Server) -> bool:
    """SIGTERM, as a service manager stops it: uvicorn shuts down cleanly, then re-raises the signal."""
    server.process.terminate()
    code = server.finish(timeout=20)
    return code in (0, -signal.SIGTERM) and server.saw("Application shutdown complete")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("serve")
    running = start_server(
        tmp, "--emulator", str(SCENARIO), extra_env={"VMSS_RESPONDER_SWEEP_INTERVAL": "PT1S"}
    )
    if not running.ready.wait(STARTUP_SECONDS) or not running.url:
        stop_server(running)
        pytest.fail("serve did not start:\n" + "".join(running.log))
    yield running
    assert stop_server(running), "".join(running.log)


@pytest.fixture(scope="module")
def api(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"x-functions-key": KEY}, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def anonymous(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def scenario_payloads(channel: str) -> list[Any]:
    timeline = json.loads(SCENARIO.read_text())["timeline"]
    return [
        s["deliver"]["payload"] for s in timeline if "deliver" in s and s["deliver"]["channel"] == channel
    ]


def scale_set_id() -> str:
    fleet = json.loads(SCENARIO.read_text())["fleet"]
    ss = fleet["scaleSets"][0]
    return f"/subscriptions/{fleet['subscriptionId']}/resourceGroups/{ss['resourceGroup']}/providers/Microsoft.Compute/virtualMachineScaleSets/{ss['name']}"


def azure_fixture(name: str) -> Any:
    return json.loads((FIXTURES / "azure" / name).read_text())


# ------------------------------------------------------------------ access


def test_health_needs_no_key(anonymous: httpx.Client) -> None:
    response = anonymous.get("/api/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    probe = anonymous.head("/api/health")  # what uptime probes send
    assert (probe.status_code, probe.content) == (200, b"")


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/incidents"), ("POST", "/api/alerts"), ("POST", "/api/rerun"), ("GET", "/api/incidents/x")],
)
def test_keyed_routes_refuse_a_missing_or_wrong_key(anonymous: httpx.Client, method: str, path: str) -> None:
    assert anonymous.request(method, path, json={}).status_code == 401
    assert anonymous.request(method, path, json={}, headers={"x-functions-key": KEY + "x"}).status_code == 401
    assert anonymous.request(method, path, json={}, params={"code": "wrong"}).status_code == 401


def test_the_key_is_accepted_as_code_query_parameter(anonymous: httpx.Client) -> None:
    assert anonymous.get("/api/incidents", params={"code": KEY}).status_code == 200


@pytest.mark.parametrize("path", ["/api/nothing", "/api/incidents/a/b", "/", "/runtime/webhooks/eventgrid"])
def test_unknown_routes_are_404(api: httpx.Client, path: str) -> None:
    response = api.post(path, json={})
    assert response.status_code == 404
    assert "error" in response.json()


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/api/alerts", "POST"),
        ("DELETE", "/api/incidents", "GET, HEAD"),
        ("PUT", "/api/eventgrid", "POST, OPTIONS"),
    ],
)
def test_wrong_methods_are_405_with_allow(api: httpx.Client, method: str, path: str, allow: str) -> None:
    response = api.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/alerts", {"schemaId": "azureMonitorCommonAlertSchema", "data": {}}, "data.essentials"),
        ("/api/autoscale", {"operation": 5}, "operation"),
        ("/api/alerts", ["not", "an", "object"], "$"),
        ("/api/rerun", {"resourceId": scale_set_id(), "dryRun": "yes"}, "dryRun"),
    ],
)
def test_bad_input_is_400_naming_the_field(api: httpx.Client, path: str, body: Any, field: str) -> None:
    response = api.post(path, json=body)
    assert response.status_code == 400
    assert response.json()["field"] == field


def test_invalid_json_is_400_naming_the_position(api: httpx.Client) -> None:
    response = api.post(
        "/api/eventgrid", content=b'[{"id": "1",}]', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert (response.json()["line"], response.json()["column"]) == (1, 13)


def test_a_declared_length_over_one_megabyte_is_413(api: httpx.Client) -> None:
    response = api.post("/api/alerts", content=b" " * (1024 * 1024 + 1))
    assert response.status_code == 413


def test_a_streamed_body_over_one_megabyte_is_413(api: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit applies to the bytes read
        for _ in range(40):
            yield b" " * 65536

    response = api.post("/api/alerts", content=chunks())
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert response.status_code == 413


# ------------------------------------------------------------------ Event Grid handshakes and delivery


def test_event_grid_schema_validation_handshake(api: httpx.Client) -> None:
    response = api.post(
        "/api/eventgrid",
        json=azure_fixture("eventgrid/subscription-validation-event.eventgrid.json"),
        headers={"aeg-event-type": "SubscriptionValidation"},
    )
    assert response.status_code == 200
    assert response.json() == azure_fixture("eventgrid/subscription-validation-response.json")


def test_cloudevents_validation_handshake(api: httpx.Client) -> None:
    response = api.options("/api/eventgrid", headers={"WebHook-Request-Origin": "eventgrid.azure.net"})
    assert response.status_code == 200
    assert response.headers["webhook-allowed-origin"] == "eventgrid.azure.net"
    assert response.headers["webhook-allowed-rate"]


def test_an_accepted_delivery_shows_up_in_the_incidents(api: httpx.Client) -> None:
    response = api.post(
        "/api/eventgrid", json=scenario_payloads("eventgrid")[0], headers={"aeg-event-type": "Notification"}
    )
    assert response.status_code == 202
    assert response.json()["accepted"] is True
    listed = api.get("/api/incidents", params={"scaleSet": "vmss-search"}).json()["incidents"]
    assert [i["scaleSet"] for i in listed] == [scale_set_id()]
    one = api.get(f"/api/incidents/{listed[0]['id']}")
    assert one.status_code == 200
    assert one.json()["incident"]["timeline"][0]["kind"] == "signal"
    assert api.get("/api/incidents/no-such-incident").status_code == 404


def test_an_alert_is_accepted(api: httpx.Client) -> None:
    response = api.post("/api/alerts", json=scenario_payloads("alert")[0])
    assert response.status_code == 202
    assert response.json()["signals"] == 1


# ------------------------------------------------------------------ rerun


def test_rerun_out_of_scope_is_403_naming_the_scope(api: httpx.Client) -> None:
    response = api.post("/api/rerun", json={"resourceId": OTHER_SCALE_SET})
    assert response.status_code == 403
    assert "outside the configured scopes" in response.json()["error"]


def test_rerun_of_an_unknown_incident_is_404(api: httpx.Client) -> None:
    response = api.post("/api/rerun", json={"incidentId": "vmss-search-20990101T000000Z-none"})
    assert response.status_code == 404
    assert response.json()["field"] == "incidentId"


def test_a_dry_run_rerun_reads_the_emulated_scale_set(api: httpx.Client) -> None:
    response = api.post("/api/rerun", json={"resourceId": scale_set_id(), "dryRun": True})
    assert response.status_code == 200
    body = response.json()
    assert body["dryRun"] is True
    assert body["incident"]["scaleSet"] == scale_set_id()
    assert "instance 3" in body["incident"]["explanation"]  # the unhealthy one, read live from the emulator


# ------------------------------------------------------------------ the background sweep and start-up rules


def test_the_sweep_runs_on_its_timer(server: Server) -> None:
    seen = threading.Event()
    for _ in range(100):
        if server.saw(r"vmss_responder\.sweep: sweep: deliveries="):
            seen.set()
            break
        seen.wait(0.1)
    assert seen.is_set(), "".join(server.log)


def test_serve_refuses_a_non_loopback_address_without_a_key(tmp_path: Path) -> None:
    refused = start_server(tmp_path, "--host", "0.0.0.0", key=None)
    assert refused.finish(timeout=STARTUP_SECONDS) == 2
    assert refused.saw("VMSS_RESPONDER_API_KEY")


def test_serve_on_loopback_without_a_key_warns_and_serves(tmp_path: Path) -> None:
    scopes = {"VMSS_RESPONDER_SCOPES": "/subscriptions/6f1c9a52-0d2e-4b7a-9c1e-3a5d7e8f9012"}
    open_server = start_server(
        tmp_path, key=None, extra_env=scopes
    )  # real-Azure mode: nothing is called here
    try:
        assert open_server.ready.wait(STARTUP_SECONDS) and open_server.url, "".join(open_server.log)
        assert open_server.saw("VMSS_RESPONDER_API_KEY is not set")
        assert httpx.get(f"{open_server.url}/api/incidents", timeout=30).status_code == 200
    finally:
        assert stop_server(open_server), "".join(open_server.log)
