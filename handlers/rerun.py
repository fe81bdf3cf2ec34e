"""Manual rerun (``POST /api/rerun``): re-read one scale set now and decide again.

Body: ``{"resourceId": "<scale set or instance ID>"}`` or ``{"incidentId": "..."}``, with
``"dryRun": true`` to decide without acting. The scope check comes before any ARM call, so a
resource outside the configured scopes is refused with 403 and never touched.
"""

from __future__ import annotations

from typing import Any

from .http_api import BadRequest, Request, Response, error, json_response, read_json
from .incidents import incident_view

FIELDS = ("resourceId", "incidentId", "dryRun")


def post(request: Request) -> Response:
    from azure.core.exceptions import AzureError, ResourceNotFoundError

    from vmss_responder.azure import ArmThrottled
    from vmss_responder.runner import OutOfScope

    from . import runtime

    resource_id, incident_id, dry_run = _arguments(read_json(request, dict))
    field = "incidentId" if incident_id else "resourceId"
    try:
        incident = runtime.responder().rerun(
            resource_id=resource_id, incident_id=incident_id, dry_run=dry_run
        )
    except OutOfScope as exc:
        return error(403, str(exc), field="resourceId")
    except KeyError as exc:
        return error(404, exc.args[0] if exc.args else "no such incident", field="incidentId")
    except ValueError as exc:
        return error(400, str(exc), field="resourceId")
    except ArmThrottled as exc:  # only a dry run gets here: a real rerun reschedules itself
        seconds = max(1, int(exc.retry_after.total_seconds()))
        return error(
            503,
            f"ARM is throttling reads of this scale set; retry in {seconds} s",
            headers={"Retry-After": str(seconds)},
        )
    except ResourceNotFoundError:  # a dry run on an ID in scope that ARM does not know
        return error(404, "ARM has no such scale set", field=field)
    except AzureError as exc:  # a dry run whose live read failed: ARM's fault, not the caller's
        return error(502, f"the live read failed ({type(exc).__name__}); retry later", field=field)
    return json_response(
        200,
        {
            "dryRun": dry_run,
            "incident": incident_view(incident, full=True) if incident else None,
            **(
                {}
                if incident
                else {"note": "no incident on this scale set (or an evaluation is running elsewhere)"}
            ),
        },
    )


def _arguments(body: dict[str, Any]) -> tuple[str | None, str | None, bool]:
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        from vmss_responder.parse.fields import at

        raise BadRequest(400, f"unknown field; expected {', '.join(FIELDS)}", field=at("", unknown[0]))
    for name in ("resourceId", "incidentId"):
        if name in body and (not isinstance(body[name], str) or not body[name].strip()):
            raise BadRequest(400, "must be a non-empty string", field=name)
    if "dryRun" in body and not isinstance(body["dryRun"], bool):
        raise BadRequest(400, "must be true or false", field="dryRun")
    if "resourceId" in body and "incidentId" in body:
        raise BadRequest(400, "give resourceId or incidentId, not both", field="incidentId")
    if "resourceId" not in body and "incidentId" not in body:
        raise BadRequest(400, "required (or incidentId)", field="resourceId")
    return body.get("resourceId"), body.get("incidentId"), body.get("dryRun", False)
