"""Sentences a person can read at 3 a.m.: what happened, what explains it, what was done."""

from __future__ import annotations

from datetime import datetime

from ..config import Settings
from ..signals import OpCategory
from .state import Operation

_VERBS = {
    "poweroff": "powered off",
    "deallocate": "deallocated",
    "start": "started",
    "restart": "restarted",
    "redeploy": "redeployed",
    "reimage": "reimaged",
    "reimageall": "reimaged",
    "delete": "deleted instances of",
    "write": "updated the model or capacity of",
    "manualupgrade": "upgraded",
    "performmaintenance": "ran maintenance on",
}


def describe_operation(op: Operation) -> str:
    """'autoscale scaled in from 6 to 4' / 'ops@contoso.com powered off instances 1, 2'."""
    if op.category is OpCategory.SCALE:
        who = "autoscale" if "autoscale" in (op.caller or op.operation).lower() else (op.caller or "someone")
        if op.old_capacity is not None and op.new_capacity is not None:
            verb = "scaled out" if op.new_capacity > op.old_capacity else "scaled in"
            return f"{who} {verb} from {op.old_capacity} to {op.new_capacity}"
        verb = (
            "scaled out"
            if "scaleup" in op.operation.lower()
            else "scaled in"
            if "scaledown" in op.operation.lower()
            else "scaled"
        )
        return f"{who} {verb}"
    parts = [p for p in op.operation.lower().split("/") if p and p != "action"]
    leaf = parts[-1] if parts else op.operation
    verb = _VERBS.get(leaf, leaf)
    target = (
        f"instance{'s' if len(op.instance_ids) > 1 else ''} {', '.join(op.instance_ids)}"
        if op.instance_ids
        else "the scale set"
    )
    who = op.caller or "an unknown caller"
    return f"{who} {verb} {target}"


def operation_reference(op: Operation, settings: Settings) -> str:
    bits = []
    if op.key and "|" not in op.key:
        bits.append(f"correlation {op.key}")
    if op.channel == "activity_log":
        bits.append("found in the Activity Log, not delivered")
    else:
        bits.append(f"via {op.channel}")
    if op.ended:
        bits.append(f"completed {op.ended:%H:%M:%SZ}")
    else:
        bits.append(
            f"no completion seen; assumed within {int(settings.operation_max_duration.total_seconds() // 60)} min"
        )
    return "; ".join(bits)


def minutes_between(a: datetime, b: datetime) -> int:
    return max(0, round((b - a).total_seconds() / 60))
