"""The HTTP API without a framework: a request, a response, and the rules every route shares.

Azure Functions (``function_app.py``) and ``serve`` (Starlette) each adapt their own request
type to :class:`Request` and turn :class:`Response` back, so status codes, error bodies and
limits are decided once, here, and are the same in Azure and locally. Nothing in this package
imports ``azure.functions`` or the engine at import time: ``import function_app`` stays cheap.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vmss_responder.runner import IngestResult

log = logging.getLogger("vmss_responder.http")

MAX_BODY = 1024 * 1024  # Event Grid's own limit per delivery; alert and autoscale bodies are far smaller
JSON_TYPE = "application/json; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)  # keys lower-cased by :meth:`build`
    query: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    params: Mapping[str, str] = field(default_factory=dict)  # route parameters, e.g. ``id``

    @classmethod
    def build(
        cls,
        method: str,
        path: str,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        body: bytes = b"",
        params: Mapping[str, str] | None = None,
    ) -> Request:
        return cls(
            method=method.upper(),
            path=path,
            headers={k.lower(): v for k, v in (headers or {}).items()},
            query=dict(query or {}),
            body=body,
            params=dict(params or {}),
        )

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def content_type(self) -> str:
        return next((v for k, v in self.headers.items() if k.lower() == "content-type"), "")

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class BadRequest(Exception):
    """Input the API refuses, with the status and the JSON body that say why."""

    def __init__(self, status: int, message: str, **details: Any) -> None:
        super().__init__(message)
        self.response = error(status, message, **details)


def json_response(status: int, value: Any, headers: Mapping[str, str] | None = None) -> Response:
    body = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(status, {"Content-Type": JSON_TYPE, **(headers or {})}, body)


def error(status: int, message: str, *, headers: Mapping[str, str] | None = None, **details: Any) -> Response:
    return json_response(status, {"error": message, **details}, headers)


def check_size(request: Request) -> None:
    """413 before parsing: the declared length first, then the bytes actually received."""
    declared = request.header("content-length")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise BadRequest(413, f"body of {declared} bytes is over the {MAX_BODY}-byte limit")
    if len(request.body) > MAX_BODY:
        raise BadRequest(413, f"body is over the {MAX_BODY}-byte limit")


_KINDS = {dict: "an object", list: "an array"}


def read_json(request: Request, *expected: type) -> Any:
    """Decode the body as JSON of one of the ``expected`` top-level types, or raise a 400."""
    if not request.body.strip():
        raise BadRequest(400, "the body is empty; expected JSON", field="$")
    try:
        text = request.body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest(400, "the body is not UTF-8 text", position=exc.start) from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(
            400,
            f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            line=exc.lineno,
            column=exc.colno,
            position=exc.pos,
        ) from None
    if expected and not isinstance(value, expected):
        from vmss_responder.parse.fields import kind_of

        wanted = " or ".join(_KINDS[t] for t in expected)
        raise BadRequest(400, f"expected {wanted}, got {kind_of(value)}", field="$")
    return value


def ingest(channel: str, payload: Any) -> Response:
    """Store, then acknowledge: 202 once the delivery is in the inbox, 400 if malformed, 503 if not stored.

    ``Responder.ingest`` handles processing failures itself (the sweep retries them), so an
    exception here means the delivery was not stored: the sender must retry it.
    """
    from . import runtime

    try:
        result: IngestResult = runtime.responder().ingest(channel, payload)
    except Exception:
        log.exception("could not store a %s delivery", channel)
        return error(503, "the delivery could not be stored; retry later")
    if not result.accepted:
        return json_response(400, result.to_dict())
    return json_response(202, result.to_dict())
