"""Run Azurite's Table service for tests: in memory, on a free 127.0.0.1 port.

Azurite comes from the repository's package.json (``npm ci`` at the repository root puts it
in ``node_modules/.bin``); it is never installed globally, so every checkout tests against the
same locked version.
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
AZURITE_TABLE = REPO_ROOT / "node_modules" / ".bin" / "azurite-table"
ACCOUNT = "devstoreaccount1"
# The emulator's published, well-known development key (not a secret).
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
MISSING = f"{AZURITE_TABLE} is missing: run `npm ci` at the repository root (needs Node.js >= 20)"


def connection_string(port: int, host: str = "127.0.0.1") -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
        f"TableEndpoint=http://{host}:{port}/{ACCOUNT};"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@contextmanager
def azurite_tables(startup_timeout: float = 30.0) -> Iterator[str]:
    """Start Azurite's Table service, yield its connection string, stop it on exit."""
    if not AZURITE_TABLE.exists():
        raise FileNotFoundError(MISSING)
    with tempfile.TemporaryDirectory(prefix="azurite-") as workdir:
        log_path = Path(workdir) / "azurite.log"
        for _attempt in range(3):  # the free port can be taken between probe and bind
            port = free_port()
            with log_path.open("wb") as log:
                proc = subprocess.Popen(
                    [
                        str(AZURITE_TABLE),
                        "--tableHost", "127.0.0.1",
                        "--tablePort", str(port),
                        "--inMemoryPersistence",
                        "--disableTelemetry",
                        "--skipApiVersionCheck",
                        "--loose",
                        "--silent",
                    ],
                    cwd=workdir,  # anything Azurite writes stays out of the checkout
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )  # fmt: skip
            deadline = time.monotonic() + startup_timeout
            while proc.poll() is None and not _listening(port) and time.monotonic() < deadline:
                time.sleep(0.05)
            if proc.poll() is None and _listening(port):
                break
            _stop(proc)
        else:
            raise RuntimeError(f"Azurite did not start: {log_path.read_text(errors='replace')[-2000:]}")
        try:
            yield connection_string(port)
        finally:
            _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
