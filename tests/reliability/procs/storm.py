"""A storm: several scenario stories at once on one fleet, each delivery sent 1-3 times.

The stories are the scenario library's own (real payload shapes, real failure stories), merged
onto one fleet and one timeline: a story's fleet changes and Activity Log entries happen at their
times, its deliveries are POSTed to the app instances over HTTP as Event Grid and action groups
would: each one to 1-3 instances (redeliveries and copies racing each other), a copy that gets
no 2xx tried again until one does (Event Grid and action groups retry).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from tests.azurite import REPO_ROOT
from vmss_responder.sim.emulator import ArmEmulator
from vmss_responder.sim.scenario import Scenario, parse_scenario

from .fast_clock import StoryClock

SCENARIOS = REPO_ROOT / "scenarios"
# What each instance may do: the union of what the stories allow (run_command left out: it would
# add a diagnostic step to every incident).
ACT = {
    "mode": "act",
    "allowedActions": ["resume_repairs", "restart_instance", "reimage_instance", "replace_instance"],
}
ROUTES = {
    "eventgrid": ("/api/eventgrid", {"aeg-event-type": "Notification"}),
    "cloudevents": ("/api/eventgrid", {"aeg-event-type": "Notification", "content-type": "application/cloudevents-batch+json"}),
    "alert": ("/api/alerts", {}),
    "autoscale": ("/api/autoscale", {}),
}  # fmt: skip
MAX_COPIES = 3
COPY_SPREAD = timedelta(
    minutes=2
)  # later copies arrive within this (Event Grid's first retries: 10 s, 30 s, 1 min)
RETRY_WALL_SECONDS = 0.3  # before a copy that got no 2xx is sent again


def merged(stories: Sequence[str], until: str, name: str = "storm") -> Scenario:
    """One scenario holding every story's scale sets and timeline, with the act-mode settings."""
    docs = [json.loads((SCENARIOS / f"{story}.json").read_text()) for story in stories]
    if len({d["start"] for d in docs}) != 1 or len({d["fleet"]["subscriptionId"] for d in docs}) != 1:
        raise ValueError("stories to merge must share their start and subscription")
    return parse_scenario(
        {
            "name": name,
            "start": docs[0]["start"],
            "until": until,
            "config": ACT,
            "fleet": {
                "subscriptionId": docs[0]["fleet"]["subscriptionId"],
                "scaleSets": [s for d in docs for s in d["fleet"]["scaleSets"]],
            },
            "timeline": [step for d in docs for step in d["timeline"]],
        }
    )


@dataclass(frozen=True, slots=True)
class Copy:
    delivery: int  # index into Storm.deliveries
    at: datetime  # story time it is sent
    target: int  # app instance


@dataclass(slots=True)
class Sent:
    delivery: int
    target: int
    status: int | None  # None: no answer (connection refused or dropped)
    detail: str = ""


@dataclass(slots=True)
class Storm:
    scenario: Scenario
    copies: list[Copy]
    deliveries: list[tuple[str, Any]] = field(default_factory=list)  # (channel, payload)
    sent: list[Sent] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def plan(cls, scenario: Scenario, instances: int, rng: random.Random) -> Storm:
        """Each delivery to 1-3 instances (distinct while there are enough), later copies within COPY_SPREAD."""
        deliveries, copies = [], []
        for step in scenario.timeline:
            if step.kind != "deliver" or step.at > scenario.until:
                continue
            index = len(deliveries)
            deliveries.append((step.body["channel"], step.body["payload"]))
            at = scenario.start + step.at
            count = rng.randint(1, MAX_COPIES)
            targets = (
                rng.sample(range(instances), count)
                if count <= instances
                else [rng.randrange(instances) for _ in range(count)]
            )
            for n, target in enumerate(targets):
                # the first on time; the others at once (racing it) or a little later (a redelivery)
                delay = timedelta(0) if n == 0 or rng.random() < 0.5 else COPY_SPREAD * rng.random()
                copies.append(Copy(index, at + delay, target))
        return cls(scenario, sorted(copies, key=lambda c: c.at), deliveries)

    @property
    def duplicates(self) -> int:
        return len(self.copies) - len(self.deliveries)

    def accepted(self) -> set[int]:
        """Deliveries at least one instance acknowledged with a 2xx: those must not be lost."""
        with self._lock:
            return {s.delivery for s in self.sent if s.status is not None and 200 <= s.status < 300}

    def answers(self) -> dict[str, int]:
        with self._lock:
            out: dict[str, int] = {}
            for s in self.sent:
                key = "no answer" if s.status is None else str(s.status)
                out[key] = out.get(key, 0) + 1
            return out

    def run(
        self,
        clock: StoryClock,
        arm: ArmEmulator,
        urls: Callable[[int], str],
        api_key: str,
        *,
        on_send: Callable[[Copy, int], None] = lambda _copy, _ordinal: None,
        give_up_after: float = 120.0,
    ) -> None:
        """Play the timeline on the clock; returns when every copy has had a 2xx.

        ``on_send`` hears of each copy (and its ordinal in ``copies``) as its first POST starts."""
        events: list[tuple[datetime, int, Any]] = [(c.at, 1 + n, c) for n, c in enumerate(self.copies)]
        events += [
            (self.scenario.start + s.at, 0, s)
            for s in self.scenario.timeline
            if s.kind in ("fleet", "activityLog") and s.at <= self.scenario.until
        ]
        events.sort(key=lambda e: (e[0], e[1]))
        with (
            httpx.Client(timeout=60, headers={"x-functions-key": api_key}) as client,
            ThreadPoolExecutor(16, thread_name_prefix="storm") as pool,
        ):
            futures = []
            for at, order, event in events:
                clock.wait_until(at)
                if isinstance(event, Copy):
                    futures.append(pool.submit(self._send, client, urls, event, give_up_after))
                    on_send(event, order - 1)
                elif event.kind == "fleet":
                    arm.fleet.apply_step(event.body, clock.now())
                else:
                    arm.add_activity(event.body, clock.now())
            for future in futures:
                future.result()

    def _send(
        self, client: httpx.Client, urls: Callable[[int], str], copy: Copy, give_up_after: float
    ) -> None:
        """POST one copy; without a 2xx, again (to the same instance) until one comes."""
        channel, payload = self.deliveries[copy.delivery]
        path, headers = ROUTES[channel]
        deadline = time.monotonic() + give_up_after
        while True:
            try:
                response = client.post(urls(copy.target) + path, json=payload, headers=headers)
                sent = Sent(copy.delivery, copy.target, response.status_code, response.text[:200])
            except httpx.TransportError as exc:
                sent = Sent(copy.delivery, copy.target, None, type(exc).__name__)
            with self._lock:
                self.sent.append(sent)
            if sent.status is not None and 200 <= sent.status < 300:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"delivery {copy.delivery} to app{copy.target} never got a 2xx: {sent}")
            time.sleep(RETRY_WALL_SECONDS)
