"""Start, kill and restart app instances (``procs/app.py``), each its own OS process on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.azurite import REPO_ROOT, free_port

STARTUP_TIMEOUT = 90.0  # a cold interpreter importing the SDKs while seven others do the same on 2 cores


@dataclass(slots=True)
class Instance:
    name: str
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


class AppInstances:
    """N instances sharing one store, one ARM emulator, one clock and one set of settings."""

    def __init__(self, count: int, env: dict[str, str], args: list[str], log_dir: Path) -> None:
        self.env = {**os.environ, **env}
        self.args = args
        self.instances = [Instance(f"app{i}", free_port(), log_dir / f"app{i}.log") for i in range(count)]
        self.kills = 0

    def __len__(self) -> int:
        return len(self.instances)

    def start(self) -> AppInstances:
        for inst in self.instances:
            self._spawn(inst)
        for inst in self.instances:
            self._wait_ready(inst)
        return self

    def _spawn(self, inst: Instance) -> None:
        with inst.log.open("ab") as log:
            inst.process = subprocess.Popen(
                [sys.executable, "-m", "tests.reliability.procs.app", "--port", str(inst.port), "--owner", inst.name, *self.args],
                cwd=REPO_ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip

    def _wait_ready(self, inst: Instance) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if not inst.alive:
                raise RuntimeError(f"{inst.name} exited at start-up:\n{self.log_tail(inst)}")
            try:
                if httpx.get(f"{inst.url}/api/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{inst.name} did not answer within {STARTUP_TIMEOUT} s:\n{self.log_tail(inst)}")

    def kill(self, index: int) -> bool:
        """SIGKILL, as the platform recycles a worker: no shutdown hook runs. False if already down."""
        inst = self.instances[index]
        if not inst.alive or inst.process is None:
            return False
        inst.process.kill()
        inst.process.wait()
        self.kills += 1
        return True

    def restart(self, index: int) -> None:
        inst = self.instances[index]
        if not inst.alive:
            self._spawn(inst)
            self._wait_ready(inst)

    def stop(self) -> None:
        for inst in self.instances:
            if inst.alive and inst.process is not None:
                inst.process.terminate()
        for inst in self.instances:
            if inst.process is not None:
                try:
                    inst.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    inst.process.kill()
                    inst.process.wait()

    def log_tail(self, inst: Instance, chars: int = 3000) -> str:
        return inst.log.read_text(errors="replace")[-chars:] if inst.log.exists() else ""

    def errors(self) -> dict[str, str]:
        """Tracebacks in the instances' logs (a crash inside a request or a sweep)."""
        found = {}
        for inst in self.instances:
            text = inst.log.read_text(errors="replace") if inst.log.exists() else ""
            if "Traceback" in text:
                found[inst.name] = text[text.index("Traceback") :][:3000]
        return found
