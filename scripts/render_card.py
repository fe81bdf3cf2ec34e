"""Render the sample page notification as a Teams card in headless Chromium and save a PNG.

    .venv/bin/python scripts/render_card.py [--severity page|info|resolved|digest] [--out docs/img/teams-card-page.png]

Uses Microsoft's Adaptive Cards renderer (npm ``adaptivecards``; run ``npm ci`` first) and the
system Chromium (``apt-get install -y chromium``). The card is the exact one the Teams channel
posts for the sample incident in ``vmss_responder/notify/sample.py``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.notify.cardbrowser import screenshot  # noqa: E402
from vmss_responder.notify import teams  # noqa: E402
from vmss_responder.notify.sample import sample_digest, sample_notification  # noqa: E402

SAMPLE_TIME = datetime(2026, 5, 4, 9, 13, tzinfo=timezone.utc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--severity", choices=["page", "info", "resolved", "digest"], default="page")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img" / "teams-card-page.png")
    args = parser.parse_args(argv)
    if args.severity == "digest":
        notification = sample_digest(SAMPLE_TIME)
    else:
        notification = sample_notification(args.severity, SAMPLE_TIME)
    card = teams.build_message(notification)["attachments"][0]["content"]
    report = screenshot(card, args.out)
    print(f"wrote {args.out} ({int(report.height)} px tall card)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
