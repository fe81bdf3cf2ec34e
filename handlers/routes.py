"""The route table, shared by ``function_app.py`` (Azure) and :mod:`handlers.asgi` (``serve``).

Templates are written as Azure Functions routes (no ``api/`` prefix: the host adds its
``routePrefix``, and ``serve`` adds the same :data:`PREFIX`). :func:`handle` applies the rules
every route shares (405 with ``Allow``, 413, JSON errors) before the route's own function.
"""

from __future__ import annotations

import dataclasses
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass

from . import alerts, autoscale, eventgrid, health, incidents, rerun
from .http_api import BadRequest, Request, Response, check_size, error

log = logging.getLogger("vmss_responder.http")

PREFIX = "/api/"
KEY_HEADER = "x-functions-key"
KEY_QUERY = "code"


@dataclass(frozen=True, slots=True)
class Route:
    name: str  # the Azure function's name
    template: str  # Azure route template, e.g. "incidents/{id}"
    methods: tuple[str, ...]
    handler: Callable[[Request], Response]
    anonymous: bool = False

    @property
    def allowed(self) -> tuple[str, ...]:
        """The methods answered: HEAD wherever GET is (uptime probes use it)."""
        return (*self.methods, "HEAD") if "GET" in self.methods else self.methods

    def match(self, path: str) -> dict[str, str] | None:
        """Route parameters if ``path`` (under :data:`PREFIX`) fits the template."""
        if not path.startswith(PREFIX):
            return None
        have = path[len(PREFIX) :].rstrip("/").split("/")
        want = self.template.split("/")
        if len(have) != len(want):
            return None
        params: dict[str, str] = {}
        for got, spec in zip(have, want):
            if spec.startswith("{") and spec.endswith("}"):
                if not got:
                    return None
                params[spec[1:-1]] = got
            elif got.lower() != spec:
                return None
        return params


ROUTES: tuple[Route, ...] = (
    Route("eventgrid_webhook", "eventgrid", ("POST", "OPTIONS"), eventgrid.webhook),
    Route("alerts", "alerts", ("POST",), alerts.post),
    Route("autoscale", "autoscale", ("POST",), autoscale.post),
    Route("rerun", "rerun", ("POST",), rerun.post),
    Route("incidents", "incidents", ("GET",), incidents.list_incidents),
    Route("incident", "incidents/{id}", ("GET",), incidents.get_incident),
    Route("health", "health", ("GET",), health.get, anonymous=True),
)
BY_NAME = {r.name: r for r in ROUTES}


def find(path: str) -> tuple[Route, dict[str, str]] | None:
    for route in ROUTES:
        params = route.match(path)
        if params is not None:
            return route, params
    return None


def key_matches(request: Request, expected: str) -> bool:
    """The function key, sent as Azure accepts it: ``x-functions-key`` header or ``?code=``."""
    given = request.header(KEY_HEADER) or request.query.get(KEY_QUERY, "")
    return hmac.compare_digest(given.encode(), expected.encode())


def handle(route: Route, request: Request) -> Response:
    """Run one route with the shared rules; never raises."""
    if request.method not in route.allowed:
        allowed = ", ".join(route.allowed)
        return error(405, f"{request.method} is not allowed here; use {allowed}", headers={"Allow": allowed})
    if request.method == "HEAD":  # GET's answer; the server sends the headers only
        request = dataclasses.replace(request, method="GET")
    try:
        check_size(request)
        return route.handler(request)
    except BadRequest as exc:
        return exc.response
    except Exception as exc:
        from vmss_responder.store.base import StoreError

        log.exception("%s %s failed", request.method, request.path)
        if isinstance(exc, StoreError):
            return error(503, "the store is unavailable; retry later")
        return error(500, "internal error; see the app's logs")
