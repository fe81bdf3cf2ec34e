"""The channel-neutral view: facts, findings with next steps, actions, rerun commands."""

from __future__ import annotations

import json
import shlex

import pytest

from vmss_responder.engine.incident import FINDING_CODES
from vmss_responder.notify import render
from vmss_responder.notify.sample import SCALE_SET, sample_digest, sample_notification

from .helpers import START


def test_page_view_of_the_sample_incident() -> None:
    v = render.view(sample_notification("page", START))
    assert v.badge == "PAGE · Paging on-call"
    assert v.headline == "On-call needed for vmss-search, instance 3 (zone 1): automatic repairs are off."
    assert (v.scale_set.name, v.scale_set.resource_group) == ("vmss-search", "rg-search-prod")
    assert v.scale_set.portal_url == f"https://portal.azure.com/#resource{SCALE_SET}/overview"
    assert [(r.instance_id, r.zone, r.findings) for r in v.instances] == [("3", "1", ("repairs_disabled",))]
    [finding] = v.findings
    assert finding.label == "Automatic repairs are off" and "instance 3" in finding.evidence
    [action] = v.actions
    assert (action.label, action.mode, action.result, action.instance_ids) == (
        "Restart instance", "shadow", "skipped", ("3",)
    )  # fmt: skip
    facts = dict(v.facts)
    assert facts["Status"] == "escalated · paged" and facts["Instances"] == "1 in zone 1"
    assert "Closed" not in facts  # empty facts are left out
    assert [t.kind for t in v.timeline][:2] == ["signal", "signal"]


@pytest.mark.parametrize("code", FINDING_CODES)
def test_every_finding_code_has_its_own_next_step(code: str) -> None:
    ref = render.scale_set_view(SCALE_SET)
    step = render.next_step(code, ref, ("3", "7"))
    assert step != render.next_step("not-a-code", ref, ("3",))
    for command in step.commands:
        argv = shlex.split(command)
        assert argv[:2] == ["az", "vmss"]
        assert argv[argv.index("-g") + 1] == "rg-search-prod" and argv[argv.index("-n") + 1] == "vmss-search"


def test_commands_name_the_affected_instances() -> None:
    step = render.next_step("repairs_disabled", render.scale_set_view(SCALE_SET), ("3", "7"))
    assert step.commands[0] == "az vmss restart -g rg-search-prod -n vmss-search --instance-ids 3 7"


def test_resolved_needs_no_repair_advice() -> None:
    v = render.view(sample_notification("resolved", START))
    assert [s.text for s in v.next_steps] == [
        "Nothing urgent: the incident is closed. The findings and timeline show what happened."
    ]
    assert v.headline == "vmss-search, instance 3 (zone 1): recovered; the incident is closed."


def test_rerun_commands() -> None:
    assert render.rerun_command(SCALE_SET) == f"vmss-responder rerun {SCALE_SET}"
    http = render.rerun_http(SCALE_SET, "https://func-vmssr.azurewebsites.net/")
    argv = shlex.split(http)
    assert argv[:4] == ["curl", "-X", "POST", "https://func-vmssr.azurewebsites.net/api/rerun"]
    assert "x-functions-key: <function key>" in argv  # a placeholder: keys never go into messages
    assert json.loads(argv[argv.index("-d") + 1]) == {"resourceId": SCALE_SET}
    assert "https://<app>/api/rerun" in render.rerun_http(SCALE_SET)


def test_odd_scale_set_ids_still_render() -> None:
    assert render.scale_set_view("") == render.ScaleSetView("", "", "", "", None)
    odd = render.scale_set_view("/subscriptions/x/resourceGroups/rg/providers/Other/things/t1")
    assert odd.name == "t1" and odd.portal_url is not None


def test_digest_view_counts_incidents_and_scale_sets() -> None:
    v = render.view(sample_digest(START, count=7))
    assert v.headline == "7 incidents on 3 scale sets since the last message."
    assert [d.scale_set.name for d in v.digest][:3] == ["vmss-search", "vmss-index", "vmss-api"]
    assert dict(v.facts)["Incidents"] == "7"
    assert v.rerun_command == "" and v.scale_set.portal_url is None


def test_clip() -> None:
    assert render.clip("abcdef", 10) == "abcdef"
    assert render.clip("abcdef", 4) == "abc…"
    assert render.clip("abcdef", 0) == ""
