"""CSV Bulk Data reports (ParameterPerRow and ParameterPerColumn), tolerant of real CPE quirks."""

import csv
import io
from collections.abc import Iterator

from ._bulkdata_model import ParameterTable, ReportFormat
from ._errors import DecodeError
from ._timestamps import parse_timestamp_ns

_TIMESTAMP = "reporttimestamp"
_NAME = "parametername"
_VALUE = "parametervalue"
_TYPE = "parametertype"


def decode_bulkdata_csv(
    text: str, report_format: ReportFormat | None, *, separator: str = ","
) -> ParameterTable:
    """Decode a CSV body. ``report_format`` None means: tell by the header line."""
    rows = _rows(text, separator)
    try:
        header = next(rows)
    except StopIteration:
        raise DecodeError("empty CSV report: a header line is required") from None
    keys = [field.strip().lower() for field in header[1]]
    if report_format is None:
        has_columns = _NAME in keys and _VALUE in keys
        report_format = ReportFormat.PARAMETER_PER_ROW if has_columns else ReportFormat.PARAMETER_PER_COLUMN
    if report_format is ReportFormat.PARAMETER_PER_ROW:
        return _per_row(keys, rows, separator)
    return _per_column(keys, [field.strip() for field in header[1]], rows)


def _rows(text: str, separator: str) -> Iterator[tuple[int, list[str]]]:
    """Non-empty rows with their 1-based line numbers."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=True)
    try:
        for row in reader:
            if row and any(field.strip() for field in row):
                yield reader.line_num, row
    except csv.Error as exc:
        raise DecodeError(f"line {reader.line_num}: malformed CSV: {exc}") from exc


def _per_row(keys: list[str], rows: Iterator[tuple[int, list[str]]], separator: str) -> ParameterTable:
    if _NAME not in keys or _VALUE not in keys:
        raise DecodeError(
            "ParameterPerRow header must have ParameterName and ParameterValue columns, "
            f"got {','.join(keys)!r}"
        )
    name_at, value_at = keys.index(_NAME), keys.index(_VALUE)
    time_at = keys.index(_TIMESTAMP) if _TIMESTAMP in keys else None
    type_at = keys.index(_TYPE) if _TYPE in keys else None
    width = len(keys)
    after_value = width - value_at - 1
    table = ParameterTable()
    times = _TimeCache()
    for line, row in rows:
        if [field.strip().lower() for field in row] == keys:
            continue  # header repeated by a CPE that resends retained failed reports in one body
        if len(row) < width:
            raise DecodeError(f"line {line}: expected {width} fields, got {len(row)}")
        if len(row) > width:
            # An unquoted value that contains the separator: the value takes every extra field, the
            # fields after it keep their places counted from the end (ParameterType is last).
            value = separator.join(row[value_at : len(row) - after_value])
            row = [*row[:value_at], value, *row[len(row) - after_value :]]
        name = row[name_at].strip()
        if not name:
            raise DecodeError(f"line {line}: empty ParameterName")
        time_ns = times.parse(row[time_at], line) if time_at is not None else None
        type_ = row[type_at].strip() or None if type_at is not None else None
        table.append(name, row[value_at], type_, time_ns)
    if not table.names:
        raise DecodeError("CSV report has a header but no parameter rows")
    table.reports = max(1, times.distinct)
    return table


def _per_column(keys: list[str], header: list[str], rows: Iterator[tuple[int, list[str]]]) -> ParameterTable:
    time_at = 0 if keys and keys[0] == _TIMESTAMP else None
    names = [name for at, name in enumerate(header) if at != time_at]
    if not names or any(not name for name in names):
        raise DecodeError(f"ParameterPerColumn header has an empty parameter name: {','.join(header)!r}")
    width = len(header)
    table = ParameterTable()
    times = _TimeCache()
    for line, row in rows:
        if [field.strip().lower() for field in row] == keys:
            continue
        if len(row) != width:
            raise DecodeError(f"line {line}: expected {width} fields as in the header, got {len(row)}")
        time_ns = times.parse(row[0], line) if time_at is not None else None
        values = row[1:] if time_at is not None else row
        for name, value in zip(names, values, strict=True):
            table.append(name, value, None, time_ns)
        table.reports += 1
    if not table.reports:
        raise DecodeError("CSV report has a header but no data rows")
    return table


class _TimeCache:
    """Rows of one report share a timestamp: parse each distinct text once."""

    __slots__ = ("_last_ns", "_last_raw", "distinct")

    def __init__(self) -> None:
        self._last_raw: str | None = None
        self._last_ns = 0
        self.distinct = 0

    def parse(self, raw: str, line: int) -> int:
        if raw != self._last_raw:
            try:
                self._last_ns = parse_timestamp_ns(raw)
            except DecodeError as exc:
                raise DecodeError(f"line {line}: {exc.reason}") from exc
            self._last_raw = raw
            self.distinct += 1
        return self._last_ns
