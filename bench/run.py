"""``vmss-responder bench``: every benchmark in one run, each figure beside its peer.

Order: the storm in process (throughput, then the ARM economy of the same run), HTTP ingest
against Alertmanager on a slice of the same storm, pages compared on the scenario library, cold
start. A section that fails is recorded with its error and the others still run (exit 1).
Results go to ``bench/results.json`` and the results part of ``bench/README.md`` is rewritten
from that file (:mod:`bench.readme`), so the README's numbers are this run's.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from bench import readme  # noqa: E402
from bench.report import Row, text_table  # noqa: E402
from vmss_responder.clock import SystemClock  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results.json"

# section -> (module, title); each module has ``rows(result) -> list[Row]``
SECTIONS: dict[str, tuple[str, str]] = {
    "storm": ("bench.throughput", "1. Storm throughput (in process, one core)"),
    "http_ingest": ("bench.http_ingest", "2. HTTP ingest vs Alertmanager"),
    "pages": ("bench.pages", "3. Pages compared (scenario library)"),
    "economy": ("bench.economy", "4. ARM economy (the storm of part 1)"),
    "cold_start": ("bench.cold_start", "5. Cold start"),
}


def machine() -> dict[str, Any]:
    """What the numbers were measured on, and how busy it was."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")),
        platform.processor(),
    )
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    mem_kib = next((int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("MemTotal")), 0)
    return {
        "cpu": model or "unknown",
        "cores": os.cpu_count(),
        "coresAvailable": len(os.sched_getaffinity(0)),
        "memoryGiB": round(mem_kib / 2**20, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadAverageAtStart": [round(x, 2) for x in os.getloadavg()],
    }


def _measure(name: str, call: Callable[[], dict[str, Any]], say: Callable[[str], None]) -> dict[str, Any]:
    clock = SystemClock()
    began = clock.monotonic()
    say(f"{name}: running")
    try:
        result = call()
    except Exception as exc:  # noqa: BLE001 - one failed section must not hide the others
        say(f"{name}: FAILED: {exc}")
        return {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-4000:]}
    seconds = round(clock.monotonic() - began, 1)
    say(f"{name}: done in {seconds} s")
    return {**result, "sectionSeconds": seconds}


def run(say: Callable[[str], None]) -> dict[str, Any]:
    from bench import cold_start, http_ingest, pages, throughput
    from bench.storm import generate_storm

    clock = SystemClock()
    began = clock.monotonic()
    results: dict[str, Any] = {"date": clock.now().isoformat(timespec="seconds"), "machine": machine()}
    storm = generate_storm()
    results["storm"] = _measure("storm", lambda: throughput.measure(storm), say)
    if "economy" in results["storm"]:
        results["economy"] = results["storm"].pop("economy")
    results["http_ingest"] = _measure("http_ingest", lambda: http_ingest.measure(storm), say)
    results["pages"] = _measure("pages", pages.measure, say)
    results["cold_start"] = _measure("cold_start", cold_start.run, say)
    results["machine"]["loadAverageAtEnd"] = [round(x, 2) for x in os.getloadavg()]
    results["wallSeconds"] = round(clock.monotonic() - began, 1)
    results["report"] = report(results)
    return results


def report(results: dict[str, Any]) -> dict[str, Any]:
    """Rows per section (and the pages table), kept in results.json so the README needs nothing else."""
    sections: dict[str, list[dict[str, str]]] = {}
    tables: dict[str, str] = {}
    for name, (module_name, _) in SECTIONS.items():
        result = results.get(name)
        if result is None:
            continue
        if "error" in result:
            sections[name] = [Row(f"{name}: failed", result["error"], "").to_dict()]
            continue
        module = importlib.import_module(module_name)
        sections[name] = [r.to_dict() for r in module.rows(result)]
        if hasattr(module, "table"):
            tables[name] = module.table(result)
    return {"sections": sections, "tables": tables}


def render(results: dict[str, Any]) -> str:
    """The console version: one table per section, in SECTIONS order."""
    out = []
    for name, (_, title) in SECTIONS.items():
        items = results["report"]["sections"].get(name)
        if items is None:
            continue
        out += [f"== {title}", text_table(Row(**r) for r in items)]
        if name in results["report"]["tables"]:
            out += ["", results["report"]["tables"][name]]
        out.append("")
    m = results["machine"]
    out.append(
        f"{m['cpu']}, {m['cores']} cores, Python {m['python']}; load {m['loadAverageAtStart'][0]} -> "
        f"{m['loadAverageAtEnd'][0]}; whole run {results['wallSeconds']} s"
    )
    return "\n".join(out)


def main(json_output: bool = False) -> int:
    def say(message: str) -> None:
        print(f"bench: {message}", file=sys.stderr, flush=True)

    results = run(say)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    readme.write(results)
    say(f"wrote {RESULTS.relative_to(ROOT)} and {readme.README.relative_to(ROOT)}")
    print(json.dumps(results, indent=2) if json_output else render(results))
    failed = any("error" in results[name] for name in SECTIONS if name in results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main("--json" in sys.argv[1:]))
