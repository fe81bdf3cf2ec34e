"""The on-call side: a real HTTP receiver of the signed JSON webhook, counting every receipt.

Receivers dedup on ``X-VMSS-Responder-Delivery`` (the notification id, the same on every
retry); this one keeps every receipt so the tests can tell "sent once" from "sent twice, and the
id let the receiver drop the second". A hook runs before the answer, so a test can kill the
sender after its request arrived and before it learned that it did: the widest window there is
for a duplicate.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from vmss_responder.notify.webhook import DELIVERY_HEADER, SIGNATURE_HEADER, verify_signature

PATH = "/hook"


@dataclass(frozen=True, slots=True)
class Receipt:
    notification_id: str
    incident_id: str
    seq: int
    severity: str
    body_sha256: str
    folded: tuple[str, ...]  # a storm digest: the incidents it carries
    at: float  # time.monotonic() of arrival


class WebhookReceiver:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.receipts: list[Receipt] = []
        self.refused: list[str] = []  # requests that were not valid signed notifications
        self.before_answer: Callable[[Receipt], None] = lambda _receipt: None
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver._receive(
                    self.path, self.headers.get(DELIVERY_HEADER), self.headers.get(SIGNATURE_HEADER), body
                )
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender was killed while waiting for the answer (see before_answer)

            def log_message(self, *args: object) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}{PATH}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def _receive(self, path: str, delivery: str | None, signature: str | None, body: bytes) -> int:
        if path != PATH or not verify_signature(body, signature, self.secret):
            with self._lock:
                self.refused.append(f"{path} {delivery}")
            return 401
        doc = json.loads(body)
        receipt = Receipt(
            delivery or "",
            doc["incidentId"],
            doc["seq"],
            doc["severity"],
            hashlib.sha256(body).hexdigest(),
            tuple(d["incidentId"] for d in doc.get("digest") or []),
            time.monotonic(),
        )
        with self._lock:
            self.receipts.append(receipt)
        self.before_answer(receipt)
        return 200

    def counts(self) -> Counter[str]:
        """Receipts per notification id."""
        with self._lock:
            return Counter(r.notification_id for r in self.receipts)

    def distinct(self) -> dict[str, Receipt]:
        """The first receipt of each notification id: what a deduplicating receiver keeps."""
        with self._lock:
            first: dict[str, Receipt] = {}
            for r in self.receipts:
                first.setdefault(r.notification_id, r)
            return first

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
