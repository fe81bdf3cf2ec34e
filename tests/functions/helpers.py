"""Fixture files and request builders for the Functions tests."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import azure.functions as func

from vmss_responder.sim.scenario import Scenario

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SCENARIO = FIXTURES / "scenarios" / "persistent-degraded-escalated.json"


def azure_fixture(name: str) -> Any:
    return json.loads((FIXTURES / "azure" / name).read_text())


def deliveries(scenario: Scenario, channel: str) -> list[Any]:
    """Copies of the payloads a scenario delivers on ``channel``, in timeline order."""
    return [
        copy.deepcopy(s.body["payload"])
        for s in scenario.timeline
        if s.kind == "deliver" and s.body["channel"] == channel
    ]


def http_request(
    method: str,
    route: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    route_params: dict[str, str] | None = None,
) -> func.HttpRequest:
    """A ``func.HttpRequest`` as the host builds it for ``/api/<route>``."""
    data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    return func.HttpRequest(
        method=method,
        url=f"http://localhost:7071/api/{route}",
        headers={"Content-Type": "application/json", **(headers or {})},
        params=params or {},
        route_params=route_params or {},
        body=data,
    )


def json_body(response: func.HttpResponse) -> Any:
    return json.loads(response.get_body())
