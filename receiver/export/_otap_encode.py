"""Sealed batch -> OTel-Arrow (OTAP) record batches for its number metrics (no I/O, no stream state).

OTAP sends telemetry as related Arrow record batches; the collector's decoder
(``otel-arrow/go`` ``pkg/otel/metrics/otlp``, v0.46.0) joins them back into OTLP:

- ``UNIVARIATE_METRICS``: one row per Metric (a resource's points of one name/unit/kind), with the
  resource id and scope as structs. Metric ids and resource ids are uint16 and *delta-encoded* over
  the rows, so the rows are grouped by resource and a message holds at most 65,536 Metrics.
- ``NUMBER_DATA_POINTS``: one row per point; ``parent_id`` (the Metric id) delta-encoded, ``id`` (the
  point id, delta-encoded) links the point to its attributes.
- ``RESOURCE_ATTRS`` / ``NUMBER_DP_ATTRS``: one row per key/value and parent. A row's ``parent_id`` is
  a delta from the previous row's when both rows hold the same key and an equal value (the decoder's
  rule), otherwise absolute. Rows are sorted by key/value then parent, so equal pairs form runs of
  small deltas, which is where Arrow compression gets its ratio.

The Metrics and points come out in the order ``encode_metrics`` writes them (resource, then Metrics
by their lowest series id, then series, then arrival), so both transports deliver the same OTLP.
Everything repeated is cached per series id (the registry only grows): its Metric grouping key and
descriptor, and its attribute pairs as ids into one table of distinct pairs. A batch then costs
numpy work per point and pyarrow ``take`` per column, no Python loop per point."""

import math
import struct
import threading
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from .. import __version__
from ..batch import SealedBatch
from ..signals import Attributes, AttrValue, MetricSeries, SeriesRegistry
from ._otlp_fast import _grown, _offsets, _point_order
from ._pb.arrow_service_pb2 import ArrowPayloadType

I64 = npt.NDArray[np.int64]
_T = TypeVar("_T", bound=np.generic)

RESOURCE_ATTRS = ArrowPayloadType.RESOURCE_ATTRS
UNIVARIATE_METRICS = ArrowPayloadType.UNIVARIATE_METRICS
NUMBER_DATA_POINTS = ArrowPayloadType.NUMBER_DATA_POINTS
NUMBER_DP_ATTRS = ArrowPayloadType.NUMBER_DP_ATTRS

# pmetric.MetricType and AggregationTemporality numbers.
_GAUGE, _SUM = 1, 2
_DELTA, _CUMULATIVE = 1, 2
# pcommon.ValueType numbers, the ``type`` column of attribute rows.
_STR, _INT, _DOUBLE, _BOOL = 1, 2, 3, 4

MAX_METRICS_PER_MESSAGE = 1 << 16  # uint16 Metric and resource ids
_MAX_CACHED_RESOURCES = 100_000


# Repeated strings travel dictionary-encoded: the offsets of a plain string column are an arithmetic
# series that no general-purpose compressor shrinks (18 k attribute keys cost 50 kB plain, measured).
_DICT_STRING = pa.dictionary(pa.int32(), pa.string())


def _attributes_schema(parent: pa.DataType) -> pa.Schema:
    return pa.schema(
        [
            ("parent_id", parent),
            ("key", _DICT_STRING),
            ("type", pa.uint8()),
            ("str", _DICT_STRING),
            ("int", pa.int64()),
            ("double", pa.float64()),
            ("bool", pa.bool_()),
        ]
    )


RESOURCE_ATTRS_SCHEMA = _attributes_schema(pa.uint16())
NUMBER_DP_ATTRS_SCHEMA = _attributes_schema(pa.uint32())
_SCOPE_TYPE = pa.struct([("name", pa.string()), ("version", pa.string())])
UNIVARIATE_METRICS_SCHEMA = pa.schema(
    [
        ("id", pa.uint16()),
        ("resource", pa.struct([("id", pa.uint16())])),
        ("scope", _SCOPE_TYPE),
        ("metric_type", pa.uint8()),
        ("name", _DICT_STRING),
        ("description", _DICT_STRING),
        ("unit", _DICT_STRING),
        ("aggregation_temporality", pa.int32()),
        ("is_monotonic", pa.bool_()),
    ]
)
NUMBER_DATA_POINTS_SCHEMA = pa.schema(
    [
        ("id", pa.uint32()),
        ("parent_id", pa.uint16()),
        ("time_unix_nano", pa.timestamp("ns")),
        ("int_value", pa.int64()),
        ("double_value", pa.float64()),
    ]
)
SCHEMAS: dict[ArrowPayloadType, pa.Schema] = {
    RESOURCE_ATTRS: RESOURCE_ATTRS_SCHEMA,
    UNIVARIATE_METRICS: UNIVARIATE_METRICS_SCHEMA,
    NUMBER_DATA_POINTS: NUMBER_DATA_POINTS_SCHEMA,
    NUMBER_DP_ATTRS: NUMBER_DP_ATTRS_SCHEMA,
}
"""One fixed schema per payload type: a stream sends each schema once, then only record batches."""


@dataclass(frozen=True, slots=True)
class OtapMessage:
    """The record batches of one ``BatchArrowRecords``, by payload type, and the points they carry."""

    records: list[tuple[ArrowPayloadType, pa.RecordBatch]]

    @property
    def points(self) -> int:
        return int(dict(self.records)[NUMBER_DATA_POINTS].num_rows)


class _RowTable:
    """Append-only rows of a fixed schema, read back by index with Arrow ``take``. New rows are kept
    as chunks, merged once there are many, so growth never rebuilds the whole table per batch."""

    __slots__ = ("_chunks", "_merged", "_schema", "count")

    def __init__(self, schema: pa.Schema) -> None:
        self._schema = schema
        self._chunks: list[pa.Table] = []
        self._merged: pa.Table | None = None
        self.count = 0

    def extend(self, columns: list[list[object]]) -> None:
        if not columns[0]:
            return
        self._chunks.append(pa.table(columns, schema=self._schema))
        self.count += len(columns[0])
        self._merged = None

    def snapshot(self) -> pa.Table:
        """All rows as one immutable table: take it under the owner's lock, read it without."""
        if self._merged is None:
            merged = pa.concat_tables(self._chunks) if self._chunks else self._schema.empty_table()
            if len(self._chunks) > 16:
                merged = merged.combine_chunks()
                self._chunks = [merged]
            self._merged = merged
        return self._merged


def _plain(schema: pa.Schema, names: tuple[str, ...]) -> pa.Schema:
    """The ``names`` fields of ``schema`` with dictionary strings as plain ones: how they are kept."""
    fields = [schema.field(name) for name in names]
    return pa.schema(
        [(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type) for f in fields]
    )


def _columns(distinct: pa.Table, rows: I64, schema: pa.Schema) -> list[pa.Array]:
    """``distinct``'s rows at ``rows`` (indices into it) as the columns of ``schema``. A dictionary
    string column is the distinct values plus ``rows`` as indices, with no hashing of strings: its
    dictionary may repeat a value (Arrow allows it), which costs nothing once compressed."""
    indices = pa.array(rows.astype(np.int32))
    columns = []
    for name in distinct.column_names:
        values = distinct.column(name).combine_chunks()
        if pa.types.is_dictionary(schema.field(name).type):
            columns.append(pa.DictionaryArray.from_arrays(indices, values))
        else:
            columns.append(values.take(indices))
    return columns


_PAIR_SCHEMA = _plain(RESOURCE_ATTRS_SCHEMA, ("key", "type", "str", "int", "double", "bool"))
_DESCRIPTOR_SCHEMA = _plain(
    UNIVARIATE_METRICS_SCHEMA,
    ("metric_type", "name", "description", "unit", "aggregation_temporality", "is_monotonic"),
)


class _Pairs:
    """Distinct attribute key/value pairs, interned to ids, with the decoder's notion of equality.

    A pair's id is exact (a float by its bits, so -0.0 keeps its sign); its ``equal_class`` is what
    the decoder compares to choose between delta and absolute parent ids: Go ``==`` on the value, so
    0.0 and -0.0 are one class, and a NaN is equal to nothing (class -1)."""

    __slots__ = ("_by_class", "_by_exact", "equal_class", "table")

    def __init__(self) -> None:
        self._by_exact: dict[tuple[str, int, object], int] = {}
        self._by_class: dict[tuple[str, int, object], int] = {}
        self.equal_class = np.zeros(1 << 10, dtype=np.int64)
        self.table = _RowTable(_PAIR_SCHEMA)

    def ids(self, attributes: Attributes) -> list[int]:
        found: list[int] = []
        new: list[tuple[str, int, AttrValue]] = []
        for key, value in attributes:
            kind = _value_type(value)
            exact = (key, kind, struct.pack("<d", value) if kind == _DOUBLE else value)
            pair = self._by_exact.get(exact)
            if pair is None:
                pair = self._by_exact[exact] = self.table.count + len(new)
                new.append((key, kind, value))
            found.append(pair)
        if new:
            self._add(new)
        return found

    def _add(self, pairs: list[tuple[str, int, AttrValue]]) -> None:
        first = self.table.count
        classes = []
        for key, kind, value in pairs:
            if kind == _DOUBLE and math.isnan(float(value)):
                classes.append(-1)
            else:
                classes.append(self._by_class.setdefault((key, kind, value), len(self._by_class)))
        self.equal_class = _fit(self.equal_class, first + len(pairs), first)
        self.equal_class[first : first + len(pairs)] = classes
        self.table.extend(
            [
                [key for key, _, _ in pairs],
                [kind for _, kind, _ in pairs],
                [value if kind == _STR else None for _, kind, value in pairs],
                [value if kind == _INT else None for _, kind, value in pairs],
                [value if kind == _DOUBLE else None for _, kind, value in pairs],
                [value if kind == _BOOL else None for _, kind, value in pairs],
            ]
        )


def _value_type(value: AttrValue) -> int:
    if isinstance(value, bool):  # before int: bool is an int subclass
        return _BOOL
    if isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            raise ValueError(f"attribute value out of int64 range: {value}")
        return _INT
    if isinstance(value, float):
        return _DOUBLE
    return _STR


def _fit(array: npt.NDArray[_T], needed: int, keep: int) -> npt.NDArray[_T]:
    """``array``, or a grown copy of its first ``keep`` items when it holds fewer than ``needed``."""
    return array if needed <= len(array) else _grown(array, needed, keep)


class OtapMetricsEncoder:
    """Encodes the metric points of sealed batches for one ``SeriesRegistry`` into OTAP messages.
    Keep one per registry; safe to share between threads."""

    def __init__(self, registry: SeriesRegistry) -> None:
        self.registry = registry
        self._lock = threading.Lock()
        self._pairs = _Pairs()
        self._descriptors = _RowTable(_DESCRIPTOR_SCHEMA)
        self._descriptor_ids: dict[tuple[str, str, str, bool, str, str], int] = {}
        self._metric_keys: dict[tuple[str, str, str, bool], int] = {}
        self._series_count = 0
        self._metric_key = np.zeros(1 << 10, dtype=np.int64)  # per series id
        self._descriptor = np.zeros(1 << 10, dtype=np.int64)  # per series id
        self._pair_start = np.zeros(1 << 10, dtype=np.int64)  # per series id: into _series_pairs
        self._pair_count = np.zeros(1 << 10, dtype=np.int64)
        self._series_pairs = np.zeros(1 << 12, dtype=np.int64)
        self._series_pairs_used = 0
        self._invalid: dict[int, ValueError] = {}
        self._resource_pairs: dict[Attributes, list[int]] = {}
        self._scope = pa.scalar({"name": "telemetry-receiver", "version": __version__}, _SCOPE_TYPE)

    def encode(self, batch: SealedBatch, max_points: int = 1 << 20) -> list[OtapMessage]:
        """The batch's metric points as OTAP messages of at most ``max_points`` points and 65,536
        Metrics each (a Metric larger than that is split, its header repeated)."""
        table = batch.metrics
        if table.num_rows == 0:
            return []
        series = table.column("series").to_numpy().astype(np.int64)
        resource = table.column("resource").to_numpy().astype(np.int64)
        with self._lock:
            self._cache_series(int(series.max()) + 1)
            if self._invalid:
                bad = np.intersect1d(series, np.fromiter(self._invalid, dtype=np.int64))
                if len(bad):
                    raise self._invalid[int(bad[0])]
            order, group_bounds = _point_order(resource, series, self._metric_key[series])
            series = series[order]
            # A Metric's header is its lowest series' (as encode_metrics), also in its split parts.
            descriptor = self._descriptor[series[group_bounds[:-1]]]
            group_bounds, part_of = _limit_groups(group_bounds, max_points)
            group_descriptor = descriptor[part_of]
            pair_start, pair_count = self._pair_start[series], self._pair_count[series]
            point_pairs = self._series_pairs
            resource_pairs = [self._resource_pair_ids(attributes) for attributes in batch.resources]
            # Immutable views: the tables only grow, and the records below are built without the lock.
            descriptor_rows = self._descriptors.snapshot()
            pairs_view = _PairsView(self._pairs.table.snapshot(), self._pairs.equal_class)
        group_resource = resource[order[group_bounds[:-1]]]
        times = table.column("time_ns").to_numpy()[order]
        is_int = table.column("is_int").to_numpy(zero_copy_only=False)[order]
        ints = table.column("int").to_numpy()[order]
        doubles = table.column("double").to_numpy()[order]

        messages = []
        for g0, g1 in _message_cuts(group_bounds, max_points):
            p0, p1 = int(group_bounds[g0]), int(group_bounds[g1])
            bounds = group_bounds[g0 : g1 + 1] - p0
            local_resource = _dense_ranks(group_resource[g0:g1])
            records = [
                (
                    UNIVARIATE_METRICS,
                    self._metrics_record(descriptor_rows, group_descriptor[g0:g1], local_resource),
                ),
                (
                    NUMBER_DATA_POINTS,
                    _points_record(bounds, times[p0:p1], is_int[p0:p1], ints[p0:p1], doubles[p0:p1]),
                ),
            ]
            first_of_resource = np.flatnonzero(np.diff(local_resource, prepend=-1))
            resources = group_resource[g0:g1][first_of_resource]
            res_parents, res_pairs = _flatten([resource_pairs[int(r)] for r in resources])
            if len(res_pairs):
                records.append(
                    (
                        RESOURCE_ATTRS,
                        _attributes_record(RESOURCE_ATTRS_SCHEMA, res_parents, res_pairs, pairs_view),
                    )
                )
            counts = pair_count[p0:p1]
            if counts.any():
                parents = np.repeat(np.arange(p1 - p0, dtype=np.int64), counts)
                starts = np.repeat(pair_start[p0:p1] - _offsets(counts)[:-1], counts)
                pairs = point_pairs[starts + np.arange(len(parents), dtype=np.int64)]
                records.append(
                    (NUMBER_DP_ATTRS, _attributes_record(NUMBER_DP_ATTRS_SCHEMA, parents, pairs, pairs_view))
                )
            messages.append(OtapMessage(records))
        return messages

    def _metrics_record(
        self, descriptor_rows: pa.Table, descriptors: I64, local_resource: I64
    ) -> pa.RecordBatch:
        count = len(descriptors)
        distinct, rows = np.unique(descriptors, return_inverse=True)
        header = _columns(descriptor_rows.take(pa.array(distinct)), rows, UNIVARIATE_METRICS_SCHEMA)
        ids = np.ones(count, dtype=np.uint16)  # Metric i has id i: deltas of 1 after a first 0
        ids[0] = 0
        resource_ids = np.diff(local_resource, prepend=0).astype(np.uint16)
        return pa.RecordBatch.from_arrays(
            [
                pa.array(ids),
                pa.StructArray.from_arrays([pa.array(resource_ids)], names=["id"]),
                pa.repeat(self._scope, count),
                *header,
            ],
            schema=UNIVARIATE_METRICS_SCHEMA,
        )

    def _resource_pair_ids(self, attributes: Attributes) -> list[int]:
        found = self._resource_pairs.get(attributes)
        if found is None:
            if len(self._resource_pairs) >= _MAX_CACHED_RESOURCES:
                self._resource_pairs.clear()
            found = self._resource_pairs[attributes] = self._pairs.ids(attributes)
        return found

    def _cache_series(self, needed: int) -> None:
        """Record the series ids not seen yet: once per series for the life of the process."""
        first = self._series_count
        if needed <= first:
            return
        keys: list[int] = []
        descriptors: list[int] = []
        starts: list[int] = []
        counts: list[int] = []
        pairs: list[int] = []
        used = self._series_pairs_used
        for series_id in range(first, needed):
            series = self.registry[series_id]
            try:
                ids = self._pairs.ids(series.attributes)
                descriptor = self._descriptor_id(series)
            except ValueError as exc:  # as the OTLP encoders: fail the batches holding it
                self._invalid[series_id] = exc
                ids, descriptor = [], 0
            keys.append(self._metric_keys.setdefault(series.metric_key, len(self._metric_keys)))
            descriptors.append(descriptor)
            starts.append(used + len(pairs))
            counts.append(len(ids))
            pairs += ids
        for name in ("_metric_key", "_descriptor", "_pair_start", "_pair_count"):
            setattr(self, name, _fit(getattr(self, name), needed, first))
        self._metric_key[first:needed] = keys
        self._descriptor[first:needed] = descriptors
        self._pair_start[first:needed] = starts
        self._pair_count[first:needed] = counts
        self._series_pairs = _fit(self._series_pairs, used + len(pairs), used)
        self._series_pairs[used : used + len(pairs)] = pairs
        self._series_pairs_used = used + len(pairs)
        self._series_count = needed

    def _descriptor_id(self, series: MetricSeries) -> int:
        key = series.descriptor
        found = self._descriptor_ids.get(key)
        if found is None:
            is_sum = series.kind == "sum"  # as encode_metrics: any other kind here is a Gauge
            temporality = (_DELTA if series.temporality == "delta" else _CUMULATIVE) if is_sum else 0
            self._descriptors.extend(
                [
                    [_SUM if is_sum else _GAUGE],
                    [series.name],
                    [series.description],
                    [series.unit],
                    [temporality],
                    [is_sum and series.monotonic],
                ]
            )
            found = self._descriptor_ids[key] = len(self._descriptor_ids)
        return found


@dataclass(frozen=True, slots=True)
class _PairsView:
    """The attribute pairs as they were when a batch started encoding."""

    values: pa.Table  # per pair id: key, type and value columns
    equal_class: I64  # per pair id (only ever extended, so older ids read the same)


def _attributes_record(schema: pa.Schema, parents: I64, pairs: I64, view: _PairsView) -> pa.RecordBatch:
    """Attribute rows (parent index, pair id) as a record of ``schema``: sorted by pair then parent,
    parent ids as deltas after a row the decoder deems equal, absolute otherwise."""
    distinct, rows = np.unique(pairs, return_inverse=True)
    values = view.values.take(pa.array(distinct))
    classes = view.equal_class[distinct]
    order = np.lexsort((parents, _class_ranks(values, classes)[rows]))
    parents, rows = parents[order], rows[order]
    row_classes = classes[rows]
    stored = parents.copy()
    same = np.zeros(len(rows), dtype=bool)
    same[1:] = (row_classes[1:] == row_classes[:-1]) & (row_classes[1:] >= 0)
    stored[1:][same[1:]] = parents[1:][same[1:]] - parents[:-1][same[1:]]
    return pa.RecordBatch.from_arrays(
        [
            pa.array(stored.astype(schema.field("parent_id").type.to_pandas_dtype())),
            *_columns(values, rows, schema),
        ],
        schema=schema,
    )


def _class_ranks(values: pa.Table, classes: I64) -> I64:
    """For distinct pairs (their ``values`` and equality ``classes``), a sort key that puts rows of
    equal pairs next to each other (so their parent ids can be deltas) and each key's values side
    by side (which is what compresses): the rank in key/type/value order, shared by pairs the
    decoder deems equal (0.0 and -0.0)."""
    order = pc.sort_indices(values, sort_keys=[(name, "ascending") for name in _PAIR_SCHEMA.names])
    rank = np.empty(len(classes), dtype=np.int64)
    rank[order.to_numpy()] = np.arange(len(classes), dtype=np.int64)
    _, class_index = np.unique(classes, return_inverse=True)
    class_rank = np.full(len(classes), len(classes), dtype=np.int64)
    np.minimum.at(class_rank, class_index, rank)
    return class_rank[class_index]


def _points_record(
    bounds: I64, times: I64, is_int: npt.NDArray[np.bool_], ints: I64, doubles: npt.NDArray[np.float64]
) -> pa.RecordBatch:
    count = len(times)
    point_ids = np.ones(count, dtype=np.uint32)  # point i has id i (delta-encoded)
    point_ids[0] = 0
    parents = np.zeros(count, dtype=np.uint16)  # Metric id, delta-encoded: 1 where a Metric starts
    parents[bounds[1:-1]] = 1
    return pa.RecordBatch.from_arrays(
        [
            pa.array(point_ids),
            pa.array(parents),
            pa.array(times, pa.timestamp("ns")),
            pa.array(ints, mask=~is_int),
            pa.array(doubles, mask=is_int),
        ],
        schema=NUMBER_DATA_POINTS_SCHEMA,
    )


def _limit_groups(bounds: I64, max_points: int) -> tuple[I64, I64]:
    """``bounds`` with every Metric longer than ``max_points`` cut into parts of that size, and the
    Metric each part belongs to."""
    lengths = np.diff(bounds)
    if int(lengths.max()) <= max_points:
        return bounds, np.arange(len(lengths), dtype=np.int64)
    starts = [
        np.arange(a, b, max_points) for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)
    ]
    parts = np.concatenate(starts).astype(np.int64)
    return np.append(parts, bounds[-1]), np.searchsorted(bounds, parts, side="right") - 1


def _message_cuts(bounds: I64, max_points: int) -> list[tuple[int, int]]:
    """Runs of Metrics [g0, g1) of at most ``max_points`` points and 65,536 Metrics (so at most as
    many resources: each has a Metric)."""
    cuts: list[tuple[int, int]] = []
    start, groups = 0, len(bounds) - 1
    while start < groups:
        end = int(np.searchsorted(bounds, bounds[start] + max_points, side="right")) - 1
        end = min(max(end, start + 1), start + MAX_METRICS_PER_MESSAGE)
        cuts.append((start, end))
        start = end
    return cuts


def _dense_ranks(group_resource: I64) -> I64:
    """0, 1, 2, ... numbering the runs of equal resource indices (the rows are grouped by resource)."""
    return np.cumsum(np.diff(group_resource, prepend=group_resource[0]) != 0).astype(np.int64)


def _flatten(pair_lists: list[list[int]]) -> tuple[I64, I64]:
    """(parent index, pair id) rows for the attribute pairs of parents 0, 1, 2, ..."""
    counts = np.fromiter(map(len, pair_lists), dtype=np.int64, count=len(pair_lists))
    parents = np.repeat(np.arange(len(pair_lists), dtype=np.int64), counts)
    pairs = np.fromiter((p for pairs in pair_lists for p in pairs), dtype=np.int64, count=int(counts.sum()))
    return parents, pairs
