"""The Starlette app behind ``vmss-responder serve``: the Functions routes, locally.

What the Functions host does in Azure is done here before a route runs: match the route (404),
check the function key for non-anonymous routes (401; ``x-functions-key`` or ``?code=``,
compared in constant time), and read the body without ever holding more than the 1 MB limit
(413). Each request is logged as method, path and status: never the query string or headers,
where callers put keys and tokens. The periodic sweep runs as a background task on the wall
clock, like the timer trigger. Route logic is the framework-neutral :mod:`handlers.routes`, run
in the thread pool (the engine and the store are synchronous).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.requests import Request as StarletteRequest
from starlette.responses import Response as StarletteResponse
from starlette.routing import Router
from starlette.types import Receive, Scope, Send

from . import routes, sweep
from .http_api import MAX_BODY, BadRequest, Request, Response, check_size, error

log = logging.getLogger("vmss_responder.serve")
access = logging.getLogger("vmss_responder.access")

MAX_LOGGED_PATH = 300


def create_app(*, api_key: str | None, sweep_interval: float | None = None) -> Router:
    """``api_key`` None leaves the keyed routes open (``serve`` allows that on loopback only).

    Every request goes to one endpoint (the router's default): Starlette's own path patterns do
    not match a path holding a newline (``%0A``) and would answer a plain-text 404.
    """

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        incoming = StarletteRequest(scope, receive)
        try:
            response = await _respond(incoming, api_key)
        except ClientDisconnect:
            access.info(
                "%s %s: the client left before sending its body", incoming.method, _printable_path(scope)
            )
            return
        access.info("%s %s %d", incoming.method, _printable_path(scope), response.status)
        await StarletteResponse(response.body, response.status, dict(response.headers))(scope, receive, send)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Router) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tasks:
            if sweep_interval:
                tasks.start_soon(_sweep_forever, sweep_interval)
            yield
            tasks.cancel_scope.cancel()

    return Router(default=endpoint, lifespan=lifespan, redirect_slashes=False)


async def _respond(incoming: StarletteRequest, api_key: str | None) -> Response:
    path: str = incoming.scope["path"]  # not incoming.url: that parses the Host header, which may be anything
    found = routes.find(path)
    if found is None:
        return error(404, f"no route {path}")
    route, params = found
    request = Request.build(incoming.method, path, incoming.headers, incoming.query_params, b"", params)
    if api_key and not route.anonymous and not routes.key_matches(request, api_key):
        return error(401, "missing or wrong function key (x-functions-key header or ?code= query)")
    if request.method in route.allowed:
        try:
            check_size(request)
            request = dataclasses.replace(request, body=await _read_limited(incoming))
        except BadRequest as exc:
            return exc.response
    return await run_in_threadpool(routes.handle, route, request)


def _printable_path(scope: Scope) -> str:
    """The path as received, still percent-encoded (a decoded one could forge log lines), without
    the query string (``?code=`` carries the function key), and cut short."""
    raw: bytes = scope.get("raw_path") or scope["path"].encode()
    return raw.decode("ascii", "backslashreplace")[:MAX_LOGGED_PATH]


async def _read_limited(incoming: StarletteRequest) -> bytes:
    """The body, refusing (413) as soon as more than :data:`MAX_BODY` bytes have arrived."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in incoming.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise BadRequest(413, f"body is over the {MAX_BODY}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


async def _sweep_forever(interval: float) -> None:
    while True:
        await anyio.sleep(interval)
        try:
            await anyio.to_thread.run_sync(lambda: sweep.run())
        except Exception:
            log.exception("the sweep failed; the next tick tries again")
