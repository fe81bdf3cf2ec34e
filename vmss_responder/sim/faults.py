"""Seeded random ARM faults: a share of the emulator's requests fail as a degraded ARM would fail them.

:class:`FaultPlan` says how often and how (``rate`` of the eligible requests; the kinds of failure;
the range of ``Retry-After`` a 429 carries); :class:`RandomFaults` draws from it. A draw depends
only on the seed, the request (method and path) and how many times that request came before, so
a replay under faults is as deterministic as a plain one, and a change that adds or drops some
other request does not move the faults of this one.

The kinds of failure, as the SDK sees them:

* ``429``: throttled before anything is done, with ``Retry-After`` drawn log-uniformly from the
  range (1 s to 1,200 s covers both "retry in a moment" and CRP's documented 1,200 s);
* ``500`` / ``503``: a server error before anything is done;
* ``drop``: the connection closes before anything is done (the SDK gets no answer);
* ``lost``: the request is performed, then the connection closes before the answer: the caller
  cannot tell whether its POST happened (a timeout in Azure). Off unless asked for.
"""

from __future__ import annotations

import math
import random
import threading
from collections import Counter
from dataclasses import dataclass

from .fleet_state import Fault

FAULT_KINDS = ("429", "500", "503", "drop", "lost")
DEFAULT_KINDS = ("429", "500", "503", "drop")
ARM_REQUESTS = frozenset({"read", "write"})  # the request kinds of arm_api: read | write | poll | logQuery


@dataclass(frozen=True)
class FaultPlan:
    """Fail ``rate`` of the requests whose kind is in ``request_kinds``, each with one of ``kinds`` (equally likely)."""

    rate: float
    kinds: tuple[str, ...] = DEFAULT_KINDS
    retry_after: tuple[float, float] = (1.0, 1200.0)  # seconds, for 429
    seed: int | str = 0
    request_kinds: frozenset[str] = ARM_REQUESTS
    limit: int | None = None  # at most this many faults, then none (e.g. 1: only the first write fails)

    def __post_init__(self) -> None:
        if not 0 <= self.rate <= 1:
            raise ValueError(f"fault rate must be within 0..1, not {self.rate}")
        unknown = [k for k in self.kinds if k not in FAULT_KINDS]
        if unknown or not self.kinds:
            raise ValueError(f"fault kinds must be among {', '.join(FAULT_KINDS)}; got {list(self.kinds)}")
        low, high = self.retry_after
        if not 0 < low <= high:
            raise ValueError(f"retry_after must be a range 0 < low <= high, not {self.retry_after}")
        if self.limit is not None and self.limit < 0:
            raise ValueError(f"limit must not be negative, not {self.limit}")


class RandomFaults:
    """Draws faults for a :class:`FaultPlan` (the emulator's request log says which were injected)."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self._lock = threading.Lock()
        self._left = plan.limit
        self._made: Counter[str] = Counter()

    def draw(self, request_kind: str, request: str = "") -> Fault | None:
        """The fault for a request of ``request_kind``; ``request`` names it (``"GET /subscriptions/…"``)."""
        if request_kind not in self.plan.request_kinds:
            return None
        with self._lock:
            self._made[request] += 1
            rng = random.Random(f"{self.plan.seed}|{request}|{self._made[request]}")
            if self._left == 0 or rng.random() >= self.plan.rate:
                return None
            if self._left is not None:
                self._left -= 1
            kind = rng.choice(self.plan.kinds)
            if kind == "429":
                low, high = self.plan.retry_after
                seconds = math.exp(rng.uniform(math.log(low), math.log(high)))
                return Fault(429, float(max(1, round(seconds))))
            if kind in ("drop", "lost"):
                return Fault(0, after=kind == "lost")
            return Fault(int(kind))
