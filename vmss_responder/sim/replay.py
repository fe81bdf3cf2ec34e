"""Replay: drive the real responder through a scenario on a virtual clock.

The fleet lives in the ARM emulator (real HTTPS, real SDK); deliveries go through
``Responder.ingest`` exactly as the HTTP handlers call it; the periodic sweep fires every
``sweepInterval`` of virtual time; the platform's automatic repairs tick between steps. Only the
clock, the ARM endpoint and the store differ from production.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..clock import VirtualClock
from ..durations import format_timestamp
from .scenario import Scenario

Progress = Callable[[str], None]


def replay(scenario: Scenario, *, settings_overrides: dict[str, Any] | None = None, progress: Progress | None = None,
           store_url: str = "sqlite://:memory:") -> dict[str, Any]:
    from ..azure import ArmTarget, StaticTokenCredential
    from ..bootstrap import Edges, build_responder
    from .emulator import ArmEmulator
    from .fleet import Fleet

    clock = VirtualClock(scenario.start)
    fleet = Fleet.from_spec(scenario.fleet, clock.now())
    say = progress or (lambda _msg: None)
    with ArmEmulator(fleet, clock) as emu:
        base = {"scopes": [f"/subscriptions/{scenario.subscription_id}"], "workspaceId": emu.workspace_id}
        settings = scenario.settings({**base, **(settings_overrides or {})})
        target = ArmTarget(
            base_url=emu.base_url, connection_verify=emu.ca_path, credential=StaticTokenCredential(clock), logs_endpoint=emu.base_url
        )
        responder = build_responder(settings, Edges(clock, store_url, target), owner=f"replay-{scenario.name}")
        end = scenario.start + scenario.until
        next_sweep = scenario.start

        def run_until(t: datetime) -> None:
            nonlocal next_sweep
            while next_sweep <= t and next_sweep <= end:
                clock.set(next_sweep)
                fleet.tick(clock.now())
                responder.sweep()
                next_sweep = next_sweep + settings.sweep_interval

        for step in scenario.timeline:
            at = scenario.start + step.at
            if at > end:
                break
            run_until(at - settings.sweep_interval / 1000)
            clock.set(at)
            fleet.tick(clock.now())
            _run_step(step, responder, fleet, emu, clock)
            say(f"{format_timestamp(clock.now())} {step.kind} {_describe(step)}")
        run_until(end)
        clock.set(end)
        return build_report(scenario, responder, fleet, emu)


def _run_step(step: Any, responder: Any, fleet: Any, emu: Any, clock: VirtualClock) -> None:
    body = step.body
    if step.kind == "deliver":
        responder.ingest(body["channel"], body["payload"])
    elif step.kind == "fleet":
        fleet.apply_step(body, clock.now())
    elif step.kind == "activityLog":
        emu.add_activity(body, clock.now())
    elif step.kind == "rerun":
        try:
            responder.rerun(resource_id=body.get("resourceId"), incident_id=body.get("incidentId"), dry_run=bool(body.get("dryRun")))
        except (ValueError, KeyError) as exc:
            responder.rejected.add(clock.now(), "rerun", str(exc), f"rerun-{step.index}")


def _describe(step: Any) -> str:
    b = step.body
    if step.kind == "deliver":
        return b["channel"]
    if step.kind == "fleet":
        return f"{b.get('op')} {b.get('scaleSet', '')}"
    if step.kind == "activityLog":
        return b.get("operationName", "")
    return b.get("resourceId") or b.get("incidentId") or ""


def build_report(scenario: Scenario, responder: Any, fleet: Any, emu: Any) -> dict[str, Any]:
    casing = {
        f"/subscriptions/{scenario.subscription_id}/resourcegroups/{ss['resourceGroup']}/providers/microsoft.compute/virtualmachinescalesets/{ss['name']}".lower():
        f"/subscriptions/{scenario.subscription_id}/resourceGroups/{ss['resourceGroup']}/providers/Microsoft.Compute/virtualMachineScaleSets/{ss['name']}"
        for ss in scenario.fleet.get("scaleSets", [])
    }
    ordered = responder.current_incidents()
    return {
        "scenario": scenario.name,
        "incidents": [
            {
                "id": inc.id,
                "scaleSet": casing.get(inc.scale_set.lower(), inc.scale_set),
                "instanceIds": inc.instance_ids,
                "status": inc.status.value,
                "findings": inc.finding_codes(),
                "explanation": inc.explanation,
                "opened": format_timestamp(inc.opened),
                "closed": format_timestamp(inc.closed) if inc.closed else None,
                "signals": inc.signals,
                "zones": inc.zones,
                "evidence": {f.code: f.evidence for f in inc.findings},
                "timeline": [f"{format_timestamp(e.at)} {e.kind}: {e.text}" for e in inc.timeline],
            }
            for inc in ordered
        ],
        "actions": [
            {
                "at": format_timestamp(a.at),
                "op": a.op,
                "scaleSet": casing.get(a.scale_set.lower(), a.scale_set),
                "instanceIds": a.instance_ids,
                "mode": a.mode,
                "result": a.result,
                "reason": a.reason,
                "incident": a.incident_id,
                **({"verified": a.verified} if a.verified is not None else {}),
                **({"output": a.output} if a.output else {}),
            }
            for a in responder.actions.all()
        ],
        "notifications": [
            {"at": format_timestamp(d.at), "severity": d.severity, "incident": d.incident_id, "channel": d.channel}
            for d in responder.outbox.deliveries()
        ],
        "rejected": sorted(responder.rejected.all(), key=lambda r: r["at"]),
        "arm": emu.counts(),
        "fleetAfter": fleet.snapshot(),
    }
