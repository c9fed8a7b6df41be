"""A sealed batch: the column-wise (pyarrow) form of many reports, plus the future their senders wait on."""

import asyncio
from array import array
from dataclasses import dataclass, field, replace

import numpy as np
import orjson
import pyarrow as pa

from ..signals import HISTOGRAM_SCHEMA, Attributes, HistogramPoint, LogEntry, MetricColumns, ResourcePoints

METRIC_SCHEMA = pa.schema(
    [
        ("resource", pa.int32()),
        ("series", pa.int32()),
        ("time_ns", pa.int64()),
        ("double", pa.float64()),
        ("int", pa.int64()),
        ("is_int", pa.bool_()),
    ]
)
LOG_SCHEMA = pa.schema(
    [
        ("resource", pa.int32()),
        ("time_ns", pa.int64()),
        ("observed_ns", pa.int64()),
        ("severity_number", pa.int32()),
        ("severity_text", pa.string()),
        ("body", pa.string()),
        ("attributes_json", pa.binary()),
    ]
)
"""Log records from ``LogEntry`` objects. Records from log chunks (``signals.log_chunk``) join the same
table: their attributes arrive as extra ``attributes.<key>`` columns, ``attributes_json`` null; the
rows of each kind have nulls in the other's attribute columns (a null attribute is an absent one)."""


@dataclass(slots=True)
class SealedBatch:
    seq: int
    resources: list[Attributes]
    metrics: pa.Table
    logs: pa.Table
    done: "asyncio.Future[None]"
    histograms: list[tuple[int, HistogramPoint]] = field(default_factory=list)  # (resource index, point)
    # Histogram points from ``MappedReport.histogram_chunk``: ``resource`` then HISTOGRAM_SCHEMA.
    histogram_chunk: pa.Table | None = None

    @property
    def point_count(self) -> int:
        chunk = 0 if self.histogram_chunk is None else int(self.histogram_chunk.num_rows)
        return int(self.metrics.num_rows + self.logs.num_rows) + len(self.histograms) + chunk


HISTOGRAM_CHUNK_SCHEMA = pa.schema([pa.field("resource", pa.int32()), *HISTOGRAM_SCHEMA])


def histogram_points(batch: SealedBatch) -> list[tuple[int, HistogramPoint]]:
    """All histogram points of ``batch`` as objects, those of its histogram chunk after the others:
    the order every encoder and the spool see them in (the slow paths read this)."""
    if batch.histogram_chunk is None or batch.histogram_chunk.num_rows == 0:
        return batch.histograms
    rows = batch.histogram_chunk.to_pydict()
    return batch.histograms + [
        (rid, HistogramPoint(series, time_ns, start_ns, count, total, tuple(buckets)))
        for rid, series, time_ns, start_ns, count, total, buckets in zip(
            rows["resource"],
            rows["series"],
            rows["time_ns"],
            rows["start_ns"],
            rows["count"],
            rows["sum"],
            rows["bucket_counts"],
            strict=True,
        )
    ]


class _Columns:
    """Metric columns in typed buffers: extending one from a buffer of its type is a copy, and
    sealing is a view (Arrow from Python lists cost ~0.6 us per 10-point message, measured). The
    resource column is kept as runs (resource id, point count), expanded once when sealed."""

    __slots__ = ("doubles", "ints", "is_int", "run_lengths", "run_resources", "series", "times_ns")

    def __init__(self) -> None:
        self.run_resources = array("i")
        self.run_lengths = array("q")
        self.series = array("i")
        self.times_ns = array("q")
        self.doubles = array("d")
        self.ints = array("q")
        self.is_int = array("b")


def _view(buffer: "array[int] | array[float]", dtype: type) -> pa.Array:
    return pa.array(np.frombuffer(buffer, dtype))


class BatchBuilder:
    """Accumulates reports in typed buffers (``_Columns``) and turns them into Arrow columns once,
    when sealed."""

    __slots__ = (
        "_chunks",
        "_histogram_chunks",
        "_histograms",
        "_log_chunks",
        "_logs",
        "_metrics",
        "_resource_ids",
        "_rid_by_identity",
        "created",
        "points",
    )

    def __init__(self, created: float) -> None:
        self.created = created
        self.points = 0
        self._resource_ids: dict[Attributes, int] = {}
        # Inputs that reuse one resource tuple per device (Sparkplug) skip hashing it per message.
        # Each entry holds its tuple, so the id cannot be reused by another object meanwhile.
        self._rid_by_identity: dict[int, tuple[Attributes, int]] = {}
        self._metrics = _Columns()
        self._logs: list[tuple[int, LogEntry]] = []
        self._chunks: list[pa.Table] = []
        self._log_chunks: list[pa.Table] = []
        self._histograms: list[tuple[int, HistogramPoint]] = []
        self._histogram_chunks: list[pa.Table] = []

    def add(
        self,
        resource: Attributes,
        metrics: MetricColumns,
        logs: list[LogEntry],
        chunk: pa.Table | None = None,
        histograms: list[HistogramPoint] | None = None,
        log_chunk: pa.Table | None = None,
        histogram_chunk: pa.Table | None = None,
    ) -> None:
        # Converted before anything is added: a time beyond int64 fails this report, not the batch.
        times_ns = array("q", metrics.times_ns)
        rid = self._resource_id(resource)
        if histogram_chunk is not None and histogram_chunk.num_rows:
            resource_column = pa.array(np.full(histogram_chunk.num_rows, rid, dtype=np.int32))
            self._histogram_chunks.append(histogram_chunk.add_column(0, "resource", resource_column))
            self.points += histogram_chunk.num_rows
        if log_chunk is not None and log_chunk.num_rows:
            resource_column = pa.array(np.full(log_chunk.num_rows, rid, dtype=np.int32))
            self._log_chunks.append(log_chunk.add_column(0, "resource", resource_column))
            self.points += log_chunk.num_rows
        if histograms:
            self._histograms += [(rid, point) for point in histograms]
            self.points += len(histograms)
        if chunk is not None and chunk.num_rows:
            resource_column = pa.array(np.full(chunk.num_rows, rid, dtype=np.int32))
            self._chunks.append(chunk.add_column(0, "resource", resource_column))
            self.points += chunk.num_rows
        own = self._metrics
        own.series.extend(metrics.series)
        own.times_ns.extend(times_ns)
        own.doubles.extend(metrics.doubles)
        own.ints.extend(metrics.ints)
        own.is_int.extend(metrics.is_int)
        own.run_resources.append(rid)
        own.run_lengths.append(len(metrics))
        self._logs += [(rid, entry) for entry in logs]
        self.points += len(metrics) + len(logs)

    def _resource_id(self, resource: Attributes) -> int:
        known = self._rid_by_identity.get(id(resource))
        if known is not None:
            return known[1]
        rid = self._resource_ids.setdefault(resource, len(self._resource_ids))
        self._rid_by_identity[id(resource)] = (resource, rid)
        return rid

    def add_points(self, points: ResourcePoints) -> None:
        """``add`` for metric points only, in the same order and columns (cheapest when they are
        ``array``s of the columns' types: i, q, d, q, b)."""
        resource, series, times_ns, doubles, ints, is_int = points
        if type(times_ns) is not array:  # as in ``add``
            times_ns = array("q", times_ns)
        rid = self._resource_id(resource)
        own = self._metrics
        own.series.extend(series)
        own.times_ns.extend(times_ns)
        own.doubles.extend(doubles)
        own.ints.extend(ints)
        own.is_int.extend(is_int)
        own.run_resources.append(rid)
        own.run_lengths.append(len(series))
        self.points += len(series)

    def seal(self, seq: int, done: "asyncio.Future[None]") -> SealedBatch:
        m = self._metrics
        metrics = pa.Table.from_arrays(
            [
                pa.array(
                    np.repeat(
                        np.frombuffer(m.run_resources, np.int32), np.frombuffer(m.run_lengths, np.int64)
                    )
                ),
                _view(m.series, np.int32),
                _view(m.times_ns, np.int64),
                _view(m.doubles, np.float64),
                _view(m.ints, np.int64),
                _view(m.is_int, np.bool_),
            ],
            schema=METRIC_SCHEMA,
        )
        if self._chunks:
            metrics = pa.concat_tables([metrics, *self._chunks]).combine_chunks()
        logs = pa.Table.from_arrays(
            [
                pa.array([rid for rid, _ in self._logs], pa.int32()),
                pa.array([e.time_ns for _, e in self._logs], pa.int64()),
                pa.array([e.observed_ns for _, e in self._logs], pa.int64()),
                pa.array([e.severity_number for _, e in self._logs], pa.int32()),
                pa.array([e.severity_text for _, e in self._logs], pa.string()),
                pa.array([e.body for _, e in self._logs], pa.string()),
                pa.array([orjson.dumps(e.attributes) for _, e in self._logs], pa.binary()),
            ],
            schema=LOG_SCHEMA,
        )
        if self._log_chunks:  # LOG_SCHEMA's columns first, then each attribute column once
            logs = concat_logs([logs, *self._log_chunks])
        return SealedBatch(
            seq=seq,
            resources=list(self._resource_ids),
            metrics=metrics,
            logs=logs,
            done=done,
            histograms=self._histograms,
            histogram_chunk=_concatenated(self._histogram_chunks),
        )


def merge_batches(batches: list[SealedBatch], done: "asyncio.Future[None]") -> SealedBatch:
    """One batch holding the points of ``batches`` in order (resources deduplicated), settled by
    ``done``: the export side sends several durable batches in one request when it is behind."""
    if len(batches) == 1:
        return replace(batches[0], done=done)
    resources: dict[Attributes, int] = {}
    metrics: list[pa.Table] = []
    logs: list[pa.Table] = []
    histograms: list[tuple[int, HistogramPoint]] = []
    histogram_chunks: list[pa.Table] = []
    for batch in batches:
        new_ids = np.array([resources.setdefault(r, len(resources)) for r in batch.resources], dtype=np.int32)
        metrics.append(_with_resources(batch.metrics, new_ids))
        logs.append(_with_resources(batch.logs, new_ids))
        histograms += [(int(new_ids[rid]), point) for rid, point in batch.histograms]
        if batch.histogram_chunk is not None:
            histogram_chunks.append(_with_resources(batch.histogram_chunk, new_ids))
    return SealedBatch(
        seq=batches[0].seq,
        resources=list(resources),
        metrics=pa.concat_tables(metrics).combine_chunks(),
        logs=concat_logs(logs),
        done=done,
        histograms=histograms,
        histogram_chunk=_concatenated(histogram_chunks),
    )


def _concatenated(chunks: list[pa.Table]) -> pa.Table | None:
    """Histogram chunks as one table (HISTOGRAM_CHUNK_SCHEMA), None when there are none."""
    if not chunks:
        return None
    return pa.concat_tables([chunk.cast(HISTOGRAM_CHUNK_SCHEMA) for chunk in chunks]).combine_chunks()


def _with_resources(table: pa.Table, new_ids: np.ndarray) -> pa.Table:
    """``table`` with its ``resource`` column (the first) renumbered through ``new_ids``."""
    if table.num_rows == 0:
        return table
    old = table.column("resource").to_numpy()
    return table.set_column(0, "resource", pa.array(new_ids[old], pa.int32()))


def concat_logs(tables: list[pa.Table]) -> pa.Table:
    """Log tables as one. Attribute columns differ between them: a missing one becomes nulls (no
    such attribute); one key with values of different types in different tables (an int here, a
    string there) becomes a string column, so one odd producer cannot fail the whole batch."""
    try:
        return pa.concat_tables(tables, promote_options="default").combine_chunks()
    except pa.ArrowTypeError:
        pass
    types: dict[str, set[pa.DataType]] = {}
    for table in tables:
        for column in table.schema:
            types.setdefault(column.name, set()).add(column.type)
    mixed = {name for name, seen in types.items() if len(seen) > 1}
    unified = [
        table.cast(pa.schema([pa.field(f.name, pa.string()) if f.name in mixed else f for f in table.schema]))
        for table in tables
    ]
    return pa.concat_tables(unified, promote_options="default").combine_chunks()
