"""One row per figure, printed beside its peer: the shape every benchmark module reports in.

Each module's ``rows(result)`` turns its measured ``result`` (the dict it also writes to
``results.json``) into rows; ``run.py`` prints them as a text table and ``readme.py`` writes
the same rows as Markdown, so the console and the README can never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Row:
    label: str  # what is measured, e.g. "storm: signals per second (one core)"
    ours: str  # our figure with its unit
    peer: str  # the peer's figure from the same run, with its unit ("" when there is none)
    target: str = ""  # the target as text ("≥ 20,000/s"), "" when the figure has none
    verdict: str = ""  # "met", "missed: …" (by how much), or "" without a target

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def judged(met: bool, shortfall: str) -> str:
    """The verdict of a figure with a target: ``shortfall`` says by how much it was missed."""
    return "met" if met else f"missed: {shortfall}"


def count(value: float, unit: str = "") -> str:
    """A figure as people read it: thousands separated, at most one decimal."""
    text = f"{value:,.0f}" if value >= 100 or float(value).is_integer() else f"{value:,.1f}"
    return f"{text} {unit}".strip()


HEADERS = ("figure", "ours", "peer", "target", "verdict")


def _cells(rows: Iterable[Row]) -> list[Sequence[str]]:
    return [(r.label, r.ours, r.peer, r.target, r.verdict) for r in rows]


def text_table(rows: Iterable[Row]) -> str:
    cells = [HEADERS, *_cells(rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADERS))]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(len(HEADERS))).rstrip() for c in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows: Iterable[Row]) -> str:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    out = [line(HEADERS), line(["---"] * len(HEADERS))]
    out += [line(c) for c in _cells(rows)]
    return "\n".join(out)


def rows_from_dicts(items: Iterable[dict[str, Any]]) -> list[Row]:
    """Rows back from ``results.json`` (the README is written from the file, not from memory)."""
    return [Row(**item) for item in items]
