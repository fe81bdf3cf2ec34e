"""Replay: drive the real responder through a scenario on a virtual clock.

The fleet lives in the ARM emulator (real HTTPS, real SDK); deliveries go through
``Responder.ingest`` exactly as the HTTP handlers call it; the periodic sweep fires every
``sweepInterval`` of virtual time; the platform's automatic repairs tick between steps. Only the
clock, the ARM endpoint and the store differ from production.

For the reliability tests, ``faults`` makes ARM fail a seeded share of requests for the whole
run, and a :class:`ReplayTrace` collects what the report leaves out: how much virtual time each
handler invocation took (ARM retries and polling sleep on the clock) and every request the
emulator served. A rerun that ARM throttled (``ArmThrottled`` reaches the caller) is asked again
after its ``Retry-After``, as the person or script behind the rerun endpoint would.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from ..clock import VirtualClock
from ..durations import format_timestamp
from .scenario import Scenario

if TYPE_CHECKING:
    from .arm_api import RequestRecord
    from .faults import FaultPlan

Progress = Callable[[str], None]
T = TypeVar("T")


@dataclass(frozen=True)
class Invocation:
    """One call into the responder, as a Functions trigger would make it."""

    entry: str  # ingest | sweep | rerun
    at: datetime  # virtual time it began
    blocked: timedelta  # virtual time it took: the SDK's retry and polling sleeps advance the clock
    detail: str = ""  # the channel of an ingest


@dataclass
class ReplayTrace:
    """Filled by :func:`replay`: every handler invocation and every request the emulator served."""

    invocations: list[Invocation] = field(default_factory=list)
    requests: list[RequestRecord] = field(default_factory=list)

    def timed(self, clock: VirtualClock, entry: str, call: Callable[[], T], detail: str = "") -> T:
        began = clock.now()
        try:
            return call()
        finally:
            self.invocations.append(Invocation(entry, began, clock.now() - began, detail))


def replay(
    scenario: Scenario,
    *,
    settings_overrides: dict[str, Any] | None = None,
    progress: Progress | None = None,
    store_url: str = "sqlite://:memory:",
    faults: FaultPlan | None = None,
    trace: ReplayTrace | None = None,
) -> dict[str, Any]:
    from ..azure import ArmTarget, StaticTokenCredential
    from ..bootstrap import Edges, build_responder
    from .emulator import ArmEmulator
    from .fleet import Fleet

    clock = VirtualClock(scenario.start)
    fleet = Fleet.from_spec(scenario.fleet, clock.now())
    say = progress or (lambda _msg: None)
    traced = trace or ReplayTrace()
    fleet.set_fault_rate(faults)
    with ArmEmulator(fleet, clock) as emu:
        base = {"scopes": [f"/subscriptions/{scenario.subscription_id}"], "workspaceId": emu.workspace_id}
        settings = scenario.settings({**base, **(settings_overrides or {})})
        target = ArmTarget(
            base_url=emu.base_url,
            connection_verify=emu.ca_path,
            credential=StaticTokenCredential(clock),
            logs_endpoint=emu.base_url,
        )
        responder = build_responder(
            settings, Edges(clock, store_url, target), owner=f"replay-{scenario.name}"
        )
        end = scenario.start + scenario.until
        next_sweep = scenario.start

        def run_until(t: datetime) -> None:
            nonlocal next_sweep
            while next_sweep <= t and next_sweep <= end:
                clock.set(next_sweep)
                fleet.tick(clock.now())
                traced.timed(clock, "sweep", responder.sweep)
                next_sweep = next_sweep + settings.sweep_interval

        # (instant, order, step): the timeline, plus reruns asked again after a throttled answer
        steps = [(scenario.start + step.at, n, step) for n, step in enumerate(scenario.timeline)]
        heapq.heapify(steps)
        order = itertools.count(len(steps))
        try:
            while steps:
                at, _, step = heapq.heappop(steps)
                if at > end:
                    break
                run_until(at - settings.sweep_interval / 1000)
                clock.set(at)
                fleet.tick(clock.now())
                again = _run_step(step, responder, fleet, emu, clock, traced)
                if again is not None:
                    heapq.heappush(steps, (clock.now() + again, next(order), step))
                say(f"{format_timestamp(clock.now())} {step.kind} {_describe(step)}")
            run_until(end)
            clock.set(end)
        finally:
            traced.requests = emu.requests  # also when a handler crashed: what led there
        return build_report(scenario, responder, fleet, emu)


def _run_step(
    step: Any, responder: Any, fleet: Any, emu: Any, clock: VirtualClock, trace: ReplayTrace
) -> timedelta | None:
    """Run one timeline step; for a rerun that ARM throttled, when to ask again (as its caller
    would, told to retry after ``Retry-After``)."""
    from ..azure import ArmThrottled

    body = step.body
    if step.kind == "deliver":
        trace.timed(
            clock, "ingest", lambda: responder.ingest(body["channel"], body["payload"]), body["channel"]
        )
    elif step.kind == "fleet":
        fleet.apply_step(body, clock.now())
    elif step.kind == "activityLog":
        emu.add_activity(body, clock.now())
    elif step.kind == "rerun":
        try:
            trace.timed(
                clock,
                "rerun",
                lambda: responder.rerun(
                    resource_id=body.get("resourceId"),
                    incident_id=body.get("incidentId"),
                    dry_run=bool(body.get("dryRun")),
                ),
            )
        except ArmThrottled as exc:
            return exc.retry_after
        except (ValueError, KeyError) as exc:
            responder.rejected.add(clock.now(), "rerun", str(exc), f"rerun-{step.index}")
    return None


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
    ids = (
        f"/subscriptions/{scenario.subscription_id}/resourceGroups/{ss['resourceGroup']}/providers/Microsoft.Compute/virtualMachineScaleSets/{ss['name']}"
        for ss in scenario.fleet.get("scaleSets", [])
    )
    casing = {resource_id.lower(): resource_id for resource_id in ids}
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
            {
                "at": format_timestamp(d.at),
                "severity": d.severity,
                "incident": d.incident_id,
                "channel": d.channel,
            }
            for d in responder.outbox.deliveries()
        ],
        "rejected": sorted(responder.rejected.all(), key=lambda r: r["at"]),
        "arm": emu.counts(),
        "fleetAfter": fleet.snapshot(),
    }
