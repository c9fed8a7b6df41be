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
from ..signals import AttrValue, HistogramPoint, LogEntry, MappedReport, MetricSeries, SeriesRegistry
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
    body = f"cdr.{batch.kind}"
    names = [name for name in table.column_names if name != "time_ns"]
    columns = {name: table.column(name).to_pylist() for name in names}
    times = table.column("time_ns").to_pylist()
    lines = batch.line_numbers.to_pylist()
    keys = [f"cdr.{name}" for name in names]
    for row, time_ns in enumerate(times):
        attributes: dict[str, AttrValue] = {
            key: columns[name][row] for key, name in zip(keys, names, strict=True)
        }
        attributes["cdr.record_id"] = f"{source_digest}:{lines[row]}"
        report.logs.append(
            LogEntry(time_ns=time_ns, observed_ns=received_ns, body=body, attributes=attributes)
        )
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
        for row in grouped.to_pylist():
            for direction in ("up", "down"):
                attrs = (
                    ("cdr.data_type", row["data_type"]),
                    ("cdr.direction", direction),
                    ("cdr.tower_id", row["tower_id"]),
                )
                report.metrics.append(
                    _series(registry, "cdr.data.bytes", "By", "sum", attrs),
                    end,
                    row[f"{direction}_bytes_sum"],
                )
        return
    # Bucket index per call (value <= bound), then counts per (tower, call type, bucket): no Python per call.
    durations = table.column("call_duration_sec").to_numpy(zero_copy_only=False)
    buckets = np.searchsorted(np.array(CALL_DURATION_BOUNDS), durations, side="left")
    keyed = pa.table(
        {
            "tower_id": table.column("tower_id"),
            "call_type": table.column("call_type"),
            "bucket": pa.array(buckets),
            "duration": table.column("call_duration_sec"),
        }
    )
    per_bucket = keyed.group_by(["tower_id", "call_type", "bucket"]).aggregate(
        [("duration", "count"), ("duration", "sum")]
    )
    histograms: dict[tuple[Any, Any], tuple[list[int], list[float]]] = {}
    for row in per_bucket.to_pylist():
        counts, total = histograms.setdefault(
            (row["tower_id"], row["call_type"]), ([0] * (len(CALL_DURATION_BOUNDS) + 1), [0.0])
        )
        counts[row["bucket"]] += row["duration_count"]
        total[0] += row["duration_sum"]
    for (tower, call_type), (counts, total) in histograms.items():
        sid = _series(
            registry,
            "cdr.voice.call_duration",
            "s",
            "histogram",
            (("cdr.call_type", call_type), ("cdr.tower_id", tower)),
            bounds=CALL_DURATION_BOUNDS,
        )
        report.histograms.append(HistogramPoint(sid, end, start, sum(counts), float(total[0]), tuple(counts)))


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
