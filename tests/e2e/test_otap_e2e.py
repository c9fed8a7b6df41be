"""OTel-Arrow end to end: a receiver with ``export.protocol: otap`` streams its number metrics to our
collector's ``otap`` receiver (and sends histograms and logs as OTLP to the same port); what reaches
the collector's file sink equals what the same reports give through a receiver speaking plain OTLP."""

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from ._sink import LogRow, Point, read_sink, wait_for
from ._stack import Collector, Receiver, run_receiver

SPEC = Path(__file__).resolve().parents[1] / "decode" / "testdata" / "bulkdata"
# Reports that carry their own timestamps (so both runs give the same points), CSV and JSON.
REPORTS = (
    "spec_csv_per_row",
    "spec_csv_per_column_retained",
    "spec_json_object_hierarchy_collection_time",
    "spec_json_name_value_pair_collection_time",
    "quirk_unsigned_long_as_string",
)
CDR = (
    b"msisdn,tower_id,call_type,dest_nr,call_duration_sec,start_time\n"
    b"31611111111,7,voice,31699999999,30,2024-03-01 12:00:00\n"
    b"31622222222,8,voice,31699999998,100,2024-03-01 12:01:00\n"
)


@pytest.fixture(scope="module")
def otap_receiver(collector: Collector, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    with run_receiver(
        tmp_path_factory.mktemp("otap-receiver"),
        collector.otap_endpoint,
        env={"RECEIVER_EXPORT__PROTOCOL": "otap"},
    ) as running:
        yield running


def _send(receiver: Receiver, serial: str, source: str) -> None:
    for name in REPORTS:
        response = httpx.post(
            f"{receiver.url}/bulkdata?oui=00256D&pc=Gateway&sn={serial}",
            content=(SPEC / name / "body").read_bytes(),
            headers=orjson.loads((SPEC / name / "headers.json").read_bytes()),
            timeout=30,
        )
        assert response.status_code == 204, (name, response.text)
    response = httpx.post(
        f"{receiver.url}/cdr/voice?source={source}", content=CDR, headers={"content-type": "text/csv"}, timeout=30
    )
    assert response.status_code == 200, response.text


def _neutral(value: Any, serial: str, source: str) -> Any:
    """``value`` with the sender-specific serial and CDR source replaced, so both runs compare."""
    if isinstance(value, str):
        return value.replace(serial, "SERIAL").replace(source, "SOURCE")
    if isinstance(value, dict):
        return {key: _neutral(item, serial, source) for key, item in value.items()}
    return value


def _rows(
    points: list[Point], logs: list[LogRow], serial: str, source: str
) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    def mine(resource: dict[str, Any]) -> bool:
        return serial in str(resource.get("device.id", "")) or resource.get("cdr.source") == source

    def row(item: Point | LogRow) -> tuple[str, ...]:
        fields = dataclasses.asdict(item)
        fields.pop("observed_ns", None)  # when each receiver saw the upload
        return tuple(sorted(f"{key}={_neutral(value, serial, source)!r}" for key, value in fields.items()))

    return (
        sorted(row(p) for p in points if mine(p.resource)),
        sorted(row(entry) for entry in logs if mine(entry.resource)),
    )


def test_otap_export_delivers_what_otlp_export_delivers(
    receiver: Receiver, otap_receiver: Receiver, collector: Collector, serial: str
) -> None:
    _send(receiver, serial + "-otlp", serial + "-cdr-otlp")
    _send(otap_receiver, serial + "-otap", serial + "-cdr-otap")

    def both_arrived(points: list[Point], logs: list[LogRow]) -> bool:
        otlp = _rows(points, logs, serial + "-otlp", serial + "-cdr-otlp")
        otap = _rows(points, logs, serial + "-otap", serial + "-cdr-otap")
        return bool(otlp[0]) and len(otap[0]) >= len(otlp[0]) and len(otap[1]) >= len(otlp[1])

    wait_for(collector.sink_dir, both_arrived, timeout=30)
    points, logs = read_sink(collector.sink_dir)
    otlp_points, otlp_logs = _rows(points, logs, serial + "-otlp", serial + "-cdr-otlp")
    otap_points, otap_logs = _rows(points, logs, serial + "-otap", serial + "-cdr-otap")
    assert len(otlp_points) > 30 and otlp_logs, "the reports give points of every kind and log records"
    assert otap_points == otlp_points
    assert otap_logs == otlp_logs
    assert any("kind='histogram'" in row for point in otap_points for row in point)
