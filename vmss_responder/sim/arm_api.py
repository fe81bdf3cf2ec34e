"""What the emulated ARM endpoint answers: Compute routes, long-running operations, Log Analytics.

This is the emulator without sockets: :meth:`ArmApi.handle` takes a request and returns a response
(status 0 means "drop the connection"). It imitates ARM where the responder's correctness depends
on it:

* case-insensitive paths and names; ``api-version`` required (any value); a bearer token required;
* ARM's error bodies (``{"error": {"code", "message"}}``): 404 ``ResourceNotFound``, 400
  ``InvalidRequestContent`` / ``MissingApiVersionParameter`` / ``InvalidParameter``, 405, 409;
* actions are long-running: 202 with absolute ``Azure-AsyncOperation`` and ``Location`` URLs on
  this host and ``Retry-After``; the status URL says ``InProgress`` until the fleet's operation
  finishes on the clock, then ``Succeeded``; the ``Location`` URL answers 202 until then and 200
  (Run Command's result) or 204 after. Run Command returns only ``Location``, like Azure;
* ``PUT``/``PATCH`` of the scale set apply at once and answer 200 with ``provisioningState``
  ``Succeeded``, so the SDK needs no polling;
* injected faults (:class:`~vmss_responder.sim.fleet.Fault`): queued ones hit the next ARM
  requests, LRO polls and Log Analytics queries excepted; a :class:`~.faults.FaultPlan` hits a
  seeded random share of the request kinds it names. A faulted request is answered without
  performing anything, except a ``lost`` fault: performed, then the connection drops.

Every request is recorded; :meth:`ArmApi.counts` gives the report's ``arm`` block.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from ..activity_query import parse_activity_query
from ..clock import Clock
from ..durations import format_timestamp
from .activity_log import ActivityTable
from .arm_views import (
    arm_error,
    run_command_result,
    scale_set_instance_view,
    scale_set_resource,
    vm_instance_view,
    vm_resource,
)
from .fleet import Fleet
from .fleet_spec import FleetError, RepairsPolicySpec, parse_patch
from .fleet_state import Conflict, Fault, NotFound, Operation, ScaleSet

DEFAULT_THROTTLE_RETRY_AFTER = 5.0


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Mapping[str, str]  # first value of each parameter, names as sent
    headers: Mapping[str, str]  # case-insensitive lookup (http.server's message object)
    body: bytes = b""

    def param(self, name: str) -> str | None:
        return next((v for k, v in self.query.items() if k.lower() == name.lower()), None)


@dataclass
class Response:
    status: int  # 0: drop the connection without answering
    body: Any = None  # JSON-serialisable, or None for no content
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RequestRecord:
    at: datetime
    method: str
    path: str
    status: int  # 0: the connection was dropped without an answer
    kind: str  # read | write | poll | logQuery
    fault: str = ""  # the injected fault: 429 | 500 | 503 | drop | lost (see .faults); "" for none
    body: bytes = field(default=b"", repr=False)  # as sent, to tell which instances a mutation named
    retry_after: float | None = None  # the Retry-After an injected fault answered with


class BadRequest(Exception):
    def __init__(self, message: str, code: str = "InvalidRequestContent") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


_SET = r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.Compute/virtualMachineScaleSets/(?P<vmss>[^/]+)"
_VM = _SET + r"/virtualMachines/(?P<iid>[^/]+)"
Handler = Callable[["ArmApi", Request, "re.Match[str]", datetime], Response]


@dataclass(frozen=True)
class Route:
    pattern: re.Pattern[str]
    methods: Mapping[str, Handler]
    kind: str | None = None  # fixed kind (poll, logQuery); otherwise by method


class _Bucket:
    """ARM's token bucket, only to fill ``x-ms-ratelimit-remaining-*`` headers (never throttles)."""

    def __init__(self, size: int, refill_per_second: float, start: datetime) -> None:
        self.size, self.rate, self.tokens, self.at = size, refill_per_second, float(size), start

    def take(self, now: datetime) -> int:
        elapsed = max(0.0, (now - self.at).total_seconds())
        self.tokens = min(self.size, self.tokens + elapsed * self.rate) - 1
        self.at = max(self.at, now)
        return max(0, int(self.tokens))


class ArmApi:
    def __init__(
        self,
        fleet: Fleet,
        clock: Clock,
        activity: ActivityTable,
        *,
        base_url: str,
        workspace_id: str,
        page_size: int = 50,
    ) -> None:
        self.fleet, self.clock, self.activity = fleet, clock, activity
        self.base_url, self.workspace_id, self.page_size = base_url.rstrip("/"), workspace_id, page_size
        self._log: list[RequestRecord] = []
        self._lock = threading.Lock()
        now = clock.now()
        self._buckets = {"read": _Bucket(250, 25, now), "write": _Bucket(200, 10, now)}

    # --- bookkeeping ---------------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._log)

    def counts(self) -> dict[str, int]:
        """The report's ``arm`` block: reads are GETs (LRO polls excluded), writes POST/PUT/PATCH/DELETE."""
        with self._lock:
            log = list(self._log)
        return {
            "reads": sum(r.kind == "read" for r in log),
            "writes": sum(r.kind == "write" for r in log),
            "throttled": sum(r.status == 429 for r in log),
            "logQueries": sum(r.kind == "logQuery" for r in log),
        }

    # --- dispatch ------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        now = self.clock.now()
        route, match = self._route(request.path)
        kind = (route.kind if route else None) or ("read" if request.method == "GET" else "write")
        response, fault = self._serve(request, route, match, kind, now)
        with self._lock:
            response.headers["x-ms-request-id"] = _request_id(len(self._log))
            if kind in self._buckets:
                remaining = self._buckets[kind].take(now)
                response.headers[f"x-ms-ratelimit-remaining-subscription-{kind}s"] = str(remaining)
            retry_after = response.headers.get("Retry-After") if fault else None
            record = RequestRecord(
                now,
                request.method,
                request.path,
                response.status,
                kind,
                fault.kind if fault else "",
                request.body,
                float(retry_after) if retry_after else None,
            )
            self._log.append(record)
        return response

    def _route(self, path: str) -> tuple[Route | None, re.Match[str] | None]:
        for route in ROUTES:
            match = route.pattern.match(path)
            if match:
                return route, match
        return None, None

    def _serve(
        self, request: Request, route: Route | None, match: re.Match[str] | None, kind: str, now: datetime
    ) -> tuple[Response, Fault | None]:
        """The answer, and the injected fault it carries (if any)."""
        if route is None or match is None:
            return _error(404, "ResourceNotFound", f"The resource at '{request.path}' was not found."), None
        handler = route.methods.get(request.method)
        if handler is None:
            return _error(
                405,
                "MethodNotAllowed",
                f"The requested resource does not support http method '{request.method}'.",
            ), None
        if kind != "logQuery":
            if not request.param("api-version"):
                return _error(
                    400,
                    "MissingApiVersionParameter",
                    "The api-version query parameter (?api-version=) is required for all requests.",
                ), None
            if not (request.headers.get("Authorization") or "").startswith("Bearer "):
                return _error(
                    401,
                    "AuthenticationFailed",
                    "Authentication failed. The 'Authorization' header is missing.",
                ), None
        fault = self.fleet.take_fault(kind, f"{request.method} {request.path.lower()}")
        if fault is not None and not fault.after:
            return _fault_response(fault, kind, now), fault
        response = self._perform(handler, request, match, kind, now)
        return (Response(0), fault) if fault is not None else (response, None)

    def _perform(
        self, handler: Handler, request: Request, match: re.Match[str], kind: str, now: datetime
    ) -> Response:
        if kind == "logQuery":
            return handler(self, request, match, now)
        try:
            with self.fleet.lock:
                self.fleet.tick(now)
                return handler(self, request, match, now)
        except NotFound as exc:
            return _error(404, "ResourceNotFound", f"The Resource '{exc}' was not found.")
        except BadRequest as exc:
            return _error(400, exc.code, exc.message)
        except Conflict as exc:
            return _error(exc.status, exc.code, exc.message)

    # --- helpers -----------------------------------------------------------------------------

    def scale_set(self, match: re.Match[str]) -> ScaleSet:
        return self.fleet.find(match["sub"], match["rg"], match["vmss"])

    def accepted(self, op: Operation, *, async_operation: bool = True) -> Response:
        """202 for a long-running operation, with absolute polling URLs on this host."""
        ss = self.fleet.scale_set(op.scale_set)
        url = f"{self.base_url}/subscriptions/{ss.subscription_id}/providers/Microsoft.Compute/locations/{ss.location}/operations/{op.id}"
        headers = {
            "Location": f"{url}?monitor=true&api-version=2026-03-01",
            "Retry-After": self.retry_after(op),
        }
        if async_operation:
            headers["Azure-AsyncOperation"] = f"{url}?api-version=2026-03-01"
        return Response(202, None, headers)

    def retry_after(self, op: Operation) -> str:
        remaining = (op.completes_at - self.clock.now()).total_seconds()
        return str(max(1, math.ceil(remaining))) if remaining > 0 else "0"


def _request_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(status, arm_error(code, message), dict(headers or {}))


def _fault_response(fault: Fault, kind: str, now: datetime) -> Response:
    if fault.status == 0:
        return Response(0)
    headers = {}
    retry_after = fault.retry_after
    if fault.status == 429 and retry_after is None:
        retry_after = DEFAULT_THROTTLE_RETRY_AFTER
    if retry_after is not None:
        headers["Retry-After"] = str(math.ceil(retry_after))
    if fault.status == 429:
        window = "Read" if kind == "read" else "Write"
        return _error(
            429,
            "TooManyRequests",
            f"The request is being throttled as the limit has been reached for operation type - {window}_ObservationWindow_00:05:00. "
            "For more information, see - https://aka.ms/srpthrottlinglimits",
            headers,
        )
    if fault.status == 503:
        return _error(
            503,
            "ServiceUnavailable",
            "The service is temporarily unavailable. Please retry the request later.",
            headers,
        )
    return _error(
        fault.status,
        "InternalServerError",
        f"Encountered internal server error. Diagnostic information: timestamp '{format_timestamp(now)}'.",
        headers,
    )


def _json_body(request: Request, *, required: bool = True) -> dict[str, Any]:
    if not request.body.strip():
        if required:
            raise BadRequest(
                "The request content was invalid and could not be deserialized: the body is empty."
            )
        return {}
    try:
        body = json.loads(request.body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"The request content was invalid and could not be deserialized: {exc}.") from None
    if not isinstance(body, dict):
        raise BadRequest(
            "The request content was invalid and could not be deserialized: expected a JSON object."
        )
    return body


def _required_str(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise BadRequest(
            f"The request content was invalid and could not be deserialized: 'Required property '{name}' not found in JSON.'"
        )
    return value


# --- Compute handlers ------------------------------------------------------------------------


def _get_scale_set(api: ArmApi, request: Request, match: re.Match[str], now: datetime) -> Response:
    return Response(200, scale_set_resource(api.scale_set(match)))


def _update_scale_set(api: ArmApi, request: Request, match: re.Match[str], now: datetime) -> Response:
    ss = api.scale_set(match)
    body = _json_body(request)
    sku, properties = body.get("sku") or {}, body.get("properties") or {}
    if not isinstance(sku, dict) or not isinstance(properties, dict):
        raise BadRequest(
            "The request content was invalid and could not be deserialized: sku and properties must be objects."
        )
    policy = properties.get("automaticRepairsPolicy")
    if policy is not None:
        current = ss.repairs_policy.model_dump() if ss.repairs_policy else {}
        try:
            merged = parse_patch(
                RepairsPolicySpec, {**current, **policy}, "properties.automaticRepairsPolicy"
            )
        except (FleetError, TypeError) as exc:
            raise BadRequest(str(exc), "InvalidParameter") from None
        api.fleet.set_repairs_policy(ss.name, merged, now)
    capacity = sku.get("capacity")
    if capacity is not None:
        if not isinstance(capacity, int) or isinstance(capacity, bool):
            raise BadRequest("sku.capacity must be an integer.", "InvalidParameter")
        api.fleet.set_capacity(ss.name, capacity, now)
    return Response(200, scale_set_resource(ss))


def _get_scale_set_instance_view(
    api: ArmApi, request: Request, match: re.Match[str], now: datetime
) -> Response:
    return Response(200, scale_set_instance_view(api.scale_set(match)))


def _set_orchestration_service_state(
    api: ArmApi, request: Request, match: re.Match[str], now: datetime
) -> Response:
    ss = api.scale_set(match)
    body = _json_body(request)
    op = api.fleet.set_orchestration_service_state(
        ss.name, _required_str(body, "serviceName"), _required_str(body, "action"), now
    )
    return api.accepted(op)


def _delete_instances(api: ArmApi, request: Request, match: re.Match[str], now: datetime) -> Response:
    ss = api.scale_set(match)
    ids = _json_body(request).get("instanceIds")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise BadRequest(
            "The request content was invalid and could not be deserialized: 'Required property 'instanceIds' not found in JSON.'"
        )
    return api.accepted(api.fleet.delete_instances(ss.name, ids, now))


def _list_vms(api: ArmApi, request: Request, match: re.Match[str], now: datetime) -> Response:
    ss = api.scale_set(match)
    expand = (request.param("$expand") or "").lower() == "instanceview"
    token = request.param("$skiptoken") or "0"
    if not token.isdigit():
        raise BadRequest(f"Invalid $skiptoken '{token}'.", "InvalidParameter")
    start = int(token)
    instances = ss.sorted_instances()
    page = instances[start : start + api.page_size]
    body: dict[str, Any] = {"value": [vm_resource(ss, i, expand_instance_view=expand) for i in page]}
    if start + api.page_size < len(instances):
        query = {k: v for k, v in request.query.items() if k.lower() != "$skiptoken"}
        query["$skiptoken"] = str(start + api.page_size)
        body["nextLink"] = f"{api.base_url}{request.path}?{urlencode(query)}"
    return Response(200, body)


def _get_vm(api: ArmApi, request: Request, match: re.Match[str], now: datetime) -> Response:
    ss = api.scale_set(match)
    expand = (request.param("$expand") or "").lower() == "instanceview"
    return Response(200, vm_resource(ss, ss.instance(match["iid"]), expand_instance_view=expand))


def _delete_vm(api: ArmApi, request: Request, match: re.Match[str], now: datetime) -> Response:
    ss = api.scale_set(match)
    ss.instance(match["iid"])
    return api.accepted(api.fleet.delete_instances(ss.name, [match["iid"]], now))


def _get_vm_instance_view(api: ArmApi, request: Request, match: re.Match[str], now: datetime) -> Response:
    ss = api.scale_set(match)
    return Response(200, vm_instance_view(ss, ss.instance(match["iid"])))


def _vm_action(api: ArmApi, request: Request, match: re.Match[str], now: datetime) -> Response:
    ss = api.scale_set(match)
    ss.instance(match["iid"])
    action = match["action"].lower()
    if action == "runcommand":
        command_id = _required_str(_json_body(request), "commandId")
        return api.accepted(
            api.fleet.run_command(ss.name, match["iid"], command_id, now), async_operation=False
        )
    _json_body(request, required=False)  # reimage may carry options; they must at least be JSON
    run = api.fleet.restart if action == "restart" else api.fleet.reimage
    return api.accepted(run(ss.name, match["iid"], now))


def _poll(api: ArmApi, request: Request, match: re.Match[str], now: datetime) -> Response:
    op = api.fleet.operation(match["op"])
    if op is None or api.fleet.scale_set(op.scale_set).subscription_id.lower() != match["sub"].lower():
        raise NotFound(f"operation {match['op']}")
    done = op.status != "InProgress"
    if (request.param("monitor") or "").lower() == "true":
        if not done:
            return Response(
                202,
                None,
                {
                    "Location": f"{api.base_url}{request.path}?{urlencode(dict(request.query))}",
                    "Retry-After": api.retry_after(op),
                },
            )
        return Response(200, run_command_result(op.output)) if op.output else Response(204)
    status: dict[str, Any] = {"startTime": format_timestamp(op.started), "status": op.status, "name": op.id}
    if done and op.ended is not None:
        status["endTime"] = format_timestamp(op.ended)
    headers = {} if done else {"Retry-After": api.retry_after(op)}
    return Response(200, status, headers)


# --- Log Analytics ----------------------------------------------------------------------------


def _log_error(status: int, code: str, message: str, inner: str | None = None) -> Response:
    error: dict[str, Any] = {"message": message, "code": code}
    if inner:
        error["innererror"] = {"code": "SyntaxError", "message": inner}
    return Response(status, {"error": error})


def _log_query(api: ArmApi, request: Request, match: re.Match[str], now: datetime) -> Response:
    if not (request.headers.get("Authorization") or "").startswith("Bearer "):
        return _log_error(401, "AuthorizationRequiredError", "Valid authentication was not provided")
    if match["ws"].lower() != api.workspace_id.lower():
        return _log_error(404, "WorkspaceNotFoundError", f"The workspace {match['ws']} could not be found")
    try:
        body = _json_body(request)
        kql = _required_str(body, "query")
    except BadRequest as exc:
        return _log_error(400, "BadArgumentError", "The request had some invalid properties", exc.message)
    query = parse_activity_query(kql)
    if query is None:
        return _log_error(
            400,
            "BadArgumentError",
            "The request had some invalid properties",
            "The emulated workspace answers only the responder's AzureActivity query template.",
        )
    timespan = body.get("timespan")
    return Response(200, api.activity.answer(query, timespan if isinstance(timespan, str) else None, now))


def _route(pattern: str, methods: Mapping[str, Handler], kind: str | None = None) -> Route:
    return Route(re.compile(pattern + "$", re.IGNORECASE), methods, kind)


ROUTES: tuple[Route, ...] = (
    _route(_SET, {"GET": _get_scale_set, "PATCH": _update_scale_set, "PUT": _update_scale_set}),
    _route(_SET + "/instanceView", {"GET": _get_scale_set_instance_view}),
    _route(_SET + "/setOrchestrationServiceState", {"POST": _set_orchestration_service_state}),
    _route(_SET + "/delete", {"POST": _delete_instances}),
    _route(_SET + "/virtualMachines", {"GET": _list_vms}),
    _route(_VM, {"GET": _get_vm, "DELETE": _delete_vm}),
    _route(_VM + "/instanceView", {"GET": _get_vm_instance_view}),
    _route(_VM + "/(?P<action>restart|reimage|runCommand)", {"POST": _vm_action}),
    _route(
        r"^/subscriptions/(?P<sub>[^/]+)/providers/Microsoft\.Compute/locations/[^/]+/operations/(?P<op>[^/]+)",
        {"GET": _poll},
        "poll",
    ),
    _route(r"^/v1/workspaces/(?P<ws>[^/]+)/query", {"POST": _log_query}, "logQuery"),
)
