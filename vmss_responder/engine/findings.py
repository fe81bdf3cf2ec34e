"""Findings: what the live control plane says is wrong, each with the evidence behind it.

``assess`` turns live facts plus what the engine already knows (operations, annotations,
how long each instance has been unhealthy) into an :class:`Assessment`: which instances are a
problem, which are intentionally stopped or still settling, and the finding codes of
FORMAT.md. It decides nothing; :mod:`.decide` does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ..config import Settings
from ..facts import InstanceFacts, ScaleSetFacts
from ..signals import OpCategory
from .incident import instance_order
from .state import ScaleSetState

STOP_WORDS = ("poweroff", "deallocate", "stop")


@dataclass(slots=True)
class Found:
    code: str
    evidence: str
    instance_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Assessment:
    problems: dict[str, InstanceFacts]  # instance ID -> facts, failing by the live view
    intended_stops: dict[str, str]  # instance ID -> the operation that stopped it
    settling: list[str]
    findings: list[Found]
    total: int

    def has(self, code: str) -> bool:
        return any(f.code == code for f in self.findings)

    @property
    def platform_problem(self) -> bool:
        """Failures that per-instance actions cannot fix: hold actions, page once."""
        return self.has("zone_concentrated") or self.has("platform_initiated")


def _ids(items: list[str]) -> str:
    return ", ".join(sorted(items, key=instance_order))


def _stopping_operation(state: ScaleSetState, instance_id: str, now: datetime) -> str | None:
    """A customer stop/deallocate of this instance (or the whole set) that is still in force."""
    latest = None
    for op in state.operations:
        if op.own or op.category is not OpCategory.POWER or op.started > now:
            continue
        if op.instance_ids and instance_id not in op.instance_ids:
            continue
        if latest is None or op.started > latest.started:
            latest = op
    if latest and any(w in latest.operation.lower().replace("/", "") for w in STOP_WORDS):
        return f"{latest.operation} by {latest.caller or 'unknown caller'} at {latest.started:%H:%M:%SZ} (via {latest.channel})"
    for ann in reversed(state.annotations):
        if (
            ann.get("instance_id") == instance_id
            and ann.get("customer")
            and any(w in ann["name"].lower() for w in ("deallocation", "stop"))
        ):
            return f"annotation {ann['name']} ({ann.get('context')}) at {ann['at']}"
    return None


def assess(state: ScaleSetState, facts: ScaleSetFacts, now: datetime, settings: Settings) -> Assessment:
    problems: dict[str, InstanceFacts] = {}
    intended: dict[str, str] = {}
    settling: list[str] = []
    for inst in facts.instances:
        if inst.stopped:
            why = _stopping_operation(state, inst.instance_id, now)
            if why:
                intended[inst.instance_id] = why
            else:
                problems[inst.instance_id] = inst
        elif inst.unhealthy:
            problems[inst.instance_id] = inst
        elif inst.settling:
            settling.append(inst.instance_id)

    found: list[Found] = []
    total = len(facts.instances)
    ids = sorted(problems, key=instance_order)

    # --- automatic repairs configuration and state -----------------------------------
    if problems:
        if not facts.repairs_configured:
            found.append(
                Found("repairs_disabled", "automaticRepairsPolicy is not configured on the scale set", ids)
            )
        elif not facts.repairs_enabled:
            found.append(Found("repairs_disabled", "automaticRepairsPolicy.enabled is false", ids))
        elif facts.service_state in (None, "NotRunning"):
            found.append(
                Found(
                    "repairs_disabled",
                    f"AutomaticRepairs serviceState is {facts.service_state or 'absent'}",
                    ids,
                )
            )
        elif facts.service_state == "Suspended":
            found.append(
                Found(
                    "repairs_suspended",
                    "AutomaticRepairs serviceState is Suspended (the platform suspends it after repeated failed repairs)",
                    ids,
                )
            )

    # --- per-instance evidence ------------------------------------------------------------
    failed_prov = [i for i in ids if problems[i].provisioning_failed]
    if failed_prov:
        found.append(
            Found(
                "provisioning_failed",
                "; ".join(f"instance {i}: {problems[i].describe()}" for i in failed_prov)
                + " (automatic repairs do not handle provisioning failures)",
                failed_prov,
            )
        )
    ext_failed = [i for i in ids if any(e.failed for e in problems[i].extensions)]
    if ext_failed:
        found.append(
            Found(
                "extension_failed",
                "; ".join(
                    f"instance {i}: "
                    + ", ".join(
                        f"{e.name} {e.status}{': ' + e.message if e.message else ''}"
                        for e in problems[i].extensions
                        if e.failed
                    )
                    for i in ext_failed
                ),
                ext_failed,
            )
        )
    stale = [i for i in ids if problems[i].latest_model_applied is False]
    if stale:
        found.append(
            Found("stale_model", f"instances {_ids(stale)} do not run the latest scale set model", stale)
        )
    protected = [
        i for i in ids if problems[i].protect_from_scale_set_actions or problems[i].protect_from_scale_in
    ]
    if protected:
        found.append(
            Found(
                "protected_instance",
                "; ".join(
                    f"instance {i}: "
                    + (
                        "protectFromScaleSetActions"
                        if problems[i].protect_from_scale_set_actions
                        else "protectFromScaleIn"
                    )
                    for i in protected
                )
                + " (the responder and automatic repairs leave it alone)",
                protected,
            )
        )

    # --- grace period: the platform is about to repair ---------------------------------
    if facts.repairs_running and facts.grace_period:
        waiting = []
        for i in ids:
            inst = problems[i]
            if inst.provisioning_failed or i in protected or inst.stopped:
                continue
            since = state.unhealthy_since.get(i, now)
            if now < since + facts.grace_period + settings.repair_wait_margin:
                waiting.append(i)
        if waiting:
            found.append(
                Found(
                    "grace_period",
                    f"automatic repairs are running with gracePeriod {facts.grace_period}; instances {_ids(waiting)} "
                    "are expected to be repaired by the platform",
                    waiting,
                )
            )

    # --- fleet-wide patterns: probe, zone, platform -------------------------------------
    app_unhealthy = [i for i in ids if not problems[i].provisioning_failed and not problems[i].stopped]
    zones_all = facts.zones
    zones_bad = {problems[i].zone for i in app_unhealthy if problems[i].zone}
    if (
        len(app_unhealthy) >= settings.zone_concentration_min
        and len(zones_bad) == 1
        and len(zones_all) > 1
        and all(
            inst.healthy or inst.settling or inst.instance_id in intended
            for inst in facts.instances
            if inst.zone not in zones_bad
        )
    ):
        zone = next(iter(zones_bad))
        in_zone = [x for x in facts.instances if x.zone == zone]
        found.append(
            Found(
                "zone_concentrated",
                f"{len(app_unhealthy)} of {len(in_zone)} instances in zone {zone} are unhealthy while zones "
                f"{', '.join(sorted(zones_all - zones_bad))} are healthy",
                app_unhealthy,
            )
        )
    elif (
        total >= 2
        and len(app_unhealthy) >= 2
        and len(app_unhealthy) / total >= settings.probe_misconfigured_fraction
    ):
        found.append(
            Found(
                "probe_misconfigured",
                f"{len(app_unhealthy)} of {total} instances report unhealthy across zones "
                f"{', '.join(sorted(zones_bad)) or 'n/a'}: the health probe or the application is broken, "
                "not the instances",
                app_unhealthy,
            )
        )

    platform = [
        a
        for a in state.annotations
        if a.get("platform") and (not a.get("instance_id") or a["instance_id"] in problems)
    ]
    if platform:
        found.append(
            Found(
                "platform_initiated",
                "; ".join(
                    f"{a['name']} ({a.get('context')}, {a.get('category') or 'n/a'}) on "
                    + (f"instance {a['instance_id']}" if a.get("instance_id") else "the scale set")
                    for a in platform[-5:]
                ),
                sorted({a["instance_id"] for a in platform if a.get("instance_id")}, key=instance_order),
            )
        )
    return Assessment(problems, intended, settling, found, total)
