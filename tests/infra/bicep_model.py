"""Read the Bicep templates offline, through pycep-parser's JSON model.

No Bicep compiler installs without a network, so the infra tests assert on the parsed model
(the same parser checkov uses). pycep renders identifiers and string literals alike as Python
strings; :func:`resolve` follows a name to its ``var`` when one exists.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pycep import BicepParser

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


@functools.cache
def _parser() -> BicepParser:
    return BicepParser()  # builds the Lark grammar once


@functools.cache
def parse(path: Path) -> dict[str, Any]:
    return _parser().parse(file_path=path)


def template(relative: str) -> dict[str, Any]:
    return parse(INFRA / relative)


def unwrap(config: dict[str, Any]) -> dict[str, Any]:
    """The body of a declaration, beneath any ``[for ...]`` loop and ``if (...)`` condition."""
    while "config" in config and ("loop_type" in config or "condition" in config):
        config = config["config"]
    return config


@dataclass(frozen=True)
class Resource:
    file: Path
    symbol: str
    type: str
    api_version: str
    existing: bool
    declaration: dict[str, Any]

    @property
    def body(self) -> dict[str, Any]:
        return unwrap(self.declaration["config"])

    @property
    def properties(self) -> dict[str, Any]:
        return self.body.get("properties", {})

    @property
    def where(self) -> str:
        return f"{self.file.relative_to(INFRA)}:{self.symbol}"


def resources(type_: str | None = None, *, existing: bool = False) -> Iterator[Resource]:
    """Declared resources in every template, optionally of one type (case-insensitive)."""
    for path in bicep_files():
        for symbol, decl in parse(path).get("resources", {}).items():
            if decl["existing"] != existing:
                continue
            if type_ is not None and decl["type"].lower() != type_.lower():
                continue
            yield Resource(path, symbol, decl["type"], decl["api_version"], decl["existing"], decl)


def one(type_: str) -> Resource:
    found = list(resources(type_))
    assert len(found) == 1, f"expected one {type_}, found {[r.where for r in found]}"
    return found[0]


def resolve(doc: dict[str, Any], value: Any) -> Any:
    """Follow a variable name to its value (recursively); anything else is returned as is."""
    variables = doc.get("variables", {})
    seen = set()
    while isinstance(value, str) and value in variables and value not in seen:
        seen.add(value)
        value = variables[value]["value"]
    return value


def decorator(declaration: dict[str, Any], kind: str) -> Any:
    """The argument of a decorator (None for argument-less ones such as @secure()); KeyError if absent."""
    for item in declaration.get("decorators", []):
        if item["type"] == kind:
            return item.get("argument")
    raise KeyError(kind)


def walk(node: Any) -> Iterator[Any]:
    """Every node of a parsed value, depth first."""
    yield node
    if isinstance(node, dict):
        for child in node.values():
            yield from walk(child)
    elif isinstance(node, list):
        for child in node:
            yield from walk(child)


def functions(node: Any, name: str) -> list[dict[str, Any]]:
    """Every call of the Bicep function ``name`` inside ``node``."""
    return [
        n["function"] for n in walk(node) if isinstance(n, dict) and n.get("function", {}).get("type") == name
    ]
