"""The only source of time in the product.

Everything that needs "now" or wants to wait takes a :class:`Clock`. Production uses
:class:`SystemClock`; replay, tests and benchmarks use :class:`VirtualClock`, whose ``sleep``
advances virtual time instantly, so hours of platform behaviour replay in milliseconds.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Wall-clock time (UTC)."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin, for measuring durations (benchmarks, timeouts)."""
        return time.perf_counter()


class VirtualClock:
    """Virtual time: ``sleep`` advances it without waiting. Thread-safe."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("VirtualClock needs an aware datetime")
        self._now = start.astimezone(timezone.utc)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)

    def set(self, when: datetime) -> None:
        """Move to ``when``; virtual time never runs backwards."""
        with self._lock:
            if when > self._now:
                self._now = when


def utc(text: str) -> datetime:
    """Parse an RFC 3339 / ISO 8601 timestamp (Azure's 7-digit fractions included) as aware UTC."""
    from .durations import parse_timestamp

    return parse_timestamp(text)
