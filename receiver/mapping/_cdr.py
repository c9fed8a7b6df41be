"""CDR records -> one log record each (time = event time) plus per-upload aggregates: bytes up/down
as delta Sums by tower, direction and data type; call duration as a delta Histogram by tower and call
type; record counts. Phone numbers and IP addresses are pseudonymised first when a key is set.

Each record carries ``cdr.record_id`` (source digest + line), so the rare duplicate a crash between
the collector's acknowledgement and the CLI's checkpoint can cause is recognisable downstream."""

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..decode._cdr import CdrBatch
from ..signals import (
    POINT_SCHEMA,
    AttrValue,
    HistogramPoint,
    MappedReport,
    MetricSeries,
    SeriesRegistry,
    log_chunk,
)
from ._pseudonymise import pseudonymise

SERVICE_CDR = "cdr"
CALL_DURATION_BOUNDS = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0)
_PRIVATE_COLUMNS = ("msisdn", "dest_nr", "ip_address")


def cdr_resource(source: str) -> tuple[tuple[str, AttrValue], ...]:
    return (("cdr.source", source), ("service.name", SERVICE_CDR))


def map_cdr(
    batch: CdrBatch,
    registry: SeriesRegistry,
    *,
    source: str,
    source_digest: str,
    received_ns: int,
    pseudonym_key: bytes | None = None,
) -> MappedReport:
    table = batch.table
    if pseudonym_key is not None:
        for column in _PRIVATE_COLUMNS:
            if column in table.column_names:
                at = table.schema.get_field_index(column)
                table = table.set_column(
                    at, column, pseudonymise(table.column(column).combine_chunks(), pseudonym_key)
                )
    report = MappedReport(resource=cdr_resource(source))
    # The records stay columns (no object per record): one attribute per CDR column, then the id.
    attributes = {f"cdr.{name}": table.column(name) for name in table.column_names if name != "time_ns"}
    attributes["cdr.record_id"] = pc.binary_join_element_wise(
        f"{source_digest}:", batch.line_numbers.cast(pa.string()), ""
    )
    report.log_chunk = log_chunk(table.column("time_ns"), received_ns, f"cdr.{batch.kind}", attributes)
    if table.num_rows:
        _aggregates(report, table, batch.kind, registry)
    return report


def _aggregates(report: MappedReport, table: pa.Table, kind: str, registry: SeriesRegistry) -> None:
    start, end = pc.min(table.column("time_ns")).as_py(), pc.max(table.column("time_ns")).as_py()
    records = _series(registry, "cdr.records", "{record}", "sum", (("cdr.type", kind),))
    report.metrics.append(records, end, table.num_rows)
    if kind == "data":
        grouped = table.group_by(["tower_id", "data_type"]).aggregate(
            [("up_bytes", "sum"), ("down_bytes", "sum")]
        )
        cache = _series_cache(registry)
        series: list[int] = []
        for tower, data_type in zip(
            grouped.column("tower_id").to_pylist(), grouped.column("data_type").to_pylist(), strict=True
        ):
            key = (kind, data_type, tower)
            pair = cache.get(key)
            if pair is None:  # once per tower and type for the life of the registry
                pair = cache[key] = tuple(
                    _series(
                        registry,
                        "cdr.data.bytes",
                        "By",
                        "sum",
                        (("cdr.data_type", data_type), ("cdr.direction", direction), ("cdr.tower_id", tower)),
                    )
                    for direction in ("up", "down")
                )
            series += pair
        # Points up, down per group, as columns: interleave the two sums.
        values = np.empty(2 * grouped.num_rows, dtype=np.int64)
        values[0::2] = grouped.column("up_bytes_sum").to_numpy()
        values[1::2] = grouped.column("down_bytes_sum").to_numpy()
        report.metric_chunk = pa.Table.from_arrays(
            [
                pa.array(series, pa.int32()),
                pa.array(np.full(len(values), end, dtype=np.int64)),
                pa.array(np.zeros(len(values))),
                pa.array(values),
                pa.array(np.ones(len(values), dtype=np.bool_)),
            ],
            schema=POINT_SCHEMA,
        )
        return
    # Bucket index per call (value <= bound), then counts per (tower, call type, bucket) by bincount:
    # no Python per call, one step per histogram.
    durations = table.column("call_duration_sec").to_numpy(zero_copy_only=False).astype(np.int64)
    buckets = np.searchsorted(np.array(CALL_DURATION_BOUNDS), durations, side="left")
    call_types = table.column("call_type").combine_chunks()
    towers = table.column("tower_id").to_numpy(zero_copy_only=False).astype(np.int64)
    type_index = call_types.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    width = len(CALL_DURATION_BOUNDS) + 1
    groups, group_of = np.unique(towers * len(call_types.dictionary) + type_index, return_inverse=True)
    counts = np.bincount(group_of * width + buckets, minlength=len(groups) * width).reshape(-1, width)
    totals = np.bincount(group_of, weights=durations, minlength=len(groups))
    names = call_types.dictionary.to_pylist()
    tower_of, type_of = np.divmod(groups, len(names))
    cache = _series_cache(registry)
    for tower, type_at, row, total in zip(
        tower_of.tolist(), type_of.tolist(), counts.tolist(), totals.tolist(), strict=True
    ):
        key = (kind, names[type_at], tower)
        found = cache.get(key)
        if found is None:
            found = cache[key] = (
                _series(
                    registry,
                    "cdr.voice.call_duration",
                    "s",
                    "histogram",
                    (("cdr.call_type", names[type_at]), ("cdr.tower_id", tower)),
                    bounds=CALL_DURATION_BOUNDS,
                ),
            )
        report.histograms.append(HistogramPoint(found[0], end, start, sum(row), float(total), tuple(row)))


_last_cache: tuple[SeriesRegistry, dict[tuple[str, str, int], tuple[int, ...]]] | None = None


def _series_cache(registry: SeriesRegistry) -> dict[tuple[str, str, int], tuple[int, ...]]:
    """Series ids of the aggregates by (kind, type, tower), for the registry last used (one per process in
    the receiver and the CLI): interning a MetricSeries per group would cost more than the records."""
    global _last_cache
    if _last_cache is None or _last_cache[0] is not registry:
        _last_cache = (registry, {})
    return _last_cache[1]


def _series(
    registry: SeriesRegistry,
    name: str,
    unit: str,
    kind: Any,
    attrs: tuple[tuple[str, AttrValue], ...],
    bounds: tuple[float, ...] = (),
) -> int:
    series_id = registry.intern(
        MetricSeries(name, unit, kind, kind == "sum", attrs, temporality="delta", bounds=bounds)
    )
    if series_id is None:
        raise RuntimeError("metric series limit reached")  # aggregates are few; this is a misconfiguration
    return series_id
