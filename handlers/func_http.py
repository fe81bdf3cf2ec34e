"""``func.HttpRequest`` -> :class:`~handlers.http_api.Request` -> route -> ``func.HttpResponse``.

The only module under ``handlers/`` that imports ``azure.functions``. The host has already
matched the route and checked the function key by the time this runs.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import azure.functions as func

from . import routes
from .http_api import Request


def respond(route_name: str, req: func.HttpRequest) -> func.HttpResponse:
    request = Request.build(
        method=req.method,
        path=urlsplit(req.url).path,
        headers=dict(req.headers),
        query=dict(req.params),
        body=req.get_body() or b"",
        params=dict(req.route_params),
    )
    response = routes.handle(routes.BY_NAME[route_name], request)
    mimetype, _, _ = response.content_type.partition(";")
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-type"}
    return func.HttpResponse(
        body=response.body, status_code=response.status, headers=headers, mimetype=mimetype or None
    )
