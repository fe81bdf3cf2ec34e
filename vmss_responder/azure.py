"""Lazily built Azure SDK clients, the same in production and against the replay's emulator.

Only the target differs: production uses ``https://management.azure.com`` and
``DefaultAzureCredential``; replay and tests point at the emulator with its CA and a
:class:`StaticTokenCredential`. Two pipeline pieces make the clients fit an incident responder:

* :class:`ClockTransport` sleeps through the injected clock. azure-core's ``RetryPolicy``
  (``Retry-After`` and back-off) and ARM LRO polling (``LROBasePolling._sleep``) both sleep via
  ``transport.sleep``, so in replay retries and polling cost virtual time and no wall time.
* :class:`CappedRetryPolicy` honours ``Retry-After`` only up to ``maxRetryAfter`` (20 s by
  default): a handler has 30 s before Event Grid gives up on it, and CRP's documented 429 asks
  for 1,200 s. A longer ``Retry-After`` raises :class:`ArmThrottled`; the caller schedules a
  recheck instead. It also never repeats a POST after an error other than 429: azure-core would
  retry a POST on 500/503/504, which can restart or reimage a VM twice. (A 429 is safe to repeat:
  ARM throttles before doing anything.)

Every retry wait of one invocation (ingest, sweep, rerun) also ends within
:data:`INVOCATION_BUDGET` (:func:`invocation_deadline`); past it the call raises
:class:`ArmThrottled` and the work is rescheduled.

Nothing from ``azure.*`` is imported until a client is built: ``import function_app`` stays cheap.
The two pipeline classes are created on first use and are reachable as module attributes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from .clock import Clock
from .config import Settings

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken, TokenCredential
    from azure.mgmt.compute import ComputeManagementClient
    from azure.monitor.query import LogsQueryClient

ARM_ENDPOINT = "https://management.azure.com"
LOGS_ENDPOINT = "https://api.loganalytics.io"
POLLING_INTERVAL_SECONDS = 5  # used when ARM sends no Retry-After (compute's default is 30)
CONNECTION_TIMEOUT_SECONDS = 10
READ_TIMEOUT_SECONDS = 30
# Event Grid gives a handler 30 s: the waits of one invocation (every retry of every call) end by then.
INVOCATION_BUDGET = timedelta(seconds=20)
_DEADLINE: ContextVar[datetime | None] = ContextVar("vmss_responder_arm_deadline", default=None)


@contextmanager
def invocation_deadline(clock: Clock, budget: timedelta = INVOCATION_BUDGET) -> Iterator[None]:
    """Within this block a retry wait that would end after ``now + budget`` raises :class:`ArmThrottled`
    instead: ``maxRetryAfter`` caps each wait, this caps their sum. Nested blocks keep the outer deadline."""
    outer = _DEADLINE.get()
    token = _DEADLINE.set(outer if outer is not None else clock.now() + budget)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


class ArmThrottled(Exception):
    """ARM asked us to wait longer than we may (``Retry-After`` beyond ``maxRetryAfter``).

    Not an ``AzureError`` on purpose: azure-core's retry loop catches those and would retry."""

    def __init__(self, retry_after_seconds: float, status_code: int = 429) -> None:
        super().__init__(f"ARM asked to retry after {retry_after_seconds:g} s (HTTP {status_code})")
        self.retry_after_seconds = retry_after_seconds
        self.status_code = status_code

    @property
    def retry_after(self) -> timedelta:
        return timedelta(seconds=self.retry_after_seconds)


@dataclass(frozen=True)
class ArmTarget:
    """Where the clients go. ``credential`` None means ``DefaultAzureCredential`` (managed identity)."""

    base_url: str = ARM_ENDPOINT
    connection_verify: bool | str = True  # True, or the path of a CA bundle (the emulator's)
    credential: TokenCredential | None = field(default=None, compare=False)
    logs_endpoint: str = LOGS_ENDPOINT


class StaticTokenCredential:
    """A fixed bearer token valid for an hour of the clock: the emulator checks presence only."""

    def __init__(self, clock: Clock, token: str = "emulator-token") -> None:
        self._clock, self._token = clock, token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        from azure.core.credentials import AccessToken

        return AccessToken(self._token, int((self._clock.now() + timedelta(hours=1)).timestamp()))


@cache
def _clock_transport_class() -> type:
    from azure.core.pipeline.transport import RequestsTransport

    class ClockTransport(RequestsTransport):
        """``RequestsTransport`` whose ``sleep`` (retries, LRO polling) goes through the clock."""

        def __init__(self, clock: Clock, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.clock = clock

        def sleep(self, duration: float) -> None:
            self.clock.sleep(duration)

    return ClockTransport


@cache
def _capped_retry_policy_class() -> type:
    from azure.core.pipeline.policies import RetryPolicy

    class CappedRetryPolicy(RetryPolicy):
        """``RetryPolicy`` that caps ``Retry-After`` and does not repeat failed POSTs (but 429s)."""

        def __init__(
            self, max_retry_after: float, *, retry_failed_posts: bool = False, **kwargs: Any
        ) -> None:
            super().__init__(**kwargs)
            self.max_retry_after = max_retry_after
            self.retry_failed_posts = retry_failed_posts

        def is_retry(self, settings: dict[str, Any], response: Any) -> bool:
            status = response.http_response.status_code
            failed_post = response.http_request.method.upper() == "POST" and status >= 400 and status != 429
            if failed_post and not self.retry_failed_posts:
                return False
            return bool(super().is_retry(settings, response))

        def _is_method_retryable(self, settings: dict[str, Any], request: Any, response: Any = None) -> bool:
            # azure-core never resends a POST whose answer was lost; a read-only query POST may be resent
            return (
                True
                if self.retry_failed_posts
                else bool(super()._is_method_retryable(settings, request, response))
            )

        def sleep(self, settings: dict[str, Any], transport: Any, response: Any = None) -> None:
            retry_after = self.get_retry_after(response) if response is not None else None
            status = response.http_response.status_code if response is not None else 0
            if retry_after is not None and retry_after > self.max_retry_after:
                raise ArmThrottled(retry_after, status)
            deadline, clock = _DEADLINE.get(), getattr(transport, "clock", None)
            wait = retry_after if retry_after is not None else self.get_backoff_time(settings)
            if (
                deadline is not None
                and clock is not None
                and clock.now() + timedelta(seconds=wait) > deadline
            ):
                raise ArmThrottled(max(wait, 1.0), status)  # this invocation is out of time: reschedule
            super().sleep(settings, transport, response)

    return CappedRetryPolicy


def __getattr__(name: str) -> type:
    """``from vmss_responder.azure import ClockTransport, CappedRetryPolicy`` without importing
    azure-core when this module is imported."""
    if name == "ClockTransport":
        return _clock_transport_class()
    if name == "CappedRetryPolicy":
        return _capped_retry_policy_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class AzureClients:
    """The responder's SDK clients, built on first use and cached (one per subscription)."""

    def __init__(self, target: ArmTarget, clock: Clock, settings: Settings) -> None:
        self.target, self.clock, self.settings = target, clock, settings
        self._compute: dict[str, ComputeManagementClient] = {}
        self._logs: LogsQueryClient | None = None
        self._credential: TokenCredential | None = target.credential
        self._lock = threading.Lock()

    @property
    def credential(self) -> TokenCredential:
        if self._credential is None:
            from azure.identity import DefaultAzureCredential

            self._credential = DefaultAzureCredential()
        return self._credential

    def _pipeline(self, *, retry_failed_posts: bool) -> dict[str, Any]:
        transport = _clock_transport_class()(
            self.clock,
            connection_verify=self.target.connection_verify,
            connection_timeout=CONNECTION_TIMEOUT_SECONDS,
            read_timeout=READ_TIMEOUT_SECONDS,
        )
        retry = _capped_retry_policy_class()(
            self.settings.max_retry_after.total_seconds(), retry_failed_posts=retry_failed_posts
        )
        return {"transport": transport, "retry_policy": retry}

    def compute(self, subscription_id: str) -> ComputeManagementClient:
        with self._lock:
            client = self._compute.get(subscription_id.lower())
            if client is None:
                from azure.mgmt.compute import ComputeManagementClient

                client = ComputeManagementClient(
                    self.credential,
                    subscription_id,
                    base_url=self.target.base_url,
                    polling_interval=POLLING_INTERVAL_SECONDS,
                    **self._pipeline(retry_failed_posts=False),
                )
                self._compute[subscription_id.lower()] = client
            return client

    def logs(self) -> LogsQueryClient:
        """Log Analytics queries are read-only POSTs: retrying them after a 5xx is safe."""
        with self._lock:
            if self._logs is None:
                from azure.monitor.query import LogsQueryClient

                self._logs = LogsQueryClient(
                    self.credential,
                    endpoint=self.target.logs_endpoint,
                    **self._pipeline(retry_failed_posts=True),
                )
            return self._logs

    def close(self) -> None:
        with self._lock:
            for client in self._compute.values():
                client.close()
            if self._logs is not None:
                self._logs.close()
            self._compute.clear()
            self._logs = None
