"""A real Responder for the Functions tests: temporary SQLite store, the ARM emulator serving a
scenario's fleet, virtual time starting at the scenario's start."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from handlers import runtime
from vmss_responder.azure import ArmTarget, StaticTokenCredential
from vmss_responder.bootstrap import Edges, build_responder
from vmss_responder.clock import VirtualClock
from vmss_responder.runner import Responder
from vmss_responder.sim.emulator import ArmEmulator
from vmss_responder.sim.fleet import Fleet
from vmss_responder.sim.scenario import Scenario, load_scenario

from .helpers import SCENARIO


@pytest.fixture(scope="session")
def scenario() -> Scenario:
    return load_scenario(SCENARIO)


@pytest.fixture
def clock(scenario: Scenario) -> VirtualClock:
    return VirtualClock(scenario.start)


@pytest.fixture
def arm(scenario: Scenario, clock: VirtualClock) -> Iterator[ArmEmulator]:
    with ArmEmulator(Fleet.from_spec(scenario.fleet, clock.now()), clock) as emulator:
        yield emulator


@pytest.fixture
def responder(
    scenario: Scenario, clock: VirtualClock, arm: ArmEmulator, tmp_path: Path
) -> Iterator[Responder]:
    """Installed as the process-wide Responder the handlers use, as ``serve`` installs its own."""
    settings = scenario.settings(
        {"scopes": [f"/subscriptions/{scenario.subscription_id}"], "workspaceId": arm.workspace_id}
    )
    target = ArmTarget(arm.base_url, arm.ca_path, StaticTokenCredential(clock), logs_endpoint=arm.base_url)
    built = build_responder(
        settings, Edges(clock, f"sqlite://{tmp_path}/store.sqlite", target), owner="functions-test"
    )
    runtime.use(built)
    yield built
    runtime.use(None)
    built.clients.close()
    built.store.close()
