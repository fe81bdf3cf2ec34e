"""The generic webhook: schema-valid, signed bodies delivered over real HTTP."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from vmss_responder.clock import VirtualClock
from vmss_responder.notify import webhook
from vmss_responder.notify.sample import sample_digest, sample_notification
from vmss_responder.notify.senders import HttpPoster, Redactor, WebhookSender

from .cards import worst_case
from .helpers import SECRET, START
from .receiver import Receiver

DOCS = Path(__file__).resolve().parents[2] / "docs"
SCHEMA_PATH = DOCS / "webhook-schema.v1.json"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def deliver(
    receiver: Receiver, client: httpx.Client, clock: VirtualClock, secret: str | None, n: Any
) -> None:
    sender = WebhookSender(receiver.url, secret, HttpPoster(client, clock, Redactor([secret])), clock)
    assert sender.send(n).ok


def test_delivered_body_is_schema_valid_and_signed(
    receiver: Receiver, client: httpx.Client, clock: VirtualClock, validator: jsonschema.Draft202012Validator
) -> None:
    n = sample_notification("page", START)
    deliver(receiver, client, clock, SECRET, n)
    [request] = receiver.accepted()
    body = json.loads(request.body)
    assert not list(validator.iter_errors(body))
    assert body["schemaVersion"] == "1.0" and body["type"] == "vmss-responder.notification"
    assert body["id"] == n.id and body["incident"]["findings"][0]["code"] == "repairs_disabled"
    assert body["actions"][0] | {"mode": "shadow", "op": "restart_instance"} == body["actions"][0]
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert headers["x-vmss-responder-delivery"] == n.id
    assert headers["x-vmss-responder-timestamp"] == str(int(START.timestamp()))
    assert headers["content-type"].startswith("application/json")
    signature = headers["x-vmss-responder-signature"]
    assert webhook.verify_signature(request.body, signature, SECRET)
    assert not webhook.verify_signature(request.body, signature, SECRET + "x")
    assert not webhook.verify_signature(
        request.body.replace(b"vmss-search", b"vmss-searcH"), signature, SECRET
    )
    assert not webhook.verify_signature(request.body, None, SECRET)
    assert not webhook.verify_signature(request.body, signature.removeprefix("sha256="), SECRET)


def test_without_a_secret_the_body_is_sent_unsigned(
    receiver: Receiver, client: httpx.Client, clock: VirtualClock
) -> None:
    deliver(receiver, client, clock, None, sample_notification("info", START))
    [request] = receiver.accepted()
    assert "x-vmss-responder-signature" not in {k.lower() for k in request.headers}


def test_every_kind_of_notification_matches_the_schema(validator: jsonschema.Draft202012Validator) -> None:
    kinds = [sample_notification(s, START) for s in ("page", "info", "resolved")]
    kinds += [sample_notification("info", START, reason="test"), sample_digest(START), worst_case(START)]
    for n in kinds:
        errors = list(validator.iter_errors(webhook.build_payload(n)))
        assert not errors, (n.reason, [e.message[:200] for e in errors[:3]])


def test_payload_fields_are_exactly_the_documented_ones(schema: dict[str, Any]) -> None:
    """No undocumented field creeps into the body: every key is in the schema, at every level."""
    payload = webhook.build_payload(sample_notification("page", START))
    assert set(payload) == set(schema["properties"])
    defs = schema["$defs"]
    assert set(payload["scaleSet"]) == set(defs["scaleSet"]["properties"])
    assert set(payload["incident"]) == set(defs["incident"]["properties"])
    assert set(payload["incident"]["findings"][0]) == set(defs["finding"]["properties"])
    assert set(payload["incident"]["timeline"][0]) == set(defs["timelineEntry"]["properties"])
    assert set(payload["actions"][0]) == set(defs["action"]["properties"])
    assert set(payload["nextSteps"][0]) == set(defs["nextStep"]["properties"])
    digest = webhook.build_payload(sample_digest(START))
    assert set(digest["digest"][0]) == set(defs["digestEntry"]["properties"])
    assert digest["incident"] is None and digest["scaleSet"] is None


def test_long_timelines_keep_the_newest_hundred() -> None:
    payload = webhook.build_payload(worst_case(START))
    assert len(payload["incident"]["timeline"]) == webhook.MAX_TIMELINE
    assert payload["incident"]["timelineOmitted"] == 1000 - webhook.MAX_TIMELINE
    assert payload["incident"]["timeline"][-1]["at"] == "2026-05-04T08:59:59Z"


def test_body_bytes_are_identical_on_every_retry() -> None:
    n = sample_notification("page", START)
    assert webhook.body_bytes(webhook.build_payload(n)) == webhook.body_bytes(webhook.build_payload(n))


def test_the_documented_example_is_what_the_sample_page_sends(
    validator: jsonschema.Draft202012Validator,
) -> None:
    text = (DOCS / "webhooks.md").read_text(encoding="utf-8")
    section = text.split("## The body", 1)[1]
    example = json.loads(section.split("```json", 1)[1].split("```", 1)[0])
    assert not list(validator.iter_errors(example))
    sent_at = datetime(2026, 5, 4, 9, 13, tzinfo=timezone.utc)
    assert example == webhook.build_payload(sample_notification("page", sent_at))
    assert f"X-VMSS-Responder-Timestamp: {int(sent_at.timestamp())}" in text
