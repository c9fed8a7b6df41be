"""The exporter against an in-process OTLP (and OTAP) gRPC server double: retries, permanent errors,
partial success, and for OTAP streams that end unanswered."""

import asyncio
from collections.abc import AsyncIterator

import grpc
import pyarrow as pa
import pytest
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc

from receiver.batch import Batcher
from receiver.config import BatchConfig, ExportConfig
from receiver.export import ExportError, OtlpGrpcExporter
from receiver.export._otap_encode import NUMBER_DATA_POINTS
from receiver.export._otap_stream import ARROW_METRICS_METHOD
from receiver.export._pb.arrow_service_pb2 import BatchArrowRecords, BatchStatus, StatusCode
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


def _otlp_server(fake: FakeCollector) -> grpc.aio.Server:
    """A server offering ``fake`` as the OTLP metrics and logs services (not started, no port yet)."""
    server = grpc.aio.server()
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(fake, server)
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(fake, server)
    return server


@pytest.fixture
async def collector() -> AsyncIterator[tuple[FakeCollector, str]]:
    fake = FakeCollector()
    server = _otlp_server(fake)
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
    server = _otlp_server(fake)
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


# -- OTAP (export.protocol: otap) ------------------------------------------------------------------


class FakeArrowCollector(FakeCollector):
    """Also serves ArrowMetrics streams: reads each stream's Arrow IPC payloads as the collector does
    (one IPC reader per schema id, per stream), answers from a script of status codes or hang-ups."""

    def __init__(self) -> None:
        super().__init__()
        self.arrow_script: list[StatusCode.ValueType | None] = []  # None: end the stream unanswered
        self.streams = 0

    async def arrow_metrics(self, requests, context):  # type: ignore[no-untyped-def]
        self.streams += 1
        ipc: dict[str, bytes] = {}
        async for request in requests:
            records = {}
            for payload in request.arrow_payloads:
                ipc[payload.schema_id] = ipc.get(payload.schema_id, b"") + payload.record
                records[payload.type] = list(pa.ipc.open_stream(ipc[payload.schema_id]))[-1]
            code = self.arrow_script.pop(0) if self.arrow_script else StatusCode.OK
            if code is None:
                return
            if code == StatusCode.OK:
                self.points += records[NUMBER_DATA_POINTS].num_rows
            yield BatchStatus(batch_id=request.batch_id, status_code=code, status_message="scripted")


@pytest.fixture
async def arrow_collector() -> AsyncIterator[tuple[FakeArrowCollector, str]]:
    fake = FakeArrowCollector()
    server = _otlp_server(fake)
    handler = grpc.stream_stream_rpc_method_handler(
        fake.arrow_metrics,
        request_deserializer=BatchArrowRecords.FromString,
        response_serializer=BatchStatus.SerializeToString,
    )
    service = ARROW_METRICS_METHOD.split("/")[1]
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler(service, {"ArrowMetrics": handler})]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield fake, f"127.0.0.1:{port}"
    await server.stop(None)


async def test_otap_streams_metrics_and_sends_logs_as_otlp(
    arrow_collector: tuple[FakeArrowCollector, str],
) -> None:
    fake, endpoint = arrow_collector
    exporter, done = await _send(endpoint, protocol="otap")  # type: ignore[arg-type]
    await asyncio.wait_for(done, 5)
    assert (fake.points, fake.logs, fake.streams) == (5, 1, 1)
    await exporter.stop()


@pytest.mark.parametrize(
    ("script", "streams", "retries"),
    [
        ([StatusCode.UNAVAILABLE, StatusCode.RESOURCE_EXHAUSTED], 1, 2),  # retried on the same stream
        # Ended unanswered: retried on a new stream, which the fake reads with a fresh IPC reader, so
        # the schemas were sent again.
        ([None], 2, 1),
    ],
    ids=["retryable-status", "stream-ends-unanswered"],
)
async def test_otap_retries_until_delivered(
    arrow_collector: tuple[FakeArrowCollector, str],
    script: list[StatusCode.ValueType | None],
    streams: int,
    retries: int,
) -> None:
    fake, endpoint = arrow_collector
    fake.arrow_script = list(script)
    exporter, done = await _send(endpoint, protocol="otap")  # type: ignore[arg-type]
    await asyncio.wait_for(done, 5)
    assert (fake.points, fake.streams, exporter.stats.retries) == (5, streams, retries)
    await exporter.stop()


async def test_otap_invalid_argument_fails_the_batch_without_retry(
    arrow_collector: tuple[FakeArrowCollector, str],
) -> None:
    fake, endpoint = arrow_collector
    fake.arrow_script = [StatusCode.INVALID_ARGUMENT]
    exporter, done = await _send(endpoint, protocol="otap")  # type: ignore[arg-type]
    with pytest.raises(ExportError, match="collector refused the data: INVALID_ARGUMENT: scripted") as caught:
        await asyncio.wait_for(done, 5)
    assert not caught.value.retryable and fake.points == 0 and exporter.stats.retries == 0
    await exporter.stop()


async def test_otap_to_a_collector_without_otel_arrow_says_what_to_change(
    collector: tuple[FakeCollector, str],
) -> None:
    _, endpoint = collector  # OTLP services only
    exporter, done = await _send(endpoint, protocol="otap")  # type: ignore[arg-type]
    with pytest.raises(
        ExportError, match=r"has no OTel-Arrow receiver.*otap receiver, or use 'otlp'"
    ) as caught:
        await asyncio.wait_for(done, 5)
    assert not caught.value.retryable and exporter.stats.retries == 0
    await exporter.stop()
