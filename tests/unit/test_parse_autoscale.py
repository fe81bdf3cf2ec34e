"""The autoscale notification webhook: a STARTED scale operation that joins the Activity Log's."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from vmss_responder.parse import parse
from vmss_responder.signals import Kind, OpCategory, PayloadError, Phase

DELIVERIES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "scenario-deliveries"
RECEIVED = datetime(2026, 5, 4, 12, 0, tzinfo=timezone.utc)


def scale_in_deliveries() -> list[dict]:
    return json.loads((DELIVERIES / "scale-in-transient-degraded.json").read_text())["deliveries"]


def webhook() -> dict:
    """Scale In of vmss-search from 6 to 4."""
    return copy.deepcopy(scale_in_deliveries()[0]["payload"])


def test_scale_in_webhook_is_a_started_scale_operation():
    parsed = parse("autoscale", webhook(), received_at=RECEIVED)
    assert parsed.ignored == []
    [signal] = parsed.signals
    assert (signal.kind, signal.category, signal.phase) == (Kind.OPERATION, OpCategory.SCALE, Phase.STARTED)
    assert signal.operation == "Microsoft.Insights/AutoscaleSettings/Scaledown/Action"
    assert (signal.old_capacity, signal.new_capacity) == (6, 4)
    assert signal.caller == "Microsoft.Insights/autoscaleSettings"
    assert signal.correlation_id is None
    assert signal.scale_set.name == "vmss-search"
    assert signal.event_time == datetime(2026, 5, 4, 9, 0, tzinfo=timezone.utc)
    setting = webhook()["context"]["id"]
    assert signal.source_id == f"{setting}|2026-05-04T09:00:00.0000000Z|4"
    assert signal.detail == (
        "Operation scale in on vmss-search started: 6 -> 4 instances "
        "(Microsoft.Insights/AutoscaleSettings/Scaledown/Action, by Microsoft.Insights/autoscaleSettings) "
        "via autoscale webhook (autoscale-vmss-search)"
    )


def test_webhook_names_the_same_operation_as_the_autoscale_alert():
    """The correlator joins them on scale set and operation; only the phase differs."""
    hook = parse("autoscale", webhook(), received_at=RECEIVED).signals[0]
    alert = parse("alert", scale_in_deliveries()[5]["payload"], received_at=RECEIVED).signals[0]
    assert (hook.scale_set, hook.operation.lower(), hook.new_capacity) == (
        alert.scale_set,
        alert.operation.lower(),
        alert.new_capacity,
    )
    assert (hook.phase, alert.phase) == (Phase.STARTED, Phase.SUCCEEDED)


def test_scale_out_and_numeric_capacities():
    payload = webhook()
    payload["operation"] = "Scale Out"
    payload["context"].update(oldCapacity=4, newCapacity=6)
    [signal] = parse("autoscale", payload, received_at=RECEIVED).signals
    assert signal.operation == "Microsoft.Insights/AutoscaleSettings/Scaleup/Action"
    assert (signal.old_capacity, signal.new_capacity) == (4, 6)


def test_redelivery_has_the_same_identity():
    first = parse("autoscale", webhook(), received_at=RECEIVED).signals[0]
    again = parse(
        "autoscale", webhook(), received_at=datetime(2026, 5, 4, 13, 0, tzinfo=timezone.utc)
    ).signals[0]
    assert (first.source_id, first.dedup_key) == (again.source_id, again.dedup_key)


def test_a_setting_for_another_resource_is_ignored():
    payload = webhook()
    payload["context"]["resourceId"] = (
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/serverfarms/plan"
    )
    parsed = parse("autoscale", payload, received_at=RECEIVED)
    assert parsed.signals == []
    assert parsed.ignored[0].reason == "not about a scale set: Microsoft.Web/serverfarms 'plan'"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p.update(operation="Scale Sideways"), "operation"),
        (lambda p: p.pop("operation"), "operation"),
        (lambda p: p.pop("context"), "context"),
        (lambda p: p["context"].pop("resourceId"), "context.resourceId"),
        (lambda p: p["context"].update(newCapacity="six"), "context.newCapacity"),
        (lambda p: p["context"].pop("oldCapacity"), "context.oldCapacity"),
        (lambda p: p["context"].update(timestamp="soon"), "context.timestamp"),
        (
            lambda p: p["context"].update(resourceId=p["context"]["resourceId"] + "/../x"),
            "context.resourceId",
        ),
    ],
)
def test_malformed_webhooks_name_the_field(mutate, field):
    payload = webhook()
    mutate(payload)
    with pytest.raises(PayloadError) as raised:
        parse("autoscale", payload, received_at=RECEIVED)
    assert raised.value.field == field


def test_body_must_be_an_object():
    with pytest.raises(PayloadError) as raised:
        parse("autoscale", [webhook()], received_at=RECEIVED)
    assert raised.value.field == "$"
