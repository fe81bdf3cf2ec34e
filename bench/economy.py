"""ARM economy: what the storm cost in ARM calls, per scale set per 5 minutes, against the budgets.

Ours comes from the emulator's request log (every request the responder made, at its virtual
time). The peer is a per-event responder that reads the scale set's instance view for every
health signal it receives (what a function behind an Activity Log alert or an Event Grid
subscription does when it diagnoses each event on its own); it is counted from the same
deliveries, redeliveries included, because such a responder does not deduplicate.

The budgets are Compute's (CRP) token buckets, per resource and per subscription (reference:
azure-semantics.md section 8): each request is replayed through the bucket of its policy, and a
request that finds the bucket empty is one CRP would have answered with 429. The VM list with
``$expand=instanceView`` is billed to the high-cost "Get VMSS" policy like the instance view
itself (the reference lists it there), which is the strict reading.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bench.report import Row, count, judged
from bench.storm import Delivery, Storm

WINDOW = timedelta(minutes=5)
TARGET_INSTANCE_VIEWS = 2  # per scale set per 5 minutes

_PATH = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Compute/virtualMachineScaleSets/"
    r"(?P<vmss>[^/]+)(?P<vm>/virtualMachines/[^/]+)?(?P<rest>/.*)?$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Policy:
    """A CRP throttling policy: per resource and per subscription, refill per minute and burst."""

    name: str
    refill: int
    burst: int
    subscription_refill: int
    subscription_burst: int


GET_VMSS = Policy("GetVMScaleSet (low cost)", 12, 36, 800, 2_400)
GET_VMSS_HIGH = Policy("GetVMScaleSet (high cost: instance view, list)", 10, 30, 360, 1_080)
UPDATE_VMSS = Policy("UpdateVMScaleSet", 4, 12, 500, 1_500)
UPDATE_VMSS_VMS = Policy("UpdateVMScaleSetVMs", 4, 12, 500, 1_500)
DELETE_VMSS_VMS = Policy("DeleteVMScaleSetVMs", 4, 12, 500, 1_500)
GET_VMSS_VM = Policy("GetVMScaleSetVM", 12, 36, 2_000, 6_000)
GET_OPERATION = Policy("GetOperation", 15, 45, 5_000, 15_000)


@dataclass(frozen=True, slots=True)
class Call:
    """One Compute request, as the budgets see it."""

    at: datetime
    scale_set: str  # lower-case name; "" for an operation poll
    resource: str  # what the per-resource bucket is keyed on
    policy: Policy
    instance_view: bool  # the scale set's instance view (the call the target is about)
    write: bool


def classify(method: str, path: str, kind: str) -> tuple[str, str, Policy, bool] | None:
    """(scale set, resource, policy, is the scale set instance view) of one request; None for
    what no Compute budget covers (Log Analytics)."""
    if kind == "logQuery":
        return None
    if kind == "poll":
        return "", "operations", GET_OPERATION, False
    m = _PATH.match(path)
    if m is None:
        return None
    vmss, vm, rest = m["vmss"].lower(), m["vm"], (m["rest"] or "").lower()
    resource = vmss + (vm or "").lower()
    if method == "GET":
        if vm:
            return vmss, resource, GET_VMSS_VM, False
        if rest in ("/instanceview", "/virtualmachines"):
            return vmss, resource, GET_VMSS_HIGH, rest == "/instanceview"
        return vmss, resource, GET_VMSS, False
    if rest in ("/delete", "/deallocate", "/poweroff") or (vm and method == "DELETE"):
        return vmss, resource, DELETE_VMSS_VMS, False
    if vm or rest in ("/restart", "/reimage", "/start", "/runcommand"):
        return vmss, resource, UPDATE_VMSS_VMS, False
    return vmss, resource, UPDATE_VMSS, False


def calls(requests: Iterable[Any]) -> list[Call]:
    """The emulator's ``RequestRecord`` log as Compute calls (LRO polls included: CRP bills them)."""
    out = []
    for r in requests:
        found = classify(r.method, r.path, r.kind)
        if found is not None:
            scale_set, resource, policy, view = found
            out.append(Call(r.at, scale_set, resource, policy, view, r.method != "GET"))
    return out


def over_budget(timed: Iterable[tuple[datetime, str, Policy]], per_subscription: bool = False) -> int:
    """How many calls found their token bucket empty (CRP's 429s), replaying them in time order."""
    tokens: dict[tuple[str, str], tuple[float, datetime]] = {}
    refused = 0
    for at, resource, policy in sorted(timed, key=lambda x: x[0]):
        size = policy.subscription_burst if per_subscription else policy.burst
        rate = (policy.subscription_refill if per_subscription else policy.refill) / 60.0
        key = (policy.name, "subscription" if per_subscription else resource)
        left, since = tokens.get(key, (float(size), at))
        left = min(size, left + (at - since).total_seconds() * rate)
        if left >= 1:
            left -= 1
        else:
            refused += 1
        tokens[key] = (left, at)
    return refused


def naive_reads(deliveries: Iterable[Delivery]) -> list[tuple[datetime, str]]:
    """(arrival, scale set) of every instance-view read a per-event responder makes: one per
    health signal about a scale set or one of its instances."""
    from vmss_responder.parse import parse
    from vmss_responder.signals import Kind, PayloadError

    out = []
    for d in deliveries:
        try:
            parsed = parse(d.channel, d.payload, received_at=d.at)
        except PayloadError:
            continue
        out += [
            (d.at, s.scale_set.name.lower()) for s in parsed.signals if s.kind is Kind.HEALTH and s.scale_set
        ]
    return out


def _per_window(
    events: Iterable[tuple[datetime, str]], start: datetime, windows: int, sets: list[str]
) -> dict[str, Any]:
    """Max and mean per scale set per window, over every (scale set, window) of the run."""
    counts = Counter((name, int((at - start) / WINDOW)) for at, name in events if at >= start)
    cells = [counts.get((name, w), 0) for name in sets for w in range(windows)]
    return {"max": max(cells, default=0), "mean": round(sum(cells) / len(cells), 2) if cells else 0.0}


def measure(storm: Storm, processed: list[Delivery], requests: list[Any], until: datetime) -> dict[str, Any]:
    """ARM spent on the processed part of the storm, per scale set per 5 minutes, and its budgets."""
    sets = [s["name"].lower() for s in storm.fleet["scaleSets"]]
    windows = max(1, math.ceil((until - storm.start) / WINDOW))
    ours = calls(requests)
    naive = naive_reads(processed)
    by_policy: dict[str, int] = defaultdict(int)
    for c in ours:
        by_policy[c.policy.name] += 1
    per_minute = Counter((name, int((at - storm.start).total_seconds() // 60)) for at, name in naive)
    views = [(c.at, c.scale_set) for c in ours if c.instance_view]
    by_story: dict[str, list[str]] = defaultdict(list)
    for name, story in storm.stories.items():
        by_story[story].append(name.lower())
    return {
        "windowMinutes": WINDOW.total_seconds() / 60,
        "windows": windows,
        "scaleSets": len(sets),
        "coveredMinutes": round((until - storm.start).total_seconds() / 60, 1),
        "processedDeliveries": len(processed),
        "stormDeliveries": len(storm.deliveries),
        "ours": {
            "instanceViewReads": _per_window(views, storm.start, windows, sets),
            "instanceViewReadsByStory": {
                story: _per_window(views, storm.start, windows, names) for story, names in by_story.items()
            },
            "reads": _per_window(
                ((c.at, c.scale_set) for c in ours if not c.write), storm.start, windows, sets
            ),
            "writes": _per_window(((c.at, c.scale_set) for c in ours if c.write), storm.start, windows, sets),
            "totals": {
                "reads": sum(not c.write for c in ours),
                "writes": sum(c.write for c in ours),
                "instanceViewReads": sum(c.instance_view for c in ours),
                "logQueries": sum(r.kind == "logQuery" for r in requests),
                "throttledByEmulator": sum(r.status == 429 for r in requests),
            },
            "byPolicy": dict(by_policy),
            "overBudgetPerResource": over_budget((c.at, c.resource, c.policy) for c in ours),
            "overBudgetPerSubscription": over_budget(
                ((c.at, "", c.policy) for c in ours), per_subscription=True
            ),
        },
        "perEvent": {
            "instanceViewReads": _per_window(naive, storm.start, windows, sets),
            "totals": {"instanceViewReads": len(naive)},
            "maxPerScaleSetPerMinute": max(per_minute.values(), default=0),
            "overBudgetPerResource": over_budget((at, name, GET_VMSS_HIGH) for at, name in naive),
            "overBudgetPerSubscription": over_budget(
                ((at, "", GET_VMSS_HIGH) for at, _ in naive), per_subscription=True
            ),
        },
    }


def rows(result: dict[str, Any]) -> list[Row]:
    ours, peer = result["ours"], result["perEvent"]

    def span(figures: dict[str, Any]) -> str:
        return f"max {count(figures['max'])}, mean {figures['mean']:g}"

    view = ours["instanceViewReads"]
    over = ours["overBudgetPerResource"] + ours["overBudgetPerSubscription"]
    peer_over = peer["overBudgetPerResource"]
    partial = result["processedDeliveries"] < result["stormDeliveries"]
    covered = (
        f" (only the first {result['coveredMinutes']:g} min: {result['processedDeliveries']:,} of "
        f"{result['stormDeliveries']:,} deliveries)"
        if partial
        else ""
    )
    return [
        Row(
            f"ARM: scale set instance-view reads per scale set per 5 min{covered}",
            span(view),
            f"per-event responder: {span(peer['instanceViewReads'])}",
            f"max <= {TARGET_INSTANCE_VIEWS}",
            judged(
                view["max"] <= TARGET_INSTANCE_VIEWS,
                f"max {view['max']} is {view['max'] - TARGET_INSTANCE_VIEWS} over",
            ),
        ),
        Row(
            "ARM: the same, max per story of the storm",
            " · ".join(f"{story} {v['max']}" for story, v in ours["instanceViewReadsByStory"].items()),
            "",
        ),
        Row(
            "ARM: all reads per scale set per 5 min",
            span(ours["reads"]),
            f"per-event responder: {span(peer['instanceViewReads'])}",
        ),
        Row("ARM: writes per scale set per 5 min", span(ours["writes"]), "per-event responder: not counted"),
        Row(
            "ARM: requests over Compute's budgets (CRP buckets)",
            f"{count(over)} of {count(ours['totals']['reads'] + ours['totals']['writes'])}",
            f"per-event responder: {count(peer_over)} of {count(peer['totals']['instanceViewReads'])} throttled",
            "0",
            judged(over == 0, f"{over} requests over"),
        ),
        Row(
            "ARM: totals (reads / writes / log queries)",
            f"{count(ours['totals']['reads'])} / {count(ours['totals']['writes'])} / {count(ours['totals']['logQueries'])}",
            f"per-event responder: {count(peer['totals']['instanceViewReads'])} instance views",
        ),
    ]
