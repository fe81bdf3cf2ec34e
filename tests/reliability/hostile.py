"""Hostile requests for the HTTP API, as hypothesis strategies, and the rules their answers obey.

Bodies start from real payloads (the scenario library's deliveries and Microsoft's samples in
``tests/fixtures/azure``) and are broken the ways the internet breaks them: wrong types, missing
and extra members, deep nesting, huge strings, lone surrogates, NaN, forged resource IDs outside
the scopes and IDs with path tricks; then the bytes are broken too (truncated, invalid UTF-8,
UTF-16, a BOM, garbage, nesting past any parser's limit, over the size limit). Each probe says
what a correct answer looks like where that is known, so the judge can hold the server to it.

The served fleet has an in-scope scale set (``vmss-search`` in ``rg-search-prod``, the only
scope) and an out-of-scope one the emulator also serves (``vmss-payments``): an ARM call for the
second would succeed, so only the emulator's request log can show it never happened.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

from handlers.http_api import MAX_BODY

ROOT = Path(__file__).resolve().parents[2]
SUBSCRIPTION = "6f1c9a52-0d2e-4b7a-9c1e-3a5d7e8f9012"
SCOPE = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-search-prod"
COMPUTE = "/providers/Microsoft.Compute/virtualMachineScaleSets/"
IN_SCOPE_SET = f"{SCOPE}{COMPUTE}vmss-search"
OUT_OF_SCOPE_SET = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-payments-prod{COMPUTE}vmss-payments"
MAX_ID_TEXT = 2000  # incident IDs in URLs: well inside the HTTP server's request-line limit

# ---------------------------------------------------------------------------- secrets


def _b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


@dataclass
class Secrets:
    """What must never reach a log line or a stored record."""

    function_key: str = "fn-key-hostile-5b0e71d9c4a3"
    webhook_secret: str = "whsec-hostile-8f3a2c91d7e4"
    pagerduty_key: str = "pdrk0hostile0f00d4a1b2c3d4e5f6a7"
    teams_sig: str = "teamsSIGhostile_Yk3vQ9xWm2"
    claims: dict[str, str] = field(
        default_factory=lambda: {
            "oid": "claim-oid-hostile-3e9d0c1a",
            "upn": "token.claim.user@hostile.example",
            "name": "Hostile Token Claimholder",
            "appid": "claim-appid-hostile-77b2",
        }
    )

    @property
    def authorization(self) -> str:
        return f"Bearer {self.bearer}"

    @cached_property
    def bearer(self) -> str:
        """A JWT as Event Grid's or an action group's Entra auth sends it (header.claims.signature)."""
        header = _b64({"alg": "RS256", "typ": "JWT", "kid": "hostile-kid"})
        body = _b64(
            {"aud": "https://management.azure.com", "iss": "https://sts.windows.net/t/", **self.claims}
        )
        return f"{header}.{body}.c2lnbmF0dXJlLWhvc3RpbGUtand0"

    def teams_url(self, port: int) -> str:
        return (
            f"http://127.0.0.1:{port}/workflows/7c1e/triggers/manual/paths/invoke"
            f"?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={self.teams_sig}"
        )

    def needles(self) -> dict[str, str]:
        """Name -> text to look for; the token's pieces too, since a log may print any one of them."""
        header, body, signature = self.bearer.split(".")
        return {
            "function key": self.function_key,
            "webhook secret": self.webhook_secret,
            "PagerDuty routing key": self.pagerduty_key,
            "Teams sig": self.teams_sig,
            "bearer token": self.bearer,
            "token claims segment": body,
            "token signature": signature,
            **{f"token claim {k}": v for k, v in self.claims.items()},
        }


def found_secrets(needles: dict[str, str], haystacks: dict[str, bytes]) -> list[str]:
    """``"<secret> in <place>"`` for every needle found, as is or percent-encoded."""
    hits = []
    for name, needle in needles.items():
        forms = {needle.encode(), quote(needle, safe="").encode()}
        for place, data in haystacks.items():
            if any(form in data for form in forms):
                hits.append(f"{name} in {place}")
    return hits


# ---------------------------------------------------------------------------- the served fleet


def hostile_scenario(path: Path) -> Path:
    """A scenario whose fleet has one scale set in scope and one out of it, both served by the emulator."""
    searching = json.loads((ROOT / "scenarios" / "persistent-degraded-escalated.json").read_text())
    payments = json.loads((ROOT / "scenarios" / "protected-from-scale-set-actions.json").read_text())
    scenario = {
        "name": "hostile-input",
        "description": "serve's fleet for the hostile-input test; nothing is delivered by the scenario",
        "start": searching["start"],
        "until": "+1m",
        "config": {"mode": "observe", "scopes": [SCOPE]},
        "fleet": {
            "subscriptionId": SUBSCRIPTION,
            "scaleSets": searching["fleet"]["scaleSets"] + payments["fleet"]["scaleSets"],
        },
        "timeline": [],
    }
    path.write_text(json.dumps(scenario, indent=1))
    return path


# ---------------------------------------------------------------------------- probes


@dataclass(frozen=True)
class Probe:
    """One request, and what is known about the right answer."""

    endpoint: str  # the figures' name for the route
    method: str
    target: bytes  # the request target exactly as sent (path and query)
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()
    doc: Any = None  # the JSON value the body encodes, if it is whole JSON
    expect: tuple[int, ...] = ()  # the only statuses a correct server may answer, when known
    chunked: bool = False  # send the body without Content-Length

    def __repr__(self) -> str:  # hypothesis prints the failing probe: keep it readable
        body = b"" if self.body is None else self.body
        return (
            f"Probe({self.method} {self.target[:200]!r}, {len(body)} bytes {body[:300]!r}, "
            f"headers={dict(self.headers)!r}, expect={self.expect})"
        )


def judge(probe: Probe, status: int, content_type: str, body: bytes) -> str | None:
    """What is wrong with an answer, or None. 5xx is always wrong; a 4xx must say what was wrong."""
    if status >= 500:
        return f"server error {status}"
    if probe.expect and status not in probe.expect:
        return f"expected {probe.expect}, got {status}"
    if status < 400:
        return None
    if not content_type.startswith("application/json"):
        return f"{status} without a JSON body"
    answer = json.loads(body)
    message, where = answer.get("error"), answer.get("field")
    if not isinstance(message, str) or not message:
        return f"{status} without an error message"
    if status == 413:
        return None if "limit" in message else "413 without the limit"
    if status == 404 and where is None:
        return None if message.startswith("no route") else "404 naming neither a field nor the route"
    if where is None:
        return None if "position" in answer or "line" in answer else f"{status} naming no field or position"
    if not isinstance(where, str) or not where:
        return f"{status} with a field that is not a name: {where!r}"
    if probe.doc is not None and where not in _NAMES_OUTSIDE_THE_BODY and not locates(probe.doc, where):
        return f"{status} names {where!r}, which is not in the body"
    return None


# Fields that are not body paths: route and query parameters, and the CloudEvents handshake header.
_NAMES_OUTSIDE_THE_BODY = frozenset({"id", "status", "WebHook-Request-Origin"})
_STEP = re.compile(r'\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]|\.?([^.\[]+)')


def locates(doc: Any, where: str) -> bool:
    """Whether a reported field (``data.essentials.alertTargetIDs[0]``, ``data[""]``) names a place
    in ``doc``: every step but the last must exist (the last may be the missing member). Members
    that hold JSON text (``claims``, ``impactedServices``) are looked into."""
    if where == "$":
        return True
    steps: list[str | int] = []
    pos = 0
    while pos < len(where):
        step = _STEP.match(where, pos)
        if step is None:
            return False
        index, quoted, name = step.groups()
        steps.append(int(index) if index else json.loads(quoted) if quoted else name)
        pos = step.end()
    node = doc
    for key in steps[:-1]:
        node = _json_text(node)
        if not _has(node, key):
            return False
        node = node[key]
    return isinstance(_json_text(node), list if isinstance(steps[-1], int) else dict)


def _json_text(node: Any) -> Any:
    if isinstance(node, str) and node[:1] in "[{":
        try:
            return json.loads(node)
        except ValueError:
            return node
    return node


# ---------------------------------------------------------------------------- templates


JsonPath = tuple[str | int, ...]
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:")


@dataclass(frozen=True)
class Template:
    """A real payload and where it can be broken. The choices are built once: a strategy made
    inside a draw is validated again on every draw, which costs more than the draw."""

    text: str  # the payload as JSON text: json.loads is the cheapest deep copy
    paths: st.SearchStrategy[JsonPath]  # every member and element
    id_paths: st.SearchStrategy[JsonPath]  # members holding resource IDs (else every member)
    time_paths: st.SearchStrategy[JsonPath]  # members holding timestamps (else every member)
    object_paths: st.SearchStrategy[JsonPath]  # objects, where members can be added


def _template(payload: Any) -> Template:
    paths: list[JsonPath] = []
    ids: list[JsonPath] = []
    times: list[JsonPath] = []
    objects: list[JsonPath] = [()] if isinstance(payload, dict) else []

    def visit(node: Any, path: JsonPath) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in items:
            here = (*path, key)
            paths.append(here)
            if isinstance(child, str) and child.lower().startswith("/subscriptions/"):
                ids.append(here)
            if isinstance(child, str) and _TIMESTAMP.match(child):
                times.append(here)
            if isinstance(child, dict):
                objects.append(here)
            visit(child, here)

    visit(payload, ())
    everywhere = st.sampled_from(paths or [()])
    return Template(
        json.dumps(payload),
        everywhere,
        st.sampled_from(ids) if ids else everywhere,
        st.sampled_from(times) if times else everywhere,
        st.sampled_from(objects) if objects else everywhere,
    )


@cache
def templates(channel: str) -> tuple[Template, ...]:
    """Real payloads for a channel: every scenario delivery, then Microsoft's samples."""
    found: list[Any] = []
    for scenario in sorted((ROOT / "scenarios").glob("*.json")):
        for step in json.loads(scenario.read_text())["timeline"]:
            if step.get("deliver", {}).get("channel") == channel:
                found.append(step["deliver"]["payload"])
    samples = {
        "eventgrid": ("eventgrid", "*.eventgrid*.json"),
        "cloudevents": ("eventgrid", "*.cloudevents.json"),
        "alert": ("alerts", "*.json"),
        "autoscale": ("autoscale", "*.json"),
        "validation": ("eventgrid", "subscription-validation-event.eventgrid.json"),
    }[channel]
    for sample in sorted((ROOT / "tests" / "fixtures" / "azure" / samples[0]).glob(samples[1])):
        if channel != "eventgrid" or "validation" not in sample.name:
            found.append(json.loads(sample.read_text()))
    return tuple(_template(p) for p in found)


# ---------------------------------------------------------------------------- hostile values

_HOMOGLYPHS = {"a": "а", "e": "е", "o": "о", "s": "ѕ", "c": "с", "p": "р", "-": "‐", "i": "і"}

NASTY_TEXT = (
    "",
    " ",
    "null",
    "true",
    "0",
    "-1",
    "1e309",
    "9" * 40,
    "\x00",
    "\u202e",
    "\ufeff",
    "🔥",
    "../../../etc/passwd",
    "%2e%2e%2f",
    "${jndi:ldap://127.0.0.1/x}",
    "<script>alert(1)</script>",
    "'; DROP TABLE records; --",
    "Degraded",
    "DEGRADED ",
    "Available",
    "Unavailable",
    "Unknown",
    "Scale Out",
    "scale in",
    "Resolved",
    "Fired",
    "Resource Health",
    "Succeeded",
    "Started",
    "Microsoft.Compute/virtualMachineScaleSets/restart/action",
    "Microsoft.Insights/AutoscaleSettings/Scaleup/Action",
    "2026-05-04T09:00:00Z",
    "2026-05-04T09:00:00.0000000+14:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.9999999Z",
    "2026-02-30T25:61:61Z",
    "1.0",
    "azureMonitorCommonAlertSchema",
    "Microsoft.Insights/activityLogs",
    '{"upn": "x@y"}',
    "[1, 2",
)


def weighted(*options: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """``one_of`` with weights: ``one_of`` flattens nested ``one_of``s and drops repeats, so its
    branches are no measure of how often each comes up. Hypothesis draws small integers more
    often than their share, so the common option goes first."""
    pick = st.integers(0, sum(weight for weight, _ in options) - 1)

    @st.composite
    def choose(draw: st.DrawFn) -> Any:
        n = draw(pick)
        for weight, strategy in options:
            if n < weight:
                return draw(strategy)
            n -= weight
        raise AssertionError("unreachable: n < the sum of the weights")

    return choose()


lone_surrogates = st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3)
huge_text = st.builds(
    lambda unit, times: unit * times,
    st.sampled_from(["a", "é", "🔥", "\\", '"', "/subscriptions/", "\u0000"]),
    st.sampled_from([300, 3_000, 70_000, 300_000]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(max_size=40),
    st.sampled_from(NASTY_TEXT),
    lone_surrogates,
)


def _nested(depth: int, leaf: Any) -> Any:
    for level in range(depth):
        leaf = [leaf] if level % 2 else {"n": leaf}
    return leaf


junk = weighted(
    (12, scalars),
    (3, st.lists(scalars, max_size=4)),
    (3, st.dictionaries(st.text(max_size=12), scalars, max_size=4)),
    (1, st.builds(_nested, st.integers(2, 200), scalars)),
    (1, huge_text),
)

# ---------------------------------------------------------------------------- resource IDs


@dataclass(frozen=True)
class Trick:
    name: str
    apply: Callable[[str], str]
    keeps_scope: bool  # True: the result names the same scale set (ARM is case-insensitive, children map up)
    sets_only: bool = False  # after an instance ID it would be a child path, which maps up: not a trick


def _replace_last(text: str, old: str, new: str) -> str:
    head, sep, tail = text.rpartition(old)
    return head + new + tail if sep else text


def _lookalike(text: str) -> str:
    """One ASCII letter of the last segment swapped for a Cyrillic twin (or a Unicode hyphen)."""
    head, _, name = text.rpartition("/")
    for i, ch in enumerate(name):
        if ch in _HOMOGLYPHS:
            return f"{head}/{name[:i]}{_HOMOGLYPHS[ch]}{name[i + 1 :]}"
    return text + "ѕ"


TRICKS = (
    Trick("as is", lambda i: i, True),
    Trick("upper case", str.upper, True),
    Trick("swapped case", str.swapcase, True),
    Trick("trailing slash", lambda i: i + "/", True),
    Trick(
        "health child", lambda i: i + "/providers/Microsoft.ResourceHealth/availabilityStatuses/current", True
    ),
    Trick("extension child", lambda i: i + "/extensions/HealthExtension", True),
    Trick("dot-dot escape", lambda i: i + "/../../virtualMachineScaleSets/vmss-payments", False),
    Trick("dot segment", lambda i: i.replace("/providers/", "/./providers/", 1), False),
    Trick("double slash", lambda i: i.replace("/resourceGroups/", "//resourceGroups/", 1), False),
    Trick("encoded slash", lambda i: _replace_last(i, "/", "%2F"), False),
    Trick("encoded dots", lambda i: i + "/%2e%2e/%2e%2e/vmss-payments", False),
    Trick("backslashes", lambda i: i.replace("/", "\\"), False),
    Trick("query string", lambda i: i + "?api-version=2024-07-01", False),
    Trick("fragment", lambda i: i + "#/../vmss-payments", False),
    Trick("NUL", lambda i: i + "\x00/../vmss-payments", False),
    Trick("newline", lambda i: i + "\n", False),
    Trick("leading space", lambda i: " " + i, False),
    Trick("trailing space", lambda i: i + " ", False),
    Trick("no leading slash", lambda i: i[1:], False),
    Trick("absolute URL", lambda i: "https://management.azure.com" + i, False),
    Trick("lookalike name", _lookalike, False),
    Trick("lookalike provider", lambda i: i.replace("Microsoft.Compute", "Microsoft.Cоmpute"), False),
    Trick("fullwidth slash", lambda i: _replace_last(i, "/", "／"), False, sets_only=True),
    Trick("long name", lambda i: i + "x" * 300, False),
    Trick("empty name", lambda i: i.rpartition("/")[0] + "/", False, sets_only=True),
    Trick("instance escape", lambda i: i + "/virtualMachines/3/../../../vmss-payments", False),
    Trick("Arabic-Indic instance", lambda i: i + "/virtualMachines/٣", False, sets_only=True),
)

IN_SCOPE_IDS = (
    IN_SCOPE_SET,
    IN_SCOPE_SET + "/virtualMachines/3",
    f"{SCOPE}{COMPUTE}vmss-ghost",  # in scope, but no such scale set
)
OUT_OF_SCOPE_IDS = (
    OUT_OF_SCOPE_SET,  # the emulator serves it: a call would succeed
    OUT_OF_SCOPE_SET + "/virtualMachines/0",
    IN_SCOPE_SET.replace(SUBSCRIPTION, "00000000-0000-0000-0000-000000000000"),
    IN_SCOPE_SET.replace(SUBSCRIPTION, SUBSCRIPTION + "0"),
    IN_SCOPE_SET.replace("rg-search-prod", "rg-search-prod-evil"),
    IN_SCOPE_SET.replace("rg-search-prod", "rg-search"),
)


@dataclass(frozen=True)
class ForgedId:
    text: str
    scope: str  # "in", "out" or "invalid"


def _forge(base: str, in_scope: bool, trick: Trick) -> ForgedId:
    scope = ("in" if in_scope else "out") if trick.keeps_scope else "invalid"
    return ForgedId(trick.apply(base), scope)


def _forged(ids: tuple[str, ...], in_scope: bool) -> st.SearchStrategy[ForgedId]:
    """One trick on one base ID; a trick that keeps the scale set (and so the scope) one time in four."""
    options: list[tuple[int, st.SearchStrategy[ForgedId]]] = []
    for base in ids:
        instance = "/virtualMachines/" in base
        kept = [t for t in TRICKS if t.keeps_scope]
        broken = [t for t in TRICKS if not t.keeps_scope and not (instance and t.sets_only)]
        for weight, tricks in ((3, broken), (1, kept)):
            options.append(
                (weight, st.builds(_forge, st.just(base), st.just(in_scope), st.sampled_from(tricks)))
            )
    return weighted(*options)


# Out of scope three times in four: an ID that passes the scope check costs live ARM reads.
forged_ids = weighted((3, _forged(OUT_OF_SCOPE_IDS, False)), (1, _forged(IN_SCOPE_IDS, True)))

# ---------------------------------------------------------------------------- mutations


def _has(node: Any, key: str | int) -> bool:
    if isinstance(node, dict):
        return key in node
    return isinstance(node, list) and isinstance(key, int) and key < len(node)


def _node(doc: Any, path: JsonPath) -> Any:
    """The node at ``path``, or None once an earlier mutation removed or replaced a step."""
    node = doc
    for key in path:
        if not _has(node, key):
            return None
        node = node[key]
    return node


_MUTATION = st.sampled_from(("junk", "junk", "drop", "add", "forge", "forge", "retime", "wrap", "repeat"))
# Times at the edges of what datetime holds, or that no clock shows.
ODD_TIMES = st.sampled_from(
    (
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59.9999999Z",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
        "2099-12-31T23:59:59Z",
        "1970-01-01T00:00:00Z",
        "2026-02-30T25:61:61Z",
        "2026-05-04T09:00:00",
        "2026-05-04",
        "now",
        1714813200,
    )
)
_MUTATIONS = st.integers(0, 3)
_KEY = st.text(max_size=12)


@st.composite
def _mutated(draw: st.DrawFn, choice: st.SearchStrategy[Template]) -> Any:
    """A real payload with 0-3 of: a member replaced by junk, removed or added, an ID forged, a
    time moved to the edge of the calendar, a node wrapped in an array, a batch element repeated."""
    template = draw(choice)
    doc = json.loads(template.text)
    for _ in range(draw(_MUTATIONS)):
        kind = draw(_MUTATION)
        if kind == "add":
            target = _node(doc, draw(template.object_paths))
            if isinstance(target, dict):
                target[draw(_KEY)] = draw(junk)
            continue
        pool = {"forge": template.id_paths, "retime": template.time_paths}.get(kind, template.paths)
        path = draw(pool)
        if not path:
            return draw(junk)
        parent, key = _node(doc, path[:-1]), path[-1]
        if not _has(parent, key):
            continue  # an earlier mutation took this place away
        if kind == "drop":
            del parent[key]
        elif kind == "forge":
            parent[key] = draw(forged_ids).text
        elif kind == "retime":
            parent[key] = draw(ODD_TIMES)
        elif kind == "wrap":
            parent[key] = [parent[key]]
        elif kind == "repeat" and isinstance(parent, list):
            parent.append(parent[key])
        else:
            parent[key] = draw(junk)
    return doc


@cache
def mutated(channel: str) -> st.SearchStrategy[Any]:
    return _mutated(st.sampled_from(templates(channel)))


# ---------------------------------------------------------------------------- bodies


_FORM = st.integers(0, 999)
_ANYWHERE = st.integers(0, 2**20)
_BAD_UTF8 = st.sampled_from([b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\x80", b"\xf4\x90\x80\x80"])
_GARBAGE = st.binary(max_size=64)
_BLANKS = st.sampled_from([b"", b" ", b"\r\n\t", b"null", b"0", b'""', b"[]", b"{}"])
_DEPTH = st.sampled_from([65, 500, 990, 5_000, 100_000])
_OPENERS = st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")])
_TRAILERS = st.sampled_from([b" x", b"}", b",", b"\x00"])


@st.composite
def encoded(draw: st.DrawFn, docs: st.SearchStrategy[Any]) -> tuple[bytes, Any, bool]:
    """(body, the JSON value when the body is whole JSON, chunked) for a drawn document: mostly
    the JSON itself, else broken bytes."""
    doc = draw(docs)
    form = draw(_FORM)
    text = json.dumps(doc, ensure_ascii=form % 2 == 0)
    try:
        data, whole = text.encode(), doc
    except UnicodeEncodeError:  # a lone surrogate left unescaped: invalid UTF-8 (CESU-8) on the wire
        data, whole = text.encode("utf-8", "surrogatepass"), None
    if form < 700:
        return data, whole, False
    at = draw(_ANYWHERE) % (len(data) + 1)
    if form < 760:
        return data[:at], None, False  # truncated
    if form < 820:
        return data[:at] + draw(_BAD_UTF8) + data[at:], None, False
    if form < 840:
        return b"\xef\xbb\xbf" + data, whole, False  # a BOM, which the reader allows
    if form < 860:
        return text.encode("utf-16", "surrogatepass"), None, False
    if form < 890:
        return draw(_GARBAGE), None, False
    if form < 910:
        return draw(_BLANKS), None, False
    if form < 940:
        depth = draw(_DEPTH)
        opener, closer = draw(_OPENERS)
        return opener * depth + data + closer * depth, None, False
    if form < 945:
        return data + b" " * (MAX_BODY + 1 - len(data)), None, draw(st.booleans())  # over the limit
    if form < 970:
        return data.replace(b"}", b',"d":1,"d":[true]}', 1), None, False  # duplicate members
    return data + draw(_TRAILERS), None, False  # trailing junk


def _headers(secrets: Secrets, *extra: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    """The function key, and a bearer token as Entra-authenticated senders add (never to be logged)."""
    return (("x-functions-key", secrets.function_key), ("authorization", secrets.authorization), *extra)


CONTENT_TYPES = (
    "application/json",
    "application/json; charset=utf-8",
    "application/cloudevents+json; charset=utf-8",
    "application/cloudevents-batch+json",
    "text/plain",
    "",
)
HOSTILE_HOSTS = ("[", "a b", "évil.example", "127.0.0.1:99999", "..", "")


def _header_sets(*event_types: str) -> st.SearchStrategy[tuple[tuple[str, str], ...]]:
    """Content type, now and then a hostile Host, and an ``aeg-event-type``: one draw for all."""
    hosts: tuple[str | None, ...] = (None,) * 3 * len(HOSTILE_HOSTS) + HOSTILE_HOSTS
    return st.sampled_from(
        [
            (("content-type", ctype),)
            + ((("host", host),) if host is not None else ())
            + ((("aeg-event-type", kind),) if kind is not None else ())
            for ctype in CONTENT_TYPES
            for host in hosts
            for kind in event_types or (None,)
        ]
    )


# An action group or autoscale webhook cannot set headers: its URL carries the key (``?code=``).
_KEY_IN_QUERY = weighted((3, st.just(False)), (1, st.just(True)))


def delivery_probes(
    secrets: Secrets, endpoint: str, path: str, docs: st.SearchStrategy[Any], *event_types: str
) -> st.SearchStrategy[Probe]:
    def build(body: tuple[bytes, Any, bool], extra: tuple[tuple[str, str], ...], in_query: bool) -> Probe:
        if in_query:
            target = f"{path}?code={quote(secrets.function_key, safe='')}"
            headers = (("authorization", secrets.authorization), *extra)
        else:
            target, headers = path, _headers(secrets, *extra)
        return Probe(endpoint, "POST", target.encode(), body[0], headers, body[1], chunked=body[2])

    return st.builds(build, encoded(docs), _header_sets(*event_types), _KEY_IN_QUERY)


def eventgrid_probes(secrets: Secrets) -> st.SearchStrategy[Probe]:
    """Event Grid and CloudEvents batches, validation events, and the CloudEvents OPTIONS handshake."""
    docs = weighted(
        (10, mutated("eventgrid")), (6, mutated("cloudevents")), (2, mutated("validation")), (2, junk)
    )
    origins = st.one_of(
        st.none(), st.text(st.characters(min_codepoint=0x21, max_codepoint=0xFF), max_size=60)
    )
    handshake = st.builds(
        lambda origin: Probe(
            "eventgrid",
            "OPTIONS",
            b"/api/eventgrid",
            None,
            _headers(secrets, *((("webhook-request-origin", origin),) if origin is not None else ())),
            expect=(200,) if origin and origin.strip() else (200, 400),
        ),
        origins,
    )
    event_types = ("Notification",) * 6 + ("SubscriptionValidation", "", "Garbage")
    return weighted(
        (19, delivery_probes(secrets, "eventgrid", "/api/eventgrid", docs, *event_types)), (1, handshake)
    )


def alert_probes(secrets: Secrets) -> st.SearchStrategy[Probe]:
    docs = weighted((9, mutated("alert")), (1, junk))
    return delivery_probes(secrets, "alerts", "/api/alerts", docs)


def autoscale_probes(secrets: Secrets) -> st.SearchStrategy[Probe]:
    docs = weighted((9, mutated("autoscale")), (1, junk))
    return delivery_probes(secrets, "autoscale", "/api/autoscale", docs)


# In scope: decided (200), or for a dry run on a scale set ARM does not have, 404.
_RERUN_STATUS = {"in": (200, 404), "out": (403,), "invalid": (400,)}


def rerun_probes(secrets: Secrets) -> st.SearchStrategy[Probe]:
    """Clean bodies with forged IDs (each has one right answer), by incident ID, and broken bodies."""

    def clean(forged: ForgedId, dry_run: bool | None) -> Probe:
        doc: dict[str, Any] = {"resourceId": forged.text}
        if dry_run is not None:
            doc["dryRun"] = dry_run
        body = json.dumps(doc).encode()
        return Probe(
            "rerun", "POST", b"/api/rerun", body, _headers(secrets), doc, _RERUN_STATUS[forged.scope]
        )

    by_incident = st.builds(
        lambda incident: {"incidentId": incident},
        st.one_of(
            st.text(max_size=80), st.sampled_from(NASTY_TEXT), st.just("vmss-search-20990101T000000Z-none")
        ),
    )
    broken = st.one_of(
        st.dictionaries(
            st.sampled_from(("resourceId", "incidentId", "dryRun", "resourceID", "dryrun", "")),
            junk,
            max_size=3,
        ),
        st.builds(lambda forged, dry: {"resourceId": forged.text, "dryRun": dry}, forged_ids, junk),
        junk,
    )
    return weighted(
        (8, delivery_probes(secrets, "rerun", "/api/rerun", st.one_of(by_incident, broken))),
        (2, st.builds(clean, forged_ids, st.one_of(st.none(), st.booleans()))),
    )


_TARGET_SAFE = "-._~!$&'()*+,;=:@"


def _raw(text: str, keep: str) -> str:
    """Percent-encode what may not appear raw in a request target, keeping ``keep`` raw (path tricks)."""
    return quote(text, safe=_TARGET_SAFE + keep)


def incident_list_probes(secrets: Secrets) -> st.SearchStrategy[Probe]:
    """``GET /api/incidents`` with hostile query strings: unknown and repeated parameters, bad
    statuses, forged scale set filters, broken percent-encoding."""
    statuses = st.lists(
        st.sampled_from(("open", "escalated", "RESOLVED", " suppressed ", "remediated", "")), max_size=3
    )
    value = st.one_of(
        statuses.map(",".join),
        st.builds(lambda f: f.text, forged_ids),
        st.text(max_size=60),
        st.sampled_from(NASTY_TEXT),
        st.sampled_from(("%", "%zz", "%00", "%ff%fe", "a%2", "+", "%2B%2b")),
    )
    names = st.sampled_from(("status", "scaleSet", "scaleset", "code", "status[]", "", "x"))
    pairs = st.lists(st.tuples(names, value, st.booleans()), max_size=4)

    def build(items: list[tuple[str, str, bool]]) -> Probe:
        query = "&".join(
            f"{_raw(name, '')}={_raw(text, '%+') if raw else _raw(text, '')}" for name, text, raw in items
        )
        target = "/api/incidents" + (f"?{query}" if items else "")
        return Probe("incidents", "GET", target.encode(), None, _headers(secrets), expect=(200, 400))

    return st.builds(build, pairs)


def incident_probes(secrets: Secrets) -> st.SearchStrategy[Probe]:
    """``GET /api/incidents/{id}`` with hostile IDs: path tricks raw and encoded, Unicode, long."""
    ids = st.one_of(
        st.text(min_size=1, max_size=60),
        st.sampled_from(NASTY_TEXT[1:]),
        st.sampled_from(
            ("..", ".", "%2e%2e", "..%2F..%2Fhealth", "a/b", "%2F", "%00", "%ff", "%", "?x=1", ";x")
        ),
        st.builds(lambda f: f.text, forged_ids),
        st.builds(
            lambda unit, n: unit * n, st.sampled_from(("a", "é", "%41")), st.integers(100, MAX_ID_TEXT // 3)
        ),
    )

    def build(incident_id: str, raw: bool) -> Probe:
        text = _raw(incident_id, "/%?") if raw else quote(incident_id, safe="")
        return Probe(
            "incident",
            "GET",
            f"/api/incidents/{text}".encode(),
            None,
            _headers(secrets),
            expect=(200, 400, 404),
        )

    return st.builds(build, ids, st.booleans())


STRATEGIES: dict[str, Callable[[Secrets], st.SearchStrategy[Probe]]] = {
    "eventgrid": eventgrid_probes,
    "alerts": alert_probes,
    "autoscale": autoscale_probes,
    "rerun": rerun_probes,
    "incidents": incident_list_probes,
    "incident": incident_probes,
}
