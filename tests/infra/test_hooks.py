"""The azd hook scripts: valid POSIX sh, clean under shellcheck (when installed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from .bicep_model import REPO

SCRIPTS = sorted((REPO / "scripts").glob("*.sh"))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_hook_is_valid_posix_sh(script: Path) -> None:
    assert script.read_text().startswith("#!/bin/sh\n")
    shell = shutil.which("dash") or "sh"  # dash: the strictest POSIX sh at hand
    done = subprocess.run([shell, "-n", str(script)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(
    shutil.which("shellcheck") is None, reason="shellcheck not installed (apt-get install shellcheck)"
)
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_hook_passes_shellcheck(script: Path) -> None:
    done = subprocess.run(
        ["shellcheck", "--shell=sh", str(script)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout


def test_hooks_fail_fast_and_name_what_is_missing() -> None:
    for script in SCRIPTS:
        text = script.read_text()
        assert "\nset -eu\n" in text, script.name
        assert ":?azd sets AZURE_ENV_NAME" in text, script.name
