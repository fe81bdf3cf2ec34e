"""Scenario files (FORMAT.md): load and validate, naming the offending field on error."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ..config import Settings, SettingsError, load_settings
from ..durations import parse_offset, parse_timestamp

CHANNELS = ("eventgrid", "cloudevents", "alert", "autoscale")
STEP_KINDS = ("deliver", "fleet", "activityLog", "rerun")


class ScenarioError(ValueError):
    """An invalid scenario file; the message starts with the JSON path of the field."""


@dataclass(slots=True)
class Step:
    index: int
    at: timedelta
    kind: str  # deliver | fleet | activityLog | rerun
    body: dict[str, Any]


@dataclass(slots=True)
class Scenario:
    name: str
    description: str
    start: datetime
    until: timedelta
    config: dict[str, Any]
    fleet: dict[str, Any]
    timeline: list[Step]
    expect: dict[str, Any]
    path: str = ""

    def settings(self, base: dict[str, Any]) -> Settings:
        try:
            return load_settings({**base, **self.config})
        except SettingsError as exc:
            raise ScenarioError(f"config: {exc}") from None

    @property
    def subscription_id(self) -> str:
        return self.fleet["subscriptionId"]


def _req(obj: dict[str, Any], key: str, path: str, kind: type | tuple[type, ...]) -> Any:
    if key not in obj:
        raise ScenarioError(f"{path}{key}: required")
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ScenarioError(f"{path}{key}: must be {names}")
    return value


def parse_scenario(data: Any, path: str = "") -> Scenario:
    if not isinstance(data, dict):
        raise ScenarioError("(root): a scenario is a JSON object")
    name = _req(data, "name", "", str)
    start_text = _req(data, "start", "", str)
    try:
        start = parse_timestamp(start_text)
    except ValueError:
        raise ScenarioError(f"start: not an RFC 3339 timestamp: {start_text!r}") from None
    try:
        until = parse_offset(_req(data, "until", "", str))
    except ValueError as exc:
        raise ScenarioError(f"until: {exc}") from None
    config = data.get("config") or {}
    if not isinstance(config, dict):
        raise ScenarioError("config: must be an object")
    fleet = _req(data, "fleet", "", dict)
    _validate_fleet(fleet)
    raw_steps = _req(data, "timeline", "", list)
    steps = []
    for i, raw in enumerate(raw_steps):
        p = f"timeline[{i}]."
        if not isinstance(raw, dict):
            raise ScenarioError(f"timeline[{i}]: must be an object")
        try:
            at = parse_offset(_req(raw, "at", p, str))
        except ValueError as exc:
            raise ScenarioError(f"{p}at: {exc}") from None
        kinds = [k for k in STEP_KINDS if k in raw]
        if len(kinds) != 1:
            raise ScenarioError(f"timeline[{i}]: needs exactly one of {', '.join(STEP_KINDS)}")
        kind = kinds[0]
        body = _req(raw, kind, p, dict)
        _validate_step(kind, body, f"{p}{kind}.")
        steps.append(Step(i, at, kind, body))
    steps.sort(key=lambda s: (s.at, s.index))
    expect = data.get("expect") or {}
    if not isinstance(expect, dict):
        raise ScenarioError("expect: must be an object")
    scenario = Scenario(
        name, str(data.get("description", "")), start, until, config, fleet, steps, expect, path
    )
    scenario.settings({"scopes": [f"/subscriptions/{scenario.subscription_id}"]})
    return scenario


def _validate_fleet(fleet: dict[str, Any]) -> None:
    from .fleet_spec import FleetError, parse_fleet

    try:
        parse_fleet(fleet, "fleet")
    except FleetError as exc:
        raise ScenarioError(f"{exc.field}: {exc.message}") from None


def _validate_step(kind: str, body: dict[str, Any], p: str) -> None:
    if kind == "deliver":
        channel = _req(body, "channel", p, str)
        if channel not in CHANNELS:
            raise ScenarioError(f"{p}channel: must be one of {', '.join(CHANNELS)}")
        if "payload" not in body:
            raise ScenarioError(f"{p}payload: required")
    elif kind == "fleet":
        from .fleet_spec import FleetError, parse_step

        try:
            parse_step(body, p.rstrip("."))
        except FleetError as exc:
            raise ScenarioError(f"{exc.field}: {exc.message}") from None
    elif kind == "activityLog":
        for key in ("operationName", "resourceId", "status"):
            _req(body, key, p, str)
        if "eventTimestamp" in body:
            try:
                parse_timestamp(body["eventTimestamp"])
            except ValueError:
                raise ScenarioError(f"{p}eventTimestamp: not an RFC 3339 timestamp") from None
    elif kind == "rerun":
        if not isinstance(body.get("resourceId"), str) and not isinstance(body.get("incidentId"), str):
            raise ScenarioError(f"{p}resourceId: required (or incidentId)")
        if "dryRun" in body and not isinstance(body["dryRun"], bool):
            raise ScenarioError(f"{p}dryRun: must be true or false")


def load_scenario(path: str | Path) -> Scenario:
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        raise ScenarioError(f"(file): {p} does not exist") from None
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"(file): {p} is not valid JSON: {exc}") from None
    return parse_scenario(data, str(p))
