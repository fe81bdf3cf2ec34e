"""Notifications of made-up incidents, for the in-process outbox tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from vmss_responder.clock import Clock, VirtualClock
from vmss_responder.config import Settings, load_settings
from vmss_responder.notify.model import Notification
from vmss_responder.notify.outbox import Outbox
from vmss_responder.notify.sample import sample_notification

from .receiver import WebhookReceiver

START = datetime(2026, 5, 4, 9, 0, tzinfo=timezone.utc)


def incident_note(incident: str, clock: Clock) -> Notification:
    """The opening notification of ``incident`` (the product's sample incident, renamed)."""
    sample = sample_notification("info", clock.now())
    return replace(
        sample, id=f"{incident}:1", incident_id=incident, seq=1, incident={**sample.incident, "id": incident}
    )


def storm_settings(receiver: WebhookReceiver) -> Settings:
    """The webhook channel, with a storm digest from the second incident within five minutes."""
    return load_settings(
        {
            "webhookUrl": receiver.url,
            "webhookSecret": receiver.secret,
            "digestThreshold": 2,
            "digestWindow": "PT5M",
        }
    )


def hold_a_storm(outbox: Outbox, clock: VirtualClock) -> None:
    """inc-0 goes out alone; inc-1 and inc-2 are held for a digest, whose window has ended after."""
    outbox.enqueue(incident_note("inc-0", clock))
    outbox.deliver_due()
    outbox.enqueue(incident_note("inc-1", clock))
    outbox.enqueue(incident_note("inc-2", clock))
    outbox.deliver_due()
    clock.advance(6 * 60)
