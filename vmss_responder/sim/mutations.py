"""What ARM was asked to change, and what it did, read from the emulator's request log.

The replay report says which actions the responder executed; the request log says which
mutating requests reached ARM and which ARM performed. Comparing the two shows a POST sent twice
(an SDK retry, a redelivery acted on twice) or an action reported as done that never happened.
A mutation is identified by its method, its ARM path (lower-cased; a per-instance action names
its instance there) and the instance IDs its body names (``deleteInstances``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .arm_api import RequestRecord

MUTATING = ("POST", "PUT", "PATCH", "DELETE")
# the POST each report action stands for: the path under the scale set, then whether the body names instances
_ACTION_POSTS = {
    "resume_repairs": ("/setorchestrationservicestate", False),
    "restart_instance": ("/virtualmachines/{iid}/restart", False),
    "reimage_instance": ("/virtualmachines/{iid}/reimage", False),
    "run_command": ("/virtualmachines/{iid}/runcommand", False),
    "replace_instance": ("/delete", True),
}


@dataclass(frozen=True, order=True)
class Mutation:
    method: str
    path: str  # lower-cased
    instance_ids: tuple[str, ...] = ()  # named in the body


def mutation_of(record: RequestRecord) -> Mutation:
    return Mutation(record.method, record.path.lower(), _body_instances(record.body))


def performed(record: RequestRecord) -> bool:
    """ARM carried the request out: it answered 2xx, or did the work and the answer was lost."""
    return 200 <= record.status < 300 or record.fault == "lost"


def mutations(requests: Iterable[RequestRecord], *, only_performed: bool = True) -> Counter[Mutation]:
    """Mutating ARM requests (Log Analytics queries are read-only POSTs and are left out)."""
    return Counter(
        mutation_of(r)
        for r in requests
        if r.method in MUTATING and r.kind == "write" and (performed(r) or not only_performed)
    )


def action_post(action: Mapping[str, Any]) -> Mutation:
    """The POST a report action (``op``, ``scaleSet``, ``instanceIds``) stands for."""
    suffix, in_body = _ACTION_POSTS[action["op"]]
    ids = tuple(action["instanceIds"])
    path = action["scaleSet"] + suffix.format(iid=ids[0] if ids else "")
    return Mutation("POST", path.lower(), ids if in_body else ())


def _body_instances(body: bytes) -> tuple[str, ...]:
    try:
        data = json.loads(body) if body else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        return ()
    ids = data.get("instanceIds") if isinstance(data, dict) else None
    return tuple(str(i) for i in ids) if isinstance(ids, list) else ()
