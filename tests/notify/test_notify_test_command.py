"""`vmss-responder notify-test`: an operator checks a channel's wiring after deployment."""

from __future__ import annotations

import json

import pytest

from vmss_responder.cli import main
from vmss_responder.notify.webhook import verify_signature

from .helpers import SECRET
from .receiver import Receiver


def test_notify_test_sends_one_signed_sample_to_the_named_channel(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VMSS_RESPONDER_WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("VMSS_RESPONDER_WEBHOOK_SECRET", SECRET)
    assert main(["notify-test", "--channel", "webhook"]) == 0
    (request,) = receiver.accepted()
    assert verify_signature(request.body, request.headers["X-VMSS-Responder-Signature"], SECRET)
    body = json.loads(request.body)
    assert body["reason"] == "test" and body["severity"] == "page"
    assert json.loads(capsys.readouterr().out) == {
        "channel": "webhook",
        "ok": True,
        "status": 202,
        "error": None,
    }


def test_notify_test_names_the_configured_channels_when_one_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("TEAMS_WEBHOOK_URL", "WEBHOOK_URL", "PAGERDUTY_ROUTING_KEY"):
        monkeypatch.delenv(f"VMSS_RESPONDER_{name}", raising=False)
    assert main(["notify-test", "--channel", "teams"]) == 2
    assert "'teams' is not configured; configured: log" in capsys.readouterr().err


def test_a_failing_receiver_makes_notify_test_fail(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    receiver.answer(404)
    monkeypatch.setenv("VMSS_RESPONDER_WEBHOOK_URL", receiver.url)
    assert main(["notify-test", "--channel", "webhook", "--severity", "resolved"]) == 1
    assert json.loads(capsys.readouterr().out)["status"] == 404
