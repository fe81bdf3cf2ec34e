"""HTTP ingest: the storm's deliveries posted over loopback to ``vmss-responder serve`` and, as
alerts, to a real Alertmanager; deliveries per second and request latency, side by side.

**Ours**: ``serve`` runs as an operator starts it, in its own process (``python -m
vmss_responder.serve --emulator STORM.json --store sqlite://…``), with the storm's fleet in the
ARM emulator and a fresh SQLite store. Each delivery is one POST on its route, as the platform
sends it: Event Grid and CloudEvents batches to ``/api/eventgrid``, action-group alerts to
``/api/alerts``, autoscale webhooks to ``/api/autoscale``. The 202 comes back only after the
delivery is stored in the inbox, its signals deduplicated and folded into the scale set's state
under an ETag, and the scale set evaluated when due (``handlers/http_api.ingest`` ->
``Responder.ingest``, which calls ``_process`` before returning): the latency is request to
stored decision. The subset is the storm's first ``subset`` deliveries in arrival order (4,000 of 50,000 by
default: the HTTP part stays under 90 s here), the same for both sides. Every timestamp in them
is moved by the same whole number of seconds so that the last delivery arrives now, as a storm
that is happening would (:func:`arriving_now`); ``serve`` runs on the wall clock, so the holds
are still running and the decisions stored are "held until …" (evaluations are the sweep's
work, measured by the storm and ARM figures).

**Alertmanager**: the same deliveries, each turned by the team's bridge
(:func:`bench.alertmanager.alert_labels`) into the alerts it carries, and each posted as one
``POST /api/v2/alerts`` (an empty list when a delivery carries nothing to alert on, so both
sides get the same requests). Alertmanager answers 200 once the alerts are validated and put in
its in-memory store; grouping, inhibition and notification happen after the answer. Translation
is done before the clock starts: Alertmanager is not charged for parsing, ``serve`` is.

Both sides: httpx with ``concurrency`` requests in flight (8), bodies serialized beforehand,
the same client on the same machine. On two shared cores the client competes with the server
it measures, and a Python client is slower than Alertmanager: its rate is then the client's, an
upper bound on how close we come. So each side's server CPU time during the run is measured too
(``/proc``): deliveries per server CPU-second is the comparison with the client set aside.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.alertmanager import Timers, alert, alert_labels, running, version
from bench.report import Row, count, judged
from vmss_responder.clock import SystemClock

ROOT = Path(__file__).resolve().parent.parent
CONCURRENCY = 8
SUBSET = 4_000  # deliveries posted to each side: keeps this part under 90 s here
STARTUP_SECONDS = 120
TARGET_RATIO = 1.0


@dataclass(frozen=True, slots=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(slots=True)
class Outcome:
    """What the client saw: per-request latency and status, the wall time, the response bodies."""

    seconds: float
    latencies_ms: list[float]
    statuses: Counter[int]
    bodies: list[bytes]
    server_cpu_seconds: float  # CPU time the server process used meanwhile (all its threads)

    def summary(self, requests: int) -> dict[str, Any]:
        ordered = sorted(self.latencies_ms)
        return {
            "requests": requests,
            "wallSeconds": round(self.seconds, 2),
            "perSecond": round(requests / self.seconds, 1),
            "serverCpuSeconds": round(self.server_cpu_seconds, 2),
            "perServerCpuSecond": round(requests / max(self.server_cpu_seconds, 0.01), 1),
            "p50Ms": round(statistics.median(ordered), 2),
            "p99Ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
        }


# ------------------------------------------------------------------ the client


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux ``/proc``), all threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def post_all(
    base_url: str,
    requests: list[Request],
    server_pid: int,
    concurrency: int = CONCURRENCY,
    headers: dict[str, str] | None = None,
) -> Outcome:
    """POST every request, ``concurrency`` at a time, in order of the list. The client's own CPU
    competes with the server on a small machine, so the server's CPU time is measured too: it
    says what the server could do with the client elsewhere."""
    before = cpu_seconds(server_pid)
    outcome = asyncio.run(_post_all(base_url, requests, concurrency, headers or {}))
    outcome.server_cpu_seconds = cpu_seconds(server_pid) - before
    return outcome


async def _post_all(
    base_url: str, requests: list[Request], concurrency: int, headers: dict[str, str]
) -> Outcome:
    clock = SystemClock()
    latencies = [0.0] * len(requests)
    bodies = [b""] * len(requests)
    statuses: Counter[int] = Counter()
    queue = iter(range(len(requests)))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits, timeout=60) as client:

        async def worker() -> None:
            for i in queue:  # a shared iterator: each index is taken by exactly one worker
                r = requests[i]
                began = clock.monotonic()
                response = await client.post(r.path, content=r.body, headers=r.headers)
                latencies[i] = (clock.monotonic() - began) * 1000
                statuses[response.status_code] += 1
                bodies[i] = response.content

        began = clock.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = clock.monotonic() - began
    return Outcome(seconds, latencies, statuses, bodies, server_cpu_seconds=0.0)


# ------------------------------------------------------------------ our side


JSON = {"content-type": "application/json"}
ROUTES = {
    "eventgrid": ("/api/eventgrid", {**JSON, "aeg-event-type": "Notification"}),
    "cloudevents": (
        "/api/eventgrid",
        {
            "content-type": "application/cloudevents-batch+json; charset=utf-8",
            "aeg-event-type": "Notification",
        },
    ),
    "alert": ("/api/alerts", JSON),
    "autoscale": ("/api/autoscale", JSON),
}


_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


def arriving_now(deliveries: list[Any]) -> list[tuple[str, str]]:
    """(channel, JSON text) of each delivery with every timestamp moved by whole seconds so
    that the last one arrives now: the storm has just happened, as it would in production (the
    payloads are otherwise the storm's)."""
    clock = SystemClock()
    delta = timedelta(seconds=math.ceil((clock.now() - deliveries[-1].at).total_seconds()))

    def move(found: re.Match[str]) -> str:
        return (datetime.fromisoformat(found.group(0)) + delta).strftime("%Y-%m-%dT%H:%M:%S")

    return [(d.channel, _STAMP.sub(move, json.dumps(d.payload))) for d in deliveries]


def our_requests(deliveries: list[tuple[str, str]]) -> list[Request]:
    """Each delivery as the platform posts it to the Function app's route."""
    return [Request(*ROUTES[channel], text.encode()) for channel, text in deliveries]


@contextmanager
def serve(storm: Any) -> Iterator[tuple[str, str, int]]:
    """``vmss-responder serve`` on the storm's fleet: yields (base URL, function key, pid)."""
    key = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        scenario = Path(tmp) / "storm.json"
        scenario.write_text(json.dumps(storm.scenario("storm-http")))
        env = {k: v for k, v in os.environ.items() if not k.startswith("VMSS_RESPONDER_")}
        env["VMSS_RESPONDER_API_KEY"] = key
        command = [
            sys.executable, "-m", "vmss_responder.serve", "--port", "0",
            "--store", f"sqlite://{tmp}/serve.sqlite", "--emulator", str(scenario),
        ]  # fmt: skip
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        announced: list[str] = []
        tail: list[str] = []
        ready = threading.Event()

        def follow() -> None:
            """Drain stderr (the access log) so the server never blocks on it; spot its address."""
            assert process.stderr is not None
            for line in process.stderr:
                tail[:] = [*tail[-40:], line]
                found = re.search(r"serving on (http://\S+?)/api/", line)
                if found:
                    announced.append(found.group(1))
                    ready.set()
            ready.set()

        reader = threading.Thread(target=follow, name="bench-serve-log", daemon=True)
        reader.start()
        try:
            if not ready.wait(STARTUP_SECONDS) or not announced:
                raise RuntimeError("serve did not start:\n" + "".join(tail))
            yield announced[0], key, process.pid
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            reader.join(timeout=10)


def measure_ours(storm: Any, deliveries: list[Any], concurrency: int) -> dict[str, Any]:
    with serve(storm) as (url, key, pid):
        requests = our_requests(arriving_now(deliveries))
        outcome = post_all(url, requests, pid, concurrency, {"x-functions-key": key})
        listed = httpx.get(f"{url}/api/incidents", headers={"x-functions-key": key}, timeout=60)
    listed.raise_for_status()
    answers = [json.loads(body) for body in outcome.bodies]  # IngestResult.to_dict() of each 202
    signals = sum(a.get("signals", 0) for a in answers)
    duplicates = sum(a.get("duplicates", 0) for a in answers)
    return {
        **outcome.summary(len(requests)),
        "signals": signals,
        "duplicates": duplicates,
        "signalsPerSecond": round((signals + duplicates) / outcome.seconds, 1),
        "incidents": listed.json()["count"],
    }


# ------------------------------------------------------------------ Alertmanager's side


def alerts_of(channel: str, payload: Any, received_at: datetime, settle: timedelta) -> list[dict[str, Any]]:
    """The alerts the team's bridge posts for one delivery (timestamps from the events); a
    completed operation stays firing for ``settle`` (the storm's settlePeriod)."""
    from vmss_responder.parse import parse
    from vmss_responder.signals import Availability, Kind, PayloadError, Phase

    try:
        parsed = parse(channel, payload, received_at=received_at)
    except PayloadError:
        return []
    out = []
    for sig in parsed.signals:
        labels = alert_labels(sig, "storm")
        if labels is None:
            continue
        ends = None  # firing: Alertmanager's resolve_timeout keeps it until it is sent again
        if sig.kind is Kind.HEALTH and sig.state is Availability.AVAILABLE:
            ends = sig.event_time
        elif sig.kind is Kind.OPERATION and sig.phase is not None and sig.phase is not Phase.STARTED:
            ends = sig.event_time + settle
        out.append(alert(labels, sig.event_time, ends))
    return out


def measure_alertmanager(
    storm: Any, deliveries: list[Any], concurrency: int, binary: str | None
) -> dict[str, Any]:
    from vmss_responder.config import load_settings

    settle = load_settings(storm.scenario()["config"]).settle_period
    with running(Timers(), binary) as (am, pager):
        now = SystemClock().now()
        moved = arriving_now(deliveries)
        batches = [alerts_of(channel, json.loads(text), now, settle) for channel, text in moved]
        requests = [Request("/api/v2/alerts", JSON, json.dumps(b).encode()) for b in batches]
        alerts = sum(len(b) for b in batches)
        assert am.process is not None
        outcome = post_all(am.url, requests, am.process.pid, concurrency)
        am_version = version(am.binary)
        notifications = len(pager.notifications())
    return {
        **outcome.summary(len(requests)),
        "alerts": alerts,
        "alertsPerSecond": round(alerts / outcome.seconds, 1),
        "notificationsDuringRun": notifications,
        "version": am_version,
    }


def measure(
    storm: Any = None, *, subset: int = SUBSET, concurrency: int = CONCURRENCY, binary: str | None = None
) -> dict[str, Any]:
    """Post the first ``subset`` deliveries of ``storm`` (arrival order) to both; compare rates."""
    if storm is None:
        from bench.storm import generate_storm

        storm = generate_storm()
    deliveries = storm.deliveries[:subset]
    ours = measure_ours(storm, deliveries, concurrency)
    peer = measure_alertmanager(storm, deliveries, concurrency, binary)
    ratio = ours["perSecond"] / peer["perSecond"]
    cpu_ratio = ours["perServerCpuSecond"] / peer["perServerCpuSecond"]
    return {
        "deliveries": len(deliveries),
        "stormDeliveries": len(storm.deliveries),
        "channels": dict(Counter(d.channel for d in deliveries)),
        "concurrency": concurrency,
        "ours": ours,
        "alertmanager": peer,
        "ratio": round(ratio, 2),
        "targetRatio": TARGET_RATIO,
        "withinTarget": ratio >= TARGET_RATIO,
        "cpuRatio": round(cpu_ratio, 3),
    }


def rows(result: dict[str, Any]) -> list[Row]:
    ours, peer = result["ours"], result["alertmanager"]
    subset = f"{result['deliveries']:,} of {result['stormDeliveries']:,} deliveries, concurrency {result['concurrency']}"
    ratio = result["ratio"]
    return [
        Row(
            f"HTTP ingest: deliveries/s ({subset})",
            count(ours["perSecond"], "/s"),
            f"Alertmanager {count(peer['perSecond'], '/s')} ({count(peer['alertsPerSecond'], 'alerts/s')})",
        ),
        Row(
            "HTTP ingest: our rate / Alertmanager's",
            f"{ratio:.2f}",
            "",
            f"≥ {result['targetRatio']:.1f}",
            judged(result["withinTarget"], f"{ratio:.2f} is {(1 - ratio / result['targetRatio']):.0%} short"),
        ),
        Row(
            "HTTP ingest: latency p50 (request to stored decision)",
            count(ours["p50Ms"], "ms"),
            f"Alertmanager {count(peer['p50Ms'], 'ms')}",
        ),
        Row(
            "HTTP ingest: latency p99",
            count(ours["p99Ms"], "ms"),
            f"Alertmanager {count(peer['p99Ms'], 'ms')}",
        ),
        Row(
            "HTTP ingest: deliveries per server CPU-second (the client set aside)",
            count(ours["perServerCpuSecond"], "/CPU-s"),
            f"Alertmanager {count(peer['perServerCpuSecond'], '/CPU-s')} (ours / theirs {result['cpuRatio']:.2f})",
        ),
    ]
