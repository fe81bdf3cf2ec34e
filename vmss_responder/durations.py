"""Durations and timestamps as Azure and the scenario format write them.

ISO 8601 durations (``PT10M``) and timestamps come from :mod:`isodate`; the scenario
format's offsets (``+1h30m``) are parsed here because no library speaks that small dialect.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import isodate

_OFFSET = re.compile(r"^\+(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_offset(text: str) -> timedelta:
    """``+90m`` / ``+1h30m`` / ``+20s`` -> timedelta. Raises ValueError naming the problem."""
    m = _OFFSET.match(text.strip()) if isinstance(text, str) else None
    if not m or not any(m.groups()):
        raise ValueError(f"not an offset like +5m, +1h30m or +20s: {text!r}")
    h, mi, s = (int(g) if g else 0 for g in m.groups())
    return timedelta(hours=h, minutes=mi, seconds=s)


def parse_duration(text: str | timedelta) -> timedelta:
    """ISO 8601 duration (``PT10M``) -> timedelta."""
    if isinstance(text, timedelta):
        return text
    value = isodate.parse_duration(text)
    if not isinstance(value, timedelta):  # isodate returns Duration for years/months
        raise ValueError(f"duration with years or months is not supported: {text!r}")
    return value


def format_duration(value: timedelta) -> str:
    return isodate.duration_isoformat(value)


def parse_timestamp(text: str) -> datetime:
    """RFC 3339 timestamp -> aware UTC datetime. Accepts Azure's 7-digit fractions."""
    if not isinstance(text, str) or not text:
        raise ValueError(f"not a timestamp: {text!r}")
    if len(text) in (20, 27) and text[10] == "T" and text[-1] == "Z":  # our own format: every state read
        try:
            return datetime.fromisoformat(text)  # 3.11+: "Z" is UTC
        except ValueError:
            pass  # isodate below names the problem
    value = isodate.parse_datetime(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def format_timestamp(value: datetime) -> str:
    """Aware datetime -> ``2026-05-04T09:01:00Z`` (seconds precision unless fractional)."""
    value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return (
        value.isoformat(timespec="microseconds" if value.microsecond else "seconds") + "Z"
    )  # isoformat: 10x strftime
