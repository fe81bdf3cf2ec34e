"""SIGKILL the app instance at chosen moments of a storm, and start it again at once.

The moments worth a kill are narrow, so besides random instants the killer is aimed:

- ``ingest``: a few milliseconds after a delivery was POSTed (stored, half processed, or neither);
- ``arm``: the instant the emulator has served one of the instance's mutations (the action ran,
  its outcome is not saved yet);
- ``webhook``: while the receiver holds a notification, before it answers (sent, not recorded);
- ``random``: anywhere.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

from vmss_responder.sim.emulator import ArmEmulator

from .apps import AppInstances
from .receiver import Receipt, WebhookReceiver
from .storm import Copy

KINDS = ("ingest", "arm", "webhook", "random")
INGEST_DELAY = (0.0, 0.05)  # wall seconds after the POST
ARM_POLL = 0.001


@dataclass(slots=True)
class Kill:
    kind: str
    at: float  # time.monotonic()
    detail: str = ""


@dataclass
class KillPlan:
    """Which delivery copy, ARM write and webhook receipt to kill on (their ordinal), and when at random."""

    ingest_copy: int | None = None
    arm_write: int | None = None
    webhook_receipt: int | None = None
    random_after: float | None = None  # wall seconds into the storm

    @classmethod
    def draw(
        cls, rng: random.Random, kinds: list[str], copies: int, writes: int, receipts: int, wall: float
    ) -> KillPlan:
        plan = cls()
        for kind in kinds:
            if kind == "ingest":
                plan.ingest_copy = rng.randrange(copies)
            elif kind == "arm":
                plan.arm_write = rng.randrange(writes)
            elif kind == "webhook":
                plan.webhook_receipt = rng.randrange(receipts)
            else:
                plan.random_after = rng.uniform(0, wall)
        return plan


@dataclass
class Killer:
    apps: AppInstances
    arm: ArmEmulator
    receiver: WebhookReceiver
    plan: KillPlan
    rng: random.Random
    kills: list[Kill] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _restarts: list[threading.Thread] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _timers: list[threading.Timer] = field(default_factory=list)
    _receipts: int = 0

    def start(self) -> Killer:
        self.receiver.before_answer = self._on_receipt
        threading.Thread(target=self._watch_arm, daemon=True).start()
        if self.plan.random_after is not None:
            self._after(self.plan.random_after, "random")
        return self

    def on_send(self, copy: Copy, ordinal: int) -> None:
        if ordinal == self.plan.ingest_copy:
            self._after(self.rng.uniform(*INGEST_DELAY), "ingest", f"delivery {copy.delivery}")

    def _after(self, seconds: float, kind: str, detail: str = "") -> None:
        timer = threading.Timer(seconds, self.kill, (kind, detail))
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def _on_receipt(self, receipt: Receipt) -> None:
        with self._lock:
            ordinal, self._receipts = self._receipts, self._receipts + 1
        if ordinal == self.plan.webhook_receipt:
            self.kill("webhook", receipt.notification_id)

    def _watch_arm(self) -> None:
        if self.plan.arm_write is None:
            return
        while not self._stop.is_set():
            writes = [r for r in self.arm.requests if r.kind == "write"]
            if len(writes) > self.plan.arm_write:
                self.kill("arm", f"{writes[self.plan.arm_write].method} {writes[self.plan.arm_write].path}")
                return
            time.sleep(ARM_POLL)

    def kill(self, kind: str, detail: str = "") -> None:
        """Kill the instance if it is up and serving; it restarts in the background."""
        with self._lock:
            if self._stop.is_set() or any(t.is_alive() for t in self._restarts) or not self.apps.kill(0):
                return  # down or starting: this moment passed without a kill
            self.kills.append(Kill(kind, time.monotonic(), detail))
            restart = threading.Thread(target=self.apps.restart, args=(0,), daemon=True)
            self._restarts.append(restart)
            restart.start()

    def finish(self) -> None:
        """Stop aiming (the storm is over) and wait until the instance is serving again."""
        with self._lock:
            self._stop.set()
        for timer in self._timers:
            timer.cancel()
        self.receiver.before_answer = lambda _receipt: None
        for restart in self._restarts:
            restart.join()
        self.apps.restart(0)  # no-op when it is up
