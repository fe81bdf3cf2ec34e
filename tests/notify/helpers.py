"""Shared test data for notification tests (fixtures live in conftest.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from vmss_responder.clock import VirtualClock
from vmss_responder.config import Settings, load_settings
from vmss_responder.notify.model import Notification, Severity
from vmss_responder.notify.sample import sample_notification

from .receiver import Receiver

START = datetime(2026, 5, 4, 9, 0, tzinfo=timezone.utc)
SECRET = "whsec-7d1f0c2b9e4a4f3c8a6b5d2e1f0a9b8c"
ROUTING_KEY = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY01"
TEAMS_SIG = "sig=Zm9vYmFyYmF6cXV4c2VjcmV0c2lnbmF0dXJl"


def teams_url(r: Receiver) -> str:
    """A Workflows-like URL: the ``sig=`` query parameter is the secret."""
    return f"{r.url}?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&{TEAMS_SIG}"


def settings_for(**values: object) -> Settings:
    return load_settings(values)


def notification(
    incident: str, seq: int, at: datetime, severity: Severity = "info", reason: str | None = None
) -> Notification:
    """The sample incident's notification, renamed to ``incident`` / ``seq``."""
    n = sample_notification(severity, at)
    snapshot = {**n.incident, "id": incident}
    return replace(
        n, id=f"{incident}:{seq}", incident_id=incident, seq=seq, incident=snapshot, reason=reason or n.reason
    )


def advance(clock: VirtualClock, minutes: float) -> None:
    clock.advance(timedelta(minutes=minutes).total_seconds())
