"""Autoscale setting webhooks (``POST /api/autoscale``): the scale-out/scale-in notification body."""

from __future__ import annotations

from .http_api import Request, Response, ingest, read_json


def post(request: Request) -> Response:
    return ingest("autoscale", read_json(request, dict))
