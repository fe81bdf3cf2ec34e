"""The app instance is killed (SIGKILL) during a storm, again and again, and started again.

A Functions worker can die at any instant: the platform recycles it, it runs out of memory, the
host times it out. Ten seeded trials each play a storm of seven scenario stories (repairs
suspended, instances failing their probes, an extension failure, protected instances, a
misconfigured probe) against one instance over HTTP, every delivery sent 1-3 times and again
until acknowledged, and kill the instance at aimed and random moments (see procs/killer.py);
after each kill it starts again and its sweep picks up. Then, from the outside: no delivery that
got a 2xx was lost, no action reached ARM twice or was left pending (its incident could then
never be verified or closed), no notification was lost or told twice under different ids, and a
notification that reached the receiver twice was resent because a kill struck between its send
and its bookkeeping (the designed at-least-once window), with the same body and the same id.
"""

from __future__ import annotations

import contextlib
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.procs.audit import audit
from tests.reliability.procs.dying_store import DyingStore, Killed
from tests.reliability.procs.killer import KINDS, Killer, KillPlan
from tests.reliability.procs.notes import START, hold_a_storm, storm_settings
from tests.reliability.procs.receiver import Receipt, WebhookReceiver
from tests.reliability.procs.rig import API_KEY, rig
from tests.reliability.procs.storm import SCENARIOS, Storm, merged
from vmss_responder.azure import ArmTarget, AzureClients, StaticTokenCredential
from vmss_responder.clock import VirtualClock
from vmss_responder.identity import parse_resource_id
from vmss_responder.notify.outbox import Outbox
from vmss_responder.runner import Responder
from vmss_responder.sim.emulator import ArmEmulator
from vmss_responder.sim.fleet import Fleet
from vmss_responder.sim.scenario import load_scenario
from vmss_responder.store.sqlite import SqliteStore

STORIES = (
    "suspended-repairs-resumed",
    "repairs-not-running-restart",
    "blast-radius-one-at-a-time",
    "ecommerce-extension-update-probe-failure",
    "stateful-protected-from-scale-in",
    "probe-misconfigured-no-resume",
    "protected-from-scale-set-actions",
)
UNTIL = "+30m"
SPEED = 240.0  # story seconds per wall second: the half hour in 7.5 s
TRIALS = 10
KILLS_PER_TRIAL = 3
SEED = 20260504
EXPECTED_WRITES = 7  # ARM mutations a trial makes, about: where an "arm" kill is aimed
EXPECTED_RECEIPTS = 10
TRIALS_DONE: list[dict[str, Any]] = []


@pytest.mark.slow
@pytest.mark.azurite
@pytest.mark.parametrize("trial", range(TRIALS))
def test_a_killed_instance_loses_and_doubles_nothing(
    trial: int,
    empty_store: str,
    receiver: WebhookReceiver,
    tmp_path: Path,
    record_figures: Callable[[str, Any], None],
) -> None:
    rng = random.Random(SEED + trial)
    scenario = merged(STORIES, UNTIL)
    storm = Storm.plan(scenario, 1, rng)
    kinds = rng.sample(KINDS, KILLS_PER_TRIAL)
    wall = (scenario.until.total_seconds()) / SPEED
    plan = KillPlan.draw(rng, kinds, len(storm.copies), EXPECTED_WRITES, EXPECTED_RECEIPTS, wall)
    with rig(scenario, 1, empty_store, receiver, tmp_path, SPEED) as r:
        killer = Killer(r.apps, r.arm, receiver, plan, rng).start()
        try:
            storm.run(r.clock, r.arm, r.url, API_KEY, on_send=killer.on_send)
        finally:
            killer.finish()  # no restart may outlive the rig
        r.settle()
        r.apps.stop()
        result = audit(r.reader, r.arm.requests, receiver, storm)
    kills = killer.kills
    TRIALS_DONE.append(
        {
            "trial": trial,
            "kills": [k.kind for k in kills],
            **result.figures,
            "resent": result.resent,
            "unexecuted": result.unexecuted,
            "unrecorded": result.unrecorded,
        }
    )
    record_figures("crashes", summary(TRIALS_DONE))

    assert result.problems == []
    for nid in result.resent:
        got = [x for x in receiver.receipts if x.notification_id == nid]
        assert len({x.body_sha256 for x in got}) == 1, f"{nid} was resent with another body"
        first, last = got[0].at, got[-1].at
        assert any(first <= k.at <= last for k in kills), f"{nid} was resent with no kill in between"


def summary(trials: list[dict[str, Any]]) -> dict[str, Any]:
    total = {
        key: sum(t[key] for t in trials)
        for key in (
            "deliveries", "copies", "duplicates", "accepted", "actionsExecuted", "armWrites", "notifications",
            "receipts", "lostDeliveries", "doubledActions", "lostNotifications", "resentNotifications",
            "claimedNotExecuted", "executedNotRecorded",
        )
    }  # fmt: skip
    kills: dict[str, int] = {}
    for t in trials:
        for kind in t["kills"]:
            kills[kind] = kills.get(kind, 0) + 1
    return {
        "trials": len(trials),
        "kills": sum(kills.values()),
        "killsByKind": kills,
        "totals": total,
        "perTrial": trials,
    }


# ---------------------------------------------------------------- what the trials found, pinned down


@contextlib.contextmanager
def one_scale_set(
    name: str, tmp_path: Path
) -> Iterator[tuple[Any, VirtualClock, Fleet, ArmEmulator, Callable[[SqliteStore], Responder]]]:
    """One scenario's fleet behind the emulator, and a way to build its responder on a given store."""
    scenario = load_scenario(SCENARIOS / f"{name}.json")
    clock = VirtualClock(scenario.start)
    fleet = Fleet.from_spec(scenario.fleet, clock.now())
    with ArmEmulator(fleet, clock) as arm:
        settings = scenario.settings(
            {"scopes": [f"/subscriptions/{scenario.subscription_id}"], "workspaceId": arm.workspace_id}
        )
        target = ArmTarget(
            arm.base_url, arm.ca_path, StaticTokenCredential(clock), logs_endpoint=arm.base_url
        )

        def responder(store: SqliteStore) -> Responder:
            return Responder(
                settings, store, clock, AzureClients(target, clock, settings), Outbox(store, settings, clock)
            )

        yield scenario, clock, fleet, arm, responder


def sweep_to_the_end(responder: Responder, scenario: Any, clock: VirtualClock, fleet: Fleet) -> None:
    while clock.now() < scenario.start + scenario.until:
        clock.advance(responder.settings.sweep_interval.total_seconds())
        fleet.tick(clock.now())
        responder.sweep()


def test_an_action_whose_outcome_died_with_the_process_is_still_verified(tmp_path: Path) -> None:
    """The "arm" kills of the trials: ARM accepted the resume, the process died before saving the
    record's outcome. The record stays ``pending`` with no correlation id; the incident waits on it
    ("instances are still settling") for ever, though the platform repaired the instance."""
    path = str(tmp_path / "store.sqlite")
    with one_scale_set("suspended-repairs-resumed", tmp_path) as (scenario, clock, fleet, arm, responder):
        dying = DyingStore(path)
        dying.dies_at = ("upsert", "actions")  # the record's outcome, right after the ARM call
        (alert,) = [s.body for s in scenario.timeline if s.kind == "deliver"]
        with pytest.raises(Killed):
            responder(dying).ingest(alert["channel"], alert["payload"])
        restarted = responder(SqliteStore(path))
        sweep_to_the_end(restarted, scenario, clock, fleet)
        (incident,) = restarted.current_incidents()
        (action,) = restarted.actions.all()
        writes = [r.path for r in arm.requests if r.kind == "write"]
    assert len(writes) == 1  # holds: never twice
    assert (incident.status.value, action.result) == ("remediated", "succeeded")


class MeddlingStore(SqliteStore):
    """Runs ``meddle(record)`` once, on another thread, the moment an action record is claimed (before its call)."""

    def __init__(self, path: str, meddle: Callable[[dict[str, Any]], Any]) -> None:
        super().__init__(path)
        self.meddle: Callable[[dict[str, Any]], Any] | None = meddle
        self.meddled: list[Any] = []

    def insert(self, table: str, partition: str, row: str, value: dict[str, Any]) -> str | None:
        etag = super().insert(table, partition, row, value)
        if table == "actions" and self.meddle is not None:
            meddle, self.meddle = self.meddle, None
            worker = threading.Thread(target=lambda: self.meddled.append(meddle(value)))
            worker.start()
            worker.join()
        return etag


def test_a_second_evaluation_in_the_same_process_does_not_resend_a_call_in_flight(tmp_path: Path) -> None:
    """Trial 1's doubled reimage: the store lease is the process's, so while an ingest's evaluation
    was between storing its action (unconfirmed) and calling ARM, the sweep thread of the same
    process evaluated the same scale set, found the call "unconfirmed" in a live view that did not
    show it yet, and sent it again. Now a second evaluation in the process stands aside, and an
    unconfirmed call is judged only from a view read after it was sent."""
    with one_scale_set("repairs-not-running-restart", tmp_path) as (scenario, clock, fleet, arm, responder):

        def sweep_thread(action: dict[str, Any]) -> Any:
            clock.advance(1)  # a view read after the record was stored, before ARM has the call
            parsed = parse_resource_id(action["scale_set"])
            assert parsed is not None
            return app.evaluate(parsed[0])

        store = MeddlingStore(str(tmp_path / "store.sqlite"), sweep_thread)
        app = responder(store)
        for step in scenario.timeline:
            clock.advance((scenario.start + step.at - clock.now()).total_seconds())
            fleet.tick(clock.now())
            app.ingest(step.body["channel"], step.body["payload"])
        sweep_to_the_end(app, scenario, clock, fleet)
        writes = [r.path for r in arm.requests if r.kind == "write"]
        actions = [a for a in app.actions.all() if a.mode == "executed"]
    assert store.meddled == [None]  # the second evaluation stood aside
    assert len(actions) == 1 and len(writes) == 1


def test_a_digest_cut_short_by_a_crash_is_not_sent_again_piece_by_piece(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    """The "webhook" kills of the trials that hit a digest: the receiver has it, the process died
    before recording it. The restarted instance sweeps at once: the gate still says "release",
    but every held record is leased by the dead process, so it releases nothing and closes the
    window. When the leases run out, the records are new incidents again and go out on their own,
    under their own ids: on-call is told twice, and no receiver can tell."""
    clock = VirtualClock(START)
    settings = storm_settings(receiver)
    path = str(tmp_path / "store.sqlite")
    dying = DyingStore(path)
    hold_a_storm(Outbox(dying, settings, clock), clock)

    def die_after_the_digest(receipt: Receipt) -> None:
        if receipt.folded:
            dying.dies_at = ("insert", "outboxdone")

    receiver.before_answer = die_after_the_digest
    with pytest.raises(Killed):
        Outbox(dying, settings, clock).deliver_due()
    restarted = Outbox(SqliteStore(path), settings, clock)
    for _ in range(4):  # the timer sweeps: at once, then through two digest windows
        restarted.deliver_due()
        clock.advance(settings.digest_window.total_seconds())
    told = Counter(i for r in receiver.distinct().values() for i in (r.folded or (r.incident_id,)))
    assert told == {"inc-0": 1, "inc-1": 1, "inc-2": 1}
