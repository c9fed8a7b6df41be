import asyncio

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from receiver.batch import Batcher, SealedBatch
from receiver.config import BatchConfig
from receiver.export import encode_logs, encode_metrics
from receiver.signals import LogEntry, MappedReport, MetricSeries, SeriesRegistry


async def _batch(reports: list[MappedReport]) -> SealedBatch:
    sealed: list[SealedBatch] = []
    batcher = Batcher(BatchConfig(max_points=10**6, max_age_s=60), sealed.append)
    for report in reports:
        batcher.add(report)
    batcher.flush()
    await asyncio.sleep(0)
    return sealed[0]


async def test_points_group_by_resource_and_metric_with_kind_unit_and_attributes() -> None:
    registry = SeriesRegistry()
    counter_1 = registry.intern(
        MetricSeries(
            "Device.Ethernet.Interface.{i}.Stats.BytesSent", "By", "sum", True, (("Interface", "1"),)
        )
    )
    counter_2 = registry.intern(
        MetricSeries(
            "Device.Ethernet.Interface.{i}.Stats.BytesSent", "By", "sum", True, (("Interface", "2"),)
        )
    )
    gauge = registry.intern(MetricSeries("Device.DeviceInfo.UpTime", "s", "gauge", False, ()))
    assert counter_1 is not None and counter_2 is not None and gauge is not None
    a = MappedReport(resource=(("device.id", "A"),))
    a.metrics.append(counter_1, 10, 5)
    a.metrics.append(gauge, 10, 1.5)
    a.metrics.append(counter_2, 10, 2**64 - 1)
    b = MappedReport(resource=(("device.id", "B"),))
    b.metrics.append(gauge, 20, 7)
    batch = await _batch([b, a])
    [payload] = encode_metrics(batch, registry, max_bytes=4 << 20)
    request = ExportMetricsServiceRequest.FromString(payload)
    got = {}
    for rm in request.resource_metrics:
        device = rm.resource.attributes[0].value.string_value
        assert rm.scope_metrics[0].scope.name == "telemetry-receiver"
        for metric in rm.scope_metrics[0].metrics:
            data = getattr(metric, metric.WhichOneof("data"))
            for dp in data.data_points:
                value = dp.as_int if dp.WhichOneof("value") == "as_int" else dp.as_double
                attrs = {kv.key: kv.value.string_value for kv in dp.attributes}
                got[(device, metric.name, metric.unit, metric.WhichOneof("data"), tuple(attrs.items()))] = (
                    dp.time_unix_nano,
                    value,
                )
            if metric.HasField("sum"):
                assert metric.sum.is_monotonic and metric.sum.aggregation_temporality == 2
    assert got == {
        ("A", "Device.Ethernet.Interface.{i}.Stats.BytesSent", "By", "sum", (("Interface", "1"),)): (10, 5),
        ("A", "Device.Ethernet.Interface.{i}.Stats.BytesSent", "By", "sum", (("Interface", "2"),)): (
            10,
            float(2**64 - 1),
        ),
        ("A", "Device.DeviceInfo.UpTime", "s", "gauge", ()): (10, 1.5),
        ("B", "Device.DeviceInfo.UpTime", "s", "gauge", ()): (20, 7),
    }
    # one Metric per name within a resource, holding both instances' points
    resource_a = next(
        rm for rm in request.resource_metrics if rm.resource.attributes[0].value.string_value == "A"
    )
    assert sorted(m.name for m in resource_a.scope_metrics[0].metrics) == [
        "Device.DeviceInfo.UpTime",
        "Device.Ethernet.Interface.{i}.Stats.BytesSent",
    ]


async def test_requests_stay_under_the_size_limit_and_lose_nothing() -> None:
    registry = SeriesRegistry()
    reports = []
    for device in range(20):
        report = MappedReport(resource=(("device.id", f"D{device}"),))
        for n in range(300):
            sid = registry.intern(
                MetricSeries(f"Device.X.{{i}}.Metric{n % 7}", "", "gauge", False, (("X", str(n)),))
            )
            assert sid is not None
            report.metrics.append(sid, n, n)
        reports.append(report)
    batch = await _batch(reports)
    payloads = encode_metrics(batch, registry, max_bytes=20_000)
    assert len(payloads) > 1
    assert all(len(p) <= 20_000 for p in payloads)
    total = 0
    for payload in payloads:
        for rm in ExportMetricsServiceRequest.FromString(payload).resource_metrics:
            for metric in rm.scope_metrics[0].metrics:
                total += len(metric.gauge.data_points)
    assert total == 20 * 300


async def test_logs_carry_times_body_severity_and_typed_attributes() -> None:
    report = MappedReport(resource=(("device.id", "A"),))
    report.logs = [
        LogEntry(
            time_ns=1,
            observed_ns=2,
            body="bulkdata.report",
            attributes={"Device.DeviceInfo.SoftwareVersion": "7.2", "n": 3, "ok": True, "f": 0.5},
        )
    ]
    [payload] = encode_logs(await _batch([report]), max_bytes=1 << 20)
    record = ExportLogsServiceRequest.FromString(payload).resource_logs[0].scope_logs[0].log_records[0]
    assert (
        record.time_unix_nano,
        record.observed_time_unix_nano,
        record.severity_number,
        record.severity_text,
    ) == (1, 2, 9, "INFO")
    assert record.body.string_value == "bulkdata.report"
    values = {kv.key: getattr(kv.value, kv.value.WhichOneof("value")) for kv in record.attributes}
    assert values == {"Device.DeviceInfo.SoftwareVersion": "7.2", "n": 3, "ok": True, "f": 0.5}


async def test_histograms_and_delta_sums_are_encoded_with_their_temporality() -> None:
    from receiver.export import encode_histograms
    from receiver.signals import HistogramPoint

    registry = SeriesRegistry()
    hist = registry.intern(
        MetricSeries(
            "cdr.voice.call_duration",
            "s",
            "histogram",
            False,
            (("cdr.tower_id", 7),),
            temporality="delta",
            bounds=(10.0, 60.0),
        )
    )
    total = registry.intern(MetricSeries("cdr.records", "{record}", "sum", True, (), temporality="delta"))
    assert hist is not None and total is not None
    report = MappedReport(resource=(("service.name", "cdr"),))
    report.histograms = [HistogramPoint(hist, 20, 10, 3, 95.0, (1, 1, 1))]
    report.metrics.append(total, 20, 3)
    batch = await _batch([report])
    [metrics_payload] = encode_metrics(batch, registry, max_bytes=1 << 20)
    [hist_payload] = encode_histograms(batch, registry, max_bytes=1 << 20)
    counter = (
        ExportMetricsServiceRequest.FromString(metrics_payload)
        .resource_metrics[0]
        .scope_metrics[0]
        .metrics[0]
    )
    assert counter.sum.aggregation_temporality == 1 and counter.sum.is_monotonic  # DELTA
    metric = (
        ExportMetricsServiceRequest.FromString(hist_payload).resource_metrics[0].scope_metrics[0].metrics[0]
    )
    assert (metric.name, metric.unit, metric.histogram.aggregation_temporality) == (
        "cdr.voice.call_duration",
        "s",
        1,
    )
    dp = metric.histogram.data_points[0]
    assert (dp.count, dp.sum, list(dp.bucket_counts), list(dp.explicit_bounds)) == (
        3,
        95.0,
        [1, 1, 1],
        [10.0, 60.0],
    )
    assert (dp.start_time_unix_nano, dp.time_unix_nano) == (10, 20)
    assert dp.attributes[0].key == "cdr.tower_id" and dp.attributes[0].value.int_value == 7
