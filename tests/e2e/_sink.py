"""Reads the collector's file exporter output (OTLP JSON lines) back into flat, comparable rows."""

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def _attrs(kvs: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in kvs}


@dataclass(frozen=True)
class Point:
    resource: dict[str, Any]
    name: str
    unit: str
    kind: str  # gauge | sum
    monotonic: bool
    temporality: int
    attributes: dict[str, Any]
    time_ns: int
    value: float | int


@dataclass(frozen=True)
class LogRow:
    resource: dict[str, Any]
    time_ns: int
    observed_ns: int
    severity: str
    body: Any
    attributes: dict[str, Any]


def read_sink(sink_dir: Path) -> tuple[list[Point], list[LogRow]]:
    points: list[Point] = []
    logs: list[LogRow] = []
    for path in sorted(sink_dir.glob("*.jsonl*")):
        for line in path.read_text().splitlines():
            if '"resourceMetrics"' in line:
                _metrics(json_format.Parse(line, ExportMetricsServiceRequest()), points)
            elif '"resourceLogs"' in line:
                _logs(json_format.Parse(line, ExportLogsServiceRequest()), logs)
    return points, logs


def _metrics(request: ExportMetricsServiceRequest, out: list[Point]) -> None:
    for rm in request.resource_metrics:
        resource = _attrs(rm.resource.attributes)
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                kind = metric.WhichOneof("data")
                data = getattr(metric, kind)
                for dp in data.data_points:
                    if kind == "histogram":
                        value = dp.sum  # a histogram point is compared by its sum
                    else:
                        value = dp.as_int if dp.WhichOneof("value") == "as_int" else dp.as_double
                    out.append(
                        Point(
                            resource=resource,
                            name=metric.name,
                            unit=metric.unit,
                            kind=kind,
                            monotonic=bool(getattr(data, "is_monotonic", False)),
                            temporality=int(getattr(data, "aggregation_temporality", 0)),
                            attributes=_attrs(dp.attributes),
                            time_ns=dp.time_unix_nano,
                            value=value,
                        )
                    )


def _logs(request: ExportLogsServiceRequest, out: list[LogRow]) -> None:
    for rl in request.resource_logs:
        resource = _attrs(rl.resource.attributes)
        for sl in rl.scope_logs:
            for record in sl.log_records:
                out.append(
                    LogRow(
                        resource=resource,
                        time_ns=record.time_unix_nano,
                        observed_ns=record.observed_time_unix_nano,
                        severity=record.severity_text,
                        body=_value(record.body),
                        attributes=_attrs(record.attributes),
                    )
                )


def wait_for(
    sink_dir: Path, predicate: Callable[[list[Point], list[LogRow]], bool], timeout: float = 15.0
) -> tuple[list[Point], list[LogRow]]:
    """The file exporter flushes on an interval: poll until what we expect is there."""
    deadline = time.monotonic() + timeout
    while True:
        points, logs = read_sink(sink_dir)
        if predicate(points, logs) or time.monotonic() > deadline:
            return points, logs
        time.sleep(0.2)
