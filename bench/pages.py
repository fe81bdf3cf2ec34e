"""Pages compared: our responder, a real Alertmanager configured to do the same job, and a naive
responder, on every scenario of the library (``scenarios/*.json``).

- **Ours**: the replay report (:func:`vmss_responder.sim.replay.replay`): notifications of
  severity ``page`` (one per incident opened or escalated; updates and closings are not pages).
- **Naive**: what an Activity Log alert on Resource Health with an action group does today:
  one notification per unhealthy health event (Degraded or Unavailable), counted once per event
  even when two channels deliver it (so the figure is the naive responder's floor).
- **Alertmanager**: the same deliveries, in order, into a real Alertmanager
  (:mod:`bench.alertmanager`, the team's configuration with its inhibition rule). It runs on
  the wall clock, so the scenarios are replayed with **compressed time**: every virtual second
  lasts ``1/factor`` real seconds (default ``factor`` 300: 90 virtual minutes in 18 s), and
  Alertmanager's timers are divided by the same factor, so its grouping and inhibition see the
  same relative timing as in real life. All scenarios are replayed at once into one
  Alertmanager, each under its own ``scenario`` label (in ``group_by`` and in the inhibition's
  ``equal``), which keeps them as apart as separate Alertmanagers would be. The feeder records
  how late each post was; the result reports the worst lag in virtual seconds.

The bridge (:func:`bridge_posts`) is what a team would put between Azure and Alertmanager,
doing its best with the same settings as our responder (the scenario's ``config``):

- a health alert fires only after the resource has been unhealthy for ``holdPeriod`` (a
  Prometheus rule's ``for:``), and resolves when Resource Health reports it Available;
- an operation alert fires from the operation's start until it completed plus
  ``settlePeriod`` (Prometheus's ``keep_firing_for``), or for ``operationMaxDuration`` plus
  ``settlePeriod`` when no completion arrives: exactly the window our engine lets an operation
  explain health (``engine/state.py``); while it fires it inhibits health alerts on its scale set;
- signals outside the scenario's ``scopes`` are dropped, as an alert rule scoped to the same
  resources would never send them; deliveries our parser rejects are dropped too.

Alertmanager's pages are counted like ours: a firing notification that opens a notification
thread (no earlier firing notification for its group, or the last one was resolved), as a
PagerDuty receiver keyed on the group opens an incident. Every firing notification is also
reported (what a chat receiver would post).
"""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.alertmanager import Alertmanager, Timers, alert, alert_labels, running, version
from bench.report import Row
from vmss_responder.clock import SystemClock
from vmss_responder.durations import format_timestamp
from vmss_responder.signals import Availability, Kind, PayloadError, Phase, Signal

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
DEFAULT_FACTOR = 300.0
LEAD_SECONDS = 0.5  # real time between starting the clock and the first post


@dataclass(frozen=True, slots=True)
class Post:
    """One alert the bridge sends at virtual time ``at``; ``ends`` set means it resolves it."""

    at: datetime
    labels: dict[str, str]
    starts: datetime
    ends: datetime | None = None


# ------------------------------------------------------------------ the bridge (pure)


class _Bridge:
    """The team's bridge for one scenario, on virtual time; :meth:`advance` fires due timers."""

    def __init__(self, hold: timedelta, settle: timedelta, op_max: timedelta) -> None:
        self.hold, self.settle, self.op_max = hold, settle, op_max
        self.posts: list[Post] = []
        self.pending: dict[tuple[str, str], tuple[datetime, dict[str, str]]] = {}  # health: fires at
        self.firing: dict[tuple[str, str], tuple[datetime, dict[str, str]]] = {}  # health: fired at
        self.ops: dict[tuple[str, str, str], tuple[datetime, datetime, dict[str, str]]] = {}  # starts, ends

    def advance(self, until: datetime) -> None:
        for key, (at, labels) in sorted(self.pending.items(), key=lambda item: item[1][0]):
            if at <= until:
                del self.pending[key]
                self.firing[key] = (at, labels)
                self.posts.append(Post(at, labels, at))
        for key, (starts, ends, labels) in sorted(self.ops.items(), key=lambda item: item[1][1]):
            if ends <= until:
                del self.ops[key]
                self.posts.append(Post(ends, labels, starts, ends))

    def signal(self, at: datetime, sig: Signal, labels: dict[str, str]) -> None:
        assert sig.scale_set is not None
        if sig.kind is Kind.HEALTH and sig.state is not None:
            key = (sig.scale_set.key, sig.instance_id or "")
            if sig.state.is_problem and key not in self.pending and key not in self.firing:
                self.pending[key] = (max(at, sig.event_time + self.hold), labels)
            elif sig.state is Availability.AVAILABLE:
                self.pending.pop(key, None)
                if key in self.firing:
                    fired, fired_labels = self.firing.pop(key)
                    self.posts.append(Post(at, fired_labels, fired, max(fired, sig.event_time)))
        elif sig.kind is Kind.OPERATION and sig.phase is not None:
            key = (sig.scale_set.key, sig.instance_id or "", (sig.operation or "").lower())
            if sig.phase is Phase.STARTED:
                if key not in self.ops:
                    self.ops[key] = (
                        sig.event_time,
                        max(at, sig.event_time + self.op_max + self.settle),
                        labels,
                    )
                    self.posts.append(Post(at, labels, sig.event_time))
                return
            starts = self.ops[key][0] if key in self.ops else sig.event_time
            if key not in self.ops:
                self.posts.append(Post(at, labels, starts))
            self.ops[key] = (starts, max(at, sig.event_time + self.settle), labels)


def _settings(scenario: Any) -> Any:
    return scenario.settings({"scopes": [f"/subscriptions/{scenario.subscription_id}"]})


def _signals(scenario: Any) -> Iterator[tuple[datetime, Signal]]:
    """Each signal about a scale set in scope, with its delivery's arrival time, in order.
    Deliveries the parser rejects are skipped: our responder rejects them too."""
    from vmss_responder.identity import in_scopes
    from vmss_responder.parse import parse

    scopes = _settings(scenario).scopes
    end = scenario.start + scenario.until
    for step in scenario.timeline:
        at = scenario.start + step.at
        if step.kind != "deliver" or at > end:
            continue
        try:
            parsed = parse(step.body["channel"], step.body["payload"], received_at=at)
        except PayloadError:
            continue
        for sig in parsed.signals:
            if sig.scale_set is not None and in_scopes(sig.scale_set, scopes):
                yield at, sig


def bridge_posts(scenario: Any) -> list[Post]:
    """Every alert post the team's bridge makes for this scenario, in virtual time order."""
    settings = _settings(scenario)
    bridge = _Bridge(settings.hold_period, settings.settle_period, settings.operation_max_duration)
    for at, sig in _signals(scenario):
        bridge.advance(at)
        labels = alert_labels(sig, scenario.name)
        if labels is not None:
            bridge.signal(at, sig, labels)
    bridge.advance(scenario.start + scenario.until)
    return sorted(bridge.posts, key=lambda p: p.at)


def naive_pages(scenario: Any) -> int:
    """Distinct unhealthy health events in scope: one notification each from an action group."""
    return len(
        {
            sig.dedup_key
            for _, sig in _signals(scenario)
            if sig.kind is Kind.HEALTH and sig.state is not None and sig.state.is_problem
        }
    )


def our_pages(report: dict[str, Any]) -> list[str]:
    """The times of the pages in a replay report, once each even if several channels carried it."""
    return sorted({n["at"] for n in report["notifications"] if n["severity"] == "page"})


def count_notifications(
    received: list[dict[str, Any]], compression: Compression
) -> dict[str, dict[str, Any]]:
    """Per scenario: pages (threads opened, with their virtual times), firing and resolved
    notifications, in arrival order."""
    counts: dict[str, dict[str, Any]] = defaultdict(lambda: {"pages": [], "firing": 0, "resolved": 0})
    open_groups: set[str] = set()
    for note in received:
        body = note["body"]
        scenario = body["groupLabels"].get("scenario", "")
        group = body["groupKey"]
        if body["status"] == "firing":
            counts[scenario]["firing"] += 1
            if group not in open_groups:
                at = compression.virtual(scenario, note["received"]).replace(microsecond=0)
                counts[scenario]["pages"].append(format_timestamp(at))
                open_groups.add(group)
        else:
            counts[scenario]["resolved"] += 1
            open_groups.discard(group)
    return dict(counts)


# ------------------------------------------------------------------ the replay into Alertmanager


@dataclass(frozen=True, slots=True)
class Compression:
    """Virtual time on the wall clock: each scenario's start is ``origin``, ``factor`` times faster."""

    origin: datetime  # wall clock
    origin_monotonic: float
    factor: float
    starts: dict[str, datetime]  # scenario -> its virtual start

    @classmethod
    def from_now(cls, scenarios: list[Any], factor: float, lead: float = LEAD_SECONDS) -> Compression:
        clock = SystemClock()
        origin = clock.now() + timedelta(seconds=lead)
        return cls(origin, clock.monotonic() + lead, factor, {sc.name: sc.start for sc in scenarios})

    def real(self, scenario: str, when: datetime) -> datetime:
        return self.origin + (when - self.starts[scenario]) / self.factor

    def virtual(self, scenario: str, when: datetime) -> datetime:
        return self.starts[scenario] + (when - self.origin) * self.factor

    def offset(self, scenario: str, when: datetime) -> float:
        """Real seconds after the origin at which virtual ``when`` happens."""
        return (when - self.starts[scenario]).total_seconds() / self.factor


def feed(am: Alertmanager, posts: dict[str, list[Post]], compression: Compression) -> dict[str, float]:
    """Send every post at its compressed real time; returns the feeder's lag (virtual seconds)."""
    clock = SystemClock()
    schedule = sorted(
        ((compression.offset(name, p.at), name, p) for name, ps in posts.items() for p in ps),
        key=lambda item: item[0],  # stable: each scenario's posts keep their order
    )
    # A firing alert stays firing until the bridge resolves it. Prometheus would re-send it every
    # minute with a short validity; one post valid past the replay is the same to Alertmanager and
    # keeps its resolve_timeout (5 real minutes) out of the compressed replay.
    firing_until = compression.origin + timedelta(days=1)
    lags: list[float] = []
    with httpx.Client(base_url=am.url, timeout=30) as client:
        i = 0
        while i < len(schedule):
            offset = schedule[i][0]
            wait = compression.origin_monotonic + offset - clock.monotonic()
            if wait > 0:
                clock.sleep(wait)
            lags.append(max(0.0, -wait) * compression.factor)
            batch = []
            while i < len(schedule) and schedule[i][0] == offset:
                _, name, p = schedule[i]
                ends = firing_until if p.ends is None else min(compression.real(name, p.ends), clock.now())
                batch.append(alert(p.labels, compression.real(name, p.starts), ends))
                i += 1
            client.post("/api/v2/alerts", json=batch).raise_for_status()
    return {"posts": len(lags), "maxLagVirtualSeconds": round(max(lags, default=0.0), 1)}


@contextlib.contextmanager
def _quiet(name: str = "vmss_responder") -> Iterator[None]:
    """The replay's log channel writes every page to the log; the benchmark only counts them."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def measure(
    folder: Path | None = None,
    *,
    factor: float = DEFAULT_FACTOR,
    names: list[str] | None = None,
    binary: str | None = None,
) -> dict[str, Any]:
    """Run the three responders over the scenarios (all of ``folder``, default ``scenarios/``,
    or only ``names``)."""
    from vmss_responder.sim.replay import replay
    from vmss_responder.sim.scenario import load_scenario

    scenarios = [load_scenario(p) for p in sorted(Path(folder or SCENARIOS).glob("*.json"))]
    scenarios = [sc for sc in scenarios if names is None or sc.name in names]
    with _quiet():
        ours = {sc.name: our_pages(replay(sc)) for sc in scenarios}
    naive = {sc.name: naive_pages(sc) for sc in scenarios}
    posts = {sc.name: bridge_posts(sc) for sc in scenarios}
    timers = Timers().scaled(factor)
    clock = SystemClock()
    began = clock.monotonic()
    with running(timers, binary) as (am, pager):
        compression = Compression.from_now(scenarios, factor)
        lag = feed(am, posts, compression)
        longest = max((sc.until for sc in scenarios), default=timedelta())
        tail = longest.total_seconds() / factor + 2 * timers.group_interval.total_seconds() + 0.5
        clock.sleep(max(0.0, compression.origin_monotonic + tail - clock.monotonic()))
        am_version = version(am.binary)
        counts = count_notifications(pager.notifications(), compression)
    zero: dict[str, Any] = {"pages": [], "firing": 0, "resolved": 0}
    table = []
    for sc in scenarios:
        theirs = counts.get(sc.name, zero)
        table.append(
            {
                "scenario": sc.name,
                "ours": len(ours[sc.name]),
                "alertmanager": len(theirs["pages"]),
                "alertmanagerFiring": theirs["firing"],
                "alertmanagerResolved": theirs["resolved"],
                "naive": naive[sc.name],
                "oursPagedAt": ours[sc.name],
                "alertmanagerPagedAt": theirs["pages"],
                "alertsPosted": len(posts[sc.name]),
            }
        )
    totals = {
        k: sum(row[k] for row in table) for k in ("ours", "alertmanager", "alertmanagerFiring", "naive")
    }
    return {
        "scenarios": table,
        "totals": totals,
        "alertmanager": {
            "version": am_version,
            "timeCompression": factor,
            "teamTimers": Timers().to_dict(),
            "scaledTimers": timers.to_dict(),
            "feed": lag,
        },
        "wallSeconds": round(clock.monotonic() - began, 1),
    }


def table(result: dict[str, Any]) -> str:
    """The per-scenario table, as printed by ``vmss-responder bench``."""
    head = ("scenario", "ours", "Alertmanager", "(firing msgs)", "naive")
    rows = [
        (r["scenario"], str(r["ours"]), str(r["alertmanager"]), str(r["alertmanagerFiring"]), str(r["naive"]))
        for r in result["scenarios"]
    ]
    t = result["totals"]
    rows.append(
        ("total", str(t["ours"]), str(t["alertmanager"]), str(t["alertmanagerFiring"]), str(t["naive"]))
    )
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    return "\n".join(
        "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths)))
        for r in [head, *rows]
    )


def rows(result: dict[str, Any]) -> list[Row]:
    """The totals (the per-scenario figures are in :func:`table`): our pages beside Alertmanager's
    and the naive responder's, and on how many scenarios we page less, as much, or more."""
    t = result["totals"]
    fewer = sum(r["ours"] < r["alertmanager"] for r in result["scenarios"])
    more = sum(r["ours"] > r["alertmanager"] for r in result["scenarios"])
    same = len(result["scenarios"]) - fewer - more
    return [
        Row(
            f"pages: all {len(result['scenarios'])} scenarios",
            str(t["ours"]),
            f"Alertmanager {t['alertmanager']} ({t['alertmanagerFiring']} firing notifications) · naive {t['naive']}",
        ),
        Row(
            "pages: scenarios where we page fewer / as many / more than Alertmanager",
            f"{fewer} / {same} / {more}",
            "",
        ),
    ]
