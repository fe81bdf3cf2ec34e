"""A real HTTP receiver on 127.0.0.1 that records what it gets and answers as it is told.

Stands in for Teams Workflows, a webhook consumer or PagerDuty's Events API: the senders talk
to it over real sockets with httpx, so timeouts, refused connections, status codes and headers
behave as they do in production. It can answer with any status (500, 503, 429 + Retry-After,
400, ...), be slow, or go down (the listening socket is closed, so connections are refused)
and come back on the same port.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered


@dataclass
class Answer:
    status: int = 202
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0  # seconds of real time before answering


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self._answers: list[Answer] = []  # scripted, consumed first
        self._default = Answer()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def answer(
        self, status: int, headers: dict[str, str] | None = None, body: bytes = b"", delay: float = 0.0
    ) -> None:
        """Answer every request like this from now on."""
        with self._lock:
            self._default = Answer(status, headers or {}, body, delay)
            self._answers.clear()

    def script(self, *answers: Answer) -> None:
        """Answer the next requests with these, then fall back to the default answer."""
        with self._lock:
            self._answers.extend(answers)

    def accepted(self) -> list[Received]:
        """Requests answered 2xx: the deliveries that count."""
        with self._lock:
            return [r for r in self.requests if 200 <= r.status < 300]

    def _next(self) -> Answer:
        with self._lock:
            return self._answers.pop(0) if self._answers else self._default

    def _record(self, request: Received) -> None:
        with self._lock:
            self.requests.append(request)

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                answer = receiver._next()
                if answer.delay:
                    time.sleep(answer.delay)
                receiver._record(Received("POST", self.path, dict(self.headers.items()), body, answer.status))
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def down(self) -> None:
        """Stop listening: new connections are refused until :meth:`up`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def close(self) -> None:
        self.down()


@contextmanager
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.close()
