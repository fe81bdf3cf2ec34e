"""Azure Monitor action groups (``POST /api/alerts``): the Common Alert Schema, or the legacy
Activity Log webhook body, as the action group's webhook sends it."""

from __future__ import annotations

from .http_api import Request, Response, ingest, read_json


def post(request: Request) -> Response:
    return ingest("alert", read_json(request, dict))
