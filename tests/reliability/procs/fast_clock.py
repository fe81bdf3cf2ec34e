"""One clock for several processes: the system clock, running a fixed factor faster.

App instances in separate processes cannot share a ``VirtualClock``; in Azure they share UTC.
Here every process maps the wall clock to story time with the same formula (story origin, wall
origin, speed), so they agree on "now" as instances agree on UTC, while a story's hour passes in
seconds and the product keeps its documented settings (hold 10 min, grace 10 min, lease 5 min, …)
instead of settings shrunk to seconds. Wall time is ``time.time()``: the one clock every process
on the machine reads alike.

The story starts once every instance answers (start-up takes from one to twenty seconds on a busy
2-core machine): until then the story's first instant stands still; the wall instant it starts
moving is written to a file, which each process reads once it appears.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path


@dataclass(frozen=True, slots=True)
class FastClock:
    origin: datetime  # story time at ``wall_origin``
    wall_origin: float  # seconds since the epoch
    speed: float  # story seconds per wall second

    def now(self) -> datetime:
        return self.origin + timedelta(seconds=(time.time() - self.wall_origin) * self.speed)


class StoryClock:
    """The product's ``Clock`` for every process of a test: ``origin`` until the story starts, then
    a FastClock from the wall instant in ``path``."""

    def __init__(self, path: Path, origin: datetime, speed: float) -> None:
        self.path = path
        self.origin = origin
        self.speed = speed
        self._clock: FastClock | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Set the story going now, for every process."""
        partial = self.path.with_suffix(".partial")
        partial.write_text(repr(time.time()))
        os.replace(partial, self.path)  # readers see the whole number or nothing

    def now(self) -> datetime:
        with self._lock:
            if self._clock is None:
                if not self.path.exists():
                    return self.origin
                self._clock = FastClock(self.origin, float(self.path.read_text()), self.speed)
            return self._clock.now()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.speed)

    def wall_seconds(self, story: timedelta) -> float:
        """How long ``story`` time lasts on the wall."""
        return story.total_seconds() / self.speed

    def wait_until(self, when: datetime) -> None:
        """Sleep until the story reaches ``when``."""
        self.sleep((when - self.now()).total_seconds())
