"""The OTAP metric encoder against the protobuf OTLP encoder (``encode_metrics``), the specification.

OTAP messages go through our stream serializer (``OtapIpcState``: Arrow IPC streams that carry each
schema once, then record batches and replaced dictionaries), are read back with pyarrow, and are
decoded by ``_decode`` below, which applies the decoding rules of the collector's OTAP consumer
(otel-arrow ``pkg/otel/metrics/otlp`` v0.46.0): delta-encoded Metric, resource and point ids, and
attribute parent ids that are deltas only after a row with the same key and an equal value. Both
sides become the same flat list: per point its resource, Metric header, time, value and attributes,
in order. The real collector decodes the same messages in ``tests/e2e/test_otap_e2e.py``."""

import struct
from collections import defaultdict
from typing import Any

import pyarrow as pa
import pytest
from _batches import EXTREME_ATTRIBUTES, EXTREME_POINTS, LONG, random_batches
from _batches import sealed_batch as _batch
from hypothesis import HealthCheck, given, settings
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from receiver.batch import SealedBatch
from receiver.export import encode_metrics
from receiver.export._otap_encode import (
    NUMBER_DATA_POINTS,
    NUMBER_DP_ATTRS,
    RESOURCE_ATTRS,
    UNIVARIATE_METRICS,
    OtapMetricsEncoder,
)
from receiver.export._otap_stream import OtapIpcState
from receiver.export._pb.arrow_service_pb2 import BatchArrowRecords
from receiver.signals import LogEntry, MappedReport, MetricSeries, SeriesRegistry

NO_LIMIT = 1 << 30
Point = tuple[Any, ...]


def _bits(value: float) -> bytes:
    return struct.pack("<d", value)  # NaN equals NaN, -0.0 differs from 0.0


def _attribute(kind: int, row: dict[str, Any]) -> tuple[int, Any]:
    value = {1: row["str"], 2: row["int"], 3: row["double"], 4: row["bool"]}[kind]
    return kind, _bits(value) if kind == 3 else value


class _Decoder:
    """Reads our messages the way the collector's OTAP consumer does, one IPC stream per schema id."""

    def __init__(self) -> None:
        self._streams: dict[str, bytes] = defaultdict(bytes)
        self._read: dict[str, int] = defaultdict(int)

    def records(self, payload: bytes) -> dict[int, pa.RecordBatch]:
        message = BatchArrowRecords.FromString(payload)
        records = {}
        for part in message.arrow_payloads:
            self._streams[part.schema_id] += part.record
            batches = list(pa.ipc.open_stream(self._streams[part.schema_id]))
            assert len(batches) == self._read[part.schema_id] + 1, "one record batch per payload"
            self._read[part.schema_id] += 1
            records[part.type] = batches[-1]
        return records


def _attributes_by_parent(batch: pa.RecordBatch | None) -> dict[int, frozenset[tuple[str, Any]]]:
    found: dict[int, set[tuple[str, Any]]] = defaultdict(set)
    previous: tuple[str, Any] | None = None
    parent = 0
    for row in batch.to_pylist() if batch is not None else []:
        kind, value = _attribute(row["type"], row)
        pair = (row["key"], (kind, value))
        equal = previous is not None and previous[0] == pair[0] and previous[1][0] == kind
        if equal and kind == 3:  # the consumer compares doubles with ==: NaN never, 0.0 == -0.0
            equal = struct.unpack("<d", previous[1][1])[0] == struct.unpack("<d", value)[0]  # type: ignore[index]
        elif equal:
            equal = previous[1][1] == value  # type: ignore[index]
        parent = parent + row["parent_id"] if equal else row["parent_id"]
        found[parent].add(pair)
        previous = pair
    return {key: frozenset(value) for key, value in found.items()}


def _decode(records: dict[int, pa.RecordBatch]) -> list[Point]:
    resources = _attributes_by_parent(records.get(RESOURCE_ATTRS))
    point_attributes = _attributes_by_parent(records.get(NUMBER_DP_ATTRS))
    points = records[NUMBER_DATA_POINTS]
    times = points.column("time_unix_nano").cast(pa.int64()).to_pylist()  # as_py: datetimes, lossy
    points = points.drop_columns(["time_unix_nano"])
    points_by_metric: dict[int, list[Point]] = defaultdict(list)
    metric = point_id = 0
    for row, time_ns in zip(points.to_pylist(), times, strict=True):
        metric += row["parent_id"]
        point_id += row["id"]
        if row["int_value"] is not None:
            value = ("int", row["int_value"])
        else:
            value = ("double", _bits(row["double_value"]))
        points_by_metric[metric].append((time_ns, value, point_attributes.get(point_id, frozenset())))
    flat: list[Point] = []
    metric = resource = 0
    for row in records[UNIVARIATE_METRICS].to_pylist():
        metric += row["id"]
        resource += row["resource"]["id"]
        assert row["scope"]["name"] == "telemetry-receiver"
        header = (
            row["name"],
            row["description"],
            row["unit"],
            row["metric_type"],
            row["aggregation_temporality"],
            row["is_monotonic"],
        )
        flat += [(resources.get(resource, frozenset()), header, *point) for point in points_by_metric[metric]]
    return flat


def _any_value(key_value: KeyValue) -> tuple[int, Any]:
    kind = key_value.value.WhichOneof("value")
    if kind == "double_value":
        return 3, _bits(key_value.value.double_value)
    code = {"string_value": 1, "int_value": 2, "bool_value": 4}[kind]
    return code, getattr(key_value.value, kind)


def _flat_otlp(payloads: list[bytes]) -> list[Point]:
    flat = []
    for payload in payloads:
        for rm in ExportMetricsServiceRequest.FromString(payload).resource_metrics:
            resource = frozenset((kv.key, _any_value(kv)) for kv in rm.resource.attributes)
            for metric in rm.scope_metrics[0].metrics:
                is_sum = metric.HasField("sum")
                data = metric.sum if is_sum else metric.gauge
                header = (
                    metric.name,
                    metric.description,
                    metric.unit,
                    2 if is_sum else 1,
                    metric.sum.aggregation_temporality if is_sum else 0,
                    metric.sum.is_monotonic if is_sum else False,
                )
                for p in data.data_points:
                    value = (
                        ("int", p.as_int)
                        if p.WhichOneof("value") == "as_int"
                        else ("double", _bits(p.as_double))
                    )
                    attributes = frozenset((kv.key, _any_value(kv)) for kv in p.attributes)
                    flat.append((resource, header, p.time_unix_nano, value, attributes))
    return flat


def _assert_same_as_otlp(batch: SealedBatch, registry: SeriesRegistry, max_points: int = 1 << 20) -> None:
    messages = OtapMetricsEncoder(registry).encode(batch, max_points)
    assert all(message.points <= max_points for message in messages)
    assert sum(message.points for message in messages) == batch.metrics.num_rows
    state, decoder = OtapIpcState("zstd"), _Decoder()
    got = [point for message in messages for point in _decode(decoder.records(state.serialize(message)[1]))]
    assert got == _flat_otlp(encode_metrics(batch, registry, NO_LIMIT))


def _intern(registry: SeriesRegistry, series: MetricSeries) -> int:
    series_id = registry.intern(series)
    assert series_id is not None
    return series_id


def test_counters_gauges_resources_and_attributes_decode_to_the_otlp_points() -> None:
    registry = SeriesRegistry()
    sent_1 = _intern(registry, MetricSeries("BytesSent", "By", "sum", True, (("Interface", "1"),)))
    uptime = _intern(registry, MetricSeries("UpTime", "s", "gauge", False, ()))
    sent_2 = _intern(registry, MetricSeries("BytesSent", "By", "sum", True, (("Interface", "2"),)))
    errors = _intern(registry, MetricSeries("Errors", "1", "sum", True, (), "errors", "delta"))
    a = MappedReport(resource=(("device.id", "A"), ("site", "north")))
    a.metrics.append(sent_2, 10, 2**64 - 1)  # beyond int64: a double
    a.metrics.append(uptime, 10, 1.5)
    a.metrics.append(sent_1, 10, 5)
    a.metrics.append(errors, 11, 3)
    b = MappedReport(resource=(("device.id", "B"), ("site", "north")))  # same pair as A: a delta row
    b.metrics.append(uptime, 0, 0)
    b.metrics.append(sent_1, 12, -7)
    _assert_same_as_otlp(_batch([b, a]), registry)


def test_extreme_values_and_every_attribute_type_survive() -> None:
    registry = SeriesRegistry()
    attributes = EXTREME_ATTRIBUTES
    weird = _intern(registry, MetricSeries(LONG, LONG, "sum", False, attributes, description=LONG))
    twin = _intern(registry, MetricSeries(LONG, LONG, "sum", False, (("float.negative.zero", 0.0),)))
    reports = []
    for device in ("A", "B"):  # equal pairs on several parents: delta-encoded parent ids
        report = MappedReport(resource=(*attributes, ("device.id", device)))
        for time_ns, value in EXTREME_POINTS:
            report.metrics.append(weird, time_ns, value)
            report.metrics.append(twin, time_ns, value)
        reports.append(report)
    _assert_same_as_otlp(_batch(reports), registry)


def test_messages_split_by_points_and_metrics_keep_every_point_in_order() -> None:
    registry = SeriesRegistry()
    report = MappedReport(resource=(("device.id", "A"),))
    for n in range(50):
        series_id = _intern(registry, MetricSeries(f"M{n % 3}", "", "gauge", False, (("n", n),)))
        report.metrics.append(series_id, n, n)
    batch = _batch([report, MappedReport(resource=(("device.id", "B"),), metrics=report.metrics)])
    for limit in (1, 7, 50, 1000):
        _assert_same_as_otlp(batch, registry, max_points=limit)


def test_one_stream_carries_each_schema_once_and_later_messages_reuse_it() -> None:
    registry = SeriesRegistry()
    encoder = OtapMetricsEncoder(registry)
    state, decoder = OtapIpcState("zstd"), _Decoder()
    for round_ in range(3):  # new series, names and attribute values every round: new dictionaries
        report = MappedReport(resource=(("device.id", f"D{round_}"),))
        for n in range(20 * (round_ + 1)):
            series_id = _intern(registry, MetricSeries(f"Metric{n}", "", "gauge", False, (("n", str(n)),)))
            report.metrics.append(series_id, n, n * 0.5)
        batch = _batch([report])
        [message] = encoder.encode(batch)
        _, payload = state.serialize(message)
        assert _decode(decoder.records(payload)) == _flat_otlp(encode_metrics(batch, registry, NO_LIMIT))
        for part in BatchArrowRecords.FromString(payload).arrow_payloads:
            if round_ == 0:
                assert pa.ipc.open_stream(part.record).schema is not None
            else:  # no schema: only a reader that saw the stream's first message can read it
                with pytest.raises((pa.ArrowInvalid, OSError), match="schema"):
                    pa.ipc.open_stream(part.record)


def test_unencodable_series_fails_only_the_batches_that_hold_it() -> None:
    registry = SeriesRegistry()
    good = _intern(registry, MetricSeries("Good", "", "gauge", False, ()))
    bad = _intern(registry, MetricSeries("Bad", "", "gauge", False, (("big", 2**64),)))
    encoder = OtapMetricsEncoder(registry)
    with_bad = MappedReport(resource=())
    with_bad.metrics.append(bad, 1, 1)
    with pytest.raises(ValueError, match="out of int64 range"):
        encoder.encode(_batch([with_bad]))
    fine = MappedReport(resource=())
    fine.metrics.append(good, 1, 1)
    assert len(encoder.encode(_batch([fine]))) == 1


def test_batch_without_metric_points_gives_no_messages() -> None:
    batch = _batch(
        [MappedReport(resource=(), logs=[LogEntry(time_ns=1, observed_ns=1, body="x", attributes={})])]
    )
    assert OtapMetricsEncoder(SeriesRegistry()).encode(batch) == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_batches())
def test_property_decodes_to_the_otlp_points(case: tuple[SeriesRegistry, SealedBatch]) -> None:
    registry, batch = case
    _assert_same_as_otlp(batch, registry)
    _assert_same_as_otlp(batch, registry, max_points=3)


def test_threads_sharing_an_encoder_each_get_their_batches_points() -> None:
    """The exporter encodes large batches in a thread while the loop encodes small ones: new series
    and attribute pairs arrive from both at once."""
    from concurrent.futures import ThreadPoolExecutor

    registry = SeriesRegistry()
    encoder = OtapMetricsEncoder(registry)
    batches = []
    for n in range(24):
        report = MappedReport(resource=(("device.id", f"D{n}"),))
        for k in range(60):
            series = MetricSeries(f"M{k % 7}", "", "gauge", False, (("n", f"{n}-{k}"),))
            report.metrics.append(_intern(registry, series), k, k + n)
        batches.append(_batch([report]))

    def decoded(batch: SealedBatch) -> list[Point]:
        state, decoder = OtapIpcState("zstd"), _Decoder()
        return [p for m in encoder.encode(batch, 50) for p in _decode(decoder.records(state.serialize(m)[1]))]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(decoded, batches))
    for batch, got in zip(batches, results, strict=True):
        assert got == _flat_otlp(encode_metrics(batch, registry, NO_LIMIT))
