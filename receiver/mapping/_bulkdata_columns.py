"""Vectorised twin of ``BulkDataMapper.map_report`` for fast-path CSV bodies (ParameterColumns).

Per parameter list (a device model's profile) the decisions are cached; per report only Arrow and
numpy kernels run over the values. Rows that are not plain numbers (text parameters, rule actions,
values that do not parse) take a Python loop, but they are few in a telemetry report."""

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..decode import ParameterColumns
from ..signals import POINT_SCHEMA, Attributes, AttrValue, LogEntry, MappedReport
from ._bulkdata import REPORT_LOG_BODY, TEXT_TYPES, MappingStats, _Action, _NameMapping, _number, _text

_BOOLEAN_TEXT = pa.array(["true", "false", "True", "False", "TRUE", "FALSE"])


@dataclass(frozen=True, slots=True)
class _Profile:
    """What the mapper decided for one parameter list: devices of a model send the same list every
    time, so after the first report only array lookups remain."""

    names: pa.StringArray
    types: pa.StringArray | None
    numeric_rows: np.ndarray  # rows whose values are parsed as numbers
    numeric_series: np.ndarray  # their series ids (-1: over the series limit)
    other_rows: list[int]  # rows for the log record, resource attributes or drops
    mappings: tuple[_NameMapping, ...]


class ColumnsMapper:
    def __init__(self, resolve: Callable[[str], _NameMapping], max_profiles: int = 256) -> None:
        self._resolve = resolve
        self._profiles: OrderedDict[tuple[object, ...], _Profile] = OrderedDict()
        self._max_profiles = max_profiles

    def map_columns(
        self, columns: ParameterColumns, resource: Attributes, *, fallback_time_ns: int, received_ns: int
    ) -> tuple[MappedReport, MappingStats]:
        profile = self._profile(columns)
        stats = MappingStats()
        count = len(columns)
        times = (
            np.full(count, fallback_time_ns, dtype=np.int64) if columns.times_ns is None else columns.times_ns
        )
        rows = profile.numeric_rows
        values = columns.values if len(rows) == count else columns.values.take(pa.array(rows))
        doubles, ints, is_int, parsed, blank = _parse_numbers(values)
        unparsed = rows[~parsed & ~blank].tolist()
        series = profile.numeric_series
        keep = parsed & (series >= 0)
        stats.series_overflow = int(np.count_nonzero(parsed & (series < 0)))
        if keep.all():
            point_times = times if len(rows) == count else times[rows]
            arrays = [series, point_times, doubles, ints, is_int]
        else:
            arrays = [series[keep], times[rows][keep], doubles[keep], ints[keep], is_int[keep]]
        chunk = pa.Table.from_arrays([pa.array(a) for a in arrays], schema=POINT_SCHEMA)
        report = MappedReport(resource=resource, metric_chunk=chunk)
        if profile.other_rows or unparsed:
            self._others(columns, times, profile, unparsed, report, stats, received_ns)
        return report, stats

    def _profile(self, columns: ParameterColumns) -> _Profile:
        names, types = columns.names, columns.types
        # Key on a sample of names, then confirm with a whole-array comparison (a memcmp in Arrow).
        count = len(names)
        key = (count, names[0].as_py(), names[count // 2].as_py(), names[-1].as_py(), types is None)
        profile = self._profiles.get(key)
        if (
            profile is not None
            and profile.names.equals(names)
            and (types is None or (profile.types is not None and profile.types.equals(types)))
        ):
            self._profiles.move_to_end(key)
            return profile
        name_list = names.to_pylist()
        type_list = types.to_pylist() if types is not None else [None] * count
        mappings = tuple(self._resolve(name) for name in name_list)
        numeric = [
            m.action is _Action.METRIC or (m.action is _Action.AUTO and type_ not in TEXT_TYPES)
            for m, type_ in zip(mappings, type_list, strict=True)
        ]
        numeric_rows = np.flatnonzero(np.array(numeric, dtype=bool))
        profile = _Profile(
            names=names,
            types=types,
            numeric_rows=numeric_rows,
            numeric_series=np.array(
                [mappings[row].series_id for row in numeric_rows.tolist()], dtype=np.int32
            ),
            other_rows=[row for row, is_numeric in enumerate(numeric) if not is_numeric],
            mappings=mappings,
        )
        self._profiles[key] = profile
        if len(self._profiles) > self._max_profiles:
            self._profiles.popitem(last=False)
        return profile

    @staticmethod
    def _others(
        columns: ParameterColumns,
        times: np.ndarray,
        profile: _Profile,
        unparsed: list[int],
        report: MappedReport,
        stats: MappingStats,
        received_ns: int,
    ) -> None:
        log_attrs: dict[int, dict[str, AttrValue]] = {}
        extra_resource: dict[str, AttrValue] = {}
        for row in profile.other_rows + unparsed:
            mapping = profile.mappings[row]
            value = columns.values[row].as_py()
            if mapping.action is _Action.DROP:
                stats.dropped_by_rule += 1
            elif mapping.action is _Action.RESOURCE:
                extra_resource[mapping.resource_key] = value
            elif value.strip() or mapping.action is _Action.LOG:
                if mapping.action is _Action.METRIC:
                    stats.not_numeric += 1
                log_attrs.setdefault(int(times[row]), {})[columns.names[row].as_py()] = _text(value)
        if extra_resource:
            report.resource = tuple(sorted({**dict(report.resource), **extra_resource}.items()))
        report.logs = [
            LogEntry(time_ns=time, observed_ns=received_ns, body=REPORT_LOG_BODY, attributes=attrs)
            for time, attrs in log_attrs.items()
        ]


_TRUE_TEXT = pa.array(["true", "True", "TRUE"])


def _parse_numbers(values: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(doubles, ints, is_int, parsed, blank) for string values. The common report (integers and
    booleans) takes four whole-array kernels; anything else the general path below."""
    count = len(values)
    is_bool = pc.is_in(values, value_set=_BOOLEAN_TEXT)
    any_bool = pc.any(is_bool).as_py()
    try:
        ints = pc.cast(pc.if_else(is_bool, "0", values) if any_bool else values, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _parse_numbers_general(values, is_bool if any_bool else None)
    numbers = ints.to_numpy(zero_copy_only=False)
    if any_bool:
        truth = pc.is_in(values, value_set=_TRUE_TEXT).to_numpy(zero_copy_only=False)
        numbers = np.where(truth, 1, numbers)
    return (
        np.zeros(count),
        numbers,
        np.ones(count, dtype=bool),
        np.ones(count, dtype=bool),
        np.zeros(count, dtype=bool),
    )


def _parse_numbers_general(
    values: pa.Array, is_bool: pa.BooleanArray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Whole-array casts first (ints, then doubles), per value only when the array mixes in
    something that is not a number. ``is_bool``: which values are boolean text (None: none is).
    Blank values (empty CSV cells) carry no measurement: neither parsed nor for the log."""
    count = len(values)
    if is_bool is not None:
        truth = pc.is_in(values, value_set=_TRUE_TEXT)
        values = pc.if_else(is_bool, pc.if_else(truth, "1", "0"), values)
    empty = pc.equal(values, "")
    blank = empty.to_numpy(zero_copy_only=False)
    filled = pc.if_else(empty, "0", values)
    try:
        ints = pc.cast(filled, pa.int64()).to_numpy(zero_copy_only=False)
        return np.zeros(count), ints, np.ones(count, dtype=bool), ~blank, blank
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    try:
        doubles = pc.cast(filled, pa.float64()).to_numpy(zero_copy_only=False)
        return (
            doubles,
            np.zeros(count, dtype=np.int64),
            np.zeros(count, dtype=bool),
            ~blank,
            blank,
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    doubles, ints = np.zeros(count), np.zeros(count, dtype=np.int64)
    is_int, parsed = np.zeros(count, dtype=bool), np.zeros(count, dtype=bool)
    blank = blank.copy()
    for at, text in enumerate(filled.to_pylist()):
        number = _number(text)
        if number is None:
            blank[at] = blank[at] or not text.strip()
            continue
        parsed[at] = True
        if isinstance(number, int) and -(2**63) <= number < 2**63:
            ints[at], is_int[at] = number, True
        else:
            doubles[at] = float(number)
    return doubles, ints, is_int, parsed & ~blank, blank
