"""Sealed batch -> OTLP ``ExportLogsServiceRequest`` bytes, hand-encoded: the logs counterpart of
``_otlp_fast`` (read that module first).

Why: ``encode_logs`` builds a protobuf object per record and per attribute (~25 µs for a CDR record
with six attributes), which caps CDR ingest near 30 k records/s. Here the cost per record is a few
Arrow kernels over columns, no Python per record, for the records of log chunks (``attributes.<key>``
columns); records from ``LogEntry`` objects (``attributes_json``) still cost one small Python step
each for their attributes, the rest of them is columnar too.

How: each LogRecord is one element-wise concatenation (Arrow ``binary_join_element_wise``) of parts,
all in the order ``encode_logs`` writes them, so the parsed messages are equal:

- its tag and length (numpy varints), then ``time_unix_nano`` and ``observed_time_unix_nano`` (fixed64)
  and ``severity_number`` (a varint), written for all records at once through a numpy structured array;
- ``severity_text`` and ``body`` (an AnyValue string): a field prefix per value length, taken from a
  table of the lengths present (the prefix of a length-delimited field depends on the length only),
  then the value's bytes;
- per attribute column, its KeyValue: for strings, the prefix per value length (tag, lengths, key)
  and the value; for ints, the prefix per varint width and the varint; doubles and bools likewise. A
  null value writes nothing: that record lacks the key.
- for ``LogEntry`` records, their attributes from the JSON, encoded as ``encode_logs`` would.

Protobuf accepts fields in any order, so the bytes a ResourceLogs adds around its records (Resource,
ScopeLogs header) are written before its first record. Records are grouped by resource in order of
first appearance, each group in arrival order, as ``encode_logs`` does; resources are packed
greedily into requests of at most ``max_bytes`` (exact sizes), and a resource too large for one
request is cut by records into parts that repeat the Resource and scope. Only a record too large to
fit alone makes a request exceed the limit."""

import itertools
import threading
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ..batch import SealedBatch
from ..signals import LOG_ATTRIBUTE_PREFIX, AttrValue
from ._otlp_fast import (
    _MAX_LEN_VARINT,
    SCOPE_FIELD,
    ResourceFields,
    _binary_array,
    _data_of,
    _field,
    _greedy_cuts,
    _key_values,
    _offsets,
    _spread,
    _tagged_varints,
    _varint,
    _varint_lengths,
)

I64 = npt.NDArray[np.int64]
_RESOURCE_LOGS_TAG = 0x0A  # ExportLogsServiceRequest.resource_logs = 1
_SCOPE_LOGS_TAG = 0x12  # ResourceLogs.scope_logs = 2
_LOG_RECORD_TAG = 0x12  # ScopeLogs.log_records = 2
_SEVERITY_TEXT_TAG = 0x1A  # LogRecord.severity_text = 3
_BODY_TAG = 0x2A  # LogRecord.body = 5
_ATTRIBUTE_TAG = 0x32  # LogRecord.attributes = 6
_HEAD_DTYPE = np.dtype(
    [
        ("time_tag", "u1"),  # time_unix_nano = 1, fixed64
        ("time", "<u8"),
        ("observed_tag", "u1"),  # observed_time_unix_nano = 11, fixed64
        ("observed", "<u8"),
        ("severity_tag", "u1"),  # severity_number = 2, varint (0..127 here; wider ones separately)
        ("severity", "u1"),
    ]
)
_EMPTY = pa.scalar(b"", pa.large_binary())
_JOIN = pc.JoinOptions(null_handling="replace", null_replacement="")
_Part: TypeAlias = pa.Array | pa.Scalar


def _varints(values: npt.NDArray[np.uint64]) -> tuple[pa.LargeBinaryArray, I64]:
    """Each value as a varint (1 to 10 bytes), and each one's width."""
    widths = _varint_lengths(values.view(np.int64))
    columns = int(widths.max()) if len(widths) else 0
    table = np.empty((len(values), columns), dtype=np.uint8)
    for k in range(columns):  # 7 bits per byte, low first; the high bit says another byte follows
        low = ((values >> np.uint64(7 * k)) & np.uint64(0x7F)).astype(np.uint8)
        table[:, k] = low | ((widths > k + 1).astype(np.uint8) << 7)
    if len(widths) and int(widths.min()) == columns:
        data = table.reshape(-1)
    else:
        data = table[np.arange(columns) < widths[:, None]]
    return _binary_array(_offsets(widths), data), widths


def _by_length(lengths: I64, prefix: "_PrefixFn") -> tuple[_Part, I64]:
    """Per value, ``prefix(length)`` from a table built once per distinct length (values of a column
    have few distinct lengths), and the prefix sizes. One scalar when all lengths are equal (numbers
    of one format, constant columns): the join copies it without a gathered column."""
    if len(lengths) and int(lengths.min()) == int(lengths.max()):
        only = prefix(int(lengths[0]))
        return pa.scalar(only, pa.large_binary()), np.full(len(lengths), len(only), dtype=np.int64)
    if len(lengths) and int(lengths.max()) < 1 << 16:  # O(n): a slot per possible length
        present = np.zeros(int(lengths.max()) + 1, dtype=np.bool_)
        present[lengths] = True
        distinct = np.flatnonzero(present)
        slot = np.cumsum(present) - 1
        at = slot[lengths]
    else:
        distinct, at = np.unique(lengths, return_inverse=True)
    encoded = [prefix(int(length)) for length in distinct.tolist()]
    sizes = np.array([len(item) for item in encoded], dtype=np.int64)
    return pa.array(encoded, pa.large_binary()).take(pa.array(at)), sizes[at]


class _PrefixFn:
    """The bytes before a length-delimited value of a given length: fixed head, then nested lengths."""

    __slots__ = ("_head", "_inner_tag", "_outer_tag", "_value_tag")

    def __init__(self, outer_tag: int, head: bytes, inner_tag: int | None, value_tag: int) -> None:
        self._outer_tag, self._head, self._inner_tag, self._value_tag = outer_tag, head, inner_tag, value_tag

    def __call__(self, length: int) -> bytes:
        value = bytes((self._value_tag,)) + _varint(length)
        if self._inner_tag is None:  # e.g. severity_text: tag, length, text
            return value
        inner = bytes((self._inner_tag,)) + _varint(len(value) + length) + value
        size = len(self._head) + len(inner) + length
        return bytes((self._outer_tag,)) + _varint(size) + self._head + inner


def _string_parts(values: pa.Array, prefix: _PrefixFn) -> tuple[list[_Part], I64]:
    """A length-delimited string (or bytes) field per row; nothing where the value is null."""
    values = values.cast(pa.large_binary())
    _, offsets = _data_of(values)
    lengths = np.diff(offsets)
    prefixes, sizes = _by_length(lengths, prefix)
    total = sizes + lengths
    if values.null_count:
        prefixes = pc.if_else(values.is_valid(), prefixes, pa.scalar(None, pa.large_binary()))
        total = np.where(values.is_valid().to_numpy(zero_copy_only=False), total, 0)
    return [prefixes, values], total


def _attribute_parts(key: str, values: pa.Array) -> tuple[list[_Part], I64]:
    """The KeyValue field (LogRecord.attributes) of one attribute column, per row."""
    key_field = _field(0x0A, key.encode())
    kind = values.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind):
        return _string_parts(values, _PrefixFn(_ATTRIBUTE_TAG, key_field, 0x12, 0x0A))
    valid = values.is_valid().to_numpy(zero_copy_only=False) if values.null_count else None
    if pa.types.is_boolean(kind):
        options = [_field(_ATTRIBUTE_TAG, key_field + _field(0x12, bytes((0x10, bit)))) for bit in (0, 1)]
        parts: list[_Part] = [pa.array(options, pa.large_binary()).take(pc.cast(values, pa.int8()))]
        total = np.full(len(values), len(options[0]), dtype=np.int64)  # both the same size
    elif pa.types.is_floating(kind):
        head = _field(_ATTRIBUTE_TAG, key_field + _field(0x12, b"\x21" + bytes(8)))[:-8]
        bits = values.cast(pa.float64()).fill_null(0.0).to_numpy(zero_copy_only=False).view(np.uint8)
        parts = [pa.scalar(head, pa.large_binary()), _binary_array(np.arange(len(values) + 1) * 8, bits)]
        total = np.full(len(values), len(head) + 8, dtype=np.int64)
    elif pa.types.is_integer(kind):
        numbers = values.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False).view(np.uint64)
        varints, widths = _varints(numbers)  # negatives: 10-byte two's complement, as protobuf
        heads = [
            _field(_ATTRIBUTE_TAG, key_field + _field(0x12, b"\x18" + bytes(width)))[:-width]
            for width in range(1, 11)
        ]
        parts = [pa.array(heads, pa.large_binary()).take(pa.array(widths - 1)), varints]
        total = np.array([len(head) for head in heads], dtype=np.int64)[widths - 1] + widths
    else:
        raise ValueError(f"log attribute {key!r}: unsupported column type {kind}")
    if valid is not None:
        parts = [pc.if_else(values.is_valid(), part, pa.scalar(None, pa.large_binary())) for part in parts]
        total = np.where(valid, total, 0)
    return parts, total


def _fixed_width(part: _Part) -> int | None:
    """The width of a part when it is the same in every row (a scalar, a column of one length and no
    nulls), else None."""
    if isinstance(part, pa.Scalar):
        return len(part.as_py()) if part.is_valid else None
    if part.null_count:
        return None
    _, offsets = _data_of(part)
    lengths = np.diff(offsets)
    return int(lengths[0]) if len(lengths) and int(lengths.min()) == int(lengths.max()) else None


def _fused(parts: list[_Part], rows: int) -> list[_Part]:
    """``parts`` with each run of fixed-width ones (timestamps, constant severity and body, numbers of
    one format, their prefixes) copied into one column by numpy: the join costs per input and row,
    a strided numpy copy far less. The joined bytes are the same."""
    fused: list[_Part] = []
    run: list[tuple[_Part, int]] = []

    def close_run() -> None:
        if len(run) == 1:
            fused.append(run[0][0])
        elif run:
            # One structured row per record, a field per part: numpy copies whole fields (memcpy of
            # w bytes), three times faster than slicing a 2-D byte array.
            present = [(part, w) for part, w in run if w]
            layout = np.dtype([(f"p{i}", f"V{w}") for i, (_, w) in enumerate(present)])
            block = np.empty(rows, dtype=layout)
            for i, (part, w) in enumerate(present):
                if isinstance(part, pa.Scalar):
                    block[f"p{i}"] = np.frombuffer(part.as_py(), dtype=f"V{w}")[0]
                else:
                    data, offsets = _data_of(part)
                    block[f"p{i}"] = np.frombuffer(data, dtype=np.uint8)[offsets[0] : offsets[-1]].view(
                        f"V{w}"
                    )
            offsets = np.arange(rows + 1, dtype=np.int64) * layout.itemsize
            fused.append(_binary_array(offsets, block.view(np.uint8)))
        run.clear()

    for part in parts:
        width = _fixed_width(part)
        if width is None:
            close_run()
            fused.append(part)
        else:
            run.append((part, width))
    close_run()
    return fused


def _json_parts(column: pa.Array) -> tuple[list[_Part], I64]:
    """Attributes of LogEntry records (JSON objects), encoded as encode_logs does; none where null
    (records of log chunks). Python runs for the JSON rows only."""
    rows = np.flatnonzero(column.is_valid().to_numpy(zero_copy_only=False))
    encoded = [_entry_attributes(raw) for raw in column.take(pa.array(rows)).cast(pa.binary()).to_pylist()]
    items = pa.array(encoded, pa.large_binary())
    sizes = np.zeros(len(column), dtype=np.int64)
    sizes[rows] = [len(item) for item in encoded]
    return [_spread(items, len(column), rows.astype(np.int64))], sizes


def _entry_attributes(raw: bytes) -> bytes:
    attributes: dict[str, AttrValue] = orjson.loads(raw)
    return _key_values(_ATTRIBUTE_TAG, tuple(attributes.items()))


def _resource_order(resource: I64) -> I64 | None:
    """encode_logs's record order: resources by first appearance, records in arrival order; None
    when the rows already are in that order."""
    if len(resource) == 0 or bool(np.all(resource[1:] == resource[:-1])):
        return None
    distinct, first = np.unique(resource, return_index=True)
    rank = np.empty(int(distinct.max()) + 1, dtype=np.int64)
    rank[distinct] = np.argsort(np.argsort(first))
    ranked = rank[resource]
    if bool(np.all(ranked[1:] >= ranked[:-1])):
        return None
    return np.argsort(ranked, kind="stable").astype(np.int64)


class FastLogsEncoder:
    """Encodes the log records of sealed batches. Keeps each resource's encoded Resource field (the
    same sources report batch after batch); safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._resource_field = ResourceFields()

    def encode(self, batch: SealedBatch, max_bytes: int) -> list[bytes]:
        """The batch's log records as serialized requests of at most ``max_bytes`` each (unless one
        record alone is larger)."""
        table = batch.logs
        if table.num_rows == 0:
            return []
        resource = table.column("resource").to_numpy().astype(np.int64)
        order = _resource_order(resource)
        if order is not None:
            table, resource = table.take(pa.array(order)), resource[order]
        parts, sizes = self._record_parts(table)
        parts = _fused(parts, table.num_rows)
        record_sizes = 1 + _varint_lengths(sizes) + sizes
        record_ends = _offsets(record_sizes)

        # Parts of ResourceLogs: a resource's records, cut where one request could not hold them.
        with self._lock:
            fields = [self._resource_field(attributes) for attributes in batch.resources]
        changes = np.flatnonzero(resource[1:] != resource[:-1]) + 1
        bounds = [0]
        owners: list[int] = []
        for start, stop in itertools.pairwise([0, *changes.tolist(), len(resource)]):
            rid = int(resource[start])
            budget = max_bytes - (2 + 2 * _MAX_LEN_VARINT + len(fields[rid]) + len(SCOPE_FIELD))
            whole = int(record_ends[stop] - record_ends[start])
            cuts = [start, stop] if whole <= budget else _greedy_cuts(record_ends, start, stop, budget)
            bounds += cuts[1:]
            owners += [rid] * (len(cuts) - 1)
        part_bounds = np.array(bounds, dtype=np.int64)
        scope_sizes = len(SCOPE_FIELD) + record_ends[part_bounds[1:]] - record_ends[part_bounds[:-1]]
        field_sizes = np.array([len(fields[rid]) for rid in owners], dtype=np.int64)
        rl_sizes = field_sizes + 1 + _varint_lengths(scope_sizes) + scope_sizes
        rl_encoded = 1 + _varint_lengths(rl_sizes) + rl_sizes
        rl_ends = _offsets(rl_encoded)
        requests = _greedy_cuts(rl_ends, 0, len(rl_encoded), max_bytes)

        count = len(owners)
        prefixes = pc.binary_join_element_wise(
            _tagged_varints(np.full(count, _RESOURCE_LOGS_TAG, np.uint8), rl_sizes),
            pa.array(fields, pa.large_binary()).take(pa.array(owners, pa.int64())),
            _tagged_varints(np.full(count, _SCOPE_LOGS_TAG, np.uint8), scope_sizes),
            pa.scalar(SCOPE_FIELD, pa.large_binary()),
            _EMPTY,
        )
        rows = table.num_rows
        records = pc.binary_join_element_wise(
            _spread(prefixes, rows, part_bounds[:-1]),
            _tagged_varints(np.full(rows, _LOG_RECORD_TAG, np.uint8), sizes),
            *parts,
            _EMPTY,
            options=_JOIN,
        )
        data, ends = _data_of(records)
        if int(ends[-1] - ends[0]) != int(rl_ends[-1]):
            raise AssertionError("encoded size differs from the plan")  # a bug here, not bad input
        view = memoryview(data)
        starts = ends[part_bounds[requests]]
        return [bytes(view[a:b]) for a, b in itertools.pairwise(starts.tolist())]

    def _record_parts(self, table: pa.Table) -> tuple[list[_Part], I64]:
        """The LogRecord content of every row as parts to join, and each record's size."""
        rows = table.num_rows
        parts: list[_Part] = []
        severity = table.column("severity_number").to_numpy().astype(np.int64)
        narrow = bool(((severity >= 0) & (severity <= 0x7F)).all())
        heads = np.empty(rows, dtype=_HEAD_DTYPE)
        heads["time_tag"] = 0x09
        heads["time"] = table.column("time_ns").to_numpy().view(np.uint64)
        heads["observed_tag"] = 0x59
        heads["observed"] = table.column("observed_ns").to_numpy().view(np.uint64)
        heads["severity_tag"] = 0x10
        heads["severity"] = severity.astype(np.uint8) if narrow else 0
        width = _HEAD_DTYPE.itemsize if narrow else _HEAD_DTYPE.itemsize - 2
        view = heads.view(np.uint8).reshape(rows, _HEAD_DTYPE.itemsize)[:, :width]
        parts.append(_binary_array(np.arange(rows + 1, dtype=np.int64) * width, view.reshape(-1)))
        sizes = np.full(rows, width, dtype=np.int64)
        if not narrow:  # enum values outside 0..127 (negative ones as 10 bytes, as protobuf)
            varints, widths = _varints(severity.view(np.uint64))
            parts += [pa.scalar(b"\x10", pa.large_binary()), varints]
            sizes += 1 + widths
        for column, prefix in (
            ("severity_text", _PrefixFn(0, b"", None, _SEVERITY_TEXT_TAG)),
            ("body", _PrefixFn(_BODY_TAG, b"", None, 0x0A)),
        ):
            more, more_sizes = _string_parts(table.column(column).combine_chunks(), prefix)
            if column == "body":  # always present, even empty: AnyValue{string_value} in a field
                lengths = more_sizes
                more = [_tagged_varints(np.full(rows, _BODY_TAG, np.uint8), lengths), *more]
                more_sizes = 1 + _varint_lengths(lengths) + lengths
            else:  # proto3 leaves an empty severity_text out
                empty = more_sizes == len(prefix(0))
                if empty.any():
                    more = [pc.if_else(pa.array(~empty), part, _EMPTY) for part in more]
                    more_sizes = np.where(empty, 0, more_sizes)
            parts += more
            sizes += more_sizes
        if "attributes_json" in table.column_names:
            column = table.column("attributes_json").combine_chunks()
            if column.null_count < rows:
                more, more_sizes = _json_parts(column)
                parts += more
                sizes += more_sizes
        for name in table.column_names:
            if name.startswith(LOG_ATTRIBUTE_PREFIX):
                column = table.column(name).combine_chunks()
                if column.null_count == rows:
                    continue
                more, more_sizes = _attribute_parts(name[len(LOG_ATTRIBUTE_PREFIX) :], column)
                parts += more
                sizes += more_sizes
        return parts, sizes


_shared = FastLogsEncoder()


def encode_logs_fast(batch: SealedBatch, max_bytes: int) -> list[bytes]:
    """Drop-in for ``encode_logs``."""
    return _shared.encode(batch, max_bytes)
