"""Delivery to each channel over HTTP, with one answer the outbox can act on.

A sender makes exactly one attempt and classifies it; it never sleeps or loops (the outbox owns
retries and schedules them with the injected clock):

- 2xx: delivered (Teams Workflows answer 202, PagerDuty 202);
- 429: retry, honouring ``Retry-After`` (seconds or an HTTP date);
- 408, 5xx, connection errors, timeouts: retry with backoff (``Retry-After`` honoured if sent);
- any other status (400, 401, 403, 404, 413, redirects, ...): permanent - the request will not
  get better by repeating it, so the outbox records it as dead with the reason.

Webhook URLs (Workflows URLs carry a ``sig=`` signature), PagerDuty routing keys and the HMAC
secret are credentials: they never appear in a log line, an error or a stored record. Errors
and response excerpts pass through a :class:`Redactor` that knows the configured secrets and
masks credential-looking query parameters besides.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Protocol

import httpx

from .. import __version__
from ..clock import Clock, SystemClock
from ..config import Settings
from ..store.base import Store, safe_key
from . import pagerduty, teams, webhook
from .model import Notification
from .render import view

log = logging.getLogger("vmss_responder.notify")

TIMEOUT_SECONDS = 10.0
MAX_RETRY_AFTER_SECONDS = 3600.0  # a Retry-After beyond an hour is treated as an hour
PD_TRIGGERS_TABLE = "pagerdutytriggers"
_EXCERPT = 300


@dataclass(frozen=True, slots=True)
class SendResult:
    ok: bool  # delivered, or deliberately not sent (``skipped``)
    status: int | None = None  # HTTP status of the (last) request, None if none was answered
    retry_after_seconds: float | None = None  # the receiver's Retry-After, capped
    error: str | None = None  # redacted
    retryable: bool = False  # a failure worth another attempt later
    skipped: str | None = None  # why nothing was sent (still ``ok``: nothing to retry)


class Sender(Protocol):
    def send(self, notification: Notification) -> SendResult: ...


class Redactor:
    """Masks configured secrets and credential-looking URL parameters in any text."""

    _PARAMS = re.compile(r"(?i)\b(sig|code|key|token|secret|signature|routing_key|api-key)=([^&\s\"'<>]+)")

    def __init__(self, secrets: Iterable[str | None]) -> None:
        # Longest first, so a URL is masked whole before any secret inside it.
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def merged(self, other: Redactor) -> Redactor:
        return Redactor([*self._secrets, *other._secrets])

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[REDACTED]")
        return self._PARAMS.sub(lambda m: f"{m.group(1)}=[REDACTED]", text)


class _RedactLogRecords(logging.Filter):
    """Rewrites log records of the HTTP libraries: httpx logs every request URL at INFO, and a
    Workflows URL carries its ``sig=`` credential in the query string."""

    def __init__(self) -> None:
        super().__init__()
        self.redact = Redactor([])

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_LOG_FILTER = _RedactLogRecords()
_HTTP_LOGGERS = ("httpx", "httpcore")


def protect_http_logs(redact: Redactor) -> None:
    """Make the HTTP libraries' own log lines mask these secrets too (idempotent, process-wide)."""
    _LOG_FILTER.redact = _LOG_FILTER.redact.merged(redact)
    for name in _HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if _LOG_FILTER not in logger.filters:
            logger.addFilter(_LOG_FILTER)


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), capped."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(text) - now).total_seconds()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def classify(response: httpx.Response, now: datetime, redact: Redactor) -> SendResult:
    status = response.status_code
    if 200 <= status < 300:
        return SendResult(ok=True, status=status)
    excerpt = redact(response.text[:_EXCERPT].strip())
    error = f"HTTP {status}" + (f": {excerpt}" if excerpt else "")
    if status == 429 or status == 408 or status >= 500:
        wait = retry_after(response.headers.get("Retry-After"), now)
        return SendResult(ok=False, status=status, retry_after_seconds=wait, error=error, retryable=True)
    return SendResult(ok=False, status=status, error=error, retryable=False)


class HttpPoster:
    """One POST, classified. Shared by the HTTP channels (one connection pool)."""

    def __init__(self, client: httpx.Client, clock: Clock, redact: Redactor) -> None:
        self._client = client
        self._clock = clock
        self.redact = redact

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> SendResult:
        try:
            response = self._client.post(url, content=body, headers=dict(headers))
        except httpx.TimeoutException as exc:
            return SendResult(ok=False, error=self.redact(f"timeout: {type(exc).__name__}"), retryable=True)
        except httpx.TransportError as exc:
            return SendResult(
                ok=False, error=self.redact(f"connection failed: {type(exc).__name__}: {exc}"), retryable=True
            )
        return classify(response, self._clock.now(), self.redact)


@functools.lru_cache(maxsize=1)
def shared_client() -> httpx.Client:
    """One connection pool per process, reused by every outbox (Functions reuse the worker)."""
    return httpx.Client(
        timeout=httpx.Timeout(TIMEOUT_SECONDS),
        follow_redirects=False,
        headers={"User-Agent": f"vmss-responder/{__version__}"},
    )


class TeamsSender:
    def __init__(self, url: str, poster: HttpPoster, app_url: str | None = None) -> None:
        self._url = url
        self._poster = poster
        self._app_url = app_url

    def send(self, notification: Notification) -> SendResult:
        body = teams.message_bytes(teams.build_message(notification, self._app_url))
        return self._poster.post(self._url, body, {"Content-Type": "application/json; charset=utf-8"})


class WebhookSender:
    def __init__(
        self, url: str, secret: str | None, poster: HttpPoster, clock: Clock, app_url: str | None = None
    ) -> None:
        self._url = url
        self._secret = secret
        self._poster = poster
        self._clock = clock
        self._app_url = app_url

    def send(self, notification: Notification) -> SendResult:
        body, headers = webhook.build_request(notification, self._secret, self._clock.now(), self._app_url)
        return self._poster.post(self._url, body, headers)


class PagerDutySender:
    """Events API v2. Remembers which dedup keys it triggered so resolves go only to those.

    The memory is a store table partitioned by a hash of the routing key (never the key
    itself), so switching to another PagerDuty service starts clean.
    """

    def __init__(self, routing_key: str, url: str, poster: HttpPoster, store: Store) -> None:
        self._routing_key = routing_key
        self._url = url
        self._poster = poster
        self._store = store
        self._partition = "rk-" + hashlib.sha256(routing_key.encode()).hexdigest()[:16]

    def send(self, notification: Notification) -> SendResult:
        key = pagerduty.dedup_key(notification.incident_id)
        marked = self._store.get(PD_TRIGGERS_TABLE, self._partition, safe_key(key)) is not None
        plan = pagerduty.plan(notification, self._routing_key, frozenset({key}) if marked else frozenset())
        if plan.skipped:
            return SendResult(ok=True, skipped=plan.skipped)
        result = SendResult(ok=True)
        for event in plan.events:
            body = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            result = self._poster.post(self._url, body, {"Content-Type": "application/json"})
            if not result.ok:
                return result
            if event["event_action"] == "trigger":
                self._store.upsert(
                    PD_TRIGGERS_TABLE,
                    self._partition,
                    safe_key(event["dedup_key"]),
                    {"dedupKey": event["dedup_key"], "notification": notification.id},
                )
        return result


class LogSender:
    """Writes one structured log line per notification and always succeeds.

    Used when no channel is configured, so a notification is never silently dropped: it at
    least reaches the logs (Application Insights in Azure) with everything needed to act.
    """

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or log

    def send(self, notification: Notification) -> SendResult:
        v = view(notification)
        fields = {
            "notificationId": notification.id,
            "incidentId": notification.incident_id,
            "seq": notification.seq,
            "severity": notification.severity,
            "reason": notification.reason,
            "scaleSet": v.scale_set.id,
            "instances": [r.instance_id for r in v.instances],
            "findings": [f.code for f in v.findings],
            "portalUrl": v.scale_set.portal_url,
        }
        self._log.log(
            logging.WARNING if notification.severity == "page" else logging.INFO,
            "notification %s [%s/%s] %s | %s",
            notification.id,
            notification.severity,
            notification.reason,
            notification.title,
            v.headline,
            extra={"notification": fields},
        )
        return SendResult(ok=True)


def redactor_for(settings: Settings) -> Redactor:
    """A redactor that knows every notification credential in ``settings``."""
    return Redactor(
        [
            settings.teams_webhook_url,
            settings.webhook_url,
            settings.webhook_secret,
            settings.pagerduty_routing_key,
        ]
    )


def build_senders(
    settings: Settings,
    store: Store | None = None,
    clock: Clock | None = None,
    client: httpx.Client | None = None,
    app_url: str | None = None,
) -> dict[str, Sender]:
    """A sender per configured channel, plus ``log`` (always available: the fallback channel).

    ``store`` keeps which PagerDuty alerts were triggered (so only those are resolved); without
    one (``notify-test``) that memory is a private in-memory SQLite store. ``clock`` defaults to
    the system clock; ``client`` to the process-wide connection pool.
    """
    clock = clock or SystemClock()
    redact = redactor_for(settings)
    protect_http_logs(redact)
    senders: dict[str, Sender] = {}
    if settings.channels:
        poster = HttpPoster(client or shared_client(), clock, redact)
        if settings.teams_webhook_url:
            senders["teams"] = TeamsSender(settings.teams_webhook_url, poster, app_url)
        if settings.webhook_url:
            senders["webhook"] = WebhookSender(
                settings.webhook_url, settings.webhook_secret, poster, clock, app_url
            )
        if settings.pagerduty_routing_key:
            if store is None:
                from ..store.sqlite import SqliteStore

                store = SqliteStore(":memory:")
            senders["pagerduty"] = PagerDutySender(
                settings.pagerduty_routing_key, settings.pagerduty_url, poster, store
            )
    senders["log"] = LogSender()
    return senders
