"""Bulk Data parameters -> metric points and log records (the mapping rules of DESIGN.md).

Per parameter name the decision (metric template, instance attributes, kind, unit, rule) is made
once and cached; per value only a number conversion and a few appends remain."""

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

from ..decode import ParameterColumns, ParameterTable, TooLarge
from ..decode._bulkdata_model import BulkValue
from ..signals import Attributes, AttrValue, LogEntry, MappedReport, MetricSeries, SeriesRegistry
from ._rules import RuleSet
from ._tr181 import ParamSpec, template_of

REPORT_LOG_BODY = "bulkdata.report"
# TR-106 types that never become numbers, whatever the value looks like.
TEXT_TYPES = frozenset({"string", "dateTime", "base64", "hexBinary", "datetime"})
_MAX_CACHED_NAMES = 1_000_000


class _Action(IntEnum):
    METRIC = 0  # known numeric parameter
    AUTO = 1  # unknown parameter: a number becomes a gauge, anything else goes to the log
    LOG = 2
    RESOURCE = 3
    DROP = 4


@dataclass(frozen=True, slots=True)
class _NameMapping:
    action: _Action
    series_id: int = -1
    resource_key: str = ""


@dataclass(slots=True)
class MappingStats:
    """What one report's mapping did beyond the obvious, for the receiver's own metrics."""

    dropped_by_rule: int = 0
    not_numeric: int = 0  # numeric parameters whose value was not a number: kept in the log record
    series_overflow: int = 0


class BulkDataMapper:
    def __init__(
        self,
        model: Mapping[str, ParamSpec],
        registry: SeriesRegistry,
        rules: RuleSet | None = None,
        *,
        max_name_length: int = 512,
    ) -> None:
        self._model = model
        self._registry = registry
        self._rules = rules or RuleSet()
        self._max_name_length = max_name_length
        self._names: dict[str, _NameMapping] = {}
        self._suffixes: dict[str, ParamSpec | None] | None = None
        from ._bulkdata_columns import ColumnsMapper  # the columnar mapper reuses this one's decisions

        self._columns = ColumnsMapper(self._mapping_of)

    def map_report(
        self,
        table: ParameterTable | ParameterColumns,
        resource: Attributes,
        *,
        fallback_time_ns: int,
        received_ns: int,
    ) -> tuple[MappedReport, MappingStats]:
        """``fallback_time_ns`` stands in where the report has no time (Date header or receive time)."""
        if isinstance(table, ParameterColumns):
            return self._columns.map_columns(
                table, resource, fallback_time_ns=fallback_time_ns, received_ns=received_ns
            )
        report = MappedReport(resource=resource)
        stats = MappingStats()
        points = report.metrics
        log_attrs: dict[int, dict[str, AttrValue]] = {}
        extra_resource: dict[str, AttrValue] = {}
        names = self._names
        for name, value, type_, time_ns in zip(
            table.names, table.values, table.types, table.times_ns, strict=True
        ):
            mapping = names.get(name) or self._resolve(name)
            time = fallback_time_ns if time_ns is None else time_ns
            action = mapping.action
            if action is _Action.METRIC or (action is _Action.AUTO and type_ not in TEXT_TYPES):
                number = _number(value)
                if number is not None:
                    if mapping.series_id < 0:
                        stats.series_overflow += 1
                    else:
                        points.append(mapping.series_id, time, number)
                    continue
                if isinstance(value, str) and not value.strip():
                    continue  # an empty CSV cell carries no measurement
                if action is _Action.METRIC:
                    stats.not_numeric += 1
                log_attrs.setdefault(time, {})[name.strip()] = _text(value)
            elif action is _Action.DROP:
                stats.dropped_by_rule += 1
            elif action is _Action.RESOURCE:
                extra_resource[mapping.resource_key] = _text(value)
            else:
                log_attrs.setdefault(time, {})[name.strip()] = _text(value)
        if extra_resource:
            report.resource = tuple(sorted({**dict(resource), **extra_resource}.items()))
        report.logs = [
            LogEntry(time_ns=time, observed_ns=received_ns, body=REPORT_LOG_BODY, attributes=attrs)
            for time, attrs in log_attrs.items()
        ]
        return report, stats

    def _mapping_of(self, raw_name: str) -> _NameMapping:
        return self._names.get(raw_name) or self._resolve(raw_name)

    def _resolve(self, raw_name: str) -> _NameMapping:
        name = raw_name.strip()
        if len(name) > self._max_name_length:
            raise TooLarge(
                f"parameter name of {len(name)} characters exceeds the limit of {self._max_name_length}"
            )
        if name.startswith("."):
            name = name[1:]  # relative to the profile's object, as some agents write it
        template, instance_attrs = template_of(name)
        spec = self._model.get(template)
        if spec is None and not template.startswith("Device."):
            spec = self._by_suffix(template)
        rule = self._rules.match(template, name)
        kind = rule.kind if rule is not None and rule.kind is not None else (spec.kind if spec else None)
        unit = rule.unit if rule is not None and rule.unit is not None else (spec.unit if spec else "")
        if rule is not None and rule.drop:
            mapping = _NameMapping(_Action.DROP)
        elif rule is not None and rule.to_resource:
            mapping = _NameMapping(_Action.RESOURCE, resource_key=rule.to_resource)
        elif kind == "log":
            mapping = _NameMapping(_Action.LOG)
        else:
            series = MetricSeries(
                name=template,
                unit=unit,
                kind="sum" if kind == "sum" else "gauge",
                monotonic=kind == "sum",
                attributes=instance_attrs,
            )
            series_id = self._registry.intern(series)
            action = _Action.AUTO if kind is None else _Action.METRIC
            mapping = _NameMapping(action, -1 if series_id is None else series_id)
        if len(self._names) >= _MAX_CACHED_NAMES:
            self._names.clear()  # bounded memory under name churn; entries are cheap to rebuild
        self._names[raw_name] = mapping
        return mapping

    def _by_suffix(self, relative: str) -> ParamSpec | None:
        """A relative name (``Stats.BytesSent``) takes the kind of the model templates that end with it
        if they all agree on it, and their most common unit; otherwise it is unknown."""
        if self._suffixes is None:
            candidates: dict[str, list[ParamSpec]] = {}
            for template, spec in self._model.items():
                parts = template.split(".")
                for start in range(1, len(parts)):
                    candidates.setdefault(".".join(parts[start:]), []).append(spec)
            self._suffixes = {suffix: _agreed(specs) for suffix, specs in candidates.items()}
        return self._suffixes.get(relative)


def _agreed(specs: list[ParamSpec]) -> ParamSpec | None:
    if len({spec.kind for spec in specs}) != 1:
        return None
    unit = Counter(spec.unit for spec in specs).most_common(1)[0][0]
    return ParamSpec(specs[0].base_type, specs[0].data_type, unit, specs[0].kind)


def _number(value: BulkValue) -> int | float | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    text = value.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    lowered = text.lower()
    if lowered in ("true", "false"):
        return int(lowered == "true")
    try:
        return float(text)
    except ValueError:
        return None


def _text(value: BulkValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)
