"""What a storm left behind, checked from the outside: the store, the emulator's request log and
the webhook receiver's receipts. Nothing here trusts the app's own counters.

- Deliveries: every delivery acknowledged with a 2xx has its processed tombstone, every signal of
  it is claimed in ``seen``, and no delivery is left pending in the inbox.
- Actions: every ARM mutation belongs to exactly one executed Action record, and every executed
  record to at most one mutation (a record without one is an action claimed and then lost: the
  design's side of at-most-once, counted apart); no record is left pending, which would keep its
  incident from ever being verified or closed.
- Incidents: the incidents of one scale set never overlap in time (a second process opening its
  own incident for the same episode would).
- Notifications: nothing left in the outbox or in a scale set's state; every record the outbox
  finished as sent reached the receiver, and nothing else did (a digest that did, and whose
  incidents were then notified one by one too, is a duplicate no receiver can drop); seqs of an
  incident have no gap; receipts per id are counted (more than one is a resend the id lets the
  receiver drop).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from vmss_responder.engine.incident import ActionRecord
from vmss_responder.identity import in_scopes
from vmss_responder.parse import parse
from vmss_responder.records import Inbox, Seen, digest
from vmss_responder.runner import Responder
from vmss_responder.sim.arm_api import RequestRecord

from .receiver import Receipt, WebhookReceiver
from .storm import Storm

FOLDED = "folded into "  # the outbox's detail of a record sent as part of a storm digest
_SET = r"/virtualMachineScaleSets/(?P<set>[^/]+)"
# ARM write path -> the action it carries out (restore_capacity: a replacement's second step)
_WRITES = [
    (re.compile(_SET + r"/setOrchestrationServiceState$", re.I), "resume_repairs"),
    (re.compile(_SET + r"/virtualMachines/(?P<iid>[^/]+)/restart$", re.I), "restart_instance"),
    (re.compile(_SET + r"/virtualMachines/(?P<iid>[^/]+)/reimage$", re.I), "reimage_instance"),
    (re.compile(_SET + r"/virtualMachines/(?P<iid>[^/]+)/runCommand$", re.I), "run_command"),
    (re.compile(_SET + r"/delete$", re.I), "replace_instance"),
    (re.compile(_SET + r"$", re.I), "restore_capacity"),
]


@dataclass(slots=True)
class Audit:
    figures: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # anything lost or doubled
    resent: dict[str, int] = field(default_factory=dict)  # notification id -> receipts, when > 1
    unexecuted: list[str] = field(default_factory=list)  # actions claimed, never sent to ARM
    unrecorded: list[str] = field(default_factory=list)  # actions sent to ARM, outcome never saved


def write_key(record: RequestRecord) -> tuple[str, str, str] | None:
    for pattern, op in _WRITES:
        m = pattern.search(record.path)
        if m:
            iid = m.groupdict().get("iid") or ""
            return m["set"].lower(), op, iid if op != "replace_instance" else ""
    return None


def action_keys(rec: ActionRecord) -> list[tuple[str, str, str]]:
    name = rec.scale_set.rsplit("/", 1)[-1].lower()
    if rec.op == "resume_repairs":
        return [(name, rec.op, "")]
    if rec.op == "replace_instance":  # the delete's body (which instance) is not in the request log
        restored = [(name, "restore_capacity", "")] if "capacity restored" in rec.detail else []
        return [(name, rec.op, ""), *restored]
    return [(name, rec.op, iid) for iid in rec.instance_ids]


def audit(
    responder: Responder, requests: list[RequestRecord], receiver: WebhookReceiver, storm: Storm
) -> Audit:
    out = Audit()
    _deliveries(out, responder, storm)
    _actions(out, responder, requests)
    _incidents(out, responder)
    _notifications(out, responder, receiver)
    return out


def _deliveries(out: Audit, responder: Responder, storm: Storm) -> None:
    store = responder.store
    pending = [rec.row for rec in responder.inbox.pending()]
    if pending:
        out.problems.append(f"{len(pending)} deliveries still pending in the inbox: {pending}")
    done = [p for p in store.partitions(Inbox.TABLE) if p.startswith("done-")]
    accepted = storm.accepted()
    lost = []
    for index in sorted(accepted):
        channel, payload = storm.deliveries[index]
        did = Inbox.delivery_id(channel, payload)
        if not any(store.get(Inbox.TABLE, part, did) for part in done):
            lost.append(f"delivery {index} ({channel}) was acknowledged but has no processed tombstone")
        parsed = parse(channel, payload, received_at=responder.clock.now())
        for sig in parsed.signals:
            if sig.scale_set is None or not in_scopes(sig.scale_set, responder.scopes):
                continue
            row = digest(sig.dedup_key)
            if store.get(Seen.TABLE, row[:2], row) is None:
                lost.append(f"delivery {index}: signal {sig.dedup_key} is not in seen")
    out.problems += lost
    out.figures.update(
        deliveries=len(storm.deliveries),
        copies=len(storm.copies),
        duplicates=storm.duplicates,
        accepted=len(accepted),
        answers=storm.answers(),
        lostDeliveries=len(lost) + len(pending),
    )


def _actions(out: Audit, responder: Responder, requests: list[RequestRecord]) -> None:
    records = responder.actions.all()
    executed = [r for r in records if r.mode == "executed"]
    writes = [r for r in requests if r.kind == "write"]
    sent = Counter(write_key(r) for r in writes)
    claimed = Counter(k for r in executed for k in action_keys(r))
    doubled = 0
    for key, count in sorted(sent.items(), key=str):
        if key is None:
            out.problems.append(f"{count} ARM writes that no action explains")
        elif count > claimed[key]:
            doubled += count - claimed[key]
            out.problems.append(f"{key}: {count} ARM writes for {claimed[key]} executed action record(s)")
    for key, count in claimed.items():
        if sent[key] < count:
            out.unexecuted.append(f"{key}: claimed {count} time(s), sent {sent[key]}")
    for rec in executed:
        if rec.result == "pending" and rec.correlation_id is None and all(sent[k] for k in action_keys(rec)):
            out.unrecorded.append(rec.id)
        if rec.result == "pending":
            out.problems.append(
                f"action {rec.id} is still pending: its incident can neither verify nor close"
            )
    out.figures.update(
        actionsExecuted=len(executed),
        actionsByOp=dict(Counter(r.op for r in executed)),
        actionsShadow=len(records) - len(executed),
        armWrites=len(writes),
        armReads=sum(r.kind == "read" for r in requests),
        doubledActions=doubled,
        claimedNotExecuted=len(out.unexecuted),
        executedNotRecorded=len(out.unrecorded),
    )


def _incidents(out: Audit, responder: Responder) -> None:
    incidents = responder.current_incidents()
    by_set: dict[str, list[Any]] = {}
    for inc in incidents:
        by_set.setdefault(inc.scale_set.lower(), []).append(inc)
    overlaps = 0
    for items in by_set.values():
        items.sort(key=lambda i: i.opened)
        for before, after in zip(items, items[1:]):
            if before.closed is None or before.closed > after.opened:
                overlaps += 1
                out.problems.append(f"incidents {before.id} and {after.id} are open at the same time")
    out.figures.update(incidents=len(incidents), scaleSets=len(by_set), overlappingIncidents=overlaps)


def _notifications(out: Audit, responder: Responder, receiver: WebhookReceiver) -> None:
    leftover = [p.notification_id for p in responder.outbox.pending()]
    for part in list(responder.states.keys()):
        st = responder.states.get_by_partition(part)
        leftover += [n["id"] for n in (st.outbox if st else [])]
    if leftover:
        out.problems.append(f"notifications never delivered: {leftover}")
    finished = responder.outbox.deliveries(("sent", "skipped", "dead"))
    sent = {d.notification_id for d in finished if d.outcome == "sent"}
    counts = receiver.counts()
    received = set(counts)
    folded = 0
    for d in finished:
        if d.outcome == "skipped" and d.detail.removeprefix(FOLDED) in sent:
            folded += 1
        elif d.outcome != "sent":
            out.problems.append(f"notification {d.notification_id} {d.outcome}: {d.detail}")
    for nid in sorted(sent - received):
        out.problems.append(f"notification {nid} recorded as sent, never received")
    distinct = receiver.distinct()
    folded_into = {
        d.notification_id: d.detail.removeprefix(FOLDED) for d in finished if d.detail.startswith(FOLDED)
    }
    digests = set(folded_into.values())
    doubled = 0
    for nid in sorted(received - sent):
        told_again = _told_again(distinct, nid, folded_into)
        doubled += len(told_again)
        out.problems.append(
            f"notification {nid} received, not recorded as sent"
            + (f"; then told again under other ids: {told_again}" if told_again else "")
        )
    seqs: dict[str, list[int]] = {}
    for d in finished:
        seqs.setdefault(d.incident_id, []).append(d.seq)
    for incident, got in seqs.items():
        if sorted(got) != list(range(1, len(got) + 1)):
            out.problems.append(f"incident {incident}: notification seqs {sorted(got)} are not 1..n")
    out.resent = {nid: n for nid, n in counts.items() if n > 1}
    out.figures.update(
        notifications=len(received),
        foldedIntoDigests=folded,
        pages=sum(1 for d in finished if d.severity == "page" and d.notification_id not in digests),
        digests=len(digests),
        receipts=sum(counts.values()),
        resentNotifications=len(out.resent),
        lostNotifications=len(leftover) + len(sent - received),
        doubledNotifications=doubled,
        refusedWebhooks=len(receiver.refused),
    )


def outcome(reader: Responder) -> dict[str, dict[str, Any]]:
    """Per scale set, what a story comes to: its first incident's status, the actions, the pages.

    Only what does not hang on the minute a delivery lands: a stale alert a minute either side of
    a recheck opens one more short incident or one fewer, a recheck inside the repair grace period
    adds a finding and an update, and whether a notification goes out alone or in a storm digest
    depends on when it falls due.
    """
    incidents = reader.current_incidents()  # in opening order
    names = {inc.id: inc.scale_set.rsplit("/", 1)[-1] for inc in incidents}
    out: dict[str, dict[str, Any]] = {}
    for inc in incidents:
        out.setdefault(names[inc.id], {"status": inc.status.value, "actions": [], "pages": 0})
    for a in reader.actions.all():
        out[a.scale_set.rsplit("/", 1)[-1]]["actions"].append((a.op, a.instance_ids, a.mode))
    for d in reader.outbox.deliveries(("sent", "skipped")):
        if d.incident_id in names and d.severity == "page":
            out[names[d.incident_id]]["pages"] += 1
    for item in out.values():
        item["actions"].sort()
    return out


def differences(seen: dict[str, dict[str, Any]], reference: dict[str, dict[str, Any]]) -> list[str]:
    return [
        f"{name}: {seen.get(name)} where the plain replay has {reference.get(name)}"
        for name in sorted(set(seen) | set(reference))
        if seen.get(name) != reference.get(name)
    ]


def _told_again(distinct: dict[str, Receipt], nid: str, folded_into: dict[str, str]) -> list[str]:
    """What a notification that reached the receiver unrecorded was told again as, under other ids:
    a digest's incidents notified after it (alone or in another digest), or a notification whose
    record was then folded into a digest that went out."""
    first = distinct[nid]
    if not first.folded:
        digest = folded_into.get(nid)
        return [digest] if digest in distinct else []
    later = [r for r in distinct.values() if r.at > first.at and r.notification_id != nid]
    return sorted(
        {
            r.notification_id
            for r in later
            if r.incident_id in first.folded or set(r.folded) & set(first.folded)
        }
    )
