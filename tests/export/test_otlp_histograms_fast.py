"""The hand-written histogram encoder against ``encode_histograms`` (the specification): the same
request when nothing is split; the same points in the same order, within the limit, when split."""

import asyncio

import pyarrow as pa
from _batches import sealed_batch as _batch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric

from receiver.batch import SealedBatch, histogram_points, merge_batches
from receiver.decode._cdr import decode_cdr_csv
from receiver.export import encode_histograms
from receiver.export._otlp_histograms_fast import FastHistogramsEncoder
from receiver.mapping._cdr import map_cdr
from receiver.signals import HISTOGRAM_SCHEMA, HistogramPoint, MappedReport, MetricSeries, SeriesRegistry

NO_LIMIT = 1 << 30


def _parsed(payloads: list[bytes]) -> list[ExportMetricsServiceRequest]:
    return [ExportMetricsServiceRequest.FromString(payload) for payload in payloads]


def _flat(payloads: list[bytes]) -> list[tuple[bytes, bytes, bytes]]:
    points = []
    for request in _parsed(payloads):
        for rm in request.resource_metrics:
            resource = rm.resource.SerializeToString(deterministic=True)
            for metric in rm.scope_metrics[0].metrics:
                header = Metric()
                header.CopyFrom(metric)
                del header.histogram.data_points[:]
                key = header.SerializeToString(deterministic=True)
                points += [
                    (resource, key, p.SerializeToString(deterministic=True))
                    for p in metric.histogram.data_points
                ]
    return points


def _cdr_batch(registry: SeriesRegistry) -> SealedBatch:
    body = b"msisdn,tower_id,call_type,dest_nr,call_duration_sec,start_time\n" + b"".join(
        b"3161111%04d,%d,%s,316999,%d,2024-03-01 12:00:%02d\n"
        % (n, 1 + n % 7, b"voice" if n % 3 else b"video", n * 37 % 2000, n % 60)
        for n in range(200)
    )
    reports = [
        map_cdr(decode_cdr_csv(body, "voice"), registry, source=s, source_digest="d", received_ns=1)
        for s in ("a.csv", "b.csv")
    ]
    return _batch(reports)


def test_cdr_histograms_encode_like_protobuf() -> None:
    registry = SeriesRegistry()
    batch = _cdr_batch(registry)
    assert batch.histogram_chunk is not None and batch.histogram_chunk.num_rows == 2 * 14
    assert not batch.histograms  # the CDR mapper's points are columns
    [fast] = FastHistogramsEncoder(registry).encode(batch, NO_LIMIT)
    [slow] = encode_histograms(batch, registry, NO_LIMIT)
    assert ExportMetricsServiceRequest.FromString(fast) == ExportMetricsServiceRequest.FromString(slow)


def test_split_requests_keep_every_point_in_order_within_the_limit() -> None:
    registry = SeriesRegistry()
    batch = _cdr_batch(registry)
    expected = _flat(encode_histograms(batch, registry, NO_LIMIT))
    for max_bytes in (400, 1_000, 3_000):
        payloads = FastHistogramsEncoder(registry).encode(batch, max_bytes)
        assert len(payloads) > 1 and all(len(payload) <= max_bytes for payload in payloads)
        assert _flat(payloads) == expected


def _chunk(points: list[HistogramPoint]) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "series": p.series,
                "time_ns": p.time_ns,
                "start_ns": p.start_ns,
                "count": p.count,
                "sum": p.sum,
                "bucket_counts": list(p.bucket_counts),
            }
            for p in points
        ],
        schema=HISTOGRAM_SCHEMA,
    )


def test_merged_batches_of_points_and_chunks_encode_like_protobuf() -> None:
    """Points as objects and as chunks, several resources, merged batches (resources renumbered)."""
    registry = SeriesRegistry()
    one = _cdr_batch(registry)
    sid = registry.intern(MetricSeries("other", "", "histogram", False, (("t", 1),), bounds=(1.0, 2.0)))
    assert sid is not None
    points = [HistogramPoint(sid, 9, 8, 3, 2.5, (1, 1, 1)), HistogramPoint(sid, 10, 9, 0, 0.0, (0, 0, 0))]
    two = _batch(
        [
            MappedReport(resource=(("cdr.source", "b.csv"), ("service.name", "cdr")), histograms=points),
            MappedReport(resource=(("device.id", "Z"),), histogram_chunk=_chunk(points[::-1])),
        ]
    )
    loop = asyncio.new_event_loop()
    merged = merge_batches([one, two], loop.create_future())
    loop.close()
    assert merged.histogram_chunk is not None and merged.histogram_chunk.num_rows == 2 * 14 + 2
    assert (
        len(histogram_points(merged)) == merged.point_count - merged.logs.num_rows - merged.metrics.num_rows
    )
    [fast] = FastHistogramsEncoder(registry).encode(merged, NO_LIMIT)
    [slow] = encode_histograms(merged, registry, NO_LIMIT)
    assert ExportMetricsServiceRequest.FromString(fast) == ExportMetricsServiceRequest.FromString(slow)
    for max_bytes in (400, 2_000):
        payloads = FastHistogramsEncoder(registry).encode(merged, max_bytes)
        assert len(payloads) > 1 and all(len(payload) <= max_bytes for payload in payloads)
        assert _flat(payloads) == _flat([slow])


@st.composite
def _reports(draw: st.DrawFn) -> tuple[SeriesRegistry, list[MappedReport]]:
    registry = SeriesRegistry()
    reports = []
    for _ in range(draw(st.integers(1, 4))):
        report = MappedReport(resource=(("device.id", draw(st.sampled_from("AB"))),))
        for _ in range(draw(st.integers(0, 5))):
            bounds = tuple(sorted(draw(st.lists(st.floats(-1e6, 1e6), max_size=4, unique=True))))
            sid = registry.intern(
                MetricSeries(
                    draw(st.sampled_from(["h1", "h2", "Ünï"])),
                    draw(st.sampled_from(["", "s"])),
                    "histogram",
                    False,
                    draw(st.sampled_from([(), (("t", 7),), (("k", "v"), ("b", True), ("f", 0.5))])),
                    description=draw(st.sampled_from(["", "d"])),
                    temporality=draw(st.sampled_from(["delta", "cumulative"])),
                    bounds=bounds,
                )
            )
            assert sid is not None
            counts = tuple(
                draw(st.lists(st.integers(0, 2**64 - 1), min_size=len(bounds) + 1, max_size=len(bounds) + 1))
            )
            report.histograms.append(
                HistogramPoint(
                    sid,
                    draw(st.integers(0, 2**64 - 1)),
                    draw(st.integers(0, 2**64 - 1)),
                    draw(st.integers(0, 2**64 - 1)),
                    draw(st.floats(allow_nan=False)),
                    counts,
                )
            )
        if report.histograms and draw(st.booleans()):  # the same points as a histogram chunk
            report.histogram_chunk = _chunk(report.histograms)
            report.histograms = []
        reports.append(report)
    return registry, reports


_settings = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_settings
@given(_reports(), st.integers(250, 2_000))
def test_any_histograms_encode_like_protobuf(
    case: tuple[SeriesRegistry, list[MappedReport]], max_bytes: int
) -> None:
    registry, reports = case
    assume(any(report.point_count for report in reports))
    batch = _batch(reports)
    assert _parsed(FastHistogramsEncoder(registry).encode(batch, NO_LIMIT)) == _parsed(
        encode_histograms(batch, registry, NO_LIMIT)
    )
    payloads = FastHistogramsEncoder(registry).encode(batch, max_bytes)
    assert _flat(payloads) == _flat(encode_histograms(batch, registry, NO_LIMIT))
    assert all(len(payload) <= max_bytes for payload in payloads)
