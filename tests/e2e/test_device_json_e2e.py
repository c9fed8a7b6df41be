"""SenML packs and YANG-push change events through the real receiver into our collector's sink."""

import uuid

import cbor2
import httpx
import orjson

from ._sink import LogRow, Point, wait_for
from ._stack import Collector, Receiver


def _of(collector: Collector, device: str, points: int, logs: int) -> tuple[list[Point], list[LogRow]]:
    def mine(p: list[Point], lg: list[LogRow]) -> tuple[list[Point], list[LogRow]]:
        return [x for x in p if x.resource.get("device.id") == device], [
            x for x in lg if x.resource.get("device.id") == device
        ]

    return mine(
        *wait_for(
            collector.sink_dir, lambda p, lg: len(mine(p, lg)[0]) >= points and len(mine(p, lg)[1]) >= logs
        )
    )


def test_senml_json_and_cbor_packs_with_cumulative_energy(receiver: Receiver, collector: Collector) -> None:
    device = f"meter-{uuid.uuid4().hex[:6]}"
    pack = [
        {"bn": "urn:dev:mac:0024befffe804ff1:", "bt": 1700000000, "n": "voltage", "u": "V", "v": 229.5},
        {"n": "energy", "u": "kWh", "s": 1234.5},
        {"n": "status", "vs": "ok"},
    ]
    first = httpx.post(
        f"{receiver.url}/senml?device={device}",
        content=orjson.dumps(pack),
        headers={"content-type": "application/senml+json"},
        timeout=30,
    )
    assert first.status_code == 204, first.text
    cbor = cbor2.dumps(
        [{-2: "urn:dev:mac:0024befffe804ff1:", -3: 1700000060, 0: "energy", 1: "kWh", 5: 1240.0}]
    )
    second = httpx.post(
        f"{receiver.url}/senml?device={device}",
        content=cbor,
        headers={"content-type": "application/senml+cbor"},
        timeout=30,
    )
    assert second.status_code == 204, second.text
    points, logs = _of(collector, device, 3, 1)
    by_name = sorted((p.name, p.kind, p.monotonic, p.unit, p.value, p.time_ns) for p in points)
    assert ("urn:dev:mac:0024befffe804ff1:voltage", "gauge", False, "V", 229.5, 1700000000 * 10**9) in by_name
    energy = [row for row in by_name if row[1] == "sum"]
    assert [(row[3], row[4]) for row in energy] == [("kWh", 1234.5), ("kWh", 1240.0)]
    assert all(row[2] for row in energy)  # monotonic cumulative
    assert any("ok" in entry.attributes.values() for entry in logs)


def test_bad_senml_is_refused_with_a_reason(receiver: Receiver) -> None:
    response = httpx.post(
        f"{receiver.url}/senml?device=x",
        content=b'[{"n": "a"}]',
        headers={"content-type": "application/senml+json"},
        timeout=30,
    )
    assert response.status_code == 400 and response.text.strip()
    unsigned = httpx.post(
        f"{receiver.url}/senml?device=x",
        content=b"e30.e30.sig",
        headers={"content-type": "application/jose"},
        timeout=30,
    )
    assert unsigned.status_code == 401


def test_yang_push_change_becomes_log_records_and_gauges(receiver: Receiver, collector: Collector) -> None:
    element = f"ME-{uuid.uuid4().hex[:6]}"
    event = {
        "ietf-restconf:notification": {
            "eventTime": "2023-11-14T22:13:20Z",
            "ietf-yang-push:push-change-update": {
                "id": 7,
                "datastore-changes": {
                    "yang-patch": {
                        "patch-id": "p-1",
                        "edit": [
                            {
                                "edit-id": "e1",
                                "operation": "replace",
                                "target": "/ietf-interfaces:interfaces/interface=eth0/mtu",
                                "value": {"ietf-interfaces:mtu": 1500},
                            },
                        ],
                    }
                },
            },
        }
    }
    response = httpx.post(
        f"{receiver.url}/yang-push?device={element}",
        content=orjson.dumps(event),
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 204, response.text
    points, logs = _of(collector, element, 1, 1)
    assert [p.value for p in points] == [1500]
    assert points[0].time_ns == 1700000000 * 10**9
    assert logs[0].body == "yang.edit"
    assert logs[0].attributes.get("yang.operation", logs[0].attributes.get("operation")) == "replace"
