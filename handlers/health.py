"""``GET /api/health`` (anonymous): is the app configured and its store reachable?

It says ``ok`` or what is wrong in one word, never a setting's value: it answers without a key.
A failure is 503 so that load balancers and uptime probes take the instance out.
"""

from __future__ import annotations

import logging

from .http_api import Request, Response, json_response

log = logging.getLogger("vmss_responder.health")


def get(request: Request) -> Response:
    from vmss_responder import __version__

    from . import runtime

    try:
        responder = runtime.responder()
    except Exception:
        log.exception("health: the responder could not be built")
        return json_response(
            503, {"status": "unavailable", "reason": "configuration", "version": __version__}
        )
    try:
        responder.incidents.get("health-probe")
    except Exception:
        log.exception("health: the store did not answer")
        return json_response(503, {"status": "unavailable", "reason": "store", "version": __version__})
    return json_response(200, {"status": "ok", "version": __version__})
