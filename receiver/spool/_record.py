"""One spool record: a sealed batch on disk, self-contained and checksummed.

    magic "RSP1" | payload length (u32) | crc32 of payload (u32) | payload
    payload = header length (u32) | header JSON | metrics length (u32) | metrics Arrow IPC | logs Arrow IPC

Series ids are process-local, so the header carries the descriptors of the series the batch uses;
a replay re-interns them (``decode_record`` returns the batch with ids valid in this process)."""

import asyncio
import struct
import zlib
from dataclasses import dataclass

import numpy as np
import orjson
import pyarrow as pa

from ..batch import SealedBatch, histogram_points
from ..signals import Attributes, HistogramPoint, MetricSeries, SeriesRegistry

MAGIC = b"RSP1"
FRAME = struct.Struct("<4sII")
_U32 = struct.Struct("<I")
_JOINED_KEPT = 64
_MAX_RESOURCES = 100_000


class CorruptRecord(Exception):
    pass


class RecordEncoder:
    """Encodes records; keeps each series' JSON descriptor (the ids are stable for the process), so a
    batch of a thousand series costs a join, not a thousand dumps."""

    def __init__(self, registry: SeriesRegistry) -> None:
        self._registry = registry
        self._descriptors: dict[int, bytes] = {}
        self._joined: dict[bytes, bytes] = {}
        self._resources: dict[Attributes, bytes] = {}  # the same devices recur in every batch

    def _descriptor(self, sid: int) -> bytes:
        found = self._descriptors.get(sid)
        if found is None:
            s = self._registry[sid]
            attrs = [list(a) for a in s.attributes]
            found = orjson.dumps(
                [
                    sid,
                    s.name,
                    s.unit,
                    s.kind,
                    s.monotonic,
                    attrs,
                    s.description,
                    s.temporality,
                    list(s.bounds),
                ]
            )
            self._descriptors[sid] = found
        return found

    def _series_json(self, ids: np.ndarray) -> bytes:
        """The descriptors of ``ids`` (sorted), joined. Batches of devices of one model use the same
        series, so the join is kept for the last few id sets."""
        key = ids.tobytes()
        found = self._joined.get(key)
        if found is None:
            if len(self._joined) >= _JOINED_KEPT:
                self._joined.clear()
            found = self._joined[key] = b",".join(self._descriptor(sid) for sid in ids.tolist())
        return found

    def _resource(self, resource: Attributes) -> bytes:
        found = self._resources.get(resource)
        if found is None:
            if len(self._resources) >= _MAX_RESOURCES:
                self._resources.clear()
            found = self._resources[resource] = orjson.dumps([list(kv) for kv in resource])
        return found

    def encode(self, batch: SealedBatch) -> bytes:
        ids = np.unique(batch.metrics.column("series").to_numpy())
        points = histogram_points(batch)  # a histogram chunk is written as points: few, same format
        if points:
            ids = np.union1d(ids, np.array([point.series for _, point in points], dtype=ids.dtype))
        histograms = [
            [rid, p.series, p.time_ns, p.start_ns, p.count, p.sum, list(p.bucket_counts)] for rid, p in points
        ]
        rest = orjson.dumps({"seq": batch.seq, "histograms": histograms})
        header = b"".join(
            (
                b'{"series":[',
                self._series_json(ids),
                b'],"resources":[',
                b",".join(self._resource(r) for r in batch.resources),
                b"],",
                rest[1:],
            )
        )
        metrics = _ipc(batch.metrics)
        payload = b"".join(
            (_U32.pack(len(header)), header, _U32.pack(len(metrics)), metrics, _ipc(batch.logs))
        )
        return FRAME.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


def encode_record(batch: SealedBatch, registry: SeriesRegistry) -> bytes:
    return RecordEncoder(registry).encode(batch)


@dataclass(slots=True)
class DecodedRecord:
    seq: int
    resources: list[Attributes]
    metrics: pa.Table
    logs: pa.Table
    histograms: list[tuple[int, HistogramPoint]]

    def sealed(self, done: "asyncio.Future[None]") -> SealedBatch:
        """The record as a batch to export again, settled by ``done``."""
        return SealedBatch(
            seq=self.seq,
            resources=self.resources,
            metrics=self.metrics,
            logs=self.logs,
            done=done,
            histograms=self.histograms,
        )


def decode_payload(payload: bytes, registry: SeriesRegistry) -> DecodedRecord:
    """The batch of a record, with series ids re-interned in ``registry`` (this process's ids)."""
    try:
        (header_len,) = _U32.unpack_from(payload, 0)
        header = orjson.loads(payload[4 : 4 + header_len])
        at = 4 + header_len
        (metrics_len,) = _U32.unpack_from(payload, at)
        metrics = _table(payload[at + 4 : at + 4 + metrics_len])
        logs = _table(payload[at + 4 + metrics_len :])
    except (struct.error, orjson.JSONDecodeError, pa.ArrowInvalid) as exc:
        raise CorruptRecord(f"unreadable record: {exc}") from exc
    new_ids: dict[int, int] = {}
    for old, name, unit, kind, monotonic, attrs, description, temporality, bounds in header["series"]:
        series = MetricSeries(
            name,
            unit,
            kind,
            monotonic,
            tuple(tuple(a) for a in attrs),
            description,
            temporality,
            tuple(bounds),
        )
        new = registry.intern(series)
        new_ids[old] = -1 if new is None else new
    if metrics.num_rows:
        lookup = np.full(max(new_ids, default=0) + 1, -1, dtype=np.int32)
        for old, new in new_ids.items():
            lookup[old] = new
        remapped = lookup[metrics.column("series").to_numpy()]
        metrics = metrics.set_column(metrics.schema.get_field_index("series"), "series", pa.array(remapped))
    histograms = [
        (rid, HistogramPoint(new_ids[sid], time_ns, start_ns, count, total, tuple(buckets)))
        for rid, sid, time_ns, start_ns, count, total, buckets in header.get("histograms", [])
    ]
    resources: list[Attributes] = [tuple((str(k), v) for k, v in r) for r in header["resources"]]
    return DecodedRecord(int(header["seq"]), resources, metrics, logs, histograms)


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())


def _table(data: bytes) -> pa.Table:
    with pa.ipc.open_stream(pa.py_buffer(data)) as reader:
        return reader.read_all()
