"""``vmss-responder``: demo · replay · serve · notify-test · bench."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO_SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def _replay_cmd(args: argparse.Namespace) -> int:
    from .sim.replay import replay
    from .sim.scenario import ScenarioError, load_scenario

    try:
        scenarios = [load_scenario(p) for p in args.scenarios]
    except ScenarioError as exc:
        print(f"invalid scenario: {exc}", file=sys.stderr)
        return 2
    reports = []
    for sc in scenarios:
        progress = (lambda msg: print(f"  {msg}", file=sys.stderr)) if args.verbose else None
        reports.append(replay(sc, progress=progress))
    if args.json:
        print(json.dumps(reports[0] if len(reports) == 1 else reports, indent=2))
    else:
        for sc, rep in zip(scenarios, reports):
            print(summarize(sc, rep))
    return 0


def summarize(scenario: Any, report: dict[str, Any]) -> str:
    lines = [f"== {report['scenario']}", f"   {scenario.description}" if scenario.description else ""]
    for inc in report["incidents"]:
        name = inc["scaleSet"].rsplit("/", 1)[-1]
        ids = f" instances {', '.join(inc['instanceIds'])}" if inc["instanceIds"] else ""
        lines.append(
            f"   incident {inc['id']}: {name}{ids} -> {inc['status'].upper()} [{', '.join(inc['findings'])}] ({inc['signals']} signals)"
        )
        lines.append(f"     {inc['explanation']}")
    if not report["incidents"]:
        lines.append("   no incident")
    pages = [n for n in report["notifications"] if n["severity"] == "page"]
    lines.append(
        f"   pages: {len(pages)}; notifications: "
        + (
            ", ".join(f"{n['severity']}@{n['at'][11:16]}->{n['channel']}" for n in report["notifications"])
            or "none"
        )
    )
    for a in report["actions"]:
        lines.append(f"   action {a['op']} {a['instanceIds'] or ''} {a['mode']} {a['result']}: {a['reason']}")
    arm = report["arm"]
    lines.append(
        f"   ARM: {arm['reads']} reads, {arm['writes']} writes, {arm['throttled']} throttled, {arm['logQueries']} log queries; rejected: {len(report['rejected'])}"
    )
    return "\n".join(line for line in lines if line)


def _demo_cmd(args: argparse.Namespace) -> int:
    from .sim.replay import replay
    from .sim.scenario import load_scenario

    folder = Path(args.folder)
    files = sorted(folder.glob("*.json"))
    if not files:
        print(f"no scenarios in {folder}", file=sys.stderr)
        return 2
    print(
        f"Replaying {len(files)} scenarios from {folder} on a virtual clock against the local ARM emulator\n"
    )
    for i, path in enumerate(files, 1):
        sc = load_scenario(path)
        print(f"[{i}/{len(files)}] {sc.name} ...", flush=True)
        report = replay(sc)
        print(summarize(sc, report) + "\n", flush=True)
    return 0


def _notify_test_cmd(args: argparse.Namespace) -> int:
    import os

    from .clock import SystemClock
    from .config import settings_from_env
    from .notify.sample import sample_notification
    from .notify.senders import build_senders

    settings = settings_from_env(os.environ)
    senders = build_senders(settings)
    if args.channel not in senders:
        print(
            f"channel {args.channel!r} is not configured; configured: {', '.join(senders) or 'none'}",
            file=sys.stderr,
        )
        return 2
    note = sample_notification(args.severity, SystemClock().now(), reason="test")
    result = senders[args.channel].send(note)
    print(
        json.dumps({"channel": args.channel, "ok": result.ok, "status": result.status, "error": result.error})
    )
    return 0 if result.ok else 1


def _bench_cmd(args: argparse.Namespace) -> int:
    """``bench/`` is a tool of the repository, not part of the installed package: it needs the
    checkout around it (the scenario library, ``function_app.py``), so it is imported from there."""
    root = str(REPO_SCENARIOS.parent)
    if not (REPO_SCENARIOS.parent / "bench" / "run.py").is_file():
        print(
            f"bench: no bench/ beside the package ({root}); run it from a clone of the repository",
            file=sys.stderr,
        )
        return 2
    if root not in sys.path:
        sys.path.insert(0, root)
    from bench.run import main as bench_main

    return bench_main(json_output=args.json)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vmss-responder", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("replay", help="replay scenario files on a virtual clock and print the report")
    p.add_argument("scenarios", nargs="+")
    p.add_argument(
        "--json", action="store_true", help="print the JSON report (an array for several scenarios)"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="print each timeline step to stderr")
    p.set_defaults(func=_replay_cmd)

    p = sub.add_parser("demo", help="replay the scenario library and print a readable summary")
    p.add_argument("--folder", default=str(REPO_SCENARIOS))
    p.set_defaults(func=_demo_cmd)

    p = sub.add_parser("serve", help="run the HTTP routes locally (real Azure or --emulator)")
    from . import serve

    serve.add_arguments(p)
    p.set_defaults(func=serve.main)

    p = sub.add_parser("notify-test", help="send a sample notification to one configured channel")
    p.add_argument("--channel", required=True, choices=["teams", "webhook", "pagerduty", "log"])
    p.add_argument("--severity", default="page", choices=["page", "info", "resolved"])
    p.set_defaults(func=_notify_test_cmd)

    p = sub.add_parser("bench", help="run the benchmarks (bench/README.md)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_bench_cmd)

    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
