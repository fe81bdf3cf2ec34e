"""Every Teams card the product produces renders cleanly in Microsoft's renderer in real Chromium.

Needs ``npm ci`` (the ``adaptivecards`` package) and Chromium (``apt-get install -y chromium``);
both are part of the test set-up, so a missing one fails the test instead of skipping it.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from vmss_responder.notify import teams
from vmss_responder.notify.sample import sample_notification

from . import cardbrowser
from .cards import card_of, catalogue
from .helpers import START

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def rendered() -> dict[str, cardbrowser.CardReport]:
    try:
        cardbrowser.chromium()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    if not cardbrowser.RENDERER.exists():
        pytest.fail(cardbrowser.MISSING_RENDERER, pytrace=False)
    return cardbrowser.render({name: card_of(m) for name, m in catalogue(START).items()})


def test_every_card_parses_validates_and_renders_without_a_single_event(
    rendered: dict[str, cardbrowser.CardReport],
) -> None:
    assert set(rendered) == set(catalogue(START))
    problems = {name: r.problems for name, r in rendered.items() if r.problems}
    assert not problems
    assert all(r.height > 100 for r in rendered.values())


def test_rendered_cards_show_their_content(rendered: dict[str, cardbrowser.CardReport]) -> None:
    page = rendered["page"].text
    assert "vmss-search: instance 3 Unhealthy and automatic repairs are off" in page
    assert "Restart instance on 3: shadow, skipped" in page
    assert "Open in Azure portal" in page and "Timeline" in page and "Rerun" in page
    assert "6 incidents on 3 scale sets" in rendered["digest"].text
    assert "more instances (see the portal)" in rendered["worst-case"].text


def test_the_renderer_rejects_what_workflows_cards_cannot_do() -> None:
    """The harness is strict: Action.Submit (no post-back in Workflows) and a 1.5 element both fail."""
    base = card_of(teams.build_message(sample_notification("info", START)))
    bad = {
        "submit": {**base, "actions": [{"type": "Action.Submit", "title": "Ack"}]},
        "newer-than-1.4": {**base, "body": [*base["body"], {"type": "Table", "rows": []}]},
    }
    reports = cardbrowser.render(bad)
    assert all(reports[name].problems for name in bad), {n: r.problems for n, r in reports.items()}


def test_screenshot_of_the_page_card(tmp_path: Path) -> None:
    path = tmp_path / "page.png"
    card = card_of(teams.build_message(sample_notification("page", START)))
    report = cardbrowser.screenshot(card, path)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width == cardbrowser.CARD_WIDTH + 32
    assert height == int(report.height) + 48
    assert len(data) > 20_000  # a real rendering, not a blank page
