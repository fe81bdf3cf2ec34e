"""The SDK client factory: lazy imports, caching, and the pipeline pieces it installs."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

from vmss_responder.azure import ArmTarget, ArmThrottled, AzureClients, StaticTokenCredential
from vmss_responder.clock import VirtualClock
from vmss_responder.config import load_settings

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=timezone.utc)


def test_importing_and_configuring_imports_no_azure_sdk() -> None:
    code = (
        "import sys\n"
        "from datetime import datetime, timezone\n"
        "from vmss_responder.azure import ArmTarget, AzureClients\n"
        "from vmss_responder.clock import SystemClock\n"
        "from vmss_responder.config import Settings\n"
        "AzureClients(ArmTarget(), SystemClock(), Settings())\n"
        "print(sorted(m for m in sys.modules if m == 'azure' or m.startswith('azure.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_clients_are_built_once_with_the_clock_transport_and_capped_retries() -> None:
    clock = VirtualClock(T0)
    target = ArmTarget(
        "https://127.0.0.1:1",
        "/tmp/ca.pem",
        StaticTokenCredential(clock),
        logs_endpoint="https://127.0.0.1:1",
    )
    clients = AzureClients(target, clock, load_settings({"maxRetryAfter": "PT45S"}))
    compute = clients.compute("6F1C9A52-0d2e-4b7a-9c1e-3a5d7e8f9012")
    assert clients.compute("6f1c9a52-0d2e-4b7a-9c1e-3a5d7e8f9012") is compute
    assert clients.logs() is clients.logs()

    from vmss_responder.azure import CappedRetryPolicy, ClockTransport

    transport = compute._client._pipeline._transport
    assert isinstance(transport, ClockTransport)
    assert transport.connection_config.verify == "/tmp/ca.pem"
    policies = [getattr(p, "_policy", p) for p in compute._client._pipeline._impl_policies]
    capped = [p for p in policies if isinstance(p, CappedRetryPolicy)]
    assert len(capped) == 1 and capped[0].max_retry_after == 45 and not capped[0].retry_failed_posts
    assert compute._config.polling_interval == 5
    assert compute._config.base_url == "https://127.0.0.1:1"
    clients.close()


def test_the_clock_transport_sleeps_in_virtual_time() -> None:
    from vmss_responder.azure import ClockTransport

    clock = VirtualClock(T0)
    wall = time.perf_counter()
    ClockTransport(clock).sleep(1200)
    assert clock.now() == T0 + timedelta(seconds=1200)
    assert time.perf_counter() - wall < 1


def test_static_token_lasts_an_hour_of_the_clock() -> None:
    clock = VirtualClock(T0)
    token = StaticTokenCredential(clock, "abc").get_token("https://management.azure.com/.default")
    assert token.token == "abc"
    assert token.expires_on == int((T0 + timedelta(hours=1)).timestamp())


def test_without_a_credential_the_managed_identity_chain_is_used() -> None:
    clients = AzureClients(ArmTarget(), VirtualClock(T0), load_settings({}))
    assert type(clients.credential).__name__ == "DefaultAzureCredential"
    assert clients.credential is clients.credential


def test_throttling_beyond_the_cap_is_not_an_azure_error() -> None:
    from azure.core.exceptions import AzureError

    exc = ArmThrottled(1200)
    assert not isinstance(exc, AzureError)
    assert (exc.retry_after_seconds, exc.retry_after, exc.status_code) == (1200, timedelta(minutes=20), 429)
