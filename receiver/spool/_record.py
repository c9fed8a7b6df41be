"""One spool record: a sealed batch on disk, self-contained and checksummed.

    magic "RSP1" | payload length (u32) | crc32 of payload (u32) | payload
    payload = header length (u32) | header JSON | metrics length (u32) | metrics Arrow IPC | logs Arrow IPC

Series ids are process-local, so the header carries the descriptors of the series the batch uses;
a replay re-interns them (``decode_record`` returns the batch with ids valid in this process)."""

import struct
import zlib

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ..batch import SealedBatch
from ..signals import Attributes, MetricSeries, SeriesRegistry

MAGIC = b"RSP1"
FRAME = struct.Struct("<4sII")
_U32 = struct.Struct("<I")


class CorruptRecord(Exception):
    pass


def encode_record(batch: SealedBatch, registry: SeriesRegistry) -> bytes:
    series_ids = pc.unique(batch.metrics.column("series")).to_pylist() if batch.metrics.num_rows else []
    series = []
    for sid in series_ids:
        s = registry[sid]
        series.append(
            [sid, s.name, s.unit, s.kind, s.monotonic, [list(a) for a in s.attributes], s.description]
        )
    header = orjson.dumps(
        {"seq": batch.seq, "resources": [[list(kv) for kv in r] for r in batch.resources], "series": series}
    )
    metrics = _ipc(batch.metrics)
    payload = b"".join((_U32.pack(len(header)), header, _U32.pack(len(metrics)), metrics, _ipc(batch.logs)))
    return FRAME.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


def decode_payload(
    payload: bytes, registry: SeriesRegistry
) -> tuple[int, list[Attributes], pa.Table, pa.Table]:
    """(seq, resources, metrics, logs) with series ids re-interned in ``registry``."""
    try:
        (header_len,) = _U32.unpack_from(payload, 0)
        header = orjson.loads(payload[4 : 4 + header_len])
        at = 4 + header_len
        (metrics_len,) = _U32.unpack_from(payload, at)
        metrics = _table(payload[at + 4 : at + 4 + metrics_len])
        logs = _table(payload[at + 4 + metrics_len :])
    except (struct.error, orjson.JSONDecodeError, pa.ArrowInvalid) as exc:
        raise CorruptRecord(f"unreadable record: {exc}") from exc
    if header["series"]:
        old_ids = [entry[0] for entry in header["series"]]
        lookup = np.zeros(max(old_ids) + 1, dtype=np.int32)
        for old, name, unit, kind, monotonic, attrs, description in header["series"]:
            new = registry.intern(
                MetricSeries(name, unit, kind, monotonic, tuple(tuple(a) for a in attrs), description)
            )
            lookup[old] = -1 if new is None else new
        remapped = lookup[metrics.column("series").to_numpy()]
        metrics = metrics.set_column(metrics.schema.get_field_index("series"), "series", pa.array(remapped))
    resources: list[Attributes] = [tuple((str(k), v) for k, v in r) for r in header["resources"]]
    return int(header["seq"]), resources, metrics, logs


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())


def _table(data: bytes) -> pa.Table:
    with pa.ipc.open_stream(pa.py_buffer(data)) as reader:
        return reader.read_all()
