"""docs/deployment.md stays true to the code and the template."""

from __future__ import annotations

import importlib.util
import re
from types import ModuleType

from .bicep_model import INFRA, REPO

DOC = REPO / "docs" / "deployment.md"


def settings_table_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("settings_table", REPO / "scripts" / "settings_table.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_settings_table_is_current() -> None:
    script = settings_table_script()
    text = DOC.read_text()
    assert script.replace_table(text, script.settings_table()) == text, (
        "docs/deployment.md is stale: python scripts/settings_table.py --write docs/deployment.md"
    )


def test_replace_table_rewrites_only_between_the_markers() -> None:
    script = settings_table_script()
    text = f"intro\n{script.START}\nold\n{script.END}\noutro\n"
    assert script.replace_table(text, "new\n") == f"intro\n{script.START}\nnew\n{script.END}\noutro\n"


def test_every_deployment_variable_and_file_is_documented() -> None:
    text = DOC.read_text()
    variables = set(re.findall(r"\$\{(\w+)", (INFRA / "main.parameters.json").read_text()))
    assert {"AZURE_ENV_NAME", "AZURE_LOCATION", "AZURE_PRINCIPAL_ID"} <= variables
    for name in variables - {"AZURE_ENV_NAME", "AZURE_LOCATION"}:
        assert f"`{name}`" in text, f"{name} is not documented"
    for path in re.findall(r"`((?:app|core)/[\w/-]+\.bicep)`", text):
        assert (INFRA / path).is_file(), path
    for script in (REPO / "scripts").glob("*.sh"):
        assert f"scripts/{script.name}" in text, script.name
