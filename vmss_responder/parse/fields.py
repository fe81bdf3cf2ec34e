"""Typed reads from decoded JSON that fail with the JSON path, and the coercions Azure's drift needs.

Azure writes the same field as a number in one payload and a string in the next, claims as an
object or as JSON text, lists as arrays or as JSON text, and lower-cases IDs in some schemas.
Parsers read through these helpers so that tolerated drift is handled in one place and a
malformed payload raises :class:`PayloadError` naming the exact path
(``[0].data.resourceInfo.properties.targetResourceId``). Paths are joined only when raising:
these run for every event on the hot path.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from functools import lru_cache

from ..durations import parse_timestamp
from ..identity import InvalidResourceId, ScaleSetRef, parse_resource_id
from ..signals import Availability, PayloadError

_AVAILABILITY = {a.value.lower(): a for a in Availability}

# What one field of a payload may hold. Identifiers, states and names Azure sends are far
# shorter (an instance ID is under 300 characters); text read into a signal ends up in the
# scale set's state record, rewritten on every delivery, so a longer value is refused (an ID,
# a name) or cut (prose: summaries, reasons, titles) rather than stored.
MAX_TEXT = 1024
MAX_PROSE = 500
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2100, 1, 1, tzinfo=timezone.utc)
_PLAIN_KEY = re.compile(r'[^.\[\]"\\\x00-\x1f\ud800-\udfff]+')

# Claims that name who called ARM, most specific first: a user's UPN (what the Activity Log's
# `caller` shows), then display names, then the service principal / application.
_CALLER_CLAIMS = (
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
    "upn",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
    "unique_name",
    "name",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/spn",
    "appid",
    "azp",
)


def at(path: str, key: str | int) -> str:
    """Join a JSON path: ``at("[0].data", "id")`` -> ``[0].data.id``; ints index arrays.

    A key the dotted form cannot show (empty, or holding ``.``, brackets, quotes, control
    characters, lone surrogates: any sender may use one) is written quoted, ``data[""]``.
    """
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _PLAIN_KEY.fullmatch(key) is None:
        return f"{path}[{json.dumps(key)}]"
    return f"{path}.{key}" if path else key


def shown(value: object) -> str:
    """A value quoted for an error message, cut short: the message goes back to the sender."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def kind_of(value: object) -> str:
    """The JSON type of a decoded value, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def present_key(parent: dict, key: str, any_case: bool = True) -> str:
    """The key as spelled in ``parent``: with ``any_case``, ``oldInstancesCount`` finds ``OldInstancesCount``."""
    if not any_case or key in parent:
        return key
    lowered = key.lower()
    for candidate in parent:
        if isinstance(candidate, str) and candidate.lower() == lowered:
            return candidate
    return key


def as_object(value: object, path: str) -> dict:
    if not isinstance(value, dict):
        raise PayloadError(path or "$", f"expected an object, got {kind_of(value)}")
    return value


def as_list(value: object, path: str) -> list:
    if not isinstance(value, list):
        raise PayloadError(path or "$", f"expected an array, got {kind_of(value)}")
    return value


def obj(parent: dict, key: str, path: str) -> dict:
    """A required object member."""
    value = parent.get(key)
    if not isinstance(value, dict):
        raise PayloadError(
            at(path, key), "missing" if value is None else f"expected an object, got {kind_of(value)}"
        )
    return value


def opt_obj(parent: dict, key: str, path: str) -> dict | None:
    """An optional object member: absent or null -> None."""
    value = parent.get(key)
    if value is None or isinstance(value, dict):
        return value
    raise PayloadError(at(path, key), f"expected an object, got {kind_of(value)}")


def _too_long(path: str, key: str) -> PayloadError:
    return PayloadError(at(path, key), f"longer than {MAX_TEXT} characters")


def text(parent: dict, key: str, path: str, *, any_case: bool = False) -> str:
    """A required non-empty string member of at most :data:`MAX_TEXT` characters."""
    key = present_key(parent, key, any_case)
    value = parent.get(key)
    if isinstance(value, str) and value:
        if len(value) > MAX_TEXT:
            raise _too_long(path, key)
        return value
    raise PayloadError(
        at(path, key),
        "missing" if value is None or value == "" else f"expected a string, got {kind_of(value)}",
    )


def opt_text(parent: dict, key: str, path: str, *, any_case: bool = False) -> str | None:
    """An optional string member of at most :data:`MAX_TEXT` characters: absent, null or empty -> None."""
    key = present_key(parent, key, any_case)
    value = parent.get(key)
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise _too_long(path, key)
        return value or None
    if value is None:
        return None
    raise PayloadError(at(path, key), f"expected a string, got {kind_of(value)}")


def opt_prose(parent: dict, key: str, path: str) -> str | None:
    """Optional free text for people (a summary, a reason, a title), cut to :data:`MAX_PROSE`."""
    value = parent.get(key)
    if isinstance(value, str):
        return value if len(value) <= MAX_PROSE else value[: MAX_PROSE - 1] + "…"
    return opt_text(parent, key, path)


def opt_label(parent: dict, key: str, path: str) -> str | None:
    """A string that some payloads write as an enum number (Service Health ``eventSource: 2``)."""
    value = parent.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return opt_text(parent, key, path)


def opt_int(parent: dict, key: str, path: str, *, any_case: bool = False) -> int | None:
    """An integer written as a number or as decimal text (autoscale counts are ``"9"``)."""
    key = present_key(parent, key, any_case)
    value = parent.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.isdecimal():
            return int(stripped)
    raise PayloadError(at(path, key), f"expected an integer, got {shown(value)}")


def int_value(parent: dict, key: str, path: str) -> int:
    """A required integer (number or decimal text)."""
    value = opt_int(parent, key, path)
    if value is None:
        raise PayloadError(at(path, key), "missing")
    return value


def opt_list(parent: dict, key: str, path: str, *, any_case: bool = False) -> list:
    """An optional array member: absent or null -> []."""
    key = present_key(parent, key, any_case)
    value = parent.get(key)
    if value is None:
        return []
    return as_list(value, at(path, key))


def str_list(parent: dict, key: str, path: str) -> list[str]:
    """A required array of strings (``alertTargetIDs``)."""
    value = parent.get(key)
    if not isinstance(value, list):
        raise PayloadError(
            at(path, key), "missing" if value is None else f"expected an array, got {kind_of(value)}"
        )
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise PayloadError(at(at(path, key), i), f"expected a string, got {kind_of(item)}")
        if len(item) > MAX_TEXT:
            raise PayloadError(at(at(path, key), i), f"longer than {MAX_TEXT} characters")
    return value


def timestamp(value: object, path: str) -> datetime:
    """RFC 3339 text (Azure writes 7 fractional digits) or a datetime -> aware UTC datetime.

    ``datetime.fromisoformat`` reads Azure's forms in well under a microsecond on 3.11; the
    isodate-based :func:`parse_timestamp` (about 7 µs) is the fallback for other spellings.
    Times outside :data:`EARLIEST`..:data:`LATEST` are refused: near year 1 or 9999 the engine's
    date arithmetic overflows, and a signal that cannot be folded would poison its scale set.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            try:
                parsed = parse_timestamp(value)
            except ValueError:
                raise PayloadError(path, f"not an RFC 3339 timestamp: {shown(value)}") from None
    else:
        raise PayloadError(
            path, "missing" if value is None else f"expected a timestamp, got {kind_of(value)}"
        )
    try:
        utc = (
            parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)
        )
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise PayloadError(path, f"{shown(value)} is outside {EARLIEST.year}-{LATEST.year - 1}")
    return utc


def opt_time(parent: dict, key: str, path: str) -> datetime | None:
    value = parent.get(key)
    if value is None or value == "":
        return None
    return timestamp(value, at(path, key))


def availability(value: object, path: str) -> Availability:
    """A Resource Health state, compared case-insensitively."""
    if isinstance(value, str):
        found = _AVAILABILITY.get(value.strip().lower())
        if found is not None:
            return found
    if value is None or value == "":
        raise PayloadError(path, "missing")
    raise PayloadError(path, f"expected one of Available, Degraded, Unavailable, Unknown, got {shown(value)}")


def opt_availability(parent: dict, key: str, path: str) -> Availability | None:
    value = parent.get(key)
    if value is None or value == "":
        return None
    return availability(value, at(path, key))


def json_text(value: object, path: str) -> object:
    """A value some payloads embed as JSON text (``impactedServices``, AzureActivity ``Properties``)."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise PayloadError(path, "expected JSON text") from None


def claims(value: object, path: str) -> dict:
    """JWT claims: an object (Event Grid, Activity Log REST) or JSON text (alerts).

    Docs publish the placeholder ``"{...}"``; claims only help name the caller, so text that is
    not a JSON object reads as no claims rather than rejecting the payload.
    """
    if isinstance(value, dict):
        return value
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            return {}
        return decoded if isinstance(decoded, dict) else {}
    raise PayloadError(path, f"expected an object or JSON text, got {kind_of(value)}")


def caller_from_claims(found: dict) -> str | None:
    for name in _CALLER_CLAIMS:
        value = found.get(name)
        if isinstance(value, str) and value and len(value) <= MAX_TEXT:
            return value
    return None


def target(resource_id: str, path: str) -> tuple[ScaleSetRef, str | None] | None:
    """(scale set, Uniform instance ID or None), None when not about a scale set.

    An ID with path tricks (``..``, ``//``, query strings, placeholders such as ``<GUID>``)
    rejects the payload, naming the field it came from.
    """
    try:
        return _resource(resource_id)
    except InvalidResourceId as exc:
        raise PayloadError(path, str(exc)) from None


@lru_cache(maxsize=4096)
def _resource(resource_id: str) -> tuple[ScaleSetRef, str | None] | None:
    """parse_resource_id, remembered: a fleet's few scale sets and instances recur in every
    signal, and the parse (about 6 µs) is a third of an event's budget. Rejections are not cached."""
    return parse_resource_id(resource_id)


def subscription_of(resource_id: str) -> str | None:
    """The subscription ID of an ARM ID or scope (``/subscriptions/{id}/…``)."""
    parts = resource_id.split("/")
    if len(parts) >= 3 and parts[0] == "" and parts[1].lower() == "subscriptions" and parts[2]:
        return parts[2]
    return None


def resource_type(resource_id: str) -> tuple[str, str]:
    """(type, name) of an ARM ID for messages, e.g. ``("Microsoft.Storage/storageAccounts", "sa1")``.

    Reads the first provider segment so an extension resource
    (``…/virtualMachines/vm1/providers/Microsoft.ResourceHealth/…``) reports its parent.
    """
    if not resource_id.startswith("/"):
        return "value that is not an ARM resource ID", resource_id[:200]
    parts = resource_id.strip("/").split("/")
    lowered = [p.lower() for p in parts]
    if "providers" in lowered:
        start = lowered.index("providers") + 1
        end = lowered.index("providers", start) if "providers" in lowered[start:] else len(parts)
        chain = parts[start:end]
        if chain:
            types, names = chain[1::2], chain[2::2]
            return "/".join([chain[0], *types]), names[-1] if names else ""
    if len(parts) >= 4 and lowered[2] == "resourcegroups":
        return "resource group", parts[3]
    if len(parts) >= 2 and lowered[0] == "subscriptions":
        return "subscription", parts[1]
    return "resource", resource_id[:200]


def not_a_scale_set(resource_id: str) -> str:
    """The reason a payload about ``resource_id`` is ignored."""
    kind, name = resource_type(resource_id)
    if kind.lower() == "microsoft.compute/virtualmachines":
        return (
            f"not about a scale set: virtual machine {name!r} (standalone and Flexible-orchestration VMs "
            "are not mapped to a scale set; only Uniform instances are)"
        )
    return f"not about a scale set: {kind} {name!r}"
