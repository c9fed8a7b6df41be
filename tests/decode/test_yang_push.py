"""YANG-push (RFC 8641) notifications with yang-patch edits (RFC 8072), JSON per RFC 7951, and the
NCMP CM AVC event shapes of seed 004."""

import json
from typing import Any

import pytest

from receiver.decode._yang_push import (
    YangEdit,
    YangPushDecodeError,
    decode_yang_push,
    parse_target,
)

# RFC 8641 §3.7 shows its push-update and push-change-update examples in XML; these are the same
# notifications in JSON (RFC 7951) inside the RESTCONF notification envelope (RFC 8040 §6.4).
RFC8641_PUSH_UPDATE = {
    "ietf-restconf:notification": {
        "eventTime": "2017-10-25T08:00:11.22Z",
        "ietf-yang-push:push-update": {
            "id": 1011,
            "datastore-contents": {
                "ietf-interfaces:interfaces": {"interface": [{"name": "eth0", "oper-status": "up"}]}
            },
        },
    }
}
RFC8641_PUSH_CHANGE_UPDATE = {
    "ietf-restconf:notification": {
        "eventTime": "2017-10-25T08:22:33.44Z",
        "ietf-yang-push:push-change-update": {
            "id": 89,
            "datastore-changes": {
                "yang-patch": {
                    "patch-id": "0",
                    "edit": [
                        {
                            "edit-id": "edit1",
                            "operation": "merge",
                            "target": "/ietf-interfaces:interfaces",
                            "value": {
                                "ietf-interfaces:interfaces": {
                                    "interface": [{"name": "eth0", "oper-status": "down"}]
                                }
                            },
                        }
                    ],
                }
            },
        },
    }
}

# RFC 8072 Appendix A.1.1: three songs added to a jukebox playlist (RESTCONF targets).
RFC8072_EDITS = [
    {
        "edit-id": "edit1",
        "operation": "create",
        "target": "/song=Bridge%20Burning",
        "value": {
            "example-jukebox:song": [
                {
                    "name": "Bridge Burning",
                    "location": "/media/bridge_burning.mp3",
                    "format": "MP3",
                    "length": 288,
                }
            ]
        },
    },
    {
        "edit-id": "edit2",
        "operation": "create",
        "target": "/song=Rock%20Around%20the%20Clock",
        "value": {
            "example-jukebox:song": [
                {
                    "name": "Rock Around the Clock",
                    "location": "/media/rock_around_clock.mp3",
                    "format": "MP3",
                    "length": 142,
                }
            ]
        },
    },
    {
        "edit-id": "edit3",
        "operation": "create",
        "target": "/song=Rocky%20Mountain%20High",
        "value": {
            "example-jukebox:song": [
                {
                    "name": "Rocky Mountain High",
                    "location": "/media/rocky_mountain_high.mp3",
                    "format": "MP3",
                    "length": 241,
                }
            ]
        },
    },
]

NRCELL = (
    "/_3gpp-common-managed-element:ManagedElement[@id='ME-Paris-1']"
    "/_3gpp-nr-nrm-gnbdufunction:GNBDUFunction[@id='1']"
    "/_3gpp-nr-nrm-nrcelldu:NRCellDU[@id='15']"
)

# Seed 004: the CM AVC event the DMI plugin publishes (header fields of NCMP's avc-event schema v1),
# the RFC 8641 push-change-update under "event", with the yang-patch under its module-qualified name.
SEED004_AVC_EVENT = {
    "eventId": "9999",
    "eventCorrelationId": "req-42",
    "eventTime": "2023-05-01T10:00:00.000+0000",
    "eventSource": "DMI",
    "eventTarget": "NCMP",
    "eventType": "org.onap.cps.ncmp.event.model.AvcEvent",
    "eventSchema": "urn:cps:org.onap.cps.ncmp.event.model.AvcEvent",
    "eventSchemaVersion": "v1",
    "event": {
        "push-change-update": {
            "datastore-changes": {
                "ietf-yang-patch:yang-patch": {
                    "patch-id": "abcd",
                    "edit": [
                        {
                            "edit-id": "editId",
                            "operation": "replace",
                            "target": NRCELL,
                            "value": {"attributes": {"administrativeState": "LOCKED", "arfcnDL": 630000}},
                        }
                    ],
                }
            }
        }
    },
}


def _decode(document: Any, **kwargs: Any) -> Any:
    return decode_yang_push(json.dumps(document).encode(), **kwargs)


def test_rfc8641_push_update_becomes_one_replace_per_top_level_member() -> None:
    notification = _decode(RFC8641_PUSH_UPDATE, default_device_id="router-1")
    assert notification.kind == "push-update"
    assert notification.device_id == "router-1"
    assert notification.subscription_id == 1011
    assert notification.event_time_ns == 1508918411_220_000_000
    assert notification.patch_id is None
    assert notification.edits == (
        YangEdit(
            edit_id="ietf-interfaces:interfaces",
            operation="replace",
            target="/ietf-interfaces:interfaces",
            value={"ietf-interfaces:interfaces": {"interface": [{"name": "eth0", "oper-status": "up"}]}},
        ),
    )


def test_rfc8641_push_change_update() -> None:
    notification = _decode(RFC8641_PUSH_CHANGE_UPDATE, default_device_id="router-1")
    assert (notification.kind, notification.subscription_id, notification.patch_id) == (
        "push-change-update",
        89,
        "0",
    )
    assert notification.event_time_ns == 1508919753_440_000_000
    (edit,) = notification.edits
    assert (edit.edit_id, edit.operation, edit.target) == ("edit1", "merge", "/ietf-interfaces:interfaces")
    assert edit.value["ietf-interfaces:interfaces"]["interface"][0]["oper-status"] == "down"
    assert not notification.incomplete


def test_rfc8072_edits_keep_their_order() -> None:
    document = {
        "ietf-yang-push:push-change-update": {
            "id": 7,
            "datastore-changes": {"yang-patch": {"patch-id": "add-songs-patch", "edit": RFC8072_EDITS}},
        }
    }
    notification = _decode(document, default_device_id="jukebox")
    assert [e.edit_id for e in notification.edits] == ["edit1", "edit2", "edit3"]
    assert notification.event_time_ns is None  # no envelope, no event time
    assert notification.patch_id == "add-songs-patch"


def test_seed004_avc_event() -> None:
    notification = _decode(SEED004_AVC_EVENT)
    assert notification.kind == "push-change-update"
    assert notification.device_id == "ME-Paris-1"  # from the target's ManagedElement key
    assert notification.managed_element_id == "ME-Paris-1"
    assert (notification.event_id, notification.correlation_id, notification.patch_id) == (
        "9999",
        "req-42",
        "abcd",
    )
    assert notification.event_time_ns == 1682935200_000_000_000  # Java's +0000 offset
    assert notification.edits[0].value == {"attributes": {"administrativeState": "LOCKED", "arfcnDL": 630000}}


def test_seed004_cm_handle_and_kafka_key_come_before_the_managed_element() -> None:
    with_handle = {**SEED004_AVC_EVENT, "cmHandleId": "C4388D6BB970EC663"}
    assert _decode(with_handle).device_id == "C4388D6BB970EC663"
    assert _decode(SEED004_AVC_EVENT, default_device_id="kafka-key").device_id == "kafka-key"


def test_seed004_cloudevent_form() -> None:
    """NCMP's AVC event 1.0.0: the push-change-update under CloudEvents "data" (structured mode)."""
    event = {
        "specversion": "1.0",
        "id": "77b8f114-4562-4069-8234-6d059ff742ac",
        "source": "DMI",
        "type": "org.onap.cps.ncmp.events.avc1_0_0.AvcEvent",
        "time": "2023-05-01T10:00:00.000+0000",
        "correlationid": "cm-handle-1",
        "data": {
            "push-change-update": {
                "datastore-changes": {
                    "ietf-yang-patch:yang-patch": {
                        "patch-id": "abcd",
                        "edit": [
                            {
                                "edit-id": "editId",
                                "operation": "replace",
                                "target": "target_xpath",
                                "value": {"attributes": [{"isHoAllowed": False}]},
                            }
                        ],
                    }
                }
            }
        },
    }
    notification = _decode(event, default_device_id="cm-handle-1")
    assert (notification.event_id, notification.correlation_id) == (
        "77b8f114-4562-4069-8234-6d059ff742ac",
        "cm-handle-1",
    )
    assert notification.edits[0].target == "target_xpath"
    assert notification.event_time_ns == 1682935200_000_000_000


def test_sequencing_fields_name_the_device_and_order_it() -> None:
    """draft-ietf-netconf-notif-sequencing adds sysName and sequence-number to the envelope."""
    document = json.loads(json.dumps(RFC8641_PUSH_CHANGE_UPDATE))
    notification_body = document["ietf-restconf:notification"]
    notification_body["ietf-notification-sequencing:sysName"] = "pe1.example.net"
    notification_body["ietf-notification-sequencing:sequence-number"] = "18446744073709551615"
    notification = _decode(document, default_device_id="ignored")
    assert notification.device_id == "pe1.example.net"
    assert notification.sequence == 2**64 - 1


def test_incomplete_update_and_empty_contents() -> None:
    document = {
        "ietf-restconf:notification": {
            "eventTime": "2024-01-01T00:00:00Z",
            "ietf-yang-push:push-update": {"id": 1, "incomplete-update": [None]},
        }
    }
    notification = _decode(document, default_device_id="r1")
    assert notification.incomplete and notification.edits == ()


def test_edit_fields_point_and_where() -> None:
    edit = {
        "edit-id": "e1",
        "operation": "insert",
        "target": "/list=b",
        "point": "/list=a",
        "where": "after",
        "value": {"m:list": [{"name": "b"}]},
    }
    document = {
        "ietf-yang-push:push-change-update": {
            "datastore-changes": {"yang-patch": {"patch-id": "p", "edit": [edit]}}
        }
    }
    (decoded,) = _decode(document, default_device_id="r1").edits
    assert (decoded.point, decoded.where) == ("/list=a", "after")


def _patch(*edits: Any, patch_id: Any = "p") -> dict[str, Any]:
    return {
        "ietf-restconf:notification": {
            "eventTime": "2024-01-01T00:00:00Z",
            "ietf-yang-push:push-change-update": {
                "id": 1,
                "datastore-changes": {"yang-patch": {"patch-id": patch_id, "edit": list(edits)}},
            },
        }
    }


GOOD_EDIT = {"edit-id": "e1", "operation": "merge", "target": "/m:a", "value": {"m:a": {"x": 1}}}

BAD: list[tuple[str, Any, str]] = [
    ("not an object", [1, 2], "must be a JSON object"),
    ("unknown schema", {"hello": "world"}, "unknown event schema"),
    (
        "envelope without push",
        {"ietf-restconf:notification": {"eventTime": "2024-01-01T00:00:00Z"}},
        "carries no ietf-yang-push",
    ),
    ("envelope not an object", {"ietf-restconf:notification": []}, "must be an object"),
    ("push not an object", {"ietf-yang-push:push-update": "x"}, "push-update must be an object"),
    (
        "no datastore-changes",
        {"ietf-yang-push:push-change-update": {"id": 1}},
        "needs a datastore-changes object",
    ),
    (
        "no yang-patch",
        {"ietf-yang-push:push-change-update": {"datastore-changes": {}}},
        "needs a yang-patch object",
    ),
    ("no patch-id", _patch(GOOD_EDIT, patch_id=None), "needs a patch-id string"),
    (
        "edit not a list",
        {
            "ietf-yang-push:push-change-update": {
                "datastore-changes": {"yang-patch": {"patch-id": "p", "edit": {}}}
            }
        },
        "edit must be a list",
    ),
    ("edit not an object", _patch("e1"), "patch p edit 0: must be an object"),
    ("no edit-id", _patch({**GOOD_EDIT, "edit-id": None}), "patch p edit 0: needs an edit-id"),
    ("unknown operation", _patch({**GOOD_EDIT, "operation": "upsert"}), "operation 'upsert' is not one of"),
    ("no target", _patch({**GOOD_EDIT, "target": ""}), "needs a target string"),
    (
        "create without value",
        _patch({"edit-id": "e1", "operation": "create", "target": "/m:a"}),
        "operation create needs a value",
    ),
    ("edit-id twice", _patch(GOOD_EDIT, GOOD_EDIT), "patch p edit 1: edit-id 'e1' repeats"),
    ("bad where", _patch({**GOOD_EDIT, "operation": "move", "where": "middle"}), "where 'middle'"),
    ("point not text", _patch({**GOOD_EDIT, "point": 3}), "point must be a string"),
    (
        "unreadable event time",
        {**SEED004_AVC_EVENT, "eventTime": "yesterday"},
        "eventTime: unreadable timestamp",
    ),
    ("event time not text", {**SEED004_AVC_EVENT, "eventTime": {"t": 1}}, "eventTime must be"),
    ("bad subscription id", {"ietf-yang-push:push-update": {"id": True}}, "subscription id must be a number"),
    (
        "datastore-contents not an object",
        {"ietf-yang-push:push-update": {"datastore-contents": []}},
        "datastore-contents must be an object",
    ),
    ("no device identity", _patch(GOOD_EDIT), "no device identity"),
    (
        "two managed elements",
        _patch(
            {**GOOD_EDIT, "target": "/ManagedElement[@id='A']/x"},
            {**GOOD_EDIT, "edit-id": "e2", "target": "/ManagedElement[@id='B']/x"},
        ),
        "edits span managed elements 'A' and 'B'",
    ),
    ("unterminated predicate", _patch({**GOOD_EDIT, "target": "/m:a/b[name='x"}), "unterminated"),
]


@pytest.mark.parametrize(("case", "document", "reason"), BAD, ids=[c[0] for c in BAD])
def test_bad_input_is_rejected_with_a_reason(case: str, document: Any, reason: str) -> None:
    with pytest.raises(YangPushDecodeError) as caught:
        _decode(document)
    assert reason in caught.value.reason
    assert caught.value.status == 400


def test_malformed_json() -> None:
    with pytest.raises(YangPushDecodeError, match="malformed JSON"):
        decode_yang_push(b"{", default_device_id="r1")


@pytest.mark.parametrize(
    "sequence",
    [-1, "12a", 1.5, True],
)
def test_bad_sequence_numbers(sequence: Any) -> None:
    document = json.loads(json.dumps(RFC8641_PUSH_UPDATE))
    document["ietf-restconf:notification"]["ietf-notification-sequencing:sequence-number"] = sequence
    with pytest.raises(YangPushDecodeError, match="sequence-number"):
        _decode(document, default_device_id="r1")


TARGETS: list[tuple[str, list[tuple[str, list[tuple[str, str]]]]]] = [
    ("/", []),
    ("/ietf-interfaces:interfaces", [("ietf-interfaces:interfaces", [])]),
    (
        "/ietf-interfaces:interfaces/interface[name='eth0']/mtu",
        [("ietf-interfaces:interfaces", []), ("interface", [("name", "eth0")]), ("mtu", [])],
    ),
    (
        '/if:interfaces/if:interface[if:name="eth0/1"]/ip:ipv4',
        [("if:interfaces", []), ("if:interface", [("name", "eth0/1")]), ("ip:ipv4", [])],
    ),
    ("/a/b[k1='x'][k2='y]z']", [("a", []), ("b", [("k1", "x"), ("k2", "y]z")])]),
    (
        "/ietf-interfaces:interfaces/interface=eth0%2F1/mtu",
        [("ietf-interfaces:interfaces", []), ("interface", [("key", "eth0/1")]), ("mtu", [])],
    ),
    ("/m:route=10.0.0.0%2F8,blue", [("m:route", [("key", "10.0.0.0/8,blue")])]),
    (
        "/ManagedElement[@id='ME1']/NRCellDU[@id=15]",
        [("ManagedElement", [("id", "ME1")]), ("NRCellDU", [("id", "15")])],
    ),
    ("/m:servers/address[.='10.0.0.1']", [("m:servers", []), ("address", [("value", "10.0.0.1")])]),
    ("/m:list[2]/leaf", [("m:list", [("position", "2")]), ("leaf", [])]),
    ("target_xpath", [("target_xpath", [])]),
]


@pytest.mark.parametrize(("target", "expected"), TARGETS, ids=[t[0] for t in TARGETS])
def test_parse_target(target: str, expected: list[tuple[str, list[tuple[str, str]]]]) -> None:
    assert parse_target(target) == expected
