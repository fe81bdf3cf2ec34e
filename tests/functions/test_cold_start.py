"""Indexing imports ``function_app`` in every new worker: it must not load what only handling needs.

Checked in a fresh interpreter, since this test process has long imported everything.
(``bench/cold_start.py`` measures the time; this test only checks what is loaded.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

DEFERRED = (
    "azure.mgmt",
    "azure.identity",
    "azure.data.tables",
    "azure.monitor.query",
    "azure.eventgrid",
    "azure.core.pipeline",
    "pydantic",
    "isodate",
    "httpx",
    "starlette",
    "uvicorn",
    "vmss_responder.bootstrap",
    "vmss_responder.runner",
    "vmss_responder.engine",
    "vmss_responder.parse",
    "vmss_responder.store",
    "vmss_responder.azure",
    "vmss_responder.notify",
)

PROBE = """
import json, sys
import function_app
print(json.dumps({"modules": sorted(sys.modules), "functions": len(function_app.app.get_functions())}))
"""


def test_importing_function_app_defers_the_sdks_the_store_and_the_engine() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    report = json.loads(out.stdout)
    assert report["functions"] == 9
    loaded = [m for m in report["modules"] if m.startswith(DEFERRED)]
    assert loaded == []
