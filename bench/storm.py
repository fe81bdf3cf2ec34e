"""A generated storm: many scale sets in trouble at once, as the platform would report it.

The benchmarks need a storm bigger than any scenario (100 scale sets x 100 instances, 50,000
deliveries) but in the same payload shapes, so every payload here comes from the builders that
write the scenario library (``scenarios/build_scenarios.py``; Service Health alerts, which no
scenario sends, are built here after the Microsoft sample in ``tests/fixtures/azure/alerts``).

Every scale set tells one of four stories, by its index:

- ``zone_outage``: zone 1 fails; its instances flap Unavailable/Available, the scale set is
  Degraded (Event Grid and the Resource Health alert that repeats it), and Service Health
  reports an incident for the region to the whole subscription;
- ``rolling_upgrade``: an operator writes a new model and upgrades it in five batches (Event
  Grid ResourceWrite/ActionSuccess and Administrative alerts); each batch's instances go
  unavailable while it is upgraded;
- ``autoscale``: autoscale scales out and in every six minutes (webhook when it starts, the
  write on the scale set, the Autoscale alert when it completed) while some instances flap;
- ``unexplained``: a few instances fail with no operation to explain them.

Health transitions fill the delivery budget: after the operations and alerts, the remaining
deliveries are spread over the affected instances, each instance alternating between an
unhealthy state and ``Available`` at distinct seconds. Then the platform's habits are applied:
every delivery arrives after a channel-specific latency (Event Grid seconds, Activity Log alerts
minutes), so deliveries are out of event-time order, and a share of them is delivered again
minutes later (at-least-once redelivery, byte-identical). Scale sets whose index is 3 mod 5
receive their Event Grid events in the CloudEvents schema. The same ``seed`` gives the same storm.
"""

from __future__ import annotations

import math
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from scenarios.build_scenarios import (
    START,
    SUB,
    Story,
    admin_alert,
    arm_event,
    autoscale_alert,
    autoscale_webhook,
    autoscale_write,
    availability,
    azure_time,
    health_alert,
    instance,
    log_time,
    repairs,
    scale_set,
    user_claims,
    zone_of,
)

STORIES = ("zone_outage", "rolling_upgrade", "autoscale", "unexplained")
DURATION = timedelta(minutes=30)
DUPLICATE_RATE = 0.08
UPGRADE_BATCHES = 5
AUTOSCALE_PERIOD_S = 360
AUTOSCALE_STEP = 10
AUTOSCALE_FLAPPING = 20  # instances that flap on an autoscaled set
UNEXPLAINED_INSTANCES = 5
SERVICE_HEALTH_PERIOD_S = 120
OPERATOR = user_claims("dana.whitfield@contoso.com", "Dana Whitfield")
UNHEALTHY_STATES = ("Unavailable", "Degraded", "Unknown")
REDELIVERY_DELAYS_S = (10, 30, 60, 300)  # Event Grid's first retry steps


@dataclass(frozen=True, slots=True)
class Delivery:
    """One HTTP delivery as the platform sends it: the body of one POST on ``channel``."""

    channel: str  # eventgrid | cloudevents | alert | autoscale (FORMAT.md)
    payload: dict[str, Any] | list[Any]
    at: datetime  # when it arrives at the responder


@dataclass(slots=True)
class Storm:
    """The storm: the fleet to serve (FORMAT.md ``fleet``) and the deliveries in arrival order."""

    fleet: dict[str, Any]
    deliveries: list[Delivery]
    start: datetime
    subscription_id: str
    seed: int
    stories: dict[str, str] = field(default_factory=dict)  # scale set name -> story
    redeliveries: int = 0  # how many of ``deliveries`` repeat an earlier one byte for byte

    @property
    def end(self) -> datetime:
        return self.deliveries[-1].at if self.deliveries else self.start

    def channels(self) -> dict[str, int]:
        return dict(Counter(d.channel for d in self.deliveries))

    def scenario(self, name: str = "storm", until: timedelta | None = None) -> dict[str, Any]:
        """A FORMAT.md scenario with this fleet and no timeline: what ``serve --emulator`` loads.

        The deliveries are not in it: a caller posts them itself (or replays them in process).
        """
        span = until or (self.end - self.start + timedelta(minutes=20))
        return {
            "name": name,
            "description": f"generated storm (seed {self.seed}): {len(self.deliveries)} deliveries",
            "start": log_time(self.start),
            "until": f"+{math.ceil(span.total_seconds())}s",
            "config": {},
            "fleet": self.fleet,
            "timeline": [],
        }


@dataclass(slots=True)
class _Event:
    """A payload before the platform's latency and redelivery are applied."""

    second: int  # event time, seconds after START
    channel: str
    payload: dict[str, Any] | list[Any]


def generate_storm(
    scale_sets: int = 100, instances: int = 100, deliveries: int = 50_000, seed: int = 0
) -> Storm:
    """Build a storm of exactly ``deliveries`` deliveries over ``scale_sets`` x ``instances``.

    Raises ValueError when ``deliveries`` cannot even hold the operations and alerts the stories
    need (about 15 per scale set).
    """
    rng = random.Random(seed)
    window = int(DURATION.total_seconds())
    sets = [_StormSet(i, instances, seed, rng) for i in range(scale_sets)]
    events: list[_Event] = [e for s in sets for e in s.operations(window)]
    events += _service_health(window, seed)
    redeliveries = round(deliveries * DUPLICATE_RATE)
    budget = deliveries - redeliveries - len(events)
    if budget < len(sets):
        raise ValueError(
            f"{deliveries} deliveries cannot hold the {len(events)} operations and alerts of "
            f"{scale_sets} scale sets plus redeliveries and health transitions"
        )
    affected = [(s, iid) for s in sets for iid in s.affected]
    for (s, iid), count in zip(affected, _spread(budget, len(affected), rng)):
        events += s.transitions(iid, count, rng)

    arrivals = sorted(
        (
            Delivery(e.channel, e.payload, START + timedelta(seconds=e.second + _latency(e.channel, rng)))
            for e in events
        ),
        key=lambda d: d.at,
    )
    repeats = [
        Delivery(
            d.channel, d.payload, d.at + timedelta(seconds=rng.choice(REDELIVERY_DELAYS_S) + rng.random())
        )
        for d in rng.sample(arrivals, redeliveries)
    ]
    return Storm(
        fleet={"subscriptionId": SUB, "scaleSets": [s.spec for s in sets]},
        deliveries=sorted(arrivals + repeats, key=lambda d: d.at),
        start=START,
        subscription_id=SUB,
        seed=seed,
        stories={s.name: s.story_name for s in sets},
        redeliveries=redeliveries,
    )


def _spread(total: int, parts: int, rng: random.Random) -> list[int]:
    """``total`` split over ``parts`` as evenly as possible, the remainder at random."""
    base, extra = divmod(total, parts)
    lucky = set(rng.sample(range(parts), extra))
    return [base + (i in lucky) for i in range(parts)]


def _latency(channel: str, rng: random.Random) -> float:
    """Seconds from the event to its arrival: Event Grid is quick with a long tail, Activity Log
    alerts take minutes, autoscale webhooks seconds."""
    if channel in ("eventgrid", "cloudevents"):
        return min(0.3 + rng.lognormvariate(0.0, 1.0), 90.0)
    if channel == "alert":
        return rng.uniform(30.0, 180.0)
    return rng.uniform(1.0, 10.0)


def _offset(second: int) -> str:
    return f"+{second}s"


def _cloud_event(event: dict[str, Any]) -> dict[str, Any]:
    """The same event as an Event Grid subscription with the CloudEvents 1.0 schema delivers it."""
    return {
        "id": event["id"],
        "source": event["topic"],
        "subject": event["subject"],
        "data": event["data"],
        "type": event["eventType"],
        "specversion": "1.0",
        "time": event["eventTime"],
    }


class _StormSet:
    """One scale set of the storm: its fleet entry, its story and its payloads."""

    def __init__(self, index: int, instances: int, seed: int, rng: random.Random) -> None:
        self.index = index
        self.story_name = STORIES[index % len(STORIES)]
        self.name = f"vmss-storm-{index:03d}"
        self.cloudevents = index % 5 == 3
        ids = list(range(instances))
        if self.story_name == "zone_outage":
            self.affected = [i for i in ids if zone_of(i) == 1]
        elif self.story_name == "rolling_upgrade":
            self.affected = ids
        elif self.story_name == "autoscale":
            self.affected = sorted(rng.sample(ids, min(AUTOSCALE_FLAPPING, instances)))
        else:
            self.affected = sorted(rng.sample(ids, min(UNEXPLAINED_INSTANCES, instances)))
        broken = set(self.affected) if self.story_name in ("zone_outage", "unexplained") else set()
        members = [instance(i, zone_of(i), "Unhealthy" if i in broken else "Healthy") for i in ids]
        # Repairs: configured and running, suspended by the platform, or never configured.
        policy_kind = index % 3
        self.spec = scale_set(
            f"rg-storm-{index // 10:02d}",
            self.name,
            members,
            policy=None if policy_kind == 2 else repairs(),
            service_state=("Running", "Suspended", None)[policy_kind],
        )
        self.story = Story(f"storm-{seed}-{self.name}", "", until="+1h", config={}, fleet=self.spec)
        self.instances = instances
        self.windows: dict[int, tuple[int, int]] = {}  # instance -> (first, last) second it may flap

    # --- operations and alerts ---------------------------------------------------------------

    def operations(self, window: int) -> list[_Event]:
        s = self.story
        story = self.story_name
        out: list[_Event] = []
        begin = 0
        if story == "rolling_upgrade":
            begin = self.index % 60
            out += self._arm(
                begin,
                "Microsoft.Resources.ResourceWriteSuccess",
                "Microsoft.Compute/virtualMachineScaleSets/write",
                "PUT",
                s.set_id,
            )
            batch = math.ceil(len(self.affected) / UPGRADE_BATCHES)
            span = (window - begin - 60) // UPGRADE_BATCHES
            for b in range(UPGRADE_BATCHES):
                at = begin + 60 + b * span
                upgrade = "Microsoft.Compute/virtualMachineScaleSets/manualUpgrade/action"
                out += self._arm(
                    at,
                    "Microsoft.Resources.ResourceActionSuccess",
                    upgrade,
                    "POST",
                    f"{s.set_id}/manualUpgrade",
                )
                for iid in self.affected[b * batch : (b + 1) * batch]:
                    self.windows[iid] = (at + 5, at + span - 5)
        elif story == "autoscale":
            low, high = self.instances, self.instances + AUTOSCALE_STEP
            for at in range(self.index % 60, window - 180, AUTOSCALE_PERIOD_S):
                for start, old, new in ((at, low, high), (at + 180, high, low)):
                    out.append(_Event(start, "autoscale", autoscale_webhook(s, _offset(start), old, new)))
                    out.append(self._eventgrid(start + 20, autoscale_write(s, _offset(start + 20))))
                    out.append(
                        _Event(start + 120, "alert", autoscale_alert(s, _offset(start + 120), old, new))
                    )
        if story != "autoscale":
            # The scale set as a whole: Degraded early, Available at the end; the alert repeats both.
            down = begin + 30 + self.index % 90
            up = window - 60 - self.index % 60
            for at, state, previous in ((down, "Degraded", "Available"), (up, "Available", "Degraded")):
                out.append(self._eventgrid(at, availability(s, _offset(at), s.set_id, state, previous)))
                out.append(_Event(at + 5, "alert", health_alert(s, _offset(at + 5), state, previous)))
            for iid in self.affected:
                self.windows.setdefault(iid, (down, up))
        for iid in self.affected:
            self.windows.setdefault(iid, (begin, window))
        return out

    def _arm(self, at: int, event_type: str, operation: str, method: str, url_path: str) -> list[_Event]:
        """An operator's operation: the Event Grid resource event and the Administrative alert."""
        s = self.story
        resource = s.set_id
        event = arm_event(
            s,
            _offset(at),
            event_type,
            resource,
            operation,
            method=method,
            url_path=url_path,
            claims=OPERATOR,
            principal_type="User",
        )
        alert = admin_alert(
            s,
            _offset(at),
            operation,
            caller=OPERATOR["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"],
        )
        return [self._eventgrid(at, event), _Event(at, "alert", alert)]

    def _eventgrid(self, at: int, event: dict[str, Any]) -> _Event:
        if self.cloudevents:
            return _Event(at, "cloudevents", [_cloud_event(event)])
        return _Event(at, "eventgrid", [event])

    # --- health transitions -------------------------------------------------------------------

    def transitions(self, iid: int, count: int, rng: random.Random) -> list[_Event]:
        """``count`` availability changes of one instance at distinct seconds, alternating
        between an unhealthy state and Available (starting unhealthy)."""
        first, last = self.windows[iid]
        span = max(last - first, count)
        seconds = sorted(first + x for x in rng.sample(range(span), count))
        out = []
        state = "Available"
        for second in seconds:
            previous, state = state, (rng.choice(UNHEALTHY_STATES) if state == "Available" else "Available")
            out.append(
                self._eventgrid(
                    second, availability(self.story, _offset(second), self.story.vm(iid), state, previous)
                )
            )
        return out


def _service_health(window: int, seed: int) -> list[_Event]:
    """Service Health's updates on one regional Virtual Machines incident, to the subscription."""
    tracking = f"ST{seed:02d}-7QZ"
    ids = random.Random(f"service-health-{seed}")
    seconds = list(range(60, window, SERVICE_HEALTH_PERIOD_S))
    return [
        _Event(
            at,
            "alert",
            _service_health_alert(ids, at, tracking, "Resolved" if at == seconds[-1] else "Active"),
        )
        for at in seconds
    ]


def _service_health_alert(ids: random.Random, second: int, tracking: str, stage: str) -> dict[str, Any]:
    """Common Alert Schema, Service Health incident (shape of Microsoft's test-action sample)."""
    stamp = azure_time(START + timedelta(seconds=second))
    impact = (
        "Starting at 09:00 UTC, customers in East US may experience failures of virtual machines in one zone."
    )
    return {
        "schemaId": "azureMonitorCommonAlertSchema",
        "data": {
            "essentials": {
                "alertId": f"/subscriptions/{SUB}/providers/Microsoft.AlertsManagement/alerts/{_uuid(ids)}",
                "alertRule": "service-health-vm-eastus",
                "severity": "Sev2",
                "signalType": "Activity Log",
                "monitorCondition": "Resolved" if stage == "Resolved" else "Fired",
                "monitoringService": "ServiceHealth",
                "alertTargetIDs": [f"/subscriptions/{SUB}"],
                "originAlertId": _uuid(ids),
                "firedDateTime": stamp,
                "description": "",
                "essentialsVersion": "1.0",
                "alertContextVersion": "1.0",
            },
            "alertContext": {
                "authorization": None,
                "channels": 1,
                "claims": None,
                "caller": None,
                "correlationId": _uuid(ids),
                "eventSource": 2,
                "eventTimestamp": stamp,
                "httpRequest": None,
                "eventDataId": _uuid(ids),
                "level": 3,
                "operationName": "Microsoft.ServiceHealth/incident/action",
                "operationId": _uuid(ids),
                "properties": {
                    "title": "Virtual Machines - East US - Availability Zone 1",
                    "service": "Virtual Machines",
                    "region": "East US",
                    "communication": f"<p>{impact}</p>",
                    "incidentType": "Incident",
                    "trackingId": tracking,
                    "impactStartTime": azure_time(START),
                    "impactedServices": [
                        {"ImpactedRegions": [{"RegionName": "East US"}], "ServiceName": "Virtual Machines"}
                    ],
                    "defaultLanguageTitle": "Virtual Machines - East US - Availability Zone 1",
                    "defaultLanguageContent": f"<p>{impact}</p>",
                    "stage": stage,
                    "communicationId": f"{second:014d}",
                    "isHIR": "false",
                    "IsSynthetic": "False",
                    "impactType": "SubscriptionList",
                    "version": "0.1.1",
                },
                "status": stage,
                "subStatus": None,
                "submissionTimestamp": stamp,
                "ResourceType": None,
            },
        },
    }


def _uuid(ids: random.Random) -> str:
    return str(uuid.UUID(int=ids.getrandbits(128), version=4))
