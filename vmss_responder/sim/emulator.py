"""The local ARM emulator: a real HTTPS server on 127.0.0.1 that the unmodified Azure SDKs call.

``ComputeManagementClient(..., base_url=emulator.base_url, connection_verify=emulator.ca_path)``
and ``LogsQueryClient(..., endpoint=emulator.base_url)`` work against it as against Azure: same
URLs, bodies, status codes, long-running operations and paging (see :mod:`.arm_api`). The state
behind it is a :class:`~vmss_responder.sim.fleet.Fleet`; time comes only from the injected clock,
and the platform is played up to the clock's ``now`` before each request is answered.

Usage::

    with ArmEmulator(fleet, clock) as arm:
        clients = AzureClients(ArmTarget(arm.base_url, arm.ca_path, StaticTokenCredential(clock),
                                         logs_endpoint=arm.base_url), clock, settings)
        ...
        arm.counts()  # {"reads", "writes", "throttled", "logQueries"}
"""

from __future__ import annotations

import email.utils
import json
import ssl
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socket import IPPROTO_TCP, TCP_NODELAY, socket
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from ..clock import Clock
from .activity_log import ActivityEntrySpec, ActivityTable
from .arm_api import ArmApi, Request, RequestRecord
from .faults import ARM_REQUESTS, DEFAULT_KINDS, FaultPlan
from .fleet import Fleet
from .tls import LoopbackTls, loopback_tls

DEFAULT_WORKSPACE_ID = "6c0bb6e2-5b0a-4d39-9b53-3f6e0f6a1f00"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects
    timeout = 60
    server: _Server

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        response = self.server.api.handle(Request(self.command, unquote(url.path), query, self.headers, body))
        if response.status == 0:
            self.close_connection = True  # an injected dropped connection: no answer at all
            return
        payload = b"" if response.body is None else json.dumps(response.body).encode()
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if payload:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def date_time_string(self, timestamp: float | None = None) -> str:
        return email.utils.format_datetime(self.server.clock.now(), usegmt=True)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        """The request log is kept by the API; nothing goes to stderr."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # idle keep-alive connections must not hold up stop()

    def __init__(self, api: ArmApi, clock: Clock, tls: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.api, self.clock, self.tls = api, clock, tls

    def finish_request(self, request: socket, client_address: Any) -> None:  # type: ignore[override]
        """TLS handshake in the connection's own thread, so a slow client cannot stall accept()."""
        request.settimeout(_Handler.timeout)
        # headers and body are separate writes: no Nagle stall
        request.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)
        try:
            connection = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(connection, client_address, self)
        except (ConnectionError, TimeoutError, ssl.SSLError):
            pass  # the client went away; nothing to answer
        finally:
            connection.close()


class ArmEmulator:
    """Compute ARM + Log Analytics on ``https://127.0.0.1:<free port>``, backed by ``fleet``.

    Faults injected with :meth:`inject_faults` (or a scenario's ``arm_faults`` step through the
    fleet) apply to the next ARM requests in arrival order, LRO status polls and Log Analytics
    queries excepted; :meth:`inject_fault_rate` (or an ``arm_fault_rate`` step) fails a seeded
    random share of requests. A faulted request is answered without doing anything (a ``lost``
    fault excepted), and still counts as a read or write; :attr:`requests` names the fault.
    """

    def __init__(
        self, fleet: Fleet, clock: Clock, *, workspace_id: str = DEFAULT_WORKSPACE_ID, page_size: int = 50
    ) -> None:
        self.fleet, self.clock, self.workspace_id = fleet, clock, workspace_id
        self.activity = ActivityTable()
        self._api = ArmApi(
            fleet, clock, self.activity, base_url="", workspace_id=workspace_id, page_size=page_size
        )
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._tls: LoopbackTls | None = None
        self.base_url = ""

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> ArmEmulator:
        if self._server is not None:
            return self
        self._tls = loopback_tls()
        self._server = _Server(self._api, self.clock, self._tls.context)
        self.base_url = f"https://127.0.0.1:{self._server.server_address[1]}"
        self._api.base_url = self.base_url
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="arm-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._tls is not None:
            self._tls.cleanup()
        self._server = self._thread = self._tls = None

    def __enter__(self) -> ArmEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def ca_path(self) -> str:
        """PEM of the emulator's CA, for ``connection_verify``."""
        if self._tls is None:
            raise RuntimeError("the emulator is not started")
        return self._tls.ca_path

    # --- what the replay driver and tests use --------------------------------------------------

    def add_activity(self, entry: Mapping[str, Any] | ActivityEntrySpec, visible_from: datetime) -> None:
        """Record a scenario ``activityLog`` step; Log Analytics returns it from ``visible_from`` on."""
        self.activity.add(entry, visible_from)

    def inject_faults(self, count: int, status: int, retry_after: float | None = None) -> None:
        """Make the next ``count`` ARM requests fail with ``status`` (429, 500, 503; 0 drops the
        connection). A 429 always carries ``Retry-After`` (``retry_after`` or 5 s)."""
        if status not in (0, 429, 500, 503):
            raise ValueError(f"unsupported fault status {status}")
        self.fleet.add_faults(count, status, retry_after)

    def inject_fault_rate(
        self,
        rate: float,
        kinds: Sequence[str] = DEFAULT_KINDS,
        retry_after_range: tuple[float, float] = (1.0, 1200.0),
        seed: int | str = 0,
        *,
        request_kinds: Iterable[str] = ARM_REQUESTS,
    ) -> None:
        """From now on fail a seeded random ``rate`` of requests (0 stops it). ``kinds``: among
        ``429`` (``Retry-After`` log-uniform in ``retry_after_range``), ``500``, ``503``, ``drop``
        and ``lost`` (performed, answer lost). ``request_kinds``: which request kinds may fail, ARM reads
        and writes by default; add ``poll`` and ``logQuery`` for LRO polls and Log Analytics."""
        plan = (
            FaultPlan(rate, tuple(kinds), retry_after_range, seed, frozenset(request_kinds)) if rate else None
        )
        self.fleet.set_fault_rate(plan)

    def counts(self) -> dict[str, int]:
        """``{"reads", "writes", "throttled", "logQueries"}`` served so far (LRO polls not counted)."""
        return self._api.counts()

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request served: virtual time, method, path, status, kind (read/write/poll/logQuery)."""
        return self._api.requests
