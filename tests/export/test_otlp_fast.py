"""The hand-written OTLP metric encoder against the protobuf one (``encode_metrics``), which is the
specification: same requests when nothing needs splitting, the same points in the same order when
something does, and every request within the size limit."""

import pytest
from _batches import EXTREME_ATTRIBUTES, EXTREME_POINTS, LONG, random_batches
from _batches import sealed_batch as _batch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric

from receiver.batch import SealedBatch
from receiver.export import encode_metrics
from receiver.export._otlp_encode import SCOPE
from receiver.export._otlp_fast import FastMetricsEncoder, encode_metrics_fast
from receiver.signals import AttrValue, LogEntry, MappedReport, MetricSeries, SeriesRegistry

NO_LIMIT = 1 << 30


def _canonical(payloads: list[bytes]) -> list[bytes]:
    """Each request re-serialized by protobuf: field order and default elision normalised, doubles
    compared by their bits (so NaN equals NaN and -0.0 differs from 0.0)."""
    return [ExportMetricsServiceRequest.FromString(p).SerializeToString(deterministic=True) for p in payloads]


def _flat(payloads: list[bytes]) -> list[tuple[bytes, bytes, bytes]]:
    """Every point in output order as (its Resource, its Metric without points, the point), so
    requests split differently can be compared for loss, duplication and order."""
    points = []
    for payload in payloads:
        for rm in ExportMetricsServiceRequest.FromString(payload).resource_metrics:
            resource = rm.resource.SerializeToString(deterministic=True)
            assert len(rm.scope_metrics) == 1 and rm.scope_metrics[0].scope == SCOPE
            for metric in rm.scope_metrics[0].metrics:
                data = metric.sum if metric.HasField("sum") else metric.gauge
                header = Metric()
                header.CopyFrom(metric)
                del (header.sum if metric.HasField("sum") else header.gauge).data_points[:]
                key = header.SerializeToString(deterministic=True)
                points += [(resource, key, p.SerializeToString(deterministic=True)) for p in data.data_points]
    return points


def _series(registry: SeriesRegistry, series: MetricSeries) -> int:
    series_id = registry.intern(series)
    assert series_id is not None
    return series_id


def _assert_same_as_protobuf(batch: SealedBatch, registry: SeriesRegistry) -> list[bytes]:
    expected = encode_metrics(batch, registry, NO_LIMIT)
    got = FastMetricsEncoder(registry).encode(batch, NO_LIMIT)
    assert _canonical(got) == _canonical(expected)
    return got


# -- examples ------------------------------------------------------------------------------------


def test_batch_without_metric_points_gives_no_requests() -> None:
    log = LogEntry(time_ns=1, observed_ns=1, body="boot", attributes={})
    batch = _batch([MappedReport(resource=(("device.id", "A"),), logs=[log])])
    assert batch.metrics.num_rows == 0
    assert FastMetricsEncoder(SeriesRegistry()).encode(batch, NO_LIMIT) == []
    assert encode_metrics(batch, SeriesRegistry(), NO_LIMIT) == []


def test_same_request_as_protobuf_for_counters_gauges_and_resources() -> None:
    registry = SeriesRegistry()
    sent_1 = _series(registry, MetricSeries("BytesSent", "By", "sum", True, (("Interface", "1"),)))
    uptime = _series(registry, MetricSeries("UpTime", "s", "gauge", False, ()))
    sent_2 = _series(registry, MetricSeries("BytesSent", "By", "sum", True, (("Interface", "2"),)))
    a = MappedReport(resource=(("device.id", "A"),))
    a.metrics.append(sent_2, 10, 2**64 - 1)  # beyond int64: travels as a double
    a.metrics.append(uptime, 10, 1.5)
    a.metrics.append(sent_1, 10, 5)
    b = MappedReport(resource=(("device.id", "B"),))
    b.metrics.append(uptime, 0, 0)  # zero time and value: elided / kept exactly as protobuf does
    [payload] = _assert_same_as_protobuf(_batch([b, a]), registry)
    request = ExportMetricsServiceRequest.FromString(payload)
    assert [rm.resource.attributes[0].value.string_value for rm in request.resource_metrics] == ["B", "A"]
    sent = request.resource_metrics[1].scope_metrics[0].metrics[0]
    assert (sent.name, sent.sum.aggregation_temporality, sent.sum.is_monotonic) == ("BytesSent", 2, True)
    assert [p.WhichOneof("value") for p in sent.sum.data_points] == ["as_int", "as_double"]
    [zero] = request.resource_metrics[0].scope_metrics[0].metrics[0].gauge.data_points
    assert (zero.time_unix_nano, zero.WhichOneof("value"), zero.as_int) == (0, "as_int", 0)


def test_attribute_types_and_extreme_values_encode_like_protobuf() -> None:
    registry = SeriesRegistry()
    attributes = EXTREME_ATTRIBUTES
    weird = _series(registry, MetricSeries(LONG, LONG, "sum", False, attributes, description=LONG))
    report = MappedReport(resource=attributes)
    for time_ns, value in EXTREME_POINTS:
        report.metrics.append(weird, time_ns, value)
    _assert_same_as_protobuf(_batch([report]), registry)


def test_metric_header_comes_from_its_lowest_series_in_each_resource_as_in_protobuf() -> None:
    # encode_metrics groups by (name, unit, kind, monotonic) only: description and temporality of
    # the Metric are those of its lowest series id present in the resource.
    registry = SeriesRegistry()
    delta = _series(registry, MetricSeries("Errors", "1", "sum", True, (("i", 1),), "first", "delta"))
    cumulative = _series(registry, MetricSeries("Errors", "1", "sum", True, (("i", 2),), "second"))
    other = _series(registry, MetricSeries("Errors", "1", "sum", False, (("i", 3),)))
    a = MappedReport(resource=(("device.id", "A"),))
    b = MappedReport(resource=(("device.id", "B"),))
    for series_id in (other, cumulative, delta, cumulative):
        a.metrics.append(series_id, 1, 1)
    b.metrics.append(cumulative, 1, 1)
    _assert_same_as_protobuf(_batch([a, b]), registry)


def test_points_out_of_order_come_out_in_protobuf_order() -> None:
    registry = SeriesRegistry()
    ids = [
        _series(registry, MetricSeries(f"M{n % 3}", "", "gauge" if n % 2 else "sum", False, (("n", n),)))
        for n in range(12)
    ]
    reports = []
    for device in (3, 1, 2, 1):
        report = MappedReport(resource=(("device.id", str(device)),))
        for at, series_id in enumerate(reversed(ids * 2)):
            report.metrics.append(series_id, at, at * 0.5)
        reports.append(report)
    _assert_same_as_protobuf(_batch(reports), registry)


def test_series_cache_grows_as_the_registry_does() -> None:
    registry = SeriesRegistry()
    encoder = FastMetricsEncoder(registry)
    for round_ in range(3):
        report = MappedReport(resource=(("device.id", "A"),))
        for n in range(50 * round_ + 1):
            series_id = _series(registry, MetricSeries("Metric", "", "gauge", False, (("n", n),)))
            report.metrics.append(series_id, n, n)
        batch = _batch([report])
        assert _canonical(encoder.encode(batch, NO_LIMIT)) == _canonical(
            encode_metrics(batch, registry, NO_LIMIT)
        )


def test_encode_metrics_fast_follows_the_registry_it_is_given() -> None:
    registry = SeriesRegistry()
    series_id = _series(registry, MetricSeries("Metric", "", "gauge", False, ()))
    report = MappedReport(resource=())
    report.metrics.append(series_id, 1, 1)
    batch = _batch([report])
    assert encode_metrics_fast(batch, registry, NO_LIMIT) == encode_metrics_fast(batch, registry, NO_LIMIT)
    other = SeriesRegistry()
    _series(other, MetricSeries("Other", "", "sum", True, (("x", 1),)))
    assert _canonical(encode_metrics_fast(batch, other, NO_LIMIT)) == _canonical(
        encode_metrics(batch, other, NO_LIMIT)
    )


def test_unencodable_series_fails_only_the_batches_that_hold_it() -> None:
    registry = SeriesRegistry()
    good = _series(registry, MetricSeries("Good", "", "gauge", False, ()))
    bad = _series(registry, MetricSeries("Bad", "", "gauge", False, (("big", 2**64),)))
    later = _series(registry, MetricSeries("Later", "", "gauge", False, ()))
    encoder = FastMetricsEncoder(registry)
    with_bad = MappedReport(resource=())
    with_bad.metrics.append(bad, 1, 1)
    with pytest.raises(ValueError, match="out of int64 range"):
        encoder.encode(_batch([with_bad]), NO_LIMIT)
    with pytest.raises(ValueError):  # the protobuf encoder fails the same batch
        encode_metrics(_batch([with_bad]), registry, NO_LIMIT)
    fine = MappedReport(resource=())
    fine.metrics.append(good, 1, 1)
    fine.metrics.append(later, 1, 1)
    batch = _batch([fine])
    assert _canonical(encoder.encode(batch, NO_LIMIT)) == _canonical(
        encode_metrics(batch, registry, NO_LIMIT)
    )


def test_resource_over_the_limit_splits_by_metric_then_by_points() -> None:
    registry = SeriesRegistry()
    big = MappedReport(resource=(("device.id", "big"), ("padding", "x" * 300)))
    small = MappedReport(resource=(("device.id", "small"),))
    for n in range(3000):
        # two Metrics of 1000 points (~30 kB each), then 1000 Metrics of one point
        name = f"Metric{n % 2 if n < 2000 else n}"
        big.metrics.append(_series(registry, MetricSeries(name, "", "gauge", False, (("n", n),))), n, n)
    small.metrics.append(0, 1, 1.0)
    batch = _batch([small, big])
    limit = 16_000
    got = FastMetricsEncoder(registry).encode(batch, limit)
    assert all(len(payload) <= limit for payload in got)
    assert _flat(got) == _flat(encode_metrics(batch, registry, NO_LIMIT))
    assert len(got) <= sum(map(len, got)) // (limit - 1000) + 1  # parts are packed, not halved
    parts = [
        [
            (rm.resource.attributes[0].value.string_value, [m.name for m in rm.scope_metrics[0].metrics])
            for rm in ExportMetricsServiceRequest.FromString(payload).resource_metrics
        ]
        for payload in got
    ]
    assert parts[0][0] == ("small", ["Metric0"])  # the small resource shares the first request
    assert sum(part == [("big", ["Metric0"])] for part in parts) >= 1  # Metric0 cut by points
    assert max(len(part[-1][1]) for part in parts) > 100  # one-point Metrics packed many to a part


def test_point_larger_than_the_limit_travels_alone() -> None:
    registry = SeriesRegistry()
    report = MappedReport(resource=(("device.id", "A"),))
    for n in range(3):
        report.metrics.append(_series(registry, MetricSeries("M", "", "gauge", False, (("n", n),))), n, n)
    batch = _batch([report])
    got = FastMetricsEncoder(registry).encode(batch, 1)
    assert [len(_flat([payload])) for payload in got] == [1, 1, 1]
    assert _flat(got) == _flat(encode_metrics(batch, registry, NO_LIMIT))


# -- properties ----------------------------------------------------------------------------------

_settings = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_settings
@given(random_batches())
def test_property_same_requests_as_protobuf(case: tuple[SeriesRegistry, SealedBatch]) -> None:
    registry, batch = case
    _assert_same_as_protobuf(batch, registry)


@_settings
@given(random_batches(), st.floats(0, 1))
def test_property_split_requests_fit_and_keep_every_point_in_order(
    case: tuple[SeriesRegistry, SealedBatch], fraction: float
) -> None:
    registry, batch = case
    encoder = FastMetricsEncoder(registry)
    one_point_each = encoder.encode(batch, 1)
    assert len(one_point_each) == batch.metrics.num_rows
    # Any limit that a lone point fits in is kept, from "one point per request" to "no split".
    smallest = max(len(payload) for payload in one_point_each)
    whole = sum(len(payload) for payload in encoder.encode(batch, NO_LIMIT))
    assert len(encoder.encode(batch, whole)) == 1  # sizes are exact: a request may fill the limit
    if batch.metrics.num_rows > 1:
        assert all(len(payload) < whole for payload in encoder.encode(batch, whole - 1))
    limit = smallest + int(fraction * (whole - smallest))
    got = encoder.encode(batch, limit)
    assert all(len(payload) <= limit for payload in got)
    assert _flat(got) == _flat(encode_metrics(batch, registry, NO_LIMIT))
    assert _flat(got) == _flat(encode_metrics(batch, registry, limit))


def test_cached_key_values_keep_types_and_signs_apart() -> None:
    """KeyValues are memoised per (key, type, value): 1 and True, 0.0 and -0.0 hash alike but differ."""
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

    from receiver.export._otlp_fast import _key_values

    def reference(key: str, value: AttrValue) -> bytes:
        any_value = (
            AnyValue(bool_value=value)
            if isinstance(value, bool)
            else AnyValue(int_value=value)
            if isinstance(value, int)
            else AnyValue(double_value=value)
            if isinstance(value, float)
            else AnyValue(string_value=value)
        )
        return (
            b"\x0a"
            + bytes([len(encoded := KeyValue(key=key, value=any_value).SerializeToString())])
            + encoded
        )

    values: list[AttrValue] = [1, True, 0, False, 0.0, -0.0, 1.0, "1", -1]
    for _ in range(2):  # the second round reads the memo
        for value in values:
            assert _key_values(0x0A, (("k", value),)) == reference("k", value), value
    assert _key_values(0x0A, (("k", 1), ("j", True))) == reference("k", 1) + reference("j", True)
