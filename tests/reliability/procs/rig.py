"""The production shape on one machine: N app instances over HTTP, one Table store (Azurite), one
ARM emulator (HTTPS), one webhook receiver, one fast clock; and a reader that looks at the store.

The emulator and the receiver run in the test process (their logs are what the tests count); each
app instance is its own OS process, configured as in Azure through ``VMSS_RESPONDER_*``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from vmss_responder.azure import ArmTarget, StaticTokenCredential
from vmss_responder.bootstrap import Edges, build_responder
from vmss_responder.config import Settings, setting_names
from vmss_responder.durations import format_timestamp
from vmss_responder.runner import Responder
from vmss_responder.serve import API_KEY_ENV, STORE_URL_ENV
from vmss_responder.sim.emulator import ArmEmulator
from vmss_responder.sim.fleet import Fleet
from vmss_responder.sim.scenario import Scenario

from .apps import AppInstances
from .fast_clock import StoryClock
from .receiver import WebhookReceiver

API_KEY = "reliability-key"
SETTLE_TIMEOUT = 90.0


@dataclass(slots=True)
class Rig:
    scenario: Scenario
    settings: Settings
    clock: StoryClock
    arm: ArmEmulator
    apps: AppInstances
    reader: Responder

    def url(self, index: int) -> str:
        return self.apps.instances[index].url

    def settle(self) -> None:
        """Wait until the story has ended and the instances have finished what it left them."""
        self.clock.wait_until(self.scenario.start + self.scenario.until)
        deadline = time.monotonic() + SETTLE_TIMEOUT
        quiet = 0
        while quiet < 2:
            if time.monotonic() > deadline:
                raise AssertionError(f"the work did not settle within {SETTLE_TIMEOUT} s: {self.unsettled()}")
            quiet = quiet + 1 if not self.unsettled() else 0
            time.sleep(0.5)

    def unsettled(self) -> list[str]:
        """Work the instances still owe: pending deliveries, notifications, overdue evaluations."""
        r = self.reader
        left = [f"inbox {rec.row}" for rec in r.inbox.pending()]
        left += [f"outbox {p.notification_id}" for p in r.outbox.pending()]
        overdue = self.clock.now() - 3 * self.settings.sweep_interval
        for part in list(r.states.keys()):
            st = r.states.get_by_partition(part)
            if st is None:
                continue
            left += [f"state outbox {n['id']}" for n in st.outbox]
            if st.due is not None and st.due < overdue:
                left.append(f"{st.scale_set_id.rsplit('/', 1)[-1]} due at {st.due:%H:%M:%S}")
        return left


def app_settings(scenario: Scenario, arm: ArmEmulator, receiver: WebhookReceiver) -> Settings:
    return scenario.settings(
        {
            "scopes": [f"/subscriptions/{scenario.subscription_id}"],
            "workspaceId": arm.workspace_id,
            "webhookUrl": receiver.url,
            "webhookSecret": receiver.secret,
        }
    )


def environment(settings: Settings, store_url: str) -> dict[str, str]:
    """The app settings of an instance, as the Functions host would hand them over."""
    names = setting_names()
    env = {STORE_URL_ENV: store_url, API_KEY_ENV: API_KEY}
    for camel, value in settings.model_dump(mode="json", by_alias=True, exclude_none=True).items():
        env[names[camel]] = value if isinstance(value, str) else json.dumps(value)
    return env


@contextmanager
def rig(
    scenario: Scenario, instances: int, store_url: str, receiver: WebhookReceiver, log_dir: Path, speed: float
) -> Iterator[Rig]:
    clock = StoryClock(log_dir / "clock", scenario.start, speed)
    fleet = Fleet.from_spec(scenario.fleet, scenario.start)
    with ArmEmulator(fleet, clock) as arm:
        settings = app_settings(scenario, arm, receiver)
        args = [
            "--arm",
            arm.base_url,
            "--arm-ca",
            arm.ca_path,
            "--clock",
            str(clock.path),
            "--origin",
            format_timestamp(scenario.start),
            "--speed",
            str(speed),
        ]
        apps = AppInstances(instances, environment(settings, store_url), args, log_dir)
        target = ArmTarget(
            arm.base_url, arm.ca_path, StaticTokenCredential(clock), logs_endpoint=arm.base_url
        )
        reader = build_responder(settings, Edges(clock, store_url, target), owner="reader")
        try:
            apps.start()
            clock.start()
            yield Rig(scenario, settings, clock, arm, apps, reader)
        finally:
            apps.stop()
            reader.clients.close()
            reader.store.close()
