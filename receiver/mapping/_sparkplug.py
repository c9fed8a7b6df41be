"""Sparkplug B host actions -> OpenTelemetry: metrics as gauges of the device (or edge node)
resource, text-like values and lifecycle events as log records.

Choices: numbers and booleans (0/1) are Gauges (Sparkplug has no counter semantics), ``engUnit`` is
the unit and ``Quality`` a point attribute; numeric arrays become one point per element with
``sparkplug.index``; String/Text/UUID/DateTime/Bytes/DataSet values go to one log record per
message (``sparkplug.data``); transient metrics are kept, marked ``sparkplug.transient``."""

import base64
from array import array
from collections.abc import Iterable, Sequence

import orjson

from ..decode.sparkplug import (
    FLOAT_TYPES,
    INTEGER_TYPES,
    DataType,
    DecodedDataSet,
    DecodedMetric,
    EdgeNodeKey,
    EmitLifecycle,
    EmitMetrics,
    EmitValues,
    LifecycleKind,
)
from ..signals import (
    Attributes,
    AttrValue,
    LogEntry,
    MappedReport,
    MetricColumns,
    MetricSeries,
    ResourcePoints,
    SeriesRegistry,
)

SERVICE_SPARKPLUG = "sparkplug"
# engUnits remembered at most (one per metric with a unit of each online node and device); beyond it
# all are forgotten, and each node's units come back with its next birth.
_MAX_UNITS = 1_000_000
_NUMERIC = INTEGER_TYPES | FLOAT_TYPES | {DataType.Boolean}
_NUMERIC_ARRAYS = frozenset(
    {
        DataType.Int8Array,
        DataType.Int16Array,
        DataType.Int32Array,
        DataType.Int64Array,
        DataType.UInt8Array,
        DataType.UInt16Array,
        DataType.UInt32Array,
        DataType.UInt64Array,
        DataType.FloatArray,
        DataType.DoubleArray,
        DataType.BooleanArray,
    }
)


def sparkplug_resource(node: EdgeNodeKey, device_id: str | None) -> Attributes:
    attrs: dict[str, AttrValue] = {
        "device.id": f"{node.group_id}/{node.edge_node_id}" + (f"/{device_id}" if device_id else ""),
        "sparkplug.group_id": node.group_id,
        "sparkplug.edge_node_id": node.edge_node_id,
        "service.name": SERVICE_SPARKPLUG,
    }
    if device_id:
        attrs["sparkplug.device_id"] = device_id
    return tuple(sorted(attrs.items()))


class _ShapeMapping:
    """What ``map_values`` needs per shape: resolved once, reused for every message of the shape."""

    __slots__ = ("falses", "resource", "series", "zeros")

    def __init__(self, resource: Attributes, series: list[int]) -> None:
        self.resource = resource
        # Shared by every message of the shape: the batch only copies from them, and copies
        # buffers of its own column types (i, q, b) without converting each item.
        self.series = array("i", series)
        self.zeros = array("q", bytes(8 * len(series)))
        self.falses = array("b", bytes(len(series)))


class SparkplugMapper:
    def __init__(self, registry: SeriesRegistry) -> None:
        self._registry = registry
        self._series: dict[tuple[str, str, object, bool, int], int] = {}  # refusals are not kept
        # engUnit travels in the BIRTH; DATA messages repeat only values, so the unit is remembered:
        # node -> device (None: the node's own metrics) -> metric name -> unit. A birth replaces its
        # scope's units (an NBIRTH ends the node's device sessions too: they send DBIRTH again), a
        # death drops them, so only online nodes and devices hold any.
        self._units: dict[EdgeNodeKey, dict[str | None, dict[str, str]]] = {}
        self._unit_count = 0

    def map_metrics(self, action: EmitMetrics, *, received_ns: int) -> MappedReport:
        report = MappedReport(resource=sparkplug_resource(action.node, action.device_id))
        default_ms = action.timestamp_ms
        text: dict[str, AttrValue] = {}
        known = self._units.get(action.node, {}).get(action.device_id, {})
        birth = str(action.message_type) in ("NBIRTH", "DBIRTH")
        born: dict[str, str] = {}
        for metric in action.metrics:
            unit = metric.properties.get("engUnit")
            if not isinstance(unit, str):
                unit = known.get(metric.name, "")  # a birth without one keeps what it had
            if birth and unit:
                born[metric.name] = unit
            ms = metric.timestamp_ms if metric.timestamp_ms is not None else default_ms
            time_ns = received_ns if ms is None else ms * 1_000_000
            if metric.is_null or metric.value is None:
                continue  # an explicit "no value": nothing to plot
            if metric.datatype in _NUMERIC and isinstance(metric.value, int | float):
                self._point(report, metric, unit, time_ns, metric.value, -1)
            elif metric.datatype in _NUMERIC_ARRAYS and isinstance(metric.value, tuple):
                for index, item in enumerate(metric.value):
                    if isinstance(item, int | float):
                        self._point(report, metric, unit, time_ns, item, index)
            else:
                text[metric.name] = _text(metric.value)
        if birth:
            self._remember_units(action.node, action.device_id, born)
        if text:
            report.logs.append(
                LogEntry(
                    time_ns=received_ns if default_ms is None else default_ms * 1_000_000,
                    observed_ns=received_ns,
                    body="sparkplug.data",
                    attributes={**text, "sparkplug.message_type": str(action.message_type)},
                )
            )
        return report

    def map_values(self, action: EmitValues, *, received_ns: int) -> ResourcePoints:
        """The points ``map_metrics(action.to_metrics())`` would report, without per-metric objects
        (numbers and booleans only, so there are no logs)."""
        shape = action.shape
        mapping = shape.mapped
        if not isinstance(mapping, _ShapeMapping):  # a shape belongs to one scope: one resource
            mapping = self._shape_mapping(action)
            if mapping is None:  # a series the registry refused: the exact path skips that point
                report = self.map_metrics(action.to_metrics(), received_ns=received_ns)
                m = report.metrics
                return ResourcePoints(report.resource, m.series, m.times_ns, m.doubles, m.ints, m.is_int)
            shape.mapped = mapping
        n = len(mapping.series)
        stamps = action.metric_timestamps_ms
        default_ms = action.timestamp_ms
        times: Sequence[int]
        if stamps is None:
            times = array("q", (received_ns if default_ms is None else default_ms * 1_000_000,)) * n
        else:
            times = [
                (received_ns if default_ms is None else default_ms * 1_000_000)
                if ms is None
                else ms * 1_000_000
                for ms in stamps
            ]
        if shape.all_float:  # values are floats already: the columns MetricColumns.append would fill
            return ResourcePoints(
                mapping.resource, mapping.series, times, action.values, mapping.zeros, mapping.falses
            )
        columns = MetricColumns()
        for series_id, time_ns, value in zip(mapping.series, times, action.values, strict=True):
            columns.append(series_id, time_ns, int(value) if isinstance(value, bool) else value)
        return ResourcePoints(
            mapping.resource, columns.series, columns.times_ns, columns.doubles, columns.ints, columns.is_int
        )

    def _remember_units(self, node: EdgeNodeKey, device_id: str | None, units: dict[str, str]) -> None:
        """The units of a birth replace the scope's; an NBIRTH forgets the node's devices' too."""
        self._forget_units(node, device_id)
        if self._unit_count + len(units) > _MAX_UNITS:
            self._units.clear()
            self._unit_count = 0
        if units:
            self._units.setdefault(node, {})[device_id] = units
            self._unit_count += len(units)

    def _forget_units(self, node: EdgeNodeKey, device_id: str | None) -> None:
        """Forget the units of a device, or (``device_id`` None) of a node and all its devices."""
        scopes = self._units.get(node)
        if scopes is None:
            return
        if device_id is None:
            del self._units[node]
            self._unit_count -= sum(len(units) for units in scopes.values())
            return
        units = scopes.pop(device_id, None)
        if units is not None:
            self._unit_count -= len(units)
            if not scopes:
                del self._units[node]

    def _shape_mapping(self, action: EmitValues) -> "_ShapeMapping | None":
        shape = action.shape
        series: list[int] = []
        known = self._units.get(action.node, {}).get(action.device_id, {})
        for name in shape.names:
            unit = known.get(name, "")
            key = (name, unit, None, False, -1)
            series_id = self._series.get(key)
            if series_id is None:
                series_id = self._registry.intern(MetricSeries(name, unit, "gauge", False, ()))
                if series_id is None:  # refused: asked again next time, so the cache stays bounded
                    return None
                self._series[key] = series_id
            series.append(series_id)
        return _ShapeMapping(sparkplug_resource(action.node, action.device_id), series)

    def map_lifecycle(self, action: EmitLifecycle, *, received_ns: int) -> MappedReport:
        if action.kind in (LifecycleKind.NDEATH, LifecycleKind.DDEATH):
            # Offline until its next birth, which brings the units again (DATA before it is not mapped).
            self._forget_units(action.node, action.device_id)
        attrs = {f"sparkplug.{key}": _attr(value) for key, value in action.attrs.items() if value is not None}
        entry = LogEntry(
            time_ns=action.timestamp_ms * 1_000_000,
            observed_ns=received_ns,
            body=f"sparkplug.{action.kind}",
            attributes=attrs,
            severity_number=13 if action.kind in _WARNINGS else 9,
            severity_text="WARN" if action.kind in _WARNINGS else "INFO",
        )
        return MappedReport(resource=sparkplug_resource(action.node, action.device_id), logs=[entry])

    def _point(
        self,
        report: MappedReport,
        metric: DecodedMetric,
        unit: str,
        time_ns: int,
        value: int | float,
        index: int,
    ) -> None:
        quality = metric.properties.get("Quality")
        key = (metric.name, unit, quality, metric.is_transient, index)
        series_id = self._series.get(key)
        if series_id is None:
            attrs: list[tuple[str, AttrValue]] = []
            if quality is not None:
                attrs.append(("sparkplug.quality", _attr(quality)))
            if metric.is_transient:
                attrs.append(("sparkplug.transient", True))
            if index >= 0:
                attrs.append(("sparkplug.index", index))
            series_id = self._registry.intern(
                MetricSeries(metric.name, key[1], "gauge", False, tuple(sorted(attrs)))
            )
            if series_id is None:  # refused (registry full): as in _shape_mapping
                return
            self._series[key] = series_id
        report.metrics.append(series_id, time_ns, int(value) if isinstance(value, bool) else value)


_WARNINGS = frozenset(
    {
        "ndeath",
        "ddeath",
        "stale",
        "seq_gap",
        "rebirth_requested",
        "unknown_alias",
        "alias_conflict",
        "malformed",
        "data_before_birth",
        "late_message",
    }
)


def _attr(value: object) -> AttrValue:
    if isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Iterable):
        return orjson.dumps(list(value)).decode()
    return str(value)


def _text(value: object) -> AttrValue:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, DecodedDataSet):
        return orjson.dumps({"columns": list(value.columns), "rows": [list(r) for r in value.rows]}).decode()
    return _attr(value)
