"""One identity per scale set and per instance, whatever the source.

Alerts lower-case resource IDs, Event Grid keeps ARM's casing, and the scenario/fleet has its
own. Identities compare case-insensitively (``key``) but remember the best casing seen
(``id``), which is upgraded to the fleet's casing once the live control plane has been read.
Only Uniform scale set instances (``…/virtualMachineScaleSets/{vmss}/virtualMachines/{n}``) are
addressable: a Flexible orchestration VM ID names a standalone ``virtualMachines`` resource that
cannot be tied to its scale set without a lookup, so it is not mapped here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_VMSS = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/providers/microsoft\.compute/"
    r"virtualmachinescalesets/(?P<name>[^/]+)(?:/virtualmachines/(?P<inst>[^/]+))?"
    r"(?P<rest>/.*)?$",
    re.IGNORECASE,
)
_SAFE = re.compile(r"^[A-Za-z0-9._()\-]{1,128}$")
_SCOPE = re.compile(r"^/subscriptions/[^/]+(?:/resourcegroups/[^/]+)?/?$", re.IGNORECASE)
# Characters ARM never uses in an ID (query, fragment, escapes, control characters), empty
# segments, and "." / ".." segments anywhere (also in a nested child's path, which maps to its
# parent). One regex scan: a per-character generator cost ~20 µs an ID on the parse hot path.
_FORBIDDEN = re.compile(r"[?#\\%\x00-\x1f]|//|/\.\.?(?:/|$)")


class InvalidResourceId(ValueError):
    """A resource ID that is malformed or uses path tricks."""


@dataclass(frozen=True, slots=True)
class ScaleSetRef:
    subscription: str
    resource_group: str
    name: str

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Compute/virtualMachineScaleSets/{self.name}"
        )

    @property
    def key(self) -> str:
        """Case-insensitive identity used for storage and comparison."""
        return self.id.lower()

    def instance(self, instance_id: str) -> InstanceRef:
        return InstanceRef(self, instance_id)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ScaleSetRef) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)


@dataclass(frozen=True, slots=True)
class InstanceRef:
    scale_set: ScaleSetRef
    instance_id: str

    @property
    def id(self) -> str:
        return f"{self.scale_set.id}/virtualMachines/{self.instance_id}"

    @property
    def key(self) -> str:
        return self.id.lower()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, InstanceRef) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)


def _check_segment(value: str, field: str) -> str:
    if not _SAFE.match(value) or value in {".", ".."}:
        raise InvalidResourceId(f"{field} {value!r} is not a valid ARM name segment")
    return value


def parse_resource_id(resource_id: str) -> tuple[ScaleSetRef, str | None] | None:
    """Map an ARM ID to (scale set, instance ID or None).

    Returns None for a well-formed ID that is not a scale set or one of its instances (the
    caller ignores such payloads with a reason). Nested child resources of a scale set or an
    instance (``…/providers/Microsoft.ResourceHealth/availabilityStatuses/x``, extensions) map to
    their parent. Raises :class:`InvalidResourceId` for IDs with path tricks (``..``, ``//``,
    query strings, control characters).
    """
    if not isinstance(resource_id, str) or not resource_id.startswith("/"):
        return None
    if _FORBIDDEN.search(resource_id):
        raise InvalidResourceId(
            f"resource ID {resource_id[:200]!r} uses characters or segments ARM never does"
        )
    m = _VMSS.match(resource_id.rstrip("/"))
    if not m:
        return None
    sub = _check_segment(m.group("sub"), "subscription")
    rg = _check_segment(m.group("rg"), "resource group")
    name = _check_segment(m.group("name"), "scale set name")
    inst = m.group("inst")
    if inst is not None:
        inst = _check_segment(inst, "instance ID")
    return ScaleSetRef(sub, rg, name), inst


def is_scope(scope: str) -> bool:
    """True for a subscription or resource-group ARM scope (the only scopes the responder serves)."""
    return bool(isinstance(scope, str) and _SCOPE.match(scope))


def in_scopes(scale_set: ScaleSetRef, scopes: list[str] | tuple[str, ...]) -> bool:
    """Whether a scale set lies inside one of the configured scopes (case-insensitive, no wildcards)."""
    rg_scope = f"/subscriptions/{scale_set.subscription}/resourcegroups/{scale_set.resource_group}".lower()
    sub_scope = f"/subscriptions/{scale_set.subscription}".lower()
    for scope in scopes:
        s = scope.rstrip("/").lower()
        if s in (rg_scope, sub_scope):
            return True
    return False


def portal_url(resource_id: str) -> str:
    return f"https://portal.azure.com/#resource{resource_id}/overview"
