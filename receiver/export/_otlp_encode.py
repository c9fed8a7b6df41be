"""Sealed batch -> serialized OTLP export requests (protobuf messages; no I/O).

Requests are returned as bytes so the transport never re-encodes, and each stays under
``max_bytes`` (the collector's gRPC limit is 4 MiB by default)."""

from collections.abc import Iterator
from typing import Any

import orjson
import pyarrow.compute as pc
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import ResourceLogs
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AGGREGATION_TEMPORALITY_CUMULATIVE,
    AGGREGATION_TEMPORALITY_DELTA,
    AggregationTemporality,
    Metric,
    ResourceMetrics,
)

from .. import __version__
from ..batch import SealedBatch, histogram_points
from ..signals import LOG_ATTRIBUTE_PREFIX, Attributes, AttrValue, MetricSeries, SeriesRegistry

SCOPE = InstrumentationScope(name="telemetry-receiver", version=__version__)


def encode_metrics(batch: SealedBatch, registry: SeriesRegistry, max_bytes: int) -> list[bytes]:
    table = batch.metrics
    if table.num_rows == 0:
        return []
    order = pc.sort_indices(table, sort_keys=[("resource", "ascending"), ("series", "ascending")])
    table = table.take(order)
    resources = table.column("resource").to_pylist()
    series_ids = table.column("series").to_pylist()
    times = table.column("time_ns").to_pylist()
    doubles = table.column("double").to_pylist()
    ints = table.column("int").to_pylist()
    is_int = table.column("is_int").to_pylist()
    groups: list[ResourceMetrics] = []
    current_resource = -1
    metrics: dict[tuple[str, str, str, bool], Metric] = {}
    for at, rid in enumerate(resources):
        if rid != current_resource:
            current_resource = rid
            rm = ResourceMetrics()
            rm.resource.attributes.extend(_key_values(batch.resources[rid]))
            scope = rm.scope_metrics.add()
            scope.scope.CopyFrom(SCOPE)
            groups.append(rm)
            metrics = {}
        series = registry[series_ids[at]]
        metric = metrics.get(series.metric_key)
        if metric is None:
            metric = _new_metric(groups[-1], series)
            metrics[series.metric_key] = metric
        points = metric.sum.data_points if series.kind == "sum" else metric.gauge.data_points
        point = points.add()
        point.time_unix_nano = times[at]
        if is_int[at]:
            point.as_int = ints[at]
        else:
            point.as_double = doubles[at]
        if series.attributes:
            point.attributes.extend(_key_values(series.attributes))
    return [request.SerializeToString() for request in _pack(groups, ExportMetricsServiceRequest, max_bytes)]


def encode_logs(batch: SealedBatch, max_bytes: int) -> list[bytes]:
    table = batch.logs
    if table.num_rows == 0:
        return []
    columns = {name: table.column(name).to_pylist() for name in table.column_names}
    # Records of log chunks: attributes in their own columns (null: absent), attributes_json null.
    attribute_columns = [
        (name[len(LOG_ATTRIBUTE_PREFIX) :], columns[name])
        for name in table.column_names
        if name.startswith(LOG_ATTRIBUTE_PREFIX)
    ]
    by_resource: dict[int, ResourceLogs] = {}
    for at, rid in enumerate(columns["resource"]):
        rl = by_resource.get(rid)
        if rl is None:
            rl = by_resource[rid] = ResourceLogs()
            rl.resource.attributes.extend(_key_values(batch.resources[rid]))
            rl.scope_logs.add().scope.CopyFrom(SCOPE)
        record = rl.scope_logs[0].log_records.add()
        record.time_unix_nano = columns["time_ns"][at]
        record.observed_time_unix_nano = columns["observed_ns"][at]
        record.severity_number = columns["severity_number"][at]
        record.severity_text = columns["severity_text"][at]
        record.body.string_value = columns["body"][at]
        raw = columns["attributes_json"][at]
        attributes: dict[str, AttrValue] = {} if raw is None else orjson.loads(raw)
        for key, values in attribute_columns:
            if values[at] is not None:
                attributes[key] = values[at]
        record.attributes.extend(_key_values(tuple(attributes.items())))
    return [
        request.SerializeToString()
        for request in _pack(list(by_resource.values()), ExportLogsServiceRequest, max_bytes)
    ]


def encode_histograms(batch: SealedBatch, registry: SeriesRegistry, max_bytes: int) -> list[bytes]:
    """Histogram points (aggregates, low volume) as their own requests."""
    points = histogram_points(batch)
    if not points:
        return []
    by_resource: dict[int, tuple[ResourceMetrics, dict[tuple[str, str, str, bool], Metric]]] = {}
    for rid, point in sorted(points, key=lambda item: item[0]):
        if rid not in by_resource:
            rm = ResourceMetrics()
            rm.resource.attributes.extend(_key_values(batch.resources[rid]))
            rm.scope_metrics.add().scope.CopyFrom(SCOPE)
            by_resource[rid] = (rm, {})
        rm, metrics = by_resource[rid]
        series = registry[point.series]
        metric = metrics.get(series.metric_key)
        if metric is None:
            metric = metrics[series.metric_key] = _new_metric(rm, series)
        dp = metric.histogram.data_points.add()
        dp.start_time_unix_nano = point.start_ns
        dp.time_unix_nano = point.time_ns
        dp.count = point.count
        dp.sum = point.sum
        dp.bucket_counts.extend(point.bucket_counts)
        dp.explicit_bounds.extend(series.bounds)
        if series.attributes:
            dp.attributes.extend(_key_values(series.attributes))
    groups = [rm for rm, _ in by_resource.values()]
    return [request.SerializeToString() for request in _pack(groups, ExportMetricsServiceRequest, max_bytes)]


def _temporality(series: MetricSeries) -> "AggregationTemporality.ValueType":
    return (
        AGGREGATION_TEMPORALITY_DELTA if series.temporality == "delta" else AGGREGATION_TEMPORALITY_CUMULATIVE
    )


def _new_metric(rm: ResourceMetrics, series: MetricSeries) -> Metric:
    metric = rm.scope_metrics[0].metrics.add()
    metric.name = series.name
    metric.unit = series.unit
    if series.description:
        metric.description = series.description
    if series.kind == "sum":
        metric.sum.aggregation_temporality = _temporality(series)
        metric.sum.is_monotonic = series.monotonic
    elif series.kind == "histogram":
        metric.histogram.aggregation_temporality = _temporality(series)
    else:
        metric.gauge.SetInParent()
    return metric


def _key_values(attrs: Attributes) -> Iterator[KeyValue]:
    for key, value in attrs:
        yield KeyValue(key=key, value=_any_value(value))


def _any_value(value: AttrValue) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    return AnyValue(string_value=str(value))


def _pack(
    groups: list[ResourceMetrics] | list[ResourceLogs], request_type: type, max_bytes: int
) -> Iterator[Any]:
    """Greedy packing of resource groups into requests below max_bytes. A single group larger than
    the limit is split by its scope's metrics / log records."""
    request = request_type()
    size = 0
    field = "resource_metrics" if request_type is ExportMetricsServiceRequest else "resource_logs"
    for group in groups:
        for part in _split(group, max_bytes):
            part_size = part.ByteSize() + 8
            if size and size + part_size > max_bytes:
                yield request
                request, size = request_type(), 0
            getattr(request, field).append(part)
            size += part_size
    if size:
        yield request


def _split(group: ResourceMetrics | ResourceLogs, max_bytes: int) -> Iterator[ResourceMetrics | ResourceLogs]:
    if group.ByteSize() + 8 <= max_bytes:
        yield group
        return
    scope_field = "scope_metrics" if isinstance(group, ResourceMetrics) else "scope_logs"
    item_field = "metrics" if isinstance(group, ResourceMetrics) else "log_records"
    items = list(getattr(getattr(group, scope_field)[0], item_field))
    if len(items) <= 1:
        if isinstance(group, ResourceMetrics) and items:
            yield from _split_points(group, items[0], max_bytes)
            return
        yield group  # one record over the limit: let the collector reject it with a clear error
        return
    for half in (items[: len(items) // 2], items[len(items) // 2 :]):
        part = type(group)()
        part.resource.CopyFrom(group.resource)
        scope = getattr(part, scope_field).add()
        scope.scope.CopyFrom(SCOPE)
        getattr(scope, item_field).extend(half)
        yield from _split(part, max_bytes)


def _split_points(
    group: ResourceMetrics, metric: Metric, max_bytes: int
) -> Iterator[ResourceMetrics | ResourceLogs]:
    data = metric.sum if metric.HasField("sum") else metric.gauge
    points = list(data.data_points)
    if len(points) <= 1:
        yield group
        return
    for half in (points[: len(points) // 2], points[len(points) // 2 :]):
        part = ResourceMetrics()
        part.resource.CopyFrom(group.resource)
        scope = part.scope_metrics.add()
        scope.scope.CopyFrom(SCOPE)
        copy = scope.metrics.add()
        copy.CopyFrom(metric)
        target = copy.sum if copy.HasField("sum") else copy.gauge
        del target.data_points[:]
        target.data_points.extend(half)
        yield from _split(part, max_bytes)
