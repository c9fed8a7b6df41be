"""The records that flow between stages: what mapping produces and batch/export consume.

Metric points travel as parallel columns that reference an interned ``MetricSeries`` by id, so a
datapoint costs a few list appends, not an object."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import pyarrow as pa

AttrValue = str | int | float | bool
Attributes = tuple[tuple[str, AttrValue], ...]
"""Sorted key/value pairs: hashable, so equal attribute sets intern to one resource or series."""

MetricKind = Literal["gauge", "sum", "histogram"]
Temporality = Literal["cumulative", "delta"]


@dataclass(frozen=True, slots=True)
class MetricSeries:
    """Everything about a metric stream but its points: one OTLP Metric + point attribute set."""

    name: str
    unit: str
    kind: MetricKind
    monotonic: bool
    attributes: Attributes
    description: str = ""
    # Sums and histograms: device counters are cumulative; aggregates we compute per upload are deltas.
    temporality: Temporality = "cumulative"
    bounds: tuple[float, ...] = ()  # histogram explicit bucket bounds

    @property
    def metric_key(self) -> tuple[str, str, str, bool]:
        """What makes series one OTLP Metric within a resource: the encoders group points by it."""
        return (self.name, self.unit, self.kind, self.monotonic)

    @property
    def descriptor(self) -> tuple[str, str, str, bool, str, str]:
        """Everything a Metric header says: the metric key, description and temporality."""
        return (*self.metric_key, self.description, self.temporality)


@dataclass(frozen=True, slots=True)
class HistogramPoint:
    """One explicit-bucket histogram data point (low volume: aggregates, not raw values)."""

    series: int
    time_ns: int
    start_ns: int
    count: int
    sum: float
    bucket_counts: tuple[int, ...]


HISTOGRAM_SCHEMA = pa.schema(
    [
        ("series", pa.int32()),
        ("time_ns", pa.uint64()),
        ("start_ns", pa.uint64()),
        ("count", pa.uint64()),
        ("sum", pa.float64()),
        ("bucket_counts", pa.list_(pa.uint64())),
    ]
)
"""Histogram points as columns, one ``HistogramPoint`` per row: what a vectorised mapper produces.
Unsigned like OTLP's fixed64 fields, so any point an object can hold fits a row."""


class SeriesRegistry:
    """Interns MetricSeries to small ints. Ids stay valid for the life of the process (batches in
    flight refer to them); growth is bounded by ``max_series``."""

    __slots__ = ("_by_series", "_series", "max_series")

    def __init__(self, max_series: int = 2_000_000) -> None:
        self._by_series: dict[MetricSeries, int] = {}
        self._series: list[MetricSeries] = []
        self.max_series = max_series

    def intern(self, series: MetricSeries) -> int | None:
        """The id of ``series``; None when the registry is full (the caller counts the drop)."""
        found = self._by_series.get(series)
        if found is not None:
            return found
        if len(self._series) >= self.max_series:
            return None
        self._series.append(series)
        self._by_series[series] = len(self._series) - 1
        return len(self._series) - 1

    def __getitem__(self, series_id: int) -> MetricSeries:
        return self._series[series_id]

    def __len__(self) -> int:
        return len(self._series)


POINT_SCHEMA = pa.schema(
    [
        ("series", pa.int32()),
        ("time_ns", pa.int64()),
        ("double", pa.float64()),
        ("int", pa.int64()),
        ("is_int", pa.bool_()),
    ]
)


@dataclass(slots=True)
class MetricColumns:
    """Points of one resource. Integer points carry ``is_int`` and their exact value in ``ints``
    (OTLP as_int); the others their value in ``doubles``."""

    series: list[int] = field(default_factory=list)
    times_ns: list[int] = field(default_factory=list)
    doubles: list[float] = field(default_factory=list)
    ints: list[int] = field(default_factory=list)
    is_int: list[bool] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.series)

    def append(self, series_id: int, time_ns: int, value: int | float) -> None:
        self.series.append(series_id)
        self.times_ns.append(time_ns)
        if isinstance(value, int) and -(2**63) <= value < 2**63:
            self.doubles.append(0.0)
            self.ints.append(value)
            self.is_int.append(True)
        else:
            self.doubles.append(float(value))
            self.ints.append(0)
            self.is_int.append(False)


class ResourcePoints(NamedTuple):
    """Metric points of one resource as ``MetricColumns`` would hold them, in sequences the batch
    copies from (a mapper may pass the same series list every time): the per-message form of the
    hot paths, cheaper than a ``MappedReport``."""

    resource: Attributes
    series: Sequence[int]
    times_ns: Sequence[int]
    doubles: Sequence[float]
    ints: Sequence[int]
    is_int: Sequence[int]  # bools or 0/1


@dataclass(frozen=True, slots=True)
class LogEntry:
    time_ns: int
    observed_ns: int
    body: str
    attributes: dict[str, AttrValue]
    severity_number: int = 9  # INFO
    severity_text: str = "INFO"


LOG_ATTRIBUTE_PREFIX = "attributes."
"""In a log chunk, a column named ``attributes.<key>`` is the attribute ``<key>`` of each record."""
LOG_CHUNK_SCHEMA = pa.schema(
    [
        ("time_ns", pa.int64()),
        ("observed_ns", pa.int64()),
        ("severity_number", pa.int32()),
        ("severity_text", pa.string()),
        ("body", pa.string()),
    ]
)


def log_chunk(
    time_ns: pa.Array | pa.ChunkedArray,
    observed_ns: int,
    body: str,
    attributes: dict[str, pa.Array | pa.ChunkedArray],
    *,
    severity_number: int = 9,
    severity_text: str = "INFO",
) -> pa.Table:
    """Log records as columns (one per record, no Python object each): LOG_CHUNK_SCHEMA, then one
    column per attribute key in ``attributes`` order. Attribute values are strings, int64, float64
    or bools (narrower ints and dictionaries are cast); a null leaves that record without the key."""
    rows = len(time_ns)
    columns: list[pa.Array] = [
        _array(time_ns).cast(pa.int64()),
        pa.repeat(pa.scalar(observed_ns, pa.int64()), rows),
        pa.repeat(pa.scalar(severity_number, pa.int32()), rows),
        pa.repeat(pa.scalar(severity_text, pa.string()), rows),
        pa.repeat(pa.scalar(body, pa.string()), rows),
    ]
    fields = list(LOG_CHUNK_SCHEMA)
    for key, values in attributes.items():
        kind = values.type.value_type if pa.types.is_dictionary(values.type) else values.type
        target = (
            pa.int64()
            if pa.types.is_integer(kind)
            else pa.float64()
            if pa.types.is_floating(kind)
            else pa.bool_()
            if pa.types.is_boolean(kind)
            else pa.string()
        )
        if len(values) != rows:
            raise ValueError(f"attribute {key!r} has {len(values)} values for {rows} records")
        columns.append(_array(values).cast(target))
        fields.append(pa.field(LOG_ATTRIBUTE_PREFIX + key, target))
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def _array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


@dataclass(slots=True)
class MappedReport:
    """One accepted report (or upload), ready for batching; all of it shares one resource."""

    resource: Attributes
    metrics: MetricColumns = field(default_factory=MetricColumns)
    logs: list[LogEntry] = field(default_factory=list)
    # Points a vectorised mapper produced, in POINT_SCHEMA; batched as they are, no per-point work.
    metric_chunk: pa.Table | None = None
    histograms: list[HistogramPoint] = field(default_factory=list)
    # Log records a vectorised mapper produced (``log_chunk``); batched and encoded as columns.
    log_chunk: pa.Table | None = None
    # Histogram points a vectorised mapper produced (HISTOGRAM_SCHEMA): no object per point.
    histogram_chunk: pa.Table | None = None

    @property
    def point_count(self) -> int:
        chunk = 0 if self.metric_chunk is None else int(self.metric_chunk.num_rows)
        logs = len(self.logs) + (0 if self.log_chunk is None else int(self.log_chunk.num_rows))
        histograms = len(self.histograms) + (
            0 if self.histogram_chunk is None else int(self.histogram_chunk.num_rows)
        )
        return len(self.metrics) + chunk + logs + histograms


class NotDelivered(Exception):
    """The data of a report could not be made safe (exported or spooled): its sender must resend."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
