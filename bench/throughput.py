"""Storm throughput: the generated storm through the whole in-process path, on one core.

Every delivery goes through ``Responder.ingest`` exactly as the HTTP handlers call it (parse,
inbox, dedup, fold into the scale set's state, evaluate when due: live read, decide, record,
outbox) on a SQLite file store, with the periodic sweep every ``sweepInterval`` of virtual time
and a tail after the last delivery so that everything due is decided. Time is virtual: the
storm's 36 minutes cost no waiting, so the rate is the responder's own speed.

Why two processes: the responder runs in a fresh interpreter pinned to one CPU, the ARM
emulator stays in this process. The emulator stands in for a remote service; had it run in the
measured process, its TLS and JSON rendering would be billed to the responder's core. The two
share the virtual clock through one shared 64-bit integer (:class:`SharedClock`), so the
emulator plays the platform at the responder's ``now``. The storm reaches the child as a file of
request bodies (one delivery a line), read and JSON-decoded one at a time inside the timed loop
as a handler decodes a request body; so the child never holds the storm, and its peak RSS is the
responder's own.

A wall-clock budget bounds the run: if the code is too slow to get through the storm in it, the
run stops at a delivery boundary and says how far it got (``complete: false``); the rate is then
the rate over that prefix, which is the early, smaller part of the storm. Profile a run with
``--profile FILE`` (cProfile of the child) and read it with ``python -m pstats FILE``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import logging
import multiprocessing
import os
import pstats
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from bench.report import Row, count, judged  # noqa: E402
from bench.storm import Storm, generate_storm  # noqa: E402
from vmss_responder.config import ACTION_NAMES  # noqa: E402

TARGET_SIGNALS_PER_S = 20_000
TAIL = timedelta(minutes=20)  # after the last delivery: holds and rechecks fall due and are decided
BUDGET_S = 160.0  # the whole bench stays under 5 minutes here
# Worst case for ARM spend: act mode with every action allowed (observe mode would write nothing).
CONFIG: dict[str, Any] = {"mode": "act", "allowedActions": list(ACTION_NAMES)}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class SharedClock:
    """Virtual time in shared memory: whole microseconds since the epoch in one 64-bit integer.

    The responder's process moves it (``set``, and ``sleep`` from the SDK's retry and polling);
    the emulator's process only reads it. It never runs backwards.
    """

    def __init__(self, micros: Any) -> None:
        self._micros = micros  # multiprocessing RawValue("q")

    @staticmethod
    def encode(when: datetime) -> int:
        return (when - _EPOCH) // timedelta(microseconds=1)

    def now(self) -> datetime:
        return _EPOCH + timedelta(microseconds=self._micros.value)

    def set(self, when: datetime) -> None:
        self._micros.value = max(self._micros.value, self.encode(when))

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._micros.value += round(seconds * 1_000_000)


@dataclass(frozen=True, slots=True)
class Params:
    budget_s: float = BUDGET_S
    config: dict[str, Any] = field(default_factory=lambda: dict(CONFIG))
    profile: str | None = None  # cProfile output of the child


@dataclass(frozen=True, slots=True)
class Target:
    """Where the child finds the emulator and the storm."""

    base_url: str
    ca_path: str
    workspace_id: str
    storm_file: str  # one delivery a line: channel, arrival time, body (tab-separated)
    subscription_id: str
    start: datetime
    end: datetime
    deliveries: int


def measure(storm: Storm | None = None, params: Params | None = None) -> dict[str, Any]:
    """Run ``storm`` (the default storm unless given) and return the figures, with the ARM
    economy of the same run (:mod:`bench.economy`) under ``economy``."""
    from bench import economy
    from vmss_responder.sim.emulator import ArmEmulator
    from vmss_responder.sim.fleet import Fleet

    p = params or Params()
    storm = storm or generate_storm()
    ctx = multiprocessing.get_context("spawn")
    micros = ctx.RawValue("q", SharedClock.encode(storm.start))
    clock = SharedClock(micros)
    with (
        tempfile.TemporaryDirectory(prefix="bench-storm-") as tmp,
        ArmEmulator(Fleet.from_spec(storm.fleet, storm.start), clock) as arm,
    ):
        storm_file = Path(tmp) / "storm.tsv"
        with storm_file.open("w") as f:
            f.writelines(
                f"{d.channel}\t{d.at.isoformat()}\t{json.dumps(d.payload)}\n" for d in storm.deliveries
            )
        target = Target(
            arm.base_url,
            arm.ca_path,
            arm.workspace_id,
            str(storm_file),
            storm.subscription_id,
            storm.start,
            storm.end,
            len(storm.deliveries),
        )
        receiver, sender = ctx.Pipe(duplex=False)
        child = ctx.Process(target=_child, args=(p, micros, target, sender), name="bench-storm")
        child.start()
        sender.close()
        try:
            result = receiver.recv()
        except EOFError:
            result = None
        child.join()
        if result is None or "error" in result:
            raise RuntimeError(f"storm child failed (exit {child.exitcode}): {result and result['error']}")
        requests = arm.requests
        result["storm"] = {**describe(storm), "jsonMiB": round(storm_file.stat().st_size / 2**20, 1)}
    processed = storm.deliveries[: result["deliveries"]]
    result["economy"] = economy.measure(storm, processed, requests, until=clock.now())
    return result


def describe(storm: Storm) -> dict[str, Any]:
    """What the storm was, for the record."""
    return {
        "scaleSets": len(storm.fleet["scaleSets"]),
        "instances": sum(len(s["instances"]) for s in storm.fleet["scaleSets"]),
        "deliveries": len(storm.deliveries),
        "redeliveries": storm.redeliveries,
        "channels": storm.channels(),
        "stories": dict(Counter(storm.stories.values())),
        "seed": storm.seed,
        "start": storm.start.isoformat(),
        "end": storm.end.isoformat(),
        "peakArrivalsPerSecond": max(
            Counter(int((d.at - storm.start).total_seconds()) for d in storm.deliveries).values()
        ),
    }


# --- the measured process -----------------------------------------------------------------------


def _child(p: Params, micros: Any, target: Target, out: Any) -> None:
    """Entry point of the measured process: everything it reports is its own."""
    try:
        out.send(_run(p, micros, target))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
        out.send({"error": f"{type(exc).__name__}: {exc}"})
    finally:
        out.close()


def _run(p: Params, micros: Any, target: Target) -> dict[str, Any]:
    from vmss_responder.azure import ArmTarget, StaticTokenCredential
    from vmss_responder.bootstrap import Edges, build_responder
    from vmss_responder.config import load_settings

    cpu = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    logging.getLogger().addHandler(logging.NullHandler())  # log-channel notifications: formatted, not printed
    clock = SharedClock(micros)
    settings = load_settings(
        {
            "scopes": [f"/subscriptions/{target.subscription_id}"],
            "workspaceId": target.workspace_id,
            **p.config,
        }
    )
    arm = ArmTarget(
        target.base_url, target.ca_path, StaticTokenCredential(clock), logs_endpoint=target.base_url
    )
    with tempfile.TemporaryDirectory(prefix="bench-storm-store-") as tmp:
        responder = build_responder(
            settings, Edges(clock, f"sqlite://{tmp}/storm.sqlite", arm), owner="bench-storm"
        )
        # Build the SDK clients (and import azure.*) before the clock starts: a cold start is
        # measured on its own (bench/cold_start.py); here it would be a one-off in the rate.
        responder.clients.compute(target.subscription_id)
        responder.clients.logs()
        baseline_kib = _memory_kib("VmHWM")
        profiler = cProfile.Profile() if p.profile else None
        run = _Drive(responder, clock, settings.sweep_interval, p.budget_s)
        if profiler:
            profiler.enable()
        with open(target.storm_file) as lines:
            run.storm(lines, target.start, target.end)
        if profiler:
            profiler.disable()
            profiler.dump_stats(p.profile)
        peak_kib = _memory_kib("VmHWM")
        outcome = _outcome(responder)
        store_bytes = sum(f.stat().st_size for f in Path(tmp).iterdir())
    return {
        **asdict(run.tally),
        "complete": run.tally.deliveries == target.deliveries,
        "budgetSeconds": p.budget_s,
        "cpu": cpu,
        "config": p.config,
        "peakRssMiB": round(peak_kib / 1024, 1),
        "baselineRssMiB": round(baseline_kib / 1024, 1),
        "storeMiB": round(store_bytes / 2**20, 1),
        "virtualEnd": clock.now().isoformat(),
        **outcome,
        **({"profileTop": _top(p.profile)} if p.profile else {}),
    }


@dataclass(slots=True)
class Tally:
    deliveries: int = 0
    signals: int = 0  # new signals absorbed
    duplicates: int = 0  # signals recognized as already seen (redeliveries, the same fact via two channels)
    ignored: int = 0  # well-formed but not about one scale set (Service Health) or not read
    rejected: int = 0
    sweeps: int = 0
    wallSeconds: float = 0.0
    cpuSeconds: float = 0.0
    ingestSeconds: float = 0.0
    sweepSeconds: float = 0.0


class _Drive:
    """The replay loop of ``sim/replay.py`` without a scenario: deliveries in arrival order,
    sweeps every ``sweep_interval`` of virtual time, timed."""

    def __init__(
        self, responder: Any, clock: SharedClock, sweep_interval: timedelta, budget_s: float
    ) -> None:
        self.responder, self.clock, self.interval, self.budget_s = responder, clock, sweep_interval, budget_s
        self.tally = Tally()
        self._next_sweep: datetime | None = None

    def storm(self, lines: Iterable[str], start: datetime, end: datetime) -> None:
        t = self.tally
        self._next_sweep = start
        wall, cpu = time.perf_counter(), time.process_time()
        deadline = wall + self.budget_s
        for line in lines:
            channel, at_text, body = line.split("\t", 2)
            at = datetime.fromisoformat(at_text)
            self._sweeps_until(at)
            self.clock.set(at)
            payload = json.loads(body)  # what a handler does with the request body
            began = time.perf_counter()
            result = self.responder.ingest(channel, payload)
            ended = time.perf_counter()
            t.ingestSeconds += ended - began
            t.deliveries += 1
            t.signals += result.signals
            t.duplicates += result.duplicates
            t.ignored += len(result.ignored)
            t.rejected += len(result.rejected) + (not result.accepted)
            if ended > deadline:
                break
        else:
            self._sweeps_until(end + TAIL)
        t.wallSeconds = time.perf_counter() - wall
        t.cpuSeconds = time.process_time() - cpu

    def _sweeps_until(self, when: datetime) -> None:
        assert self._next_sweep is not None
        while self._next_sweep <= when:
            self.clock.set(self._next_sweep)
            began = time.perf_counter()
            self.responder.sweep()
            self.tally.sweepSeconds += time.perf_counter() - began
            self.tally.sweeps += 1
            self._next_sweep += self.interval


def _memory_kib(field: str) -> int:
    """From /proc/self/status: ``VmHWM`` is this process's own peak RSS. (``ru_maxrss`` is not:
    Linux carries the parent's high-water mark over fork and exec into it.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _outcome(responder: Any) -> dict[str, Any]:
    """What the responder decided: incidents by status, notifications, actions."""
    incidents = responder.current_incidents()
    notes = responder.outbox.deliveries()
    actions = responder.actions.all()
    return {
        "incidents": dict(Counter(i.status.value for i in incidents)),
        "scaleSetsWithIncidents": len({i.scale_set.lower() for i in incidents}),
        "notifications": dict(Counter(n.severity for n in notes)),
        "actions": dict(Counter(f"{a.op}:{a.mode}" for a in actions)),
    }


def _top(path: str, limit: int = 15) -> list[str]:
    buffer = io.StringIO()
    pstats.Stats(path, stream=buffer).sort_stats("cumulative").print_stats(limit)
    return [line for line in buffer.getvalue().splitlines() if line.strip()][-limit:]


# --- rows -----------------------------------------------------------------------------------


def rows(result: dict[str, Any]) -> list[Row]:
    """Storm throughput beside the storm's own arrival rate (the peer: what the platform sends)."""
    signals = result["signals"] + result["duplicates"]
    rate = signals / result["wallSeconds"] if result["wallSeconds"] else 0.0
    ingest_rate = signals / result["ingestSeconds"] if result["ingestSeconds"] else 0.0
    storm = result["storm"]
    done = (
        ""
        if result["complete"]
        else f" (budget {result['budgetSeconds']:.0f} s: {result['deliveries']:,} of {storm['deliveries']:,} deliveries)"
    )
    shortfall = f"{TARGET_SIGNALS_PER_S / rate:,.0f}x too slow" if rate else "nothing processed"
    return [
        Row(
            f"storm: signals/s, full path on one core{done}",
            count(rate, "/s"),
            f"storm peak arrival {count(storm['peakArrivalsPerSecond'], '/s')}",
            f">= {count(TARGET_SIGNALS_PER_S, '/s')}",
            judged(rate >= TARGET_SIGNALS_PER_S, shortfall),
        ),
        Row("storm: signals/s inside ingest only", count(ingest_rate, "/s"), "", ""),
        Row(
            "storm: peak memory (RSS of the responder process)",
            count(result["peakRssMiB"], "MiB"),
            f"{count(result['baselineRssMiB'], 'MiB')} before the first delivery; the storm as JSON {count(storm['jsonMiB'], 'MiB')}",
        ),
        Row(
            "storm: pages / incidents",
            f"{result['notifications'].get('page', 0)} / {sum(result['incidents'].values())}",
            f"{signals:,} signals, {result['scaleSetsWithIncidents']} scale sets",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale-sets", type=int, default=100)
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--deliveries", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--budget", type=float, default=BUDGET_S, help="wall-clock seconds before stopping early"
    )
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of the responder process")
    args = parser.parse_args(argv)
    storm = generate_storm(args.scale_sets, args.instances, args.deliveries, args.seed)
    print(json.dumps(measure(storm, Params(args.budget, profile=args.profile)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
