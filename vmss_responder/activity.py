"""Find the operations the event stream missed: one Activity Log query before paging.

The Activity Log is exported to a Log Analytics workspace (``workspaceId``); the responder
queries its ``AzureActivity`` table through ``azure-monitor-query`` for one scale set and the
window around the incident. A partial result or an error means "unknown", never "no
operation": the caller pages as it would have, and says the lookup failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .activity_query import build_activity_query
from .signals import Signal


@dataclass(slots=True)
class Lookup:
    ok: bool
    signals: list[Signal] = field(default_factory=list)
    rows: int = 0
    note: str = ""


def lookup_operations(
    logs: Any, workspace_id: str, scale_set_id: str, start: datetime, end: datetime
) -> Lookup:
    """Run the query; never raises for service errors (they become ``ok=False`` with the reason)."""
    from azure.core.exceptions import AzureError
    from azure.monitor.query import LogsQueryStatus

    from .parse import parse

    query = build_activity_query(scale_set_id, start, end)
    window = f"{start:%H:%M}-{end:%H:%M}Z"
    try:
        result = logs.query_workspace(workspace_id, query, timespan=(start, end), server_timeout=20)
    except AzureError as exc:
        message = (getattr(exc, "message", None) or str(exc)).splitlines()[0][:200]
        return Lookup(
            False, note=f"Activity Log lookup failed ({message}); paging as if no operation was found"
        )
    if result.status != LogsQueryStatus.SUCCESS:
        return Lookup(
            False, note=f"Activity Log lookup returned a partial result for {window}; treated as unknown"
        )
    rows: list[dict[str, Any]] = []
    for table in result.tables:
        cols = list(table.columns)
        for row in table.rows:
            rows.append({c: row[i] for i, c in enumerate(cols)})
    parsed = parse("activity_log", rows, received_at=end)
    ops = sorted({s.operation or "" for s in parsed.signals})
    note = (
        f"Activity Log {window}: {len(parsed.signals)} operation event(s) found ({', '.join(ops)})"
        if parsed.signals
        else f"Activity Log {window}: no operation on the scale set or its instances"
    )
    return Lookup(True, parsed.signals, len(rows), note)
