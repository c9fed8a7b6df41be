"""Bulk Data reports through the real receiver process and our real collector binary, asserted from
the collector's file exporter output: names, values, timestamps, kinds, units, resources."""

import email.utils
import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx

from ._sink import LogRow, Point, wait_for
from ._stack import Collector, Receiver

SPEC = Path(__file__).resolve().parents[1] / "decode" / "testdata" / "bulkdata"
T0 = 1364529149 * 10**9
CUMULATIVE = 2


def _post(
    receiver: Receiver, query: str, body: bytes, method: str = "POST", path: str = "/bulkdata", **headers: str
) -> httpx.Response:
    return httpx.request(
        method,
        receiver.url + path + query,
        content=body,
        headers={k.replace("_", "-"): v for k, v in headers.items()},
        timeout=30,
    )


def _of_device(
    collector: Collector, device_id: str, expected_points: int, expected_logs: int = 0
) -> tuple[list[Point], list[LogRow]]:
    def mine(points: list[Point], logs: list[LogRow]) -> tuple[list[Point], list[LogRow]]:
        return (
            [p for p in points if p.resource.get("device.id") == device_id],
            [entry for entry in logs if entry.resource.get("device.id") == device_id],
        )

    points, logs = wait_for(
        collector.sink_dir,
        lambda p, lg: len(mine(p, lg)[0]) >= expected_points and len(mine(p, lg)[1]) >= expected_logs,
    )
    return mine(points, logs)


def _cwmp_resource(serial: str, product_class: str = "Gateway") -> dict[str, str]:
    return {
        "device.id": f"00256D-{product_class}-{serial}",
        "device.model.identifier": product_class,
        "tr069.oui": "00256D",
        "tr069.product_class": product_class,
        "tr069.serial_number": serial,
        "service.name": "tr069-bulkdata",
    }


def test_csv_parameter_per_row_spec_example(receiver: Receiver, collector: Collector, serial: str) -> None:
    body = (SPEC / "spec_csv_per_row" / "body").read_bytes()
    response = _post(
        receiver,
        f"?oui=00256D&pc=Gateway&sn={serial}",
        body,
        content_type="text/csv; charset=UTF-8; header=present",
        bbf_report_format='"ParameterPerRow"',
    )
    assert response.status_code == 204, response.text
    points, logs = _of_device(collector, f"00256D-Gateway-{serial}", 4)
    assert logs == []
    by_name = {p.name: p for p in points}
    assert sorted(by_name) == [
        "Device.MoCA.Interface.{i}.Stats.BroadPktSent",
        "Device.MoCA.Interface.{i}.Stats.BytesReceived",
        "Device.MoCA.Interface.{i}.Stats.MultiPktReceived",
        "Device.MoCA.Interface.{i}.Stats.Stats.BytesSent",  # the annex example's own typo, kept as sent
    ]
    assert {p.value for p in points} == {25248, 200543250, 7682161, 890682272}
    assert all(p.time_ns == T0 and p.attributes == {"Interface": "1"} for p in points)
    assert all(p.resource == _cwmp_resource(serial) for p in points)
    received = by_name["Device.MoCA.Interface.{i}.Stats.BytesReceived"]
    assert (received.kind, received.monotonic, received.temporality, received.unit) == (
        "sum",
        True,
        CUMULATIVE,
        "By",
    )
    # Not in the data model (typo) and typed unsignedLong by the CSV: a plain gauge.
    assert by_name["Device.MoCA.Interface.{i}.Stats.Stats.BytesSent"].kind == "gauge"


def test_csv_parameter_per_column_with_retained_reports(
    receiver: Receiver, collector: Collector, serial: str
) -> None:
    body = (SPEC / "spec_csv_per_column_retained" / "body").read_bytes()
    response = _post(
        receiver,
        f"?oui=00256D&pc=Gateway&sn={serial}",
        body,
        content_type="text/csv",
        bbf_report_format="ParameterPerColumn",
    )
    assert response.status_code == 204, response.text
    points, _ = _of_device(collector, f"00256D-Gateway-{serial}", 16)
    assert len(points) == 16
    times = sorted({p.time_ns for p in points})
    assert times == [t * 10**9 for t in (1364529149, 1464639150, 1564749151, 1664859152)]
    last = {p.name: p.value for p in points if p.time_ns == times[-1]}
    assert last == {
        "BroadPktSent": 25252,
        "BytesReceived": 200653267,
        "BytesSent": 7685167,
        "MultiPktReceived": 9705982277,
    }


def test_json_object_hierarchy_without_collection_time_takes_the_date_header(
    receiver: Receiver, collector: Collector, serial: str
) -> None:
    body = (SPEC / "spec_json_object_hierarchy" / "body").read_bytes()
    date = email.utils.formatdate(1700000000, usegmt=True)
    response = _post(
        receiver,
        f"?oui=00256D&pc=Gateway&sn={serial}",
        body,
        method="PUT",
        content_type="application/json; charset=UTF-8",
        bbf_report_format="ObjectHierarchy",
        date=date,
    )
    assert response.status_code == 204, response.text
    points, _ = _of_device(collector, f"00256D-Gateway-{serial}", 8)
    assert len(points) == 8
    assert {p.time_ns for p in points} == {1700000000 * 10**9}
    values = {(p.name, p.attributes["Interface"]): p.value for p in points}
    assert values[("Device.MoCA.Interface.{i}.Stats.BroadPktSent", "2")] == 93247
    assert values[("Device.MoCA.Interface.{i}.Stats.BytesReceived", "1")] == 200543250


def test_json_name_value_pair_from_a_usp_agent(receiver: Receiver, collector: Collector, serial: str) -> None:
    body = (SPEC / "spec_json_name_value_pair_collection_time" / "body").read_bytes()
    eid = f"os::000256:{serial}"
    response = _post(
        receiver, f"?eid={eid}", body, content_type="application/json", bbf_report_format="NameValuePair"
    )
    assert response.status_code == 204, response.text
    points, _ = _of_device(collector, eid, 3)
    assert {p.resource["service.name"] for p in points} == {"usp-bulkdata"}
    assert {p.resource["usp.endpoint_id"] for p in points} == {eid}
    assert {p.time_ns for p in points} == {T0}
    assert sorted((p.name, p.attributes["Interface"], p.value) for p in points) == [
        ("Device.MoCA.Interface.{i}.Stats.BroadPktSent", "1", 25248),
        ("Device.MoCA.Interface.{i}.Stats.BytesReceived", "1", 200543250),
        ("Device.MoCA.Interface.{i}.Stats.BytesSent", "2", 93247),
    ]


def test_cpe_quirks_types_units_logs_and_query_attributes(
    receiver: Receiver, collector: Collector, serial: str
) -> None:
    csv = (
        b"ReportTimestamp,ParameterName,ParameterValue,ParameterType\n"
        b"2023-11-14T22:13:20UTC,Device.Ethernet.Interface.1.Stats.BytesSent,18446744073709551615,unsignedLong\n"
        b"2023-11-14T22:13:20UTC,Device.DeviceInfo.UpTime,3600,unsignedInt\n"
        b"2023-11-14T22:13:20UTC,Device.WiFi.Radio.2.Enable,true,boolean\n"
        b"2023-11-14T22:13:20UTC,Device.DeviceInfo.SoftwareVersion,7.2.1, build 5,string\n"
        b"ReportTimestamp,ParameterName,ParameterValue,ParameterType\n"
        b"1700000300000,Device.DeviceInfo.UpTime,3900,unsignedInt\n"
    )

    # '&' instead of '?', an extra RequestURIParameter, gzip, chunked.
    def chunks() -> Iterator[bytes]:
        data = gzip.compress(csv)
        yield from (data[i : i + 17] for i in range(0, len(data), 17))

    response = httpx.post(
        receiver.url + f"/bulkdata&oui=00256D&pc=Home%20Gateway&sn={serial}&ct=2023-11-14T22:13:20Z",
        content=chunks(),
        headers={
            "content-type": 'text/csv; charset="utf-8"',
            "content-encoding": "gzip",
            "bbf-report-format": '"ParameterPerRow"',
        },
    )
    assert response.status_code == 204, response.text
    device = f"00256D-Home Gateway-{serial}"
    points, logs = _of_device(collector, device, 4, 1)
    resource = {**_cwmp_resource(serial, "Home Gateway"), "bulkdata.query.ct": "2023-11-14T22:13:20Z"}
    assert all(p.resource == resource for p in points) and all(entry.resource == resource for entry in logs)
    by_key = {(p.name, p.time_ns): p for p in points}
    t1, t2 = 1700000000 * 10**9, 1700000300 * 10**9
    counter = by_key[("Device.Ethernet.Interface.{i}.Stats.BytesSent", t1)]
    assert (counter.kind, counter.monotonic, counter.unit, counter.attributes) == (
        "sum",
        True,
        "By",
        {"Interface": "1"},
    )
    assert counter.value == 18446744073709551615.0  # beyond int64: carried as a double
    uptime = [by_key[("Device.DeviceInfo.UpTime", t)] for t in (t1, t2)]
    assert [(p.kind, p.unit, p.value, p.attributes) for p in uptime] == [
        ("gauge", "s", 3600, {}),
        ("gauge", "s", 3900, {}),
    ]
    enable = by_key[("Device.WiFi.Radio.{i}.Enable", t1)]
    assert (enable.kind, enable.value, enable.attributes) == ("gauge", 1, {"Radio": "2"})
    assert len(logs) == 1
    assert logs[0].body == "bulkdata.report"
    assert logs[0].time_ns == t1
    assert logs[0].attributes == {"Device.DeviceInfo.SoftwareVersion": "7.2.1, build 5"}


def test_deflate_body_and_query_starting_with_question_ampersand(
    receiver: Receiver, collector: Collector, serial: str
) -> None:
    body = zlib.compress(
        b'{"Report":[{"CollectionTime":"2023-11-14T22:13:20Z","Device.DeviceInfo.UpTime":"42"}]}'
    )
    response = _post(
        receiver,
        f"?&oui=00256D&pc=Gateway&sn={serial}",
        body,
        content_type="application/json",
        content_encoding="deflate",
    )
    assert response.status_code == 204, response.text
    points, _ = _of_device(collector, f"00256D-Gateway-{serial}", 1)
    assert [(p.name, p.value, p.time_ns) for p in points] == [
        ("Device.DeviceInfo.UpTime", 42, 1700000000 * 10**9)
    ]


def test_gzip_label_on_a_plain_body_is_read_as_plain(
    receiver: Receiver, collector: Collector, serial: str
) -> None:
    response = _post(
        receiver,
        f"?oui=00256D&pc=Gateway&sn={serial}",
        b"ReportTimestamp,Device.DeviceInfo.UpTime\n1700000000,7\n",
        content_type="text/csv",
        content_encoding="gzip",
    )
    assert response.status_code == 204, response.text
    points, _ = _of_device(collector, f"00256D-Gateway-{serial}", 1)
    assert [(p.name, p.value) for p in points] == [("Device.DeviceInfo.UpTime", 7)]


def test_unescaped_spaces_in_the_query_are_accepted(
    receiver: Receiver, collector: Collector, serial: str
) -> None:
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(receiver.url)
    body = b"ReportTimestamp,Device.DeviceInfo.UpTime\n1700000000,9\n"
    request = (
        f"POST /bulkdata?oui=00256D&pc=Home Gateway&sn={serial} HTTP/1.1\r\nHost: x\r\n"
        f"Content-Type: text/csv\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(request)
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 204"), answer
    points, _ = _of_device(collector, f"00256D-Home Gateway-{serial}", 1)
    assert [(p.name, p.value) for p in points] == [("Device.DeviceInfo.UpTime", 9)]
