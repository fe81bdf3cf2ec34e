"""Actions: the guarded mutating ARM calls, executed exactly once and verified later.

The engine decides; this module performs. Every call names its instance IDs (never a
wildcard), is resent only after a 429 (a retried POST could restart an instance twice)
and sent without waiting for the long-running operation (Event Grid waits only 30 s): the sweep
verifies the outcome against the instance view. Each call carries a fresh
``x-ms-correlation-request-id`` which the responder remembers, so the Activity Log and Event
Grid echoes of its own calls are recognized and never open incidents.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from importlib import resources
from typing import Any

from .identity import ScaleSetRef

SCRIPT_LIBRARY = "vmss_responder.scripts"
OUTPUT_LIMIT = 4096  # Azure returns the last 4,096 bytes of run command output


class ActionError(RuntimeError):
    pass


def script_text(name: str) -> list[str]:
    """A diagnostic script from the repo's library, by name (the name comes from settings, never a payload)."""
    if not name.replace("-", "").isalnum():
        raise ActionError(f"invalid script name {name!r}")
    try:
        text = resources.files(SCRIPT_LIBRARY).joinpath(f"{name}.sh").read_text()
    except FileNotFoundError:
        raise ActionError(f"no script {name!r} in the library") from None
    return text.splitlines()


def script_names() -> list[str]:
    return sorted(p.name[:-3] for p in resources.files(SCRIPT_LIBRARY).iterdir() if p.name.endswith(".sh"))


@dataclass(slots=True)
class CallResult:
    ok: bool
    correlation_id: str
    detail: str
    continuation: str | None = None  # LRO continuation token, to collect a result later
    uncertain: bool = False  # failed without a definite answer: it may have happened, or may be resent


def _failure(op: str, cid: str, exc: Exception) -> CallResult:
    """A 4xx (but 429) is ARM's definite no; anything else leaves the outcome to the live view."""
    status = getattr(getattr(exc, "response", None), "status_code", None)
    definite = status is not None and 400 <= status < 500 and status != 429
    return CallResult(False, cid, f"{op} failed: {_short(exc)}", uncertain=not definite)


def _call_options(correlation_id: str) -> dict[str, Any]:
    """No LRO polling, our correlation ID. Retries are the client's CappedRetryPolicy: a 429 is
    resent (ARM throttles before doing anything), a POST that failed otherwise never is."""
    return {"polling": False, "headers": {"x-ms-correlation-request-id": correlation_id}}


def run_action(
    compute: Any,
    ref: ScaleSetRef,
    op: str,
    instance_ids: list[str],
    *,
    script: str = "",
    capacity: int | None = None,
    correlation_id: str | None = None,
) -> CallResult:
    """Start one mutation. Raises nothing for ARM errors: they come back as ``ok=False`` with the reason.

    ``correlation_id``: the caller's, recorded before the call (a fresh one otherwise)."""
    from azure.core.exceptions import AzureError

    from .azure import ArmThrottled

    cid = correlation_id or str(uuid.uuid4())
    rg, name = ref.resource_group, ref.name
    if op != "resume_repairs" and not instance_ids:
        raise ActionError(f"{op} must name its instance IDs")
    try:
        if op == "resume_repairs":
            compute.virtual_machine_scale_sets.begin_set_orchestration_service_state(
                rg, name, {"serviceName": "AutomaticRepairs", "action": "Resume"}, **_call_options(cid)
            )
            return CallResult(True, cid, "setOrchestrationServiceState AutomaticRepairs Resume accepted")
        (iid,) = instance_ids
        if op == "restart_instance":
            compute.virtual_machine_scale_set_vms.begin_restart(rg, name, iid, **_call_options(cid))
            return CallResult(True, cid, f"restart of instance {iid} accepted")
        if op == "reimage_instance":
            compute.virtual_machine_scale_set_vms.begin_reimage(rg, name, iid, **_call_options(cid))
            return CallResult(True, cid, f"reimage of instance {iid} accepted")
        if op == "replace_instance":
            compute.virtual_machine_scale_sets.begin_delete_instances(
                rg, name, {"instanceIds": [iid]}, **_call_options(cid)
            )
            return CallResult(
                True,
                cid,
                f"delete of instance {iid} accepted; capacity {capacity} is restored once it is gone",
            )
        if op == "run_command":
            seen: dict[str, str] = {}

            def keep_location(pipeline_response: Any) -> None:
                headers = pipeline_response.http_response.headers
                seen["url"] = headers.get("Location") or headers.get("Azure-AsyncOperation") or ""

            compute.virtual_machine_scale_set_vms.begin_run_command(
                rg,
                name,
                iid,
                {"commandId": "RunShellScript", "script": script_text(script)},
                raw_response_hook=keep_location,
                **_call_options(cid),
            )
            return CallResult(
                True, cid, f"run command {script} started on instance {iid}", seen.get("url") or None
            )
    except (AzureError, ArmThrottled) as exc:
        return _failure(op, cid, exc)
    raise ActionError(f"unknown action {op!r}")


MAX_ACTION_ATTEMPTS = 5  # calls of one action whose outcome stayed unknown, before on-call takes over


def took_effect(rec: Any, facts: Any) -> str:
    """Whether an unconfirmed call happened, judged from a later live read: ``happened``,
    ``moot`` (it did not, and it is no longer needed) or ``unknown`` (send it again).

    A restart or reimage moves the instance's ProvisioningState time; a delete makes the instance
    go (or show Deleting); a resume shows AutomaticRepairs Running.
    """
    if rec.op == "resume_repairs":
        return "happened" if facts.service_state == "Running" else "unknown"
    inst = facts.instance(rec.instance_ids[0]) if rec.instance_ids else None
    if rec.op == "replace_instance":
        return "happened" if inst is None or inst.provisioning_state == "Deleting" else "unknown"
    if inst is None:
        return "moot"
    if inst.provisioning_state == "Updating" or (
        inst.provisioned_at is not None and inst.provisioned_at >= rec.at
    ):
        return "happened"
    return "moot" if inst.healthy else "unknown"


def restore_capacity(compute: Any, ref: ScaleSetRef, capacity: int) -> CallResult:
    """Second step of a replacement: bring the scale set back to its capacity (a new instance, next free ID)."""
    from azure.core.exceptions import AzureError

    from .azure import ArmThrottled

    cid = str(uuid.uuid4())
    try:
        compute.virtual_machine_scale_sets.begin_update(
            ref.resource_group, ref.name, {"sku": {"capacity": capacity}}, **_call_options(cid)
        )
        return CallResult(True, cid, f"capacity restored to {capacity}")
    except (AzureError, ArmThrottled) as exc:
        return _failure("capacity restore", cid, exc)


def collect_run_command(compute: Any, ref: ScaleSetRef, instance_id: str, location: str) -> str | None:
    """One GET on the run command's operation URL: None while it runs (202), else the output (last 4 KB).

    A plain GET rather than a rebuilt poller: a poller would keep polling (and sleeping) in a
    background thread, which must not happen inside a trigger or on the replay's virtual clock.
    """
    from azure.core.rest import HttpRequest

    response = compute.send_request(HttpRequest("GET", location))
    if response.status_code == 202:
        return None
    response.raise_for_status()
    body = response.json() if response.content else {}
    statuses = body.get("value") or body.get("properties", {}).get("output", {}).get("value") or []
    text = "\n".join(f"[{s.get('code', '')}]\n{s.get('message') or ''}" for s in statuses)
    return text.encode()[-OUTPUT_LIMIT:].decode(errors="replace")


def _short(exc: Exception) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return text.splitlines()[0][:300] if text else type(exc).__name__
