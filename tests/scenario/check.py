#!/usr/bin/env python3
"""Checks a replay report against a scenario's "expect" block (see FORMAT.md).

    check.py SCENARIO.json REPORT.json     # REPORT may hold one report or an array of them
Prints one line per shortfall and exits 1 if there is any, else prints "ok NAME" and exits 0.
"""

import json
import sys
from pathlib import Path


def name_of(resource_id):
    return (resource_id or "").rstrip("/").rsplit("/", 1)[-1]


def matches(item, want):
    for key, value in want.items():
        got = item.get(key)
        if key == "scaleSet":
            got = name_of(got)
        if got != value:
            return False
    return True


def check(scenario, report):
    exp = scenario.get("expect") or {}
    short = []
    incidents = report.get("incidents") or []
    actions = report.get("actions") or []
    pages = [n for n in report.get("notifications") or [] if n.get("severity") == "page"]

    if "pages" in exp and len(pages) != exp["pages"]:
        short.append(f"pages: expected {exp['pages']}, got {len(pages)}")

    claimed = set()
    for want in exp.get("incidents", []):
        statuses = want["status"] if isinstance(want["status"], list) else [want["status"]]
        found = None
        for i, inc in enumerate(incidents):
            if (
                i in claimed
                or name_of(inc.get("scaleSet")) != want["scaleSet"]
                or inc.get("status") not in statuses
            ):
                continue
            if set(want.get("findings", [])) <= set(inc.get("findings") or []):
                found = i
                break
        if found is None:
            seen = [(name_of(i.get("scaleSet")), i.get("status"), i.get("findings")) for i in incidents]
            short.append(f"incident {want} not found; report has {seen}")
        else:
            claimed.add(found)
    if "incidents" in exp:
        extra = [i for n, i in enumerate(incidents) if n not in claimed and i.get("status") == "escalated"]
        if extra:
            short.append(
                f"{len(extra)} escalated incident(s) beyond those expected: "
                f"{[(name_of(i.get('scaleSet')), i.get('findings')) for i in extra]}"
            )

    pos = 0
    for want in exp.get("actions", []):
        while pos < len(actions) and not matches(actions[pos], want):
            pos += 1
        if pos == len(actions):
            short.append(
                f"action {want} not found in order; actions: "
                f"{[(a.get('op'), a.get('mode'), a.get('instanceIds')) for a in actions]}"
            )
            break
        pos += 1
    if exp.get("exactActions"):
        executed = [a for a in actions if a.get("mode") == "executed"]
        wanted = [w for w in exp.get("actions", []) if w.get("mode", "executed") == "executed"]
        if len(executed) != len(wanted):
            short.append(
                f"executed actions: expected exactly {len(wanted)}, got "
                f"{[(a.get('op'), a.get('instanceIds')) for a in executed]}"
            )
    for bad in exp.get("forbidActions", []):
        hit = [a for a in actions if matches(a, bad)]
        if hit:
            short.append(
                f"forbidden action {bad} happened: {[(a.get('op'), a.get('instanceIds')) for a in hit]}"
            )
    if exp.get("noActions") and actions:
        short.append(f"expected no actions, got {[(a.get('op'), a.get('mode')) for a in actions]}")

    every = set()
    for inc in incidents:
        every |= set(inc.get("findings") or [])
    for code in exp.get("findingsAnywhere", []):
        if code not in every:
            short.append(f"finding {code} on no incident; findings seen: {sorted(every)}")

    if len(report.get("rejected") or []) < exp.get("minRejected", 0):
        short.append(
            f"rejected: expected at least {exp['minRejected']}, got {len(report.get('rejected') or [])}"
        )

    reads = (report.get("arm") or {}).get("reads")
    if "maxArmReads" in exp and (reads is None or reads > exp["maxArmReads"]):
        short.append(f"arm reads: expected at most {exp['maxArmReads']}, got {reads}")

    after = report.get("fleetAfter") or {}
    for ss, fields in exp.get("fleetAfter", {}).items():
        for key, value in fields.items():
            got = (after.get(ss) or {}).get(key)
            if got != value:
                short.append(f"fleetAfter {ss}.{key}: expected {value!r}, got {got!r}")
    return short


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip())
        return 2
    scenario = json.loads(Path(argv[1]).read_text())
    report = json.loads(Path(argv[2]).read_text())
    if isinstance(report, list):
        report = next((r for r in report if r.get("scenario") == scenario["name"]), None)
        if report is None:
            print(f"no report for scenario {scenario['name']}")
            return 1
    short = check(scenario, report)
    for line in short:
        print(f"{scenario['name']}: {line}")
    if not short:
        print(f"ok {scenario['name']}")
    return 1 if short else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
