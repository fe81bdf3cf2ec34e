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
STORE_HEADROOM = 4096  # the inbox record around a payload: channel, times, lease owner
MAX_DEPTH = 64  # System.Text.Json's default limit; Azure's payloads nest under 10 levels
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
    """Decode the body as JSON of one of the ``expected`` top-level types, or raise a 400.

    Strict where Python's decoder is lenient, because what it lets through breaks later: NaN and
    Infinity are not JSON, integers past 4,300 digits raise a plain ValueError, nesting past the
    recursion limit a RecursionError, and a lone ``\\ud800`` escape decodes to text that cannot be
    encoded or hashed.
    """
    if not request.body.strip():
        raise BadRequest(400, "the body is empty; expected JSON", field="$")
    try:
        text = request.body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest(400, "the body is not UTF-8 text", position=exc.start) from None
    try:
        value = json.loads(text, parse_constant=_not_json)
    except json.JSONDecodeError as exc:
        raise BadRequest(
            400,
            f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            line=exc.lineno,
            column=exc.colno,
            position=exc.pos,
        ) from None
    except RecursionError:
        raise BadRequest(400, f"the body nests more than {MAX_DEPTH} levels deep", field="$") from None
    except ValueError as exc:  # NaN / Infinity, or an integer too long to convert
        reason = str(exc).partition(";")[0]
        raise BadRequest(400, f"the body is not valid JSON: {reason}", field="$") from None
    check_structure(value)
    if expected and not isinstance(value, expected):
        from vmss_responder.parse.fields import kind_of

        wanted = " or ".join(_KINDS[t] for t in expected)
        raise BadRequest(400, f"expected {wanted}, got {kind_of(value)}", field="$")
    return value


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


class _Malformed(Exception):
    """Raised from the innermost value; each level on the way out adds its key to ``path``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.path: list[str | int] = []


def check_structure(value: Any) -> None:
    """400 naming the field for JSON nested deeper than :data:`MAX_DEPTH` or holding lone surrogates."""
    try:
        _check(value, 0)
    except _Malformed as bad:
        from vmss_responder.parse.fields import at

        field = ""
        for key in reversed(bad.path):
            field = at(field, key)
        raise BadRequest(400, bad.message, field=field or "$") from None


def _check(value: Any, depth: int) -> None:
    if isinstance(value, str):
        _check_text(value)
    elif isinstance(value, (dict, list)):
        if depth == MAX_DEPTH:
            raise _Malformed(f"nested more than {MAX_DEPTH} levels deep")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            try:
                if isinstance(key, str):
                    _check_text(key)
                _check(item, depth + 1)
            except _Malformed as bad:
                bad.path.append(key)
                raise


def _check_text(text: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _Malformed(
            f"holds a lone surrogate (\\u{ord(text[exc.start]):04x}): not Unicode text"
        ) from None


def ingest(channel: str, payload: Any) -> Response:
    """Store, then acknowledge: 202 once the delivery is in the inbox, 400 if malformed, 413 if too
    big to store, 503 if not stored.

    ``Responder.ingest`` handles processing failures itself (the sweep retries them), so an
    exception here means the delivery was not stored: the sender must retry it.
    """
    from vmss_responder.store.base import MAX_RECORD_BYTES

    from . import runtime

    # A delivery the store cannot keep must not get a 503: the sender would retry it for a day.
    # Stored JSON escapes non-ASCII text, so a body under MAX_BODY can still be too big to keep.
    stored, limit = len(json.dumps(payload, separators=(",", ":"))), MAX_RECORD_BYTES - STORE_HEADROOM
    if stored > limit:
        return error(
            413, f"the delivery is {stored} bytes as stored JSON (non-ASCII escaped); the limit is {limit}"
        )
    try:
        result: IngestResult = runtime.responder().ingest(channel, payload)
    except Exception:
        log.exception("could not store a %s delivery", channel)
        return error(503, "the delivery could not be stored; retry later")
    if not result.accepted:
        return json_response(400, result.to_dict())
    return json_response(202, result.to_dict())
