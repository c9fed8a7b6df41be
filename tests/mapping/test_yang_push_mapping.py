"""YANG-push notifications -> one log record per edit and a gauge per numeric leaf."""

import json
from typing import Any

import orjson

from receiver.decode._yang_push import YangEdit, YangPushNotification, decode_yang_push
from receiver.mapping._yang_push import EDIT_LOG_BODY, UPDATE_LOG_BODY, map_yang_push
from receiver.signals import MappedReport, SeriesRegistry

RECEIVED = 1_700_000_000_000_000_000
EVENT = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z


def _change(*edits: dict[str, Any], **envelope: Any) -> YangPushNotification:
    document = {
        "ietf-restconf:notification": {
            "eventTime": "2024-01-01T00:00:00Z",
            **envelope,
            "ietf-yang-push:push-change-update": {
                "id": 5,
                "datastore-changes": {"yang-patch": {"patch-id": "patch-9", "edit": list(edits)}},
            },
        }
    }
    return decode_yang_push(json.dumps(document).encode(), default_device_id="router-1")


def _points(report: MappedReport, registry: SeriesRegistry) -> list[tuple[Any, ...]]:
    m = report.metrics
    out = []
    for sid, time_ns, d, i, is_int in zip(m.series, m.times_ns, m.doubles, m.ints, m.is_int, strict=True):
        s = registry[sid]
        out.append((s.name, dict(s.attributes), time_ns, i if is_int else d))
    return sorted(out, key=repr)


def _map(notification: YangPushNotification, **kwargs: Any) -> tuple[MappedReport, SeriesRegistry]:
    registry = kwargs.pop("registry", None)
    registry = SeriesRegistry() if registry is None else registry
    return map_yang_push(notification, registry, received_ns=RECEIVED, **kwargs), registry


def test_leaf_edit_becomes_a_gauge_named_by_schema_path_with_keys_as_attributes() -> None:
    edit = {
        "edit-id": "mtu-1",
        "operation": "replace",
        "target": "/ietf-interfaces:interfaces/interface[name='eth0']/mtu",
        "value": {"ietf-interfaces:mtu": 1500},
    }
    report, registry = _map(_change(edit))
    assert report.resource == (("device.id", "router-1"), ("service.name", "yang-push"))
    assert _points(report, registry) == [
        ("ietf-interfaces:interfaces/interface/mtu", {"interface.name": "eth0"}, EVENT, 1500),
    ]
    (log,) = report.logs
    assert (log.body, log.time_ns, log.observed_ns) == (EDIT_LOG_BODY, EVENT, RECEIVED)
    assert log.attributes == {
        "yang.notification": "push-change-update",
        "yang.patch_id": "patch-9",
        "yang.subscription_id": 5,
        "yang.edit_id": "mtu-1",
        "yang.edit_index": 0,
        "yang.operation": "replace",
        "yang.target": "/ietf-interfaces:interfaces/interface[name='eth0']/mtu",
        "yang.value": '{"ietf-interfaces:mtu":1500}',
    }


def test_push_update_tree_walks_lists_and_rfc7951_number_strings() -> None:
    """A periodic push-update of interface statistics: counter64 leaves arrive as JSON strings."""
    contents = {
        "ietf-interfaces:interfaces": {
            "interface": [
                {
                    "name": "eth0",
                    "enabled": True,
                    "oper-status": "up",
                    "statistics": {"in-octets": "18446744073709551615", "out-octets": "42"},
                    "ietf-ip:ipv4": {"mtu": 1500, "address": [{"ip": "192.0.2.1", "prefix-length": 24}]},
                },
                {"name": "eth1", "enabled": False, "statistics": {"in-octets": "7"}},
            ]
        }
    }
    document = {
        "ietf-restconf:notification": {
            "eventTime": "2024-01-01T00:00:00Z",
            "ietf-notification-sequencing:sequence-number": 77,
            "ietf-yang-push:push-update": {"id": 1011, "datastore-contents": contents},
        }
    }
    notification = decode_yang_push(json.dumps(document).encode(), default_device_id="router-1")
    report, registry = _map(notification)
    base = "ietf-interfaces:interfaces/interface"
    assert _points(report, registry) == sorted(
        [
            (f"{base}/enabled", {"interface.name": "eth0"}, EVENT, 1),
            (
                f"{base}/statistics/in-octets",
                {"interface.name": "eth0"},
                EVENT,
                float(2**64 - 1),
            ),  # > int64: double
            (f"{base}/statistics/out-octets", {"interface.name": "eth0"}, EVENT, 42),
            (f"{base}/ietf-ip:ipv4/mtu", {"interface.name": "eth0"}, EVENT, 1500),
            (
                f"{base}/ietf-ip:ipv4/address/prefix-length",
                {"interface.name": "eth0", "address.position": 0},
                EVENT,
                24,
            ),
            (f"{base}/enabled", {"interface.name": "eth1"}, EVENT, 0),
            (f"{base}/statistics/in-octets", {"interface.name": "eth1"}, EVENT, 7),
        ],
        key=repr,
    )
    (log,) = report.logs
    assert log.body == UPDATE_LOG_BODY
    assert log.attributes["yang.sequence"] == 77
    assert log.attributes["yang.operation"] == "replace"
    assert orjson.loads(str(log.attributes["yang.value"])) == {
        "ietf-interfaces:interfaces": contents["ietf-interfaces:interfaces"]
    }


def test_same_leaf_has_one_name_from_a_target_or_from_the_tree() -> None:
    """RFC 7951 qualification: the module prefix appears only where the module changes."""
    via_target = {
        "edit-id": "e1",
        "operation": "merge",
        "target": "/ietf-interfaces:interfaces/interface=eth0",
        "value": {"ietf-interfaces:interface": [{"name": "eth0", "mtu": 9000}]},
    }
    via_tree = {
        "edit-id": "e2",
        "operation": "merge",
        "target": "/ietf-interfaces:interfaces",
        "value": {"ietf-interfaces:interfaces": {"interface": [{"name": "eth0", "mtu": 9000}]}},
    }
    report, registry = _map(_change(via_target, via_tree))
    names = {registry[sid].name for sid in report.metrics.series}
    assert names == {"ietf-interfaces:interfaces/interface/mtu"}
    # RESTCONF keys are positional: the target's key is kept as "key", the entry's own as its name
    attributes = [dict(registry[sid].attributes) for sid in report.metrics.series]
    assert attributes[0] == {"interface.key": "eth0", "interface.name": "eth0"}
    assert attributes[1] == {"interface.name": "eth0"}


def test_rfc8641_change_of_a_string_leaf_is_a_log_record_only() -> None:
    edit = {
        "edit-id": "edit1",
        "operation": "merge",
        "target": "/ietf-interfaces:interfaces",
        "value": {"ietf-interfaces:interfaces": {"interface": [{"name": "eth0", "oper-status": "down"}]}},
    }
    report, _ = _map(_change(edit))
    assert len(report.metrics) == 0
    (log,) = report.logs
    assert "down" in str(log.attributes["yang.value"])


def test_nrm_children_of_the_target_and_the_managed_element() -> None:
    """Seed 004's 3GPP NRM edits send the target's children ("attributes") as the value."""
    event = {
        "eventId": "9999",
        "eventTime": "2024-01-01T00:00:00.000+0000",
        "event": {
            "push-change-update": {
                "datastore-changes": {
                    "ietf-yang-patch:yang-patch": {
                        "patch-id": "abcd",
                        "edit": [
                            {
                                "edit-id": "editId",
                                "operation": "replace",
                                "target": "/_3gpp-common-managed-element:ManagedElement[@id='ME-1']"
                                "/_3gpp-nr-nrm-nrcelldu:NRCellDU[@id='15']",
                                "value": {
                                    "attributes": {
                                        "administrativeState": "LOCKED",
                                        "arfcnDL": 630000,
                                        "isHoAllowed": False,
                                    }
                                },
                            }
                        ],
                    }
                }
            }
        },
    }
    notification = decode_yang_push(json.dumps(event).encode())
    report, registry = _map(notification)
    assert report.resource[0] == ("device.id", "ME-1")
    cell = "_3gpp-common-managed-element:ManagedElement/_3gpp-nr-nrm-nrcelldu:NRCellDU/attributes"
    keys = {"ManagedElement.id": "ME-1", "NRCellDU.id": "15"}
    assert _points(report, registry) == [
        (f"{cell}/arfcnDL", keys, EVENT, 630000),
        (f"{cell}/isHoAllowed", keys, EVENT, 0),
    ]
    assert report.logs[0].attributes["yang.event_id"] == "9999"


def test_keyless_lists_and_leaf_lists_use_positions() -> None:
    edit = {
        "edit-id": "e1",
        "operation": "replace",
        "target": "/m:stats",
        "value": {"m:stats": {"sample": [{"v": 1}, {"v": 2}], "bins": [3, 4]}},
    }
    report, registry = _map(_change(edit))
    assert _points(report, registry) == sorted(
        [
            ("m:stats/sample/v", {"sample.position": 0}, EVENT, 1),
            ("m:stats/sample/v", {"sample.position": 1}, EVENT, 2),
            ("m:stats/bins", {"bins.position": 0}, EVENT, 3),
            ("m:stats/bins", {"bins.position": 1}, EVENT, 4),
        ],
        key=repr,
    )


def test_numeric_keys_are_attributes_not_gauges_and_key_leaves_are_configurable() -> None:
    edit = {
        "edit-id": "e1",
        "operation": "replace",
        "target": "/m:cells",
        "value": {"m:cells": {"cell": [{"id": 7, "pci": 301, "tac": "0x1a"}]}},
    }
    report, registry = _map(_change(edit))
    assert _points(report, registry) == [("m:cells/cell/pci", {"cell.id": "7"}, EVENT, 301)]
    report, registry = _map(_change(edit), key_leaves=("pci",))
    assert _points(report, registry) == [("m:cells/cell/id", {"cell.pci": "301"}, EVENT, 7)]


def test_numeric_strings_can_be_left_as_text() -> None:
    edit = {
        "edit-id": "e1",
        "operation": "merge",
        "target": "/m:c",
        "value": {"m:c": {"n": "12", "d": "1.5", "x": "1e5"}},
    }
    report, registry = _map(_change(edit))
    assert _points(report, registry) == [("m:c/d", {}, EVENT, 1.5), ("m:c/n", {}, EVENT, 12)]
    report, _ = _map(_change(edit), numeric_strings=False)
    assert len(report.metrics) == 0


def test_delete_and_move_produce_log_records_only() -> None:
    report, _ = _map(
        _change(
            {"edit-id": "d", "operation": "delete", "target": "/m:a/b[name='x']"},
            {
                "edit-id": "m",
                "operation": "move",
                "target": "/m:a/b[name='y']",
                "point": "/m:a/b[name='x']",
                "where": "before",
            },
        )
    )
    assert len(report.metrics) == 0
    assert [(log.attributes["yang.operation"], log.attributes["yang.edit_index"]) for log in report.logs] == [
        ("delete", 0),
        ("move", 1),
    ]
    assert "yang.value" not in report.logs[0].attributes
    assert (report.logs[1].attributes["yang.point"], report.logs[1].attributes["yang.where"]) == (
        "/m:a/b[name='x']",
        "before",
    )


def test_over_the_series_limit_leaves_stay_in_the_log_record() -> None:
    edit = {
        "edit-id": "e1",
        "operation": "merge",
        "target": "/m:c",
        "value": {"m:c": {"a": 1, "b": 2, "c": 3}},
    }
    report, _ = _map(_change(edit), registry=SeriesRegistry(max_series=1))
    assert len(report.metrics) == 1
    assert report.logs[0].attributes["yang.unmapped_leaves"] == 2


def test_receive_time_without_event_time_and_incomplete_flag() -> None:
    notification = YangPushNotification(
        kind="push-change-update",
        device_id="r9",
        edits=(YangEdit("e1", "merge", "/m:x", {"m:x": 4}),),
        incomplete=True,
    )
    report, registry = _map(notification)
    assert _points(report, registry) == [("m:x", {}, RECEIVED, 4)]
    assert report.logs[0].time_ns == RECEIVED
    assert report.logs[0].attributes["yang.incomplete"] is True


def test_scalar_value_of_a_leaf_target() -> None:
    notification = YangPushNotification(
        kind="push-change-update",
        device_id="r9",
        edits=(YangEdit("e1", "replace", "/m:a/b[name='z']/level", 3.5),),
    )
    report, registry = _map(notification)
    assert _points(report, registry) == [("m:a/b/level", {"b.name": "z"}, RECEIVED, 3.5)]
