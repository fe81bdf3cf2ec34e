"""The responder's only KQL: built from a fixed template and recognised back exactly."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from vmss_responder.activity_query import build_activity_query, parse_activity_query

VMSS = "/subscriptions/6F1C9A52-0d2e-4b7a-9c1e-3a5d7e8f9012/resourceGroups/RG-Search-Prod/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-search"
START = datetime(2026, 5, 4, 8, 0, tzinfo=timezone.utc)
END = datetime(2026, 5, 4, 9, 30, tzinfo=timezone.utc)


def test_the_query_is_the_template_with_a_lower_cased_resource_filter() -> None:
    assert build_activity_query(VMSS, START, END) == (
        "AzureActivity\n"
        "| where TimeGenerated between (datetime(2026-05-04T08:00:00Z) .. datetime(2026-05-04T09:30:00Z))\n"
        f'| where _ResourceId startswith "{VMSS.lower()}"\n'
        "| project TimeGenerated, OperationNameValue, ActivityStatusValue, ActivitySubstatusValue, ResourceId, "
        "_ResourceId, Caller, CorrelationId, Properties\n"
        "| order by TimeGenerated asc\n"
        "| take 1000"
    )


def test_parse_reads_back_the_values_and_rejects_anything_else() -> None:
    query = build_activity_query(VMSS, START, END)
    parsed = parse_activity_query(query)
    assert parsed is not None
    assert (parsed.resource_prefix, parsed.start, parsed.end) == (VMSS.lower(), START, END)
    assert parse_activity_query(query.replace("take 1000", "take 5")) is None
    assert parse_activity_query(query + "\n| where Caller != ''") is None
    assert parse_activity_query("AzureActivity | take 10") is None


@pytest.mark.parametrize(
    "bad", [VMSS + '" or 1==1 or "', VMSS + "\n| take 1", "vmss-search", "/subscriptions/x/../y"]
)
def test_only_plain_resource_ids_reach_the_query(bad: str) -> None:
    with pytest.raises(ValueError):
        build_activity_query(bad, START, END)


def test_the_window_must_not_run_backwards() -> None:
    with pytest.raises(ValueError):
        build_activity_query(VMSS, END, START)
