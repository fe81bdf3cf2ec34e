"""Incident queries: ``GET /api/incidents`` (filters ``status``, ``scaleSet``) and
``GET /api/incidents/{id}`` (one incident with its timeline and actions).

An open incident lives in its scale set's state record until the first evaluation saves it to
the incident table (and the state keeps the freshest copy after that), so a query merges both:
a delivery that opened an incident shows up here at once, not only after the hold period.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .http_api import BadRequest, Request, Response, error, json_response

if TYPE_CHECKING:
    from vmss_responder.engine.incident import ActionRecord, Incident


def list_incidents(request: Request) -> Response:
    from vmss_responder.engine.incident import Status

    from . import runtime

    statuses = _statuses(request.query.get("status", ""), {s.value for s in Status})
    scale_set = request.query.get("scaleSet", "").strip().rstrip("/").lower()
    found = [
        inc
        for inc in runtime.responder().current_incidents()
        if (not statuses or inc.status.value in statuses) and _matches(inc.scale_set, scale_set)
    ]
    found.sort(key=lambda i: (i.opened, i.id), reverse=True)
    return json_response(200, {"incidents": [incident_view(i) for i in found], "count": len(found)})


def get_incident(request: Request) -> Response:
    from . import runtime

    incident_id = request.params.get("id", "")
    responder = runtime.responder()
    inc = responder.find_incident(incident_id)
    if inc is None:
        return error(404, f"no incident {incident_id!r}", field="id")
    actions = sorted(responder.actions.for_incident(inc.id), key=lambda a: (a.at, a.id))
    return json_response(
        200, {"incident": incident_view(inc, full=True), "actions": [action_view(a) for a in actions]}
    )


def _statuses(text: str, known: set[str]) -> set[str]:
    wanted = {s.strip().lower() for s in text.split(",") if s.strip()}
    unknown = sorted(wanted - known)
    if unknown:
        raise BadRequest(
            400, f"unknown status {', '.join(unknown)}; one of {', '.join(sorted(known))}", field="status"
        )
    return wanted


def _matches(scale_set_id: str, wanted: str) -> bool:
    """A full scale set ID (any casing) or just its name."""
    if not wanted:
        return True
    have = scale_set_id.lower()
    return have == wanted if "/" in wanted else have.rsplit("/", 1)[-1] == wanted


def incident_view(inc: Incident, *, full: bool = False) -> dict[str, Any]:
    from vmss_responder.durations import format_timestamp

    def ts(value: Any) -> str | None:
        return format_timestamp(value) if value is not None else None

    view: dict[str, Any] = {
        "id": inc.id,
        "scaleSet": inc.scale_set,
        "status": inc.status.value,
        "phase": inc.phase,
        "instanceIds": inc.instance_ids,
        "findings": inc.finding_codes(),
        "explanation": inc.explanation,
        "opened": ts(inc.opened),
        "closed": ts(inc.closed),
        "lastSignal": ts(inc.last_signal),
        "signals": inc.signals,
        "paged": inc.paged,
    }
    if full:
        view.update(
            firstSignal=ts(inc.first_signal),
            nextCheck=ts(inc.next_check),
            zones=inc.zones,
            trigger=inc.trigger,
            explainedBy=inc.explained_by,
            evidence=[
                {"code": f.code, "evidence": f.evidence, "instanceIds": f.instance_ids} for f in inc.findings
            ],
            timeline=[{"at": ts(e.at), "kind": e.kind, "text": e.text} for e in inc.timeline],
        )
    return view


def action_view(action: ActionRecord) -> dict[str, Any]:
    from vmss_responder.durations import format_timestamp

    view: dict[str, Any] = {
        "id": action.id,
        "at": format_timestamp(action.at),
        "op": action.op,
        "scaleSet": action.scale_set,
        "instanceIds": action.instance_ids,
        "mode": action.mode,
        "result": action.result,
        "reason": action.reason,
        "detail": action.detail,
        "verified": action.verified,
        "correlationId": action.correlation_id,
    }
    if action.output:
        view["output"] = action.output
    return view
