"""Histogram points of a sealed batch -> OTLP ``ExportMetricsServiceRequest`` bytes, hand-encoded.

Why: ``encode_histograms`` builds protobuf objects per point (~10 µs each); CDR voice files make one
histogram per tower and call type for every chunk, so that cost alone was about half the CPU of a
voice ingest. Here points are columns (``SealedBatch.histogram_chunk``; ``HistogramPoint`` objects
are turned into columns first) and nothing runs in Python per point: the layout of
``_otlp_fast`` (read that module first) with a histogram data point in place of a number one.

Per series, the bytes after a point's own fields (explicit bounds and attributes) are built once for
the life of the process. A point is its tag and length, 36 bytes of fixed fields written for all
points at once through a numpy structured array (start, time, count, sum), and its bucket counts as
packed fixed64, which are the bytes of the uint64 list column itself (no copy per point).

The output parses to the same message as ``encode_histograms`` when nothing is split: resources in
ascending index, a Metric per (name, unit, kind, monotonic) in order of first appearance within its
resource (its header from the first point's series), points in arrival order. Splitting is
``_otlp_fast._plan``'s: exact sizes, resources packed greedily up to ``max_bytes``, a resource or
Metric cut between requests repeats its Resource, scope and Metric header; only a point too large to
fit alone makes a request exceed the limit."""

import threading

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..batch import SealedBatch
from ..batch._batch import HISTOGRAM_CHUNK_SCHEMA
from ..signals import MetricSeries, SeriesRegistry
from ._otlp_fast import (
    I64,
    ResourceFields,
    _binary_array,
    _BytesPool,
    _field,
    _key_values,
    _metric_prefixes,
    _offsets,
    _plan,
    _requests,
    _spread,
    _tagged_varints,
    _varint,
    _varint_lengths,
)

_FIXED_DTYPE = np.dtype(
    [
        ("start_tag", "u1"),  # start_time_unix_nano = 2, fixed64
        ("start", "<u8"),
        ("time_tag", "u1"),  # time_unix_nano = 3, fixed64
        ("time", "<u8"),
        ("count_tag", "u1"),  # count = 4, fixed64
        ("count", "<u8"),
        ("sum_tag", "u1"),  # sum = 5, double
        ("sum", "<f8"),
    ]
)
_BUCKETS_TAG = 0x32  # bucket_counts = 6, packed fixed64
_DATA_POINT_TAG = 0x0A  # Histogram.data_points = 1
_HISTOGRAM_TAG = 0x4A  # Metric.histogram = 9
_EMPTY = pa.scalar(b"", pa.large_binary())


class FastHistogramsEncoder:
    """Encodes the histogram points of sealed batches for one ``SeriesRegistry`` (series ids are
    stable, so per-series bytes are kept for the life of the process). Safe to share between threads."""

    def __init__(self, registry: SeriesRegistry) -> None:
        self.registry = registry
        self._lock = threading.Lock()
        self._slot = np.full(1 << 10, -1, dtype=np.int64)  # series id -> index in the per-series pools
        self._heads = _BytesPool()  # per slot: explicit_bounds and attributes fields
        self._metric_keys: dict[tuple[str, str, str, bool], int] = {}
        self._metric_key: list[int] = []  # per slot
        self._descriptors: dict[tuple[str, str, str, bool, str, str], int] = {}
        self._descriptor: list[int] = []  # per slot: the Metric header its series opens
        self._headers = _BytesPool()  # per descriptor: name, description, unit fields
        self._trailers = _BytesPool()  # per descriptor: the Histogram's temporality field
        self._resource_field = ResourceFields()

    def encode(self, batch: SealedBatch, max_bytes: int) -> list[bytes]:
        table = _points_table(batch)
        if table is None:
            return []
        series = table.column("series").to_numpy().astype(np.int64)
        with self._lock:
            slots = self._slots(series)
            heads, head_lengths = self._heads.array(), self._heads.lengths()
            headers, header_lengths = self._headers.array(), self._headers.lengths()
            trailers, trailer_lengths = self._trailers.array(), self._trailers.lengths()
            metric_key = np.array(self._metric_key, dtype=np.int64)[slots]
            descriptor = np.array(self._descriptor, dtype=np.int64)[slots]
            resource_fields = [self._resource_field(attributes) for attributes in batch.resources]
        resource = table.column("resource").to_numpy().astype(np.int64)
        order, group_bounds = _histogram_order(resource, metric_key)

        # Each point's DataPoint field: tag and length, fixed fields, bucket counts, series bytes.
        buckets = table.column("bucket_counts").combine_chunks()
        list_offsets = buckets.offsets.to_numpy().astype(np.int64)
        bucket_counts = np.diff(list_offsets)
        bucket_field = np.where(bucket_counts > 0, 1 + _varint_lengths(8 * bucket_counts), 0)
        body = _FIXED_DTYPE.itemsize + bucket_field + 8 * bucket_counts + head_lengths[slots]
        fixed = np.empty(len(series), dtype=_FIXED_DTYPE)
        fixed["start_tag"], fixed["time_tag"], fixed["count_tag"], fixed["sum_tag"] = 0x11, 0x19, 0x21, 0x29
        fixed["start"] = table.column("start_ns").to_numpy().view(np.uint64)
        fixed["time"] = table.column("time_ns").to_numpy().view(np.uint64)
        fixed["count"] = table.column("count").to_numpy().view(np.uint64)
        fixed["sum"] = table.column("sum").to_numpy()
        values = buckets.values.to_numpy().astype("<u8", copy=False).view(np.uint8)
        bucket_prefixes = pc.if_else(
            pa.array(bucket_counts > 0),
            _tagged_varints(np.full(len(series), _BUCKETS_TAG, np.uint8), 8 * bucket_counts),
            _EMPTY,
        )
        points = pc.binary_join_element_wise(
            _tagged_varints(np.full(len(series), _DATA_POINT_TAG, np.uint8), body),
            _binary_array(
                np.arange(len(series) + 1, dtype=np.int64) * _FIXED_DTYPE.itemsize, fixed.view(np.uint8)
            ),
            bucket_prefixes,
            _binary_array(list_offsets * 8, values),
            heads.take(pa.array(slots)),
            _EMPTY,
        ).take(pa.array(order))
        point_sizes = 1 + _varint_lengths(body) + body

        plan = _plan(
            max_bytes=max_bytes,
            point_ends=_offsets(point_sizes[order]),
            group_bounds=group_bounds,
            group_descriptor=descriptor[order[group_bounds[:-1]]],
            group_resource=resource[order[group_bounds[:-1]]],
            header_lengths=header_lengths,
            trailer_lengths=trailer_lengths,
            resource_fields=resource_fields,
        )
        metric_prefixes = _metric_prefixes(
            plan,
            resource_fields,
            headers,
            trailers,
            np.full(len(plan.metric_size), _HISTOGRAM_TAG, np.uint8),
        )
        encoded = pc.binary_join_element_wise(
            _spread(metric_prefixes, len(order), plan.metric_bounds[:-1]), points, _EMPTY
        )
        return _requests(encoded, plan)

    def _slots(self, series: I64) -> I64:
        """Per point, its series' index in the per-series pools; new series are encoded here, once."""
        needed = int(series.max()) + 1
        if needed > len(self._slot):
            grown = np.full(max(2 * len(self._slot), needed), -1, dtype=np.int64)
            grown[: len(self._slot)] = self._slot
            self._slot = grown
        new = np.unique(series[self._slot[series] < 0])
        if len(new):
            heads = []
            for series_id in new.tolist():
                meta = self.registry[series_id]
                heads.append(_series_head(meta))
                self._metric_key.append(self._metric_keys.setdefault(meta.metric_key, len(self._metric_keys)))
                self._descriptor.append(self._descriptor_id(meta))
            self._slot[new] = np.arange(self._heads.count, self._heads.count + len(new))
            self._heads.extend(heads)
        slots: I64 = self._slot[series]
        return slots

    def _descriptor_id(self, series: MetricSeries) -> int:
        key = series.descriptor
        found = self._descriptors.get(key)
        if found is None:
            header, trailer = _metric_header(series)
            self._headers.extend([header])
            self._trailers.extend([trailer])
            found = self._descriptors[key] = len(self._descriptors)
        return found


def _points_table(batch: SealedBatch) -> pa.Table | None:
    """The batch's histogram points as one table (HISTOGRAM_CHUNK_SCHEMA): ``HistogramPoint``
    objects first, then the histogram chunk's rows, as ``histogram_points`` orders them."""
    tables = []
    if batch.histograms:
        points = [point for _, point in batch.histograms]
        tables.append(
            pa.Table.from_pydict(
                {
                    "resource": [rid for rid, _ in batch.histograms],
                    "series": [p.series for p in points],
                    "time_ns": [p.time_ns for p in points],
                    "start_ns": [p.start_ns for p in points],
                    "count": [p.count for p in points],
                    "sum": [float(p.sum) for p in points],
                    "bucket_counts": [list(p.bucket_counts) for p in points],
                },
                schema=HISTOGRAM_CHUNK_SCHEMA,
            )
        )
    if batch.histogram_chunk is not None and batch.histogram_chunk.num_rows:
        tables.append(batch.histogram_chunk.cast(HISTOGRAM_CHUNK_SCHEMA))
    if not tables:
        return None
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables).combine_chunks()


def _histogram_order(resource: I64, metric_key: I64) -> tuple[I64, I64]:
    """``encode_histograms``'s point order and the bounds of its Metric groups: resources ascending,
    Metrics by first appearance within the resource, points in arrival order."""
    by_resource = np.argsort(resource, kind="stable")
    group = resource[by_resource] * (int(metric_key.max()) + 1) + metric_key[by_resource]
    _, first, inverse = np.unique(group, return_index=True, return_inverse=True)
    # Groups of a lower resource come first in by_resource, so ranking by first position suffices.
    within = np.argsort(first[inverse], kind="stable")
    order = by_resource[within].astype(np.int64)
    ranked = first[inverse][within]
    starts = np.flatnonzero(np.concatenate(([True], ranked[1:] != ranked[:-1])))
    return order, np.append(starts, len(order)).astype(np.int64)


def _metric_header(series: MetricSeries) -> tuple[bytes, bytes]:
    """A Metric's name/description/unit fields, and the Histogram's temporality field."""
    header = _field(0x0A, series.name.encode())
    if series.description:
        header += _field(0x12, series.description.encode())
    if series.unit:
        header += _field(0x1A, series.unit.encode())
    temporality = 1 if series.temporality == "delta" else 2  # DELTA / CUMULATIVE
    return header, bytes((0x10, temporality))  # Histogram.aggregation_temporality = 2


def _series_head(series: MetricSeries) -> bytes:
    """explicit_bounds (7, packed double) and attributes (9) of a series' points."""
    head = b""
    if series.bounds:
        bounds = np.array(series.bounds, dtype="<f8").tobytes()
        head += b"\x3a" + _varint(len(bounds)) + bounds
    return head + _key_values(0x4A, series.attributes)
