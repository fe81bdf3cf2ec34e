"""Typed accessors and the coercions for Azure's type drift, with the JSON path in every error."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from vmss_responder.parse import fields, parse
from vmss_responder.signals import Availability, PayloadError

VMSS = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/web"


def error(call) -> PayloadError:
    with pytest.raises(PayloadError) as raised:
        call()
    return raised.value


def test_paths_join_keys_and_indexes():
    assert fields.at("", "data") == "data"
    assert fields.at("[0]", "data") == "[0].data"
    assert fields.at("data.essentials.alertTargetIDs", 2) == "data.essentials.alertTargetIDs[2]"


def test_errors_name_the_json_type_found():
    assert str(error(lambda: fields.as_object([], ""))) == "$: expected an object, got an array"
    assert error(lambda: fields.obj({"data": "x"}, "data", "")).message == "expected an object, got a string"
    assert error(lambda: fields.obj({}, "data", "[3]")).field == "[3].data"
    assert error(lambda: fields.text({"id": True}, "id", "")).message == "expected a string, got a boolean"
    assert error(lambda: fields.text({"id": ""}, "id", "x")).message == "missing"


def test_optional_members():
    assert fields.opt_text({"a": ""}, "a", "") is None
    assert fields.opt_obj({"a": None}, "a", "") is None
    assert fields.opt_list({}, "a", "") == []
    assert error(lambda: fields.opt_list({"a": {}}, "a", "p")).field == "p.a"


@pytest.mark.parametrize(("value", "expected"), [("9", 9), (" 10 ", 10), (7, 7), ("", None), (None, None)])
def test_integers_as_numbers_or_text(value, expected):
    assert fields.opt_int({"n": value}, "n", "") == expected


@pytest.mark.parametrize("value", [True, "9.5", "-1", "nine", 1.5, []])
def test_non_integers_are_rejected(value):
    assert error(lambda: fields.opt_int({"n": value}, "n", "ctx")).field == "ctx.n"


def test_any_case_finds_pascal_case_and_reports_the_key_as_spelled():
    props = {"OldInstancesCount": "3"}
    assert fields.opt_int(props, "oldInstancesCount", "p", any_case=True) == 3
    assert fields.present_key(props, "oldInstancesCount") == "OldInstancesCount"
    assert (
        error(
            lambda: fields.opt_int({"OldInstancesCount": "x"}, "oldInstancesCount", "p", any_case=True)
        ).field
        == "p.OldInstancesCount"
    )


def test_labels_written_as_enum_numbers():
    assert fields.opt_label({"eventSource": 2}, "eventSource", "") == "2"
    assert fields.opt_label({"eventSource": "ServiceHealth"}, "eventSource", "") == "ServiceHealth"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2023-07-24T19:20:37.9245071Z", datetime(2023, 7, 24, 19, 20, 37, 924507, tzinfo=timezone.utc)),
        ("2019-03-22T13:56:31.2917159+00:00", datetime(2019, 3, 22, 13, 56, 31, 291715, tzinfo=timezone.utc)),
        ("2026-05-04T11:00:00+02:00", datetime(2026, 5, 4, 9, 0, tzinfo=timezone.utc)),
        ("2026-05-04T09:00:00", datetime(2026, 5, 4, 9, 0, tzinfo=timezone.utc)),
        (datetime(2026, 5, 4, 9, 0), datetime(2026, 5, 4, 9, 0, tzinfo=timezone.utc)),
        (
            datetime(2026, 5, 4, 10, 0, tzinfo=timezone(timedelta(hours=1))),
            datetime(2026, 5, 4, 9, 0, tzinfo=timezone.utc),
        ),
    ],
)
def test_timestamps_become_aware_utc(value, expected):
    parsed = fields.timestamp(value, "t")
    assert parsed == expected
    assert parsed.tzinfo == timezone.utc


@pytest.mark.parametrize("value", ["", "soon", "2026-13-01T00:00:00Z", 1714813200, None])
def test_bad_timestamps_name_the_path(value):
    assert error(lambda: fields.timestamp(value, "[0].eventTime")).field == "[0].eventTime"


def test_availability_is_case_insensitive():
    assert fields.availability("degraded", "s") is Availability.DEGRADED
    assert fields.opt_availability({"s": None}, "s", "") is None
    assert error(lambda: fields.availability("Healthy", "p.s")).field == "p.s"


def test_json_text():
    assert fields.json_text('[{"a": 1}]', "p") == [{"a": 1}]
    assert fields.json_text([1], "p") == [1]
    assert error(lambda: fields.json_text("[{", "p")).field == "p"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"appid": "a"}, {"appid": "a"}),
        ('{"appid": "a"}', {"appid": "a"}),
        ("{...}", {}),
        ("[1]", {}),
        (None, {}),
    ],
)
def test_claims_as_object_or_text(value, expected):
    assert fields.claims(value, "c") == expected


def test_claims_of_another_type_are_malformed():
    assert error(lambda: fields.claims(["x"], "data.claims")).field == "data.claims"


def test_caller_prefers_the_upn_then_names_then_the_application():
    upn = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"
    assert (
        fields.caller_from_claims({"appid": "app", "name": "Rob", upn: "rob@contoso.com"})
        == "rob@contoso.com"
    )
    assert fields.caller_from_claims({"appid": "app", "name": "Rob"}) == "Rob"
    assert fields.caller_from_claims({"appid": "app"}) == "app"
    assert fields.caller_from_claims({"claimKey1": "v"}) is None


def test_str_list():
    assert fields.str_list({"ids": ["/a"]}, "ids", "e") == ["/a"]
    assert error(lambda: fields.str_list({"ids": "/a"}, "ids", "e")).field == "e.ids"
    assert error(lambda: fields.str_list({"ids": ["/a", None]}, "ids", "e")).field == "e.ids[1]"


def test_target_maps_scale_sets_and_instances_and_rejects_tricks():
    scale_set, instance = fields.target(VMSS.lower() + "/virtualmachines/4", "t")
    assert (scale_set.key, instance) == (VMSS.lower(), "4")
    assert (
        fields.target(
            "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm", "t"
        )
        is None
    )
    for trick in (VMSS + "/../x", VMSS.replace("/rg/", "/../"), VMSS + "%2F..", VMSS + "\n"):
        assert error(lambda trick=trick: fields.target(trick, "data.resourceUri")).field == "data.resourceUri"


@pytest.mark.parametrize(
    ("resource_id", "kind", "name"),
    [
        (
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa",
            "Microsoft.Storage/storageAccounts",
            "sa",
        ),
        (
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.EventHub/namespaces/n/AuthorizationRules/r",
            "Microsoft.EventHub/namespaces/AuthorizationRules",
            "r",
        ),
        (
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm/providers/Microsoft.ResourceHealth/availabilityStatuses/current",
            "Microsoft.Compute/virtualMachines",
            "vm",
        ),
        ("/subscriptions/s/resourceGroups/rg", "resource group", "rg"),
        ("/subscriptions/s", "subscription", "s"),
        ("scopeValue", "value that is not an ARM resource ID", "scopeValue"),
    ],
)
def test_resource_type_for_reasons(resource_id, kind, name):
    assert fields.resource_type(resource_id) == (kind, name)


def test_subscription_of():
    assert fields.subscription_of("/subscriptions/abc") == "abc"
    assert fields.subscription_of(VMSS) == "s1"
    assert fields.subscription_of("/providers/Microsoft.Management/managementGroups/mg") is None


def test_unknown_channel_is_a_value_error():
    with pytest.raises(ValueError, match="unknown channel 'sms'"):
        parse("sms", {}, received_at=datetime(2026, 5, 4, tzinfo=timezone.utc))
