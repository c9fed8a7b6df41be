"""The exporter against an in-process OTLP gRPC server double: retries, permanent errors, partial success."""

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc

from receiver.batch import Batcher
from receiver.config import BatchConfig, ExportConfig
from receiver.export import ExportError, OtlpGrpcExporter
from receiver.signals import LogEntry, MappedReport, MetricSeries, SeriesRegistry


class FakeCollector(
    metrics_service_pb2_grpc.MetricsServiceServicer, logs_service_pb2_grpc.LogsServiceServicer
):
    """Answers from a script of status codes, then OK; records what it accepted."""

    def __init__(self) -> None:
        self.script: list[grpc.StatusCode] = []
        self.points = 0
        self.logs = 0
        self.rejected = 0

    async def Export(self, request, context):  # type: ignore[no-untyped-def]
        if self.script:
            await context.abort(self.script.pop(0), "scripted")
        if isinstance(request, metrics_service_pb2.ExportMetricsServiceRequest):
            self.points += sum(
                len(m.gauge.data_points)
                for rm in request.resource_metrics
                for sm in rm.scope_metrics
                for m in sm.metrics
            )
            response = metrics_service_pb2.ExportMetricsServiceResponse()
            response.partial_success.rejected_data_points = self.rejected
            return response
        self.logs += sum(len(sl.log_records) for rl in request.resource_logs for sl in rl.scope_logs)
        return logs_service_pb2.ExportLogsServiceResponse()


@pytest.fixture
async def collector() -> AsyncIterator[tuple[FakeCollector, str]]:
    fake = FakeCollector()
    server = grpc.aio.server()
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(fake, server)
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield fake, f"127.0.0.1:{port}"
    await server.stop(None)


async def _send(endpoint: str, **export: float) -> tuple[OtlpGrpcExporter, "asyncio.Future[None]"]:
    registry = SeriesRegistry()
    sid = registry.intern(MetricSeries("m", "", "gauge", False, ()))
    assert sid is not None
    exporter = OtlpGrpcExporter(ExportConfig(endpoint=endpoint, retry_initial_s=0.01, **export), registry)  # type: ignore[arg-type]
    await exporter.start()
    batcher = Batcher(BatchConfig(max_age_s=0.01), exporter.submit)
    report = MappedReport(resource=(("device.id", "A"),))
    for n in range(5):
        report.metrics.append(sid, n, n)
    report.logs = [LogEntry(1, 2, "b", {})]
    return exporter, batcher.add(report)


async def test_retryable_errors_are_retried_until_accepted(collector: tuple[FakeCollector, str]) -> None:
    fake, endpoint = collector
    fake.script = [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED]
    exporter, done = await _send(endpoint)
    await asyncio.wait_for(done, 5)
    assert (fake.points, fake.logs) == (5, 1)
    assert exporter.stats.retries == 2
    assert exporter.stats.exported_points == 6
    await exporter.stop()


async def test_permanent_error_fails_the_batch_without_retry(collector: tuple[FakeCollector, str]) -> None:
    fake, endpoint = collector
    fake.script = [grpc.StatusCode.INVALID_ARGUMENT]
    exporter, done = await _send(endpoint)
    with pytest.raises(ExportError, match="collector refused the data: INVALID_ARGUMENT") as caught:
        await asyncio.wait_for(done, 5)
    assert not caught.value.retryable
    assert exporter.stats.retries == 0 and exporter.stats.failed_batches == 1
    await exporter.stop()


async def test_gives_up_after_the_retry_deadline(collector: tuple[FakeCollector, str]) -> None:
    fake, endpoint = collector
    fake.script = [grpc.StatusCode.UNAVAILABLE] * 1000
    exporter, done = await _send(endpoint, retry_deadline_s=0.3, retry_max_s=0.05)
    with pytest.raises(ExportError, match="collector unavailable: UNAVAILABLE"):
        await asyncio.wait_for(done, 5)
    assert exporter.stats.retries >= 2
    await exporter.stop()
    await exporter.stop()  # idempotent


async def test_partial_success_rejections_are_counted(collector: tuple[FakeCollector, str]) -> None:
    fake, endpoint = collector
    fake.rejected = 2
    exporter, done = await _send(endpoint)
    await asyncio.wait_for(done, 5)
    assert exporter.stats.rejected_points == 2
    await exporter.stop()


async def test_tls_to_the_collector_with_a_private_ca(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    fake = FakeCollector()
    server = grpc.aio.server()
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(fake, server)
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(fake, server)
    key_and_chain = (cert.private_key_pem.bytes(), cert.cert_chain_pems[0].bytes())
    credentials = grpc.ssl_server_credentials([key_and_chain])
    port = server.add_secure_port("127.0.0.1:0", credentials)
    await server.start()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    exporter, done = await _send(f"127.0.0.1:{port}", insecure=False, ca_file=str(ca_file))  # type: ignore[arg-type]
    await asyncio.wait_for(done, 5)
    assert fake.points == 5
    await exporter.stop()
    await server.stop(None)
