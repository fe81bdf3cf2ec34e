"""Checkov's Bicep policies over infra/: no failed check, and every skip explained in the template.

Runs the checkov installed next to the interpreter (the project venv) with --skip-download, so
nothing is fetched (without it checkov calls the Prisma Cloud API). About 6 s.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .bicep_model import INFRA, REPO, bicep_files

CHECKOV = Path(sys.executable).parent / "checkov"
SKIP = re.compile(r"//\s*checkov:skip=(\w+):\s*(\S.*)$")


def wait_for_checkov(timeout: float = 120.0) -> Path:
    """checkov may still be installing into the venv when the suite starts."""
    deadline = time.monotonic() + timeout
    while not CHECKOV.exists():
        assert time.monotonic() < deadline, f"{CHECKOV} not found: pip install checkov into the venv"
        time.sleep(2)
    return CHECKOV


@functools.cache
def report() -> dict[str, Any]:
    done = subprocess.run(
        [str(wait_for_checkov()), "-d", str(INFRA), "--framework", "bicep", "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr[-2000:]  # 1: failed checks, reported below
    data = json.loads(done.stdout)
    return data[0] if isinstance(data, list) else data


def skips_in_templates() -> dict[tuple[str, str], str]:
    """(file relative to infra/, check id) -> reason, from the `// checkov:skip=` comments."""
    found = {}
    for path in bicep_files():
        for line in path.read_text().splitlines():
            match = SKIP.search(line)
            if match:
                found[(str(path.relative_to(INFRA)), match.group(1))] = match.group(2)
    return found


def test_no_failed_checks_and_no_parsing_errors() -> None:
    data = report()
    assert data["check_type"] == "bicep"
    failed = [
        f"{c['check_id']} {c['file_path']} {c['resource']}: {c['check_name']}"
        for c in data["results"]["failed_checks"]
    ]
    assert failed == []
    assert data["results"]["parsing_errors"] == []
    scanned = {
        c["file_path"].lstrip("/")
        for c in data["results"]["passed_checks"] + data["results"]["skipped_checks"]
    }
    assert {"app/api.bicep", "core/storage/storage-account.bicep", "core/security/key-vault.bicep"} <= scanned


def test_every_skip_is_explained_next_to_its_resource_and_still_needed() -> None:
    reported = {
        (c["file_path"].lstrip("/"), c["check_id"]): c["check_result"].get("suppress_comment", "")
        for c in report()["results"]["skipped_checks"]
    }
    written = skips_in_templates()
    assert set(reported) == set(written), (
        "a skip comment outside a resource block, or for a check that no longer fires"
    )
    for key, reason in written.items():
        assert len(reason) >= 30, f"{key}: say why"
        assert reported[key].strip() == reason.strip()
