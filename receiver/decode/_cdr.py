"""CDR files (seed 003): a CSV of data records or of voice records -> an Arrow table of the good rows,
typed, plus the line and reason of every bad row. Pure: no I/O, no clock.

Whole-file errors (``CdrDecodeError``): empty body, not UTF-8, no usable header line (names match
case-insensitively, in any order; a missing, unknown or repeated column refuses the file), more than
``max_errors`` bad rows. A UTF-8 byte-order mark is skipped; LF, CRLF and CR line ends and RFC 4180
quoting are read. Seed 003's generator (``csv.DictWriter``) writes CRLF and ``str(datetime)`` times,
``2024-01-01 00:03:07.098217``.

Line numbers: a row's line is the 1-based physical line it *starts* on (the header is line 1), as an
editor shows it: a quoted value holding a line break pushes the next rows down. Blank lines count as
lines and are skipped silently. ``line_numbers`` gives the line of every good row.

Values: integers are plain ASCII decimals (a leading ``-`` is read so that negatives get their own
reason; ``+``, spaces, hex and decimals are bad rows). ``tower_id`` 1..2^31-1 (int32), ``up_bytes``
and ``down_bytes`` 0..10^12 (more in one record is corrupt, and the bound keeps per-file sums within
int64), ``call_duration_sec`` 0..2^31-1 (int32: seed 003 writes whole seconds, so ``12.5`` is a bad
row, not a reason to widen the type). Times: ISO-8601 with or without a zone (none is UTC),
``YYYY-MM-DD HH:MM:SS[.fffffffff]``, or Unix epoch seconds (milliseconds above 1e11), 1970..2262,
become ``time_ns``. ``msisdn`` must not be blank; ``call_type`` must be voice or video and
``data_type`` any non-blank token, both trimmed, lower-cased and dictionary-encoded. Other strings are
kept verbatim and may be empty.

Speed: ``pyarrow.csv`` reads every column as strings in one pass (rows with the wrong number of fields
come back numbered through ``invalid_row_handler``), then each column is converted by one Arrow cast.
Only when a cast refuses is its column redone in slices of ``_SLICE_ROWS``, and only the refused
slices are examined value by value (regular expressions, casts of the well-formed subset); Python sees
only the rejected values. Either way a value converts to the same result."""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ._errors import DecodeError
from ._timestamps import parse_timestamp_ns

CdrKind = Literal["data", "voice"]
_Mask = npt.NDArray[np.bool_]
_Ints = npt.NDArray[np.int64]
_Strings: TypeAlias = pa.Array | pa.ChunkedArray

_INT32_MAX = 2**31 - 1
_INT64_MAX = 2**63 - 1  # int64 nanoseconds end in 2262
_MALFORMED = np.iinfo(np.int64).min  # outside every range below
_BOM = b"\xef\xbb\xbf"
_BLOCK_BYTES = 4 << 20  # Arrow refuses a row longer than this; CDR rows are ~100 bytes
_SLICE_ROWS = 4096
_SHOWN_CHARS = 40
_BREAK = re.compile(r"\r\n|\r|\n")  # a physical line ends at LF, CRLF or CR
_BREAK_BYTES = re.compile(rb"\r\n|\r|\n")


class CdrDecodeError(DecodeError):
    """The whole file is refused."""


@dataclass(frozen=True, slots=True)
class CdrRowError:
    line: int  # 1-based physical line the row starts on
    reason: str


@dataclass(slots=True)
class CdrBatch:
    kind: CdrKind
    table: pa.Table  # the good rows: cdr_schema(kind)
    line_numbers: pa.Array  # int64, the line each good row starts on
    errors: list[CdrRowError] = field(default_factory=list)


@dataclass(frozen=True)
class _Spec:
    columns: tuple[str, ...]  # seed 003's order
    time: str
    category: str
    categories: tuple[str, ...]  # allowed values; empty: any non-blank token
    integers: dict[str, tuple[int, int, pa.DataType]]  # name -> min, max, type


_SPECS: dict[str, _Spec] = {
    "data": _Spec(
        (
            "msisdn",
            "tower_id",
            "up_bytes",
            "down_bytes",
            "data_type",
            "ip_address",
            "website_url",
            "event_datetime",
        ),
        time="event_datetime",
        category="data_type",
        categories=(),
        integers={
            "tower_id": (1, _INT32_MAX, pa.int32()),
            "up_bytes": (0, 10**12, pa.int64()),
            "down_bytes": (0, 10**12, pa.int64()),
        },
    ),
    "voice": _Spec(
        ("msisdn", "tower_id", "call_type", "dest_nr", "call_duration_sec", "start_time"),
        time="start_time",
        category="call_type",
        categories=("video", "voice"),
        integers={"tower_id": (1, _INT32_MAX, pa.int32()), "call_duration_sec": (0, _INT32_MAX, pa.int32())},
    ),
}


def cdr_schema(kind: CdrKind) -> pa.Schema:
    """The file's columns in seed order, the time column replaced by ``time_ns``."""
    spec = _SPECS[kind]

    def type_of(name: str) -> pa.DataType:
        if name in spec.integers:
            return spec.integers[name][2]
        return pa.dictionary(pa.int32(), pa.string()) if name == spec.category else pa.string()

    return pa.schema(
        [
            pa.field("time_ns", pa.int64(), nullable=False)
            if name == spec.time
            else pa.field(name, type_of(name), nullable=False)
            for name in spec.columns
        ]
    )


def decode_cdr_csv(data: bytes, kind: CdrKind, *, delimiter: str = ",", max_errors: int = 1000) -> CdrBatch:
    """Decode one CDR file; raise ``CdrDecodeError`` only for problems of the whole file."""
    if kind not in _SPECS:
        raise ValueError(f"kind must be 'data' or 'voice', got {kind!r}")
    if len(delimiter) != 1 or delimiter in '\r\n"':
        raise ValueError(f"delimiter must be one character, not a quote or line break: {delimiter!r}")
    spec = _SPECS[kind]
    _check_utf8(data)
    start = len(_BOM) if data.startswith(_BOM) else 0
    if not data[start : start + 4096].strip() and not data[start:].strip():
        raise CdrDecodeError("empty body: expected a header line and records")
    names, body_at = _read_header(data, start, spec, delimiter)
    if body_at >= len(data):
        return CdrBatch(kind, cdr_schema(kind).empty_table(), pa.array([], pa.int64()), [])
    rows = _Rows.read(data, body_at, names, delimiter, max_errors)
    return _Converter(spec, rows).batch(kind, max_errors)


def _check_utf8(data: bytes) -> None:
    if data.isascii():
        return
    whole = pa.Array.from_buffers(  # the body as one binary value, without a copy
        pa.large_binary(), 1, [None, pa.array([0, len(data)], pa.int64()).buffers()[1], pa.py_buffer(data)]
    )
    try:  # Arrow validates at memory speed; Python only to say where
        whole.cast(pa.large_string())
    except pa.ArrowInvalid:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = len(_BREAK_BYTES.findall(data, 0, exc.start)) + 1
            raise CdrDecodeError(f"body is not UTF-8: invalid byte on line {line}") from exc


def _read_header(data: bytes, start: int, spec: _Spec, delimiter: str) -> tuple[list[str], int]:
    end = min((at for at in (data.find(b"\n", start), data.find(b"\r", start)) if at >= 0), default=len(data))
    names = [_unquote(name).lower() for name in data[start:end].decode("utf-8").split(delimiter)]
    expected = f"{'data' if spec is _SPECS['data'] else 'voice'} records have {', '.join(spec.columns)}"
    for name in names:
        if name not in spec.columns:
            raise CdrDecodeError(
                f"header line: unknown column {_show(name)} (a header is required; {expected})"
            )
        if names.count(name) > 1:
            raise CdrDecodeError(f"header line: column {_show(name)} appears twice ({expected})")
    missing = [name for name in spec.columns if name not in names]
    if missing:
        raise CdrDecodeError(f"header line: missing column(s) {', '.join(missing)} ({expected})")
    return names, end + (2 if data[end : end + 2] == b"\r\n" else 1)


def _unquote(name: str) -> str:
    name = name.strip()
    if len(name) >= 2 and name[0] == name[-1] == '"':
        name = name[1:-1].replace('""', '"').strip()
    return name


def _show(value: str) -> str:
    return repr(value if len(value) <= _SHOWN_CHARS else value[:_SHOWN_CHARS] + "...")


@dataclass
class _Rows:
    """The rows with the right number of fields, as strings, and the line each starts on; an error for
    each row with a wrong number of fields."""

    table: pa.Table
    lines: _Ints
    misshapen: list[CdrRowError]
    data: bytes
    body_at: int
    quoted: bool  # the body has a quote character: rows may span lines

    @classmethod
    def read(cls, data: bytes, body_at: int, names: list[str], delimiter: str, max_errors: int) -> "_Rows":
        invalid: list[tuple[int, int, str]] = []  # Arrow's row number in the body, fields, raw text

        def on_invalid(row: pacsv.InvalidRow) -> str:
            invalid.append((row.number, row.actual_columns, row.text))
            return "error" if len(invalid) > max_errors else "skip"  # stop early on a hopeless file

        try:
            table = pacsv.read_csv(
                pa.BufferReader(pa.py_buffer(data).slice(body_at)),
                read_options=pacsv.ReadOptions(
                    use_threads=False, column_names=names, block_size=_BLOCK_BYTES
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=delimiter,
                    newlines_in_values=True,
                    ignore_empty_lines=False,  # a blank line comes back as a row: the numbering stays exact
                    invalid_row_handler=on_invalid,  # numbers rows only when use_threads is off
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(names, pa.string()),
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                    null_values=[],
                    check_utf8=False,  # checked once for the whole body
                ),
            )
        except pa.ArrowInvalid as exc:
            if len(invalid) > max_errors:
                raise CdrDecodeError(_too_many(len(invalid), max_errors)) from exc
            raise CdrDecodeError(f"unreadable CSV: {exc}") from exc
        # Rows are numbered 1.. in the body, misshapen ones included: row n starts on line n + 1, plus
        # the line breaks inside the quoted values of the rows before it.
        total = table.num_rows + len(invalid)
        invalid_numbers = np.array([number for number, _, _ in invalid], dtype=np.int64)
        good_numbers = np.delete(np.arange(1, total + 1, dtype=np.int64), invalid_numbers - 1)
        lines = np.arange(1, total + 2, dtype=np.int64)
        quoted = data.find(b'"', body_at) >= 0
        if quoted:
            breaks = np.zeros(total + 1, dtype=np.int64)
            breaks[good_numbers] = _breaks_in_values(table)
            breaks[invalid_numbers] = [len(_BREAK.findall(text)) for _, _, text in invalid]
            lines += np.cumsum(breaks) - breaks
        misshapen = [
            CdrRowError(int(lines[number]), _misshapen_reason(fields, len(names), text))
            for number, fields, text in invalid
        ]
        return cls(table, lines[good_numbers], misshapen, data, body_at, quoted).without_blank_lines()

    def without_blank_lines(self) -> "_Rows":
        """Arrow gives a blank line as a row of empty strings, and ``,,,,`` too (a bad row): the bytes
        of the line tell them apart. Dropped here, so that no conversion sees them."""
        empty = _bools(pc.equal(pc.binary_length(self.table.column(0)), 0))
        if not empty.any():
            return self
        candidates = np.flatnonzero(empty)
        for column in self.table.columns[1:]:
            candidates = candidates[_bools(pc.equal(pc.binary_length(column.take(pa.array(candidates))), 0))]
        if not len(candidates):
            return self
        keep = np.ones(self.table.num_rows, dtype=np.bool_)
        keep[candidates] = ~self._blank(self.lines[candidates])
        kept = int(keep.sum())
        table = self.table.slice(0, kept) if keep[:kept].all() else self.table.filter(pa.array(keep))
        return _Rows(table, self.lines[keep], self.misshapen, self.data, self.body_at, self.quoted)

    def _blank(self, lines: _Ints) -> _Mask:
        """Which of these physical lines are empty."""
        blank = np.zeros(len(lines), dtype=np.bool_)
        if not self.quoted:  # one row per line: blank lines at the end are read off the tail, no scan
            end = len(self.data)
            while end > self.body_at and self.data[end - 1] in b"\r\n":
                end -= 1
            trailing = len(_BREAK_BYTES.findall(self.data, end)) - (end > self.body_at)
            last_line = self.table.num_rows + len(self.misshapen) + 1
            blank[:] = lines > last_line - trailing
            if blank.all():
                return blank
        octets = np.frombuffer(self.data, dtype=np.uint8)  # a vectorised scan of the whole body
        feeds = octets == ord("\n")
        returns = octets == ord("\r")
        returns[:-1] &= ~feeds[1:]  # the CR of a CRLF is not a break of its own
        breaks = np.flatnonzero(feeds | returns)
        starts = np.concatenate([[0], breaks + 1])[lines - 1]
        lengths = np.append(breaks, len(octets))[lines - 1] - starts
        first = octets[np.minimum(starts, len(octets) - 1)]
        result: _Mask = (lengths == 0) | ((lengths == 1) & (first == ord("\r")))  # CRLF leaves the CR
        return result


def _breaks_in_values(table: pa.Table) -> _Ints:
    counts = np.zeros(table.num_rows, dtype=np.int64)
    for column in table.columns:
        if pc.any(pc.match_substring_regex(column, r"[\r\n]")).as_py():
            counts += pc.count_substring_regex(column, r"\r\n|\r|\n").to_numpy().astype(np.int64)
    return counts


def _misshapen_reason(found: int, expected: int, text: str) -> str:
    hint = " (unbalanced quote?)" if found < expected and text.count('"') % 2 else ""
    return f"expected {expected} fields, found {found}{hint}"


def _too_many(bad: int, max_errors: int) -> str:
    return f"more than {max_errors} bad rows ({bad} found): is this the right kind of file and delimiter?"


@dataclass
class _Problem:
    column: str
    rows: _Mask
    reason: Callable[[int], str]  # row -> reason


class _Converter:
    """Converts the string columns of ``_Rows`` and collects the problems of each row."""

    def __init__(self, spec: _Spec, rows: _Rows) -> None:
        self.spec = spec
        self.rows = rows
        self.problems: list[_Problem] = []

    def batch(self, kind: CdrKind, max_errors: int) -> CdrBatch:
        raw = self.rows.table
        columns: dict[str, _Strings] = {name: raw.column(name) for name in self.spec.columns}
        self._msisdn(raw.column("msisdn"))
        for name, (low, high, out_type) in self.spec.integers.items():
            columns[name] = self._integers(name, raw.column(name), low, high, out_type)
        columns[self.spec.category] = self._category(self.spec.category, raw.column(self.spec.category))
        columns["time_ns"] = self._times(self.spec.time, raw.column(self.spec.time))
        bad = np.zeros(raw.num_rows, dtype=np.bool_)
        for problem in self.problems:
            bad |= problem.rows
        errors = self._errors(bad)
        if len(errors) > max_errors:
            raise CdrDecodeError(_too_many(len(errors), max_errors))
        schema = cdr_schema(kind)
        table = pa.table([columns[name] for name in schema.names], schema=schema)
        lines = self.rows.lines
        if bad.any():
            table, lines = table.filter(pa.array(~bad)), lines[~bad]
        return CdrBatch(kind, table, pa.array(lines, pa.int64()), errors)

    def _errors(self, bad: _Mask) -> list[CdrRowError]:
        problems = sorted(self.problems, key=lambda problem: self.spec.columns.index(problem.column))
        errors = list(self.rows.misshapen)
        for row in np.flatnonzero(bad).tolist():
            reasons = "; ".join(problem.reason(row) for problem in problems if problem.rows[row])
            errors.append(CdrRowError(int(self.rows.lines[row]), reasons))
        errors.sort(key=lambda error: error.line)
        return errors

    def _problem(self, column: str, rows: _Mask, reason: Callable[[str], str]) -> None:
        raw = self.rows.table.column(column)
        self.problems.append(_Problem(column, rows, lambda row: f"{column}: {reason(raw[row].as_py())}"))

    def _msisdn(self, column: pa.ChunkedArray) -> None:
        blank = pc.or_(pc.equal(pc.binary_length(column), 0), pc.utf8_is_space(column))
        self._problem("msisdn", _bools(blank), lambda value: "empty")

    def _integers(
        self, name: str, column: pa.ChunkedArray, low: int, high: int, out_type: pa.DataType
    ) -> pa.Array:
        values = _by_slices(column, _cast_integers, _integers_one_by_one)
        bad = (values < low) | (values > high)
        self._problem(name, bad, lambda value: _integer_reason(value, low, high))
        if bad.any():
            values = np.where(bad, 0, values)  # dropped rows; keeps the narrowing below in range
        return pa.array(values.astype(out_type.to_pandas_dtype(), copy=False), out_type)

    def _category(self, name: str, column: pa.ChunkedArray) -> pa.DictionaryArray:
        encoded = pc.dictionary_encode(column).combine_chunks()
        # Normalise and check the few distinct values, not the millions of rows.
        normal = pc.utf8_lower(pc.utf8_trim_whitespace(encoded.dictionary))
        uniques = pc.unique(normal)
        indices = pc.take(pc.index_in(normal, value_set=uniques), encoded.indices)
        allowed = self.spec.categories
        valid = (
            pc.is_in(uniques, value_set=pa.array(allowed, pa.string()))
            if allowed
            else pc.not_equal(uniques, "")
        )
        self._problem(
            name,
            ~_bools(pc.take(valid, indices)),
            lambda value: f"{_show(value)} is not one of {', '.join(allowed)}" if value.strip() else "empty",
        )
        return pa.DictionaryArray.from_arrays(indices, uniques)

    def _times(self, name: str, column: pa.ChunkedArray) -> pa.Array:
        times = _by_slices(column, _times_in_one_format, _times_by_shape)
        reasons: dict[int, str] = {}
        for row in np.flatnonzero(times < 0).tolist():  # refused by Arrow, or before 1970: ask Python
            try:
                times[row] = parse_timestamp_ns(column[row].as_py())  # 1970..2262 or DecodeError
            except DecodeError as exc:
                reasons[row] = exc.reason
        bad = np.zeros(len(times), dtype=np.bool_)
        bad[list(reasons)] = True
        self.problems.append(_Problem(name, bad, lambda row: f"{name}: {reasons[row]}"))
        return pa.array(np.where(bad, 0, times) if reasons else times, pa.int64())


def _bools(values: _Strings) -> _Mask:
    result: _Mask = values.to_numpy(zero_copy_only=False).astype(np.bool_, copy=False)
    return result


def _by_slices(
    column: _Strings, convert: Callable[[_Strings], _Ints | None], fallback: Callable[[_Strings], _Ints]
) -> _Ints:
    """``convert`` (an Arrow cast, None when refused) over the whole column; if refused, slice by slice,
    with ``fallback`` (value by value) only for the refused slices."""
    whole = convert(column)
    if whole is not None:
        return whole
    parts = []
    for start in range(0, len(column), _SLICE_ROWS):
        part = column.slice(start, _SLICE_ROWS)
        values = convert(part)
        parts.append(fallback(part) if values is None else values)
    return np.concatenate(parts)


_DIGITS = np.zeros(256, dtype=np.bool_)
_DIGITS[ord("0") : ord("9") + 1] = True
_SIGNED_DIGITS = _DIGITS.copy()
_SIGNED_DIGITS[ord("-")] = True


def _only(column: _Strings, allowed: _Mask) -> bool:
    """Whether every byte of every value is allowed (the casts alone would also take ``0x1F``)."""
    for chunk in column.chunks if isinstance(column, pa.ChunkedArray) else [column]:
        offsets = np.frombuffer(
            chunk.buffers()[1], dtype=np.int32, count=len(chunk) + 1, offset=4 * chunk.offset
        )
        octets = np.frombuffer(chunk.buffers()[2] or b"", dtype=np.uint8)[offsets[0] : offsets[-1]]
        if not allowed[octets].all():
            return False
    return True


def _cast_integers(values: _Strings) -> _Ints | None:
    if not _only(values, _SIGNED_DIGITS):
        return None
    try:
        result: _Ints = pc.cast(values, pa.int64()).to_numpy()
    except pa.ArrowInvalid:  # "", "-", "1-2", overflow
        return None
    return result


def _integers_one_by_one(values: _Strings) -> _Ints:
    well_formed = pc.match_substring_regex(values, r"^-?[0-9]{1,18}$")
    numbers = pc.cast(pc.if_else(well_formed, values, "0"), pa.int64()).to_numpy()
    result: _Ints = np.where(_bools(well_formed), numbers, _MALFORMED)
    return result


_INTEGER = re.compile(r"-?[0-9]+")


def _integer_reason(value: str, low: int, high: int) -> str:
    if not value:
        return "empty"
    if not _INTEGER.fullmatch(value):
        return f"not an integer: {_show(value)}"
    number = int(value)
    return f"negative: {number}" if number < 0 <= low else f"{number} out of range {low}..{high}"


# Shapes of what Arrow's ISO-8601 cast takes, a superset of it (a value Arrow takes always matches its
# shape), so a value converts alike whether or not its column needed the slow path.
_DATE = r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
_TIME = r"(?:[T ](?:[01][0-9]|2[0-3])(?::[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,9})?)?)?)?"
_NAIVE = f"^{_DATE}{_TIME}$"
_ZONED = f"^{_DATE}{_TIME}(?:Z|[+-][0-9]{{2}}(?::?[0-9]{{2}})?)$"
_EPOCH = r"^[0-9]{1,18}$"
_MILLISECONDS_ABOVE = 10**11  # as _timestamps


def _naive_ns(values: _Strings) -> _Ints:
    result: _Ints = pc.cast(values, pa.timestamp("ns")).cast(pa.int64()).to_numpy()
    return result


def _zoned_ns(values: _Strings) -> _Ints:
    result: _Ints = pc.cast(values, pa.timestamp("ns", "UTC")).cast(pa.int64()).to_numpy()
    return result


def _epoch_ns(values: _Strings) -> _Ints:
    """Epoch seconds, or milliseconds above 1e11; -1 past 2262 (int64 nanoseconds)."""
    if not _only(values, _DIGITS):
        raise pa.ArrowInvalid("not all digits")
    numbers = pc.cast(values, pa.int64()).to_numpy()
    scale = np.where(numbers > _MILLISECONDS_ABOVE, 10**6, 10**9)
    result: _Ints = np.where(numbers <= _INT64_MAX // scale, numbers * scale, -1)
    return result


def _times_in_one_format(values: _Strings) -> _Ints | None:
    """One cast, picked by the first value's shape (a cast refusing a whole slice is slow)."""
    first = values[0].as_py() if len(values) else ""
    convert = _zoned_ns if re.match(_ZONED, first) else _epoch_ns if re.match(_EPOCH, first) else _naive_ns
    try:
        return convert(values)
    except pa.ArrowInvalid:
        return None


def _times_by_shape(values: _Strings) -> _Ints:
    """Each value to the converter of its shape; -1 where none fits (Python then gives the reason)."""
    times = np.full(len(values), -1, dtype=np.int64)
    rows = np.arange(len(values))
    for pattern, convert in ((_NAIVE, _naive_ns), (_ZONED, _zoned_ns), (_EPOCH, _epoch_ns)):
        shaped = _bools(pc.match_substring_regex(values, pattern))
        if shaped.any():
            times[rows[shaped]] = _pinpointed(values.filter(pa.array(shaped)), convert)
            rows, values = rows[~shaped], values.filter(pa.array(~shaped))
        if not len(rows):
            break
    return times


def _pinpointed(values: _Strings, convert: Callable[[_Strings], _Ints]) -> _Ints:
    """``convert``, halving the values to find the ones Arrow refuses (-1), such as February 30."""
    try:
        return convert(values)
    except pa.ArrowInvalid:
        if len(values) == 1:
            return np.full(1, -1, dtype=np.int64)
    half = len(values) // 2
    return np.concatenate(
        [_pinpointed(values.slice(0, half), convert), _pinpointed(values.slice(half), convert)]
    )
