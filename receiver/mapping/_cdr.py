"""CDR records -> one log record each (time = event time) plus per-upload aggregates: bytes up/down
as delta Sums by tower, direction and data type; call duration as a delta Histogram by tower and call
type; record counts. Phone numbers and IP addresses are pseudonymised first when a key is set.

Each record carries ``cdr.record_id`` (source digest + line), so the rare duplicate a crash between
the collector's acknowledgement and the CLI's checkpoint can cause is recognisable downstream."""

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from ..decode._cdr import CdrBatch
from ..signals import (
    HISTOGRAM_SCHEMA,
    POINT_SCHEMA,
    AttrValue,
    MappedReport,
    MetricSeries,
    SeriesRegistry,
    log_chunk,
)
from ._pseudonymise import pseudonymise_encoded

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
    table = batch.table if pseudonym_key is None else pseudonymise_cdr(batch, pseudonym_key).table
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


def pseudonymise_cdr(batch: CdrBatch, key: bytes) -> CdrBatch:
    """``batch`` with its phone numbers and IP addresses pseudonymised, as dictionary columns: done once
    for a whole file before it is cut into chunks, each distinct value is hashed once per file, not
    once per chunk it appears in."""
    table = batch.table
    for column in _PRIVATE_COLUMNS:
        if column in table.column_names:
            at = table.schema.get_field_index(column)
            table = table.set_column(at, column, pseudonymise_encoded(table.column(column), key))
    return CdrBatch(kind=batch.kind, table=table, line_numbers=batch.line_numbers, errors=batch.errors)


def _aggregates(report: MappedReport, table: pa.Table, kind: str, registry: SeriesRegistry) -> None:
    start, end = pc.min(table.column("time_ns")).as_py(), pc.max(table.column("time_ns")).as_py()
    records = _series(registry, "cdr.records", "{record}", "sum", (("cdr.type", kind),))
    report.metrics.append(records, end, table.num_rows)
    index = _series_index(registry)
    if kind == "data":
        grouped = table.group_by(["tower_id", "data_type"]).aggregate(
            [("up_bytes", "sum"), ("down_bytes", "sum")]
        )
        data_types = _dictionary(grouped.column("data_type"))
        pairs = index.ids(
            kind,
            data_types.dictionary.to_pylist(),
            data_types.indices.to_numpy(zero_copy_only=False).astype(np.int64),
            grouped.column("tower_id").to_numpy().astype(np.int64),
            lambda data_type, tower: tuple(
                _series(
                    registry,
                    "cdr.data.bytes",
                    "By",
                    "sum",
                    (("cdr.data_type", data_type), ("cdr.direction", direction), ("cdr.tower_id", tower)),
                )
                for direction in ("up", "down")
            ),
        )
        # Points up, down per group, as columns: interleave the two sums.
        values = np.empty(2 * grouped.num_rows, dtype=np.int64)
        values[0::2] = grouped.column("up_bytes_sum").to_numpy()
        values[1::2] = grouped.column("down_bytes_sum").to_numpy()
        report.metric_chunk = pa.Table.from_arrays(
            [
                pa.array(pairs.reshape(-1), pa.int32()),
                pa.array(np.full(len(values), end, dtype=np.int64)),
                pa.array(np.zeros(len(values))),
                pa.array(values),
                pa.array(np.ones(len(values), dtype=np.bool_)),
            ],
            schema=POINT_SCHEMA,
        )
        return
    # Bucket index per call (value <= bound), then counts per (tower, call type, bucket) by bincount:
    # no Python per call, one small step per histogram.
    durations = table.column("call_duration_sec").to_numpy(zero_copy_only=False).astype(np.int64)
    buckets = np.searchsorted(np.array(CALL_DURATION_BOUNDS), durations, side="left")
    call_types = _dictionary(table.column("call_type"))
    names = call_types.dictionary.to_pylist()
    towers = table.column("tower_id").to_numpy(zero_copy_only=False).astype(np.int64)
    type_index = call_types.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    width = len(CALL_DURATION_BOUNDS) + 1
    groups, group_of = np.unique(towers * len(names) + type_index, return_inverse=True)
    counts = np.bincount(group_of * width + buckets, minlength=len(groups) * width).reshape(-1, width)
    totals = np.bincount(group_of, weights=durations, minlength=len(groups))  # < 2**53: exact
    tower_of, type_of = np.divmod(groups, len(names))
    ids = index.ids(
        kind,
        names,
        type_of,
        tower_of,
        lambda call_type, tower: (
            _series(
                registry,
                "cdr.voice.call_duration",
                "s",
                "histogram",
                (("cdr.call_type", call_type), ("cdr.tower_id", tower)),
                bounds=CALL_DURATION_BOUNDS,
            ),
        ),
    )
    points = len(groups)
    report.histogram_chunk = pa.Table.from_arrays(
        [
            pa.array(ids[:, 0], pa.int32()),
            pa.array(np.full(points, end, dtype=np.uint64)),
            pa.array(np.full(points, start, dtype=np.uint64)),
            pa.array(counts.sum(axis=1).astype(np.uint64)),
            pa.array(totals),
            pa.ListArray.from_arrays(
                pa.array(np.arange(points + 1, dtype=np.int32) * width),
                pa.array(counts.reshape(-1).astype(np.uint64)),
            ),
        ],
        schema=HISTOGRAM_SCHEMA,
    )


def _dictionary(values: pa.Array | pa.ChunkedArray) -> pa.DictionaryArray:
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    return values if pa.types.is_dictionary(values.type) else pc.dictionary_encode(values)


class _SeriesIndex:
    """Series ids of the per-tower aggregates by (kind, category, tower) for one registry, as sorted
    keys: the thousands of groups of a chunk are looked up by one ``searchsorted``; only groups never
    seen before are interned (Python, once each for the life of the registry)."""

    def __init__(self, registry: SeriesRegistry) -> None:
        self.registry = registry
        self._codes: dict[tuple[str, str], int] = {}
        self._keys = np.empty(0, dtype=np.int64)
        self._ids = np.empty((0, 2), dtype=np.int64)

    def ids(
        self,
        kind: str,
        categories: list[str],
        category_at: npt.NDArray[np.int64],
        towers: npt.NDArray[np.int64],
        make: Callable[[str, int], tuple[int, ...]],
    ) -> npt.NDArray[np.int64]:
        """One row of (up to two) series ids per group; ``make`` interns the series of a new group."""
        codes = np.array([self._codes.setdefault((kind, c), len(self._codes)) for c in categories], np.int64)
        keys = (codes[category_at] << 32) | towers  # towers are int32 ids
        at = np.minimum(np.searchsorted(self._keys, keys), max(len(self._keys) - 1, 0))
        known = (self._keys[at] == keys) if len(self._keys) else np.zeros(len(keys), dtype=np.bool_)
        if not known.all():
            new_keys = np.unique(keys[~known])
            by_code = {code: category for (_, category), code in self._codes.items()}
            new_ids = np.zeros((len(new_keys), 2), dtype=np.int64)
            for row, key in enumerate(new_keys.tolist()):
                made = make(by_code[key >> 32], key & 0xFFFF_FFFF)
                new_ids[row, : len(made)] = made
            keys_all = np.concatenate([self._keys, new_keys])
            order = np.argsort(keys_all, kind="stable")
            self._keys, self._ids = keys_all[order], np.concatenate([self._ids, new_ids])[order]
            at = np.searchsorted(self._keys, keys)
        width = 2 if kind == "data" else 1
        result: npt.NDArray[np.int64] = self._ids[at, :width]
        return result


_last_index: _SeriesIndex | None = None


def _series_index(registry: SeriesRegistry) -> _SeriesIndex:
    """The index of the registry last used (one per process in the receiver and the CLI)."""
    global _last_index
    if _last_index is None or _last_index.registry is not registry:
        _last_index = _SeriesIndex(registry)
    return _last_index


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
