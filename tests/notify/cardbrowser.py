"""Render Adaptive Cards with Microsoft's JavaScript renderer in headless Chromium.

The page loads ``node_modules/adaptivecards/dist/adaptivecards.min.js`` (npm ``adaptivecards``,
the official renderer), parses each card with a ``SerializationContext`` targeting schema 1.4 (parse events: unknown
types, values and elements newer than 1.4), runs ``validateProperties()`` (semantic checks: duplicate
ids, ToggleVisibility targets, action limits), renders it, and writes a JSON report into the
DOM. Chromium prints the final DOM (``--dump-dom``), so no driver or DevTools client is needed;
the same page with one card serves ``--screenshot``.

Actions that Teams Workflows cards cannot use (``Action.Submit``, ``Action.Execute``) are
unregistered in the page, so a card using one fails to parse here as it would fail in Teams.

Used by ``tests/notify/test_cards_browser.py`` and ``scripts/render_card.py``.
"""

from __future__ import annotations

import html
import json
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
RENDERER = REPO / "node_modules" / "adaptivecards" / "dist" / "adaptivecards.min.js"
MISSING_RENDERER = f"{RENDERER} is missing: run `npm ci` at the repository root"
MISSING_CHROMIUM = "headless Chromium is missing: install it with `apt-get install -y chromium` (Debian)"
CARD_WIDTH = 720

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)

# Teams-like look for the screenshot: Segoe-ish font stack, light surface, push buttons.
_CSS = f"""
body {{ margin: 0; padding: 16px; background: #f5f5f5; font-family: "Segoe UI", "Liberation Sans", "DejaVu Sans", sans-serif; }}
.card {{ width: {CARD_WIDTH}px; background: #fff; border-radius: 6px; box-shadow: 0 1px 3px rgba(0,0,0,.2);
         overflow: hidden; margin-bottom: 16px; }}
.ac-pushButton {{ font: 600 13px "Segoe UI", "Liberation Sans", sans-serif; color: #6264a7; background: #fff;
                  border: 1px solid #d1d1d1; border-radius: 4px; padding: 6px 12px; cursor: pointer; }}
#report {{ display: none; }}
"""

_SCRIPT = """
(function () {
  var report = { cards: {}, pageErrors: [] };
  window.addEventListener("error", function (e) { report.pageErrors.push(String(e.message)); });
  try {
    var AC = window.AdaptiveCards;
    AC.GlobalRegistry.actions.unregister("Action.Submit");
    AC.GlobalRegistry.actions.unregister("Action.Execute");
    var cards = JSON.parse(document.getElementById("cards").textContent);
    var host = document.getElementById("host");
    Object.keys(cards).forEach(function (name) {
      var out = { parse: [], validation: [], rendered: false, height: 0, text: "" };
      try {
        var card = new AC.AdaptiveCard();
        var context = new AC.SerializationContext(new AC.Version(1, 4));  // what Teams renders
        card.parse(cards[name], context);
        for (var i = 0; i < context.eventCount; i++) {
          var ev = context.getEventAt(i);
          out.parse.push({ event: AC.ValidationEvent[ev.event], message: ev.message });
        }
        card.validateProperties().validationEvents.forEach(function (ev) {
          out.validation.push({ event: AC.ValidationEvent[ev.event], message: ev.message });
        });
        var element = card.render();
        if (element) {
          var frame = document.createElement("div");
          frame.className = "card";
          frame.setAttribute("data-card", name);
          frame.appendChild(element);
          host.appendChild(frame);
          out.rendered = true;
          out.height = frame.getBoundingClientRect().height;
          out.text = element.innerText;
        }
      } catch (e) {
        out.exception = String(e && e.stack || e);
      }
      report.cards[name] = out;
    });
  } catch (e) {
    report.pageErrors.push(String(e && e.stack || e));
  }
  document.getElementById("report").textContent = JSON.stringify(report);
})();
"""


@dataclass(frozen=True)
class CardReport:
    parse: list[dict[str, str]]  # renderer parse events (any is a defect)
    validation: list[dict[str, str]]  # validateProperties() events (any is a defect)
    rendered: bool
    height: float
    text: str  # innerText of the rendered card
    exception: str | None = None

    @property
    def problems(self) -> list[str]:
        found = [f"parse {e['event']}: {e['message']}" for e in self.parse]
        found += [f"validation {e['event']}: {e['message']}" for e in self.validation]
        if self.exception:
            found.append(f"exception: {self.exception}")
        if not self.rendered:
            found.append("the renderer produced no element")
        return found


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError(MISSING_CHROMIUM)


def page(cards: dict[str, dict[str, Any]]) -> bytes:
    data = json.dumps(cards).replace("</", "<\\/")
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>cards</title>"
        f"<style>{_CSS}</style><script src='/adaptivecards.min.js'></script></head><body>"
        f"<div id='host'></div><pre id='report'></pre>"
        f"<script type='application/json' id='cards'>{data}</script>"
        f"<script>{_SCRIPT}</script></body></html>"
    ).encode()


@contextmanager
def serve(pages: dict[str, bytes]) -> Iterator[str]:
    """Serve the renderer and ``pages`` (path -> HTML) on 127.0.0.1; yields the base URL."""
    if not RENDERER.exists():
        raise RuntimeError(MISSING_RENDERER)
    files = {**pages, "/adaptivecards.min.js": RENDERER.read_bytes()}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            body = files.get(self.path.split("?", 1)[0])
            if body is None:
                self.send_error(404)
                return
            kind = "text/javascript" if self.path.endswith(".js") else "text/html; charset=utf-8"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _run(args: list[str], timeout: float = 60.0) -> str:
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        done = subprocess.run(
            [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"chromium exited {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def render(cards: dict[str, dict[str, Any]]) -> dict[str, CardReport]:
    """Parse, validate and render every card (name -> AdaptiveCard JSON) in one browser run."""
    with serve({"/": page(cards)}) as base:
        dom = _run(["--window-size=800,800", "--dump-dom", f"{base}/"])
    start = dom.find('<pre id="report">')
    end = dom.find("</pre>", start)
    if start < 0 or end < 0:
        raise RuntimeError(f"no report in the page: {dom[:500]}")
    report = json.loads(html.unescape(dom[start + len('<pre id="report">') : end]))
    if report["pageErrors"]:
        raise RuntimeError(f"page errors: {report['pageErrors']}")
    return {name: CardReport(**value) for name, value in report["cards"].items()}


def screenshot(card: dict[str, Any], path: Path) -> CardReport:
    """Render one card and save a PNG of it, cropped to its height."""
    [(_, measured)] = render({"card": card}).items()
    if measured.problems:
        raise RuntimeError(f"card does not render cleanly: {measured.problems}")
    height = int(measured.height) + 48
    path.parent.mkdir(parents=True, exist_ok=True)
    with serve({"/": page({"card": card})}) as base:
        _run([f"--window-size={CARD_WIDTH + 32},{height}", f"--screenshot={path}", f"{base}/"])
    return measured
