"""At-least-once, out-of-order delivery: rewrite a scenario's timeline as Event Grid and action groups may deliver it.

Event Grid retries a delivery it did not see acknowledged, and action groups each call their
webhook independently, so every payload may arrive more than once; neither promises order. The
rewrite keeps what happened (fleet, Activity Log and rerun steps stay at their instants, event
times inside payloads are untouched) and changes only how the news of it arrives:

* each ``deliver`` step is sent 1 to ``max_copies`` times;
* each copy arrives at its step's instant plus a random skew of 0 to ``max_skew`` (never after
  ``until``), so copies of different steps overtake each other;
* a further copy of an Event Grid or CloudEvents batch of several events may be re-batched, one
  event per delivery, as a redelivery need not repeat the original batch: then only the
  semantic deduplication of signals, not the byte-identical delivery check, catches it.

Everything is drawn from the plan's seed and the scenario's name, so a rewritten scenario is as
reproducible as the original.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from .scenario import Scenario, Step

BATCHED_CHANNELS = ("eventgrid", "cloudevents")


@dataclass(frozen=True)
class RedeliveryPlan:
    seed: int
    max_copies: int = 3
    max_skew: timedelta = timedelta(minutes=3)
    rebatch: bool = True

    def __post_init__(self) -> None:
        if self.max_copies < 1:
            raise ValueError("max_copies must be at least 1")
        if self.max_skew < timedelta(0):
            raise ValueError("max_skew must not be negative")


@dataclass(frozen=True)
class RedeliveryStats:
    """What the rewrite did to one scenario's deliveries."""

    deliveries: int  # deliver steps in the scenario
    sent: int  # deliveries in the rewritten timeline
    duplicates: int  # sent beyond one per original delivery
    reordered: int  # deliveries that arrive after one whose original step came later
    rebatched: int  # copies of a batch sent one event per delivery
    max_delay: timedelta  # the largest skew given to a copy

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "max_delay": self.max_delay.total_seconds()}


def redeliver(scenario: Scenario, plan: RedeliveryPlan) -> tuple[Scenario, RedeliveryStats]:
    """``scenario`` with its deliveries repeated and shuffled as ``plan`` says, and what changed."""
    rng = random.Random(f"{scenario.name}/{plan.seed}")  # scenarios with the same seed draw differently
    skew_seconds = int(plan.max_skew.total_seconds())
    arrivals: list[tuple[timedelta, int, int, Step]] = []  # (at, original position, copy, step)
    rebatched, max_delay, deliveries = 0, timedelta(0), 0
    for position, step in enumerate(scenario.timeline):
        if step.kind != "deliver":
            arrivals.append((step.at, position, 0, step))
            continue
        deliveries += 1
        for copy in range(rng.randint(1, plan.max_copies)):
            delay = timedelta(seconds=rng.randint(0, skew_seconds))
            at = min(step.at + delay, scenario.until)
            max_delay = max(max_delay, at - step.at)
            bodies = _bodies(step.body, split=copy > 0 and plan.rebatch and rng.random() < 0.5)
            rebatched += len(bodies) > 1
            arrivals.extend((at, position, copy, Step(step.index, at, "deliver", body)) for body in bodies)
    arrivals.sort(key=lambda a: (a[0], a[1], a[2]))
    sent = [a for a in arrivals if a[3].kind == "deliver"]
    reordered, latest = 0, -1
    for _, position, _, _ in sent:
        if position < latest:
            reordered += 1
        latest = max(latest, position)
    timeline = [dataclasses.replace(step, index=i) for i, (_, _, _, step) in enumerate(arrivals)]
    stats = RedeliveryStats(deliveries, len(sent), len(sent) - deliveries, reordered, rebatched, max_delay)
    return dataclasses.replace(scenario, timeline=timeline), stats


def _bodies(body: dict[str, Any], *, split: bool) -> list[dict[str, Any]]:
    """The delivery as sent, or one delivery per event when a batch is re-batched."""
    payload = body["payload"]
    if split and body["channel"] in BATCHED_CHANNELS and isinstance(payload, list) and len(payload) > 1:
        return [{**body, "payload": [event]} for event in payload]
    return [body]
