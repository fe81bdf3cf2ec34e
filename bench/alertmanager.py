"""A real Prometheus Alertmanager for the benchmarks: started on loopback, configured as a team
would to do our job, fed the same deliveries as alerts, and its notifications counted.

The peer is Debian's ``prometheus-alertmanager`` (``make bench`` installs it). Each run gets its
own config file and storage directory, listens on 127.0.0.1 only, and has clustering disabled
(``--cluster.listen-address=``), so no peer wait delays a notification.

**The team's configuration** (:func:`team_config`), chosen to do its best at the same job:

- routing: health alerts (``severity=page``) go to a webhook receiver that pages; operation
  and other context alerts (``severity=info``) go to a receiver with no integrations: they
  exist to inhibit, not to notify;
- ``group_by: [scenario, scale_set, alertname]``: one notification thread per scale set and
  alert, so a storm on one scale set is one page, not one per instance (``scenario`` only keeps
  the benchmark's concurrent replays apart, as separate Alertmanagers would);
- timers: Alertmanager's own defaults, ``group_wait`` 30 s, ``group_interval`` 5 m,
  ``repeat_interval`` 4 h (what most teams run); the pages comparison scales them with the
  replay's time compression (:meth:`Timers.scaled`);
- inhibition: an operation alert that explains health (scale, power, reimage, upgrade, delete:
  :data:`INHIBITING_CATEGORIES`) mutes health alerts on the same scale set while it fires.

**The bridge** (:func:`alert_labels`): what carries Azure's deliveries into Alertmanager. It
uses the project's own parsers, so both systems see exactly the same signals; only what happens
to them differs. One alert identity per scale set or instance for health (the availability
state is not a label, so Degraded -> Unavailable is the same alert) and per scale set, instance and
operation name for operations.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from vmss_responder.clock import SystemClock
from vmss_responder.signals import Kind, OpCategory, Signal

BINARIES = ("prometheus-alertmanager", "alertmanager")  # Debian's name, then upstream's
INSTALL_HINT = "apt-get install prometheus-alertmanager (make bench installs it when missing)"
STARTUP_SECONDS = 30
INHIBITING_CATEGORIES = tuple(c.value for c in OpCategory if c.explains_health)
GROUP_BY = ("scenario", "scale_set", "alertname")
PAGER_PATH = "/pager"


class AlertmanagerMissing(RuntimeError):
    """The binary is not installed: the comparison cannot run, and says how to fix it."""


def find_binary() -> str | None:
    return next((found for name in BINARIES if (found := shutil.which(name))), None)


def version(binary: str) -> str:
    """``0.25.0`` from ``alertmanager, version 0.25.0 (branch: …)``."""
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    first = (out.stdout or out.stderr).splitlines()[0] if (out.stdout or out.stderr) else ""
    return first.split("version", 1)[-1].split()[0] if "version" in first else first


# ------------------------------------------------------------------ configuration


@dataclass(frozen=True, slots=True)
class Timers:
    """The notification timers; defaults are Alertmanager's own."""

    group_wait: timedelta = timedelta(seconds=30)
    group_interval: timedelta = timedelta(minutes=5)
    repeat_interval: timedelta = timedelta(hours=4)

    def scaled(self, factor: float) -> Timers:
        """The same timers on a clock running ``factor`` times faster."""
        return Timers(self.group_wait / factor, self.group_interval / factor, self.repeat_interval / factor)

    def to_dict(self) -> dict[str, str]:
        return {
            "group_wait": go_duration(self.group_wait),
            "group_interval": go_duration(self.group_interval),
            "repeat_interval": go_duration(self.repeat_interval),
        }


def go_duration(value: timedelta) -> str:
    """Alertmanager's duration syntax, to the millisecond (the finest it keeps)."""
    return f"{max(1, round(value.total_seconds() * 1000))}ms"


def team_config(pager_url: str, timers: Timers) -> dict[str, Any]:
    """``alertmanager.yml`` as JSON (a YAML subset): see the module docstring for the choices."""
    return {
        "route": {
            "receiver": "context-only",
            "group_by": list(GROUP_BY),
            **timers.to_dict(),
            "routes": [{"matchers": ['severity="page"'], "receiver": "pager"}],
        },
        "receivers": [
            {"name": "context-only"},
            {"name": "pager", "webhook_configs": [{"url": pager_url, "send_resolved": True}]},
        ],
        "inhibit_rules": [
            {
                "source_matchers": ['kind="operation"', f'category=~"{"|".join(INHIBITING_CATEGORIES)}"'],
                "target_matchers": ['kind="health"'],
                "equal": ["scenario", "scale_set"],
            }
        ],
    }


# ------------------------------------------------------------------ the bridge


def alert_labels(signal: Signal, scenario: str) -> dict[str, str] | None:
    """The labels a team's bridge gives this signal (None: nothing to alert on)."""
    if signal.kind is Kind.SERVICE_HEALTH:
        return {
            "scenario": scenario,
            "alertname": "AzureServiceHealth",
            "kind": "service_health",
            "tracking_id": signal.tracking_id or signal.source_id,
            "subscription": signal.subscription or "",
            "severity": "info",
        }
    if signal.scale_set is None:
        return None
    labels = {"scenario": scenario, "scale_set": signal.scale_set.key}
    if signal.instance_id is not None:
        labels["instance"] = signal.instance_id
    if signal.kind is Kind.HEALTH:
        return {**labels, "alertname": "VmssUnhealthy", "kind": "health", "severity": "page"}
    if signal.kind is Kind.OPERATION:
        category = (signal.category or OpCategory.OTHER).value
        operation = (signal.operation or "").lower()
        return {
            **labels,
            "alertname": "VmssOperation",
            "kind": "operation",
            "category": category,
            "operation": operation,
            "severity": "info",
        }
    if signal.kind is Kind.ANNOTATION and signal.annotation is not None:
        return {
            **labels,
            "alertname": "VmssHealthAnnotation",
            "kind": "annotation",
            "annotation": signal.annotation.name,
            "severity": "info",
        }
    return None


def alert(labels: dict[str, str], starts: datetime, ends: datetime | None) -> dict[str, Any]:
    """One alert of ``POST /api/v2/alerts``; ``ends`` None lets Alertmanager's resolve_timeout apply."""
    body: dict[str, Any] = {"labels": labels, "startsAt": rfc3339(starts)}
    if ends is not None:
        body["endsAt"] = rfc3339(ends)
    return body


def rfc3339(when: datetime) -> str:
    return when.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ------------------------------------------------------------------ processes


class WebhookReceiver:
    """The pager: a real HTTP server on loopback that records every notification it is sent."""

    def __init__(self) -> None:
        self.clock = SystemClock()
        self._lock = threading.Lock()
        self._received: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                with receiver._lock:
                    receiver._received.append({"received": receiver.clock.now(), "body": body})
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's signature
                """Quiet: the benchmark counts notifications, it does not log them."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="bench-pager", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{PAGER_PATH}"

    def notifications(self) -> list[dict[str, Any]]:
        """What arrived so far, in arrival order: ``{"received": wall time, "body": JSON}``."""
        with self._lock:
            return list(self._received)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Alertmanager:
    """``prometheus-alertmanager`` as a child process with its own config and storage."""

    def __init__(self, config: dict[str, Any], binary: str | None = None) -> None:
        found = binary or find_binary()
        if found is None:
            raise AlertmanagerMissing(
                f"no Alertmanager binary ({' or '.join(BINARIES)}) on PATH: {INSTALL_HINT}"
            )
        self.binary = found
        self.config = config
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Alertmanager:
        self._tmp = tempfile.TemporaryDirectory(prefix="bench-alertmanager-")
        home = Path(self._tmp.name)
        (home / "alertmanager.yml").write_text(json.dumps(self.config, indent=2))
        self.port = free_port()
        command = [
            self.binary,
            f"--config.file={home / 'alertmanager.yml'}",
            f"--storage.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ]
        with open(home / "stderr.log", "wb") as log:
            self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, cwd=home)
        try:
            self._wait_ready()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait_ready(self) -> None:
        clock = SystemClock()
        deadline = clock.monotonic() + STARTUP_SECONDS
        assert self.process is not None
        with httpx.Client(timeout=2) as client:
            while clock.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"alertmanager exited with {self.process.returncode}:\n{self.log()}")
                try:
                    if client.get(f"{self.url}/-/ready").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                clock.sleep(0.05)
        raise RuntimeError(f"alertmanager was not ready within {STARTUP_SECONDS} s:\n{self.log()}")

    def log(self) -> str:
        if self._tmp is None:
            return ""
        path = Path(self._tmp.name) / "stderr.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def __exit__(self, *_exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


@contextmanager
def running(timers: Timers, binary: str | None = None) -> Iterator[tuple[Alertmanager, WebhookReceiver]]:
    """Alertmanager with the team's configuration and these timers, paging a fresh receiver."""
    with WebhookReceiver() as pager, Alertmanager(team_config(pager.url, timers), binary) as am:
        yield am, pager
