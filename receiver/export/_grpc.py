"""OTLP/gRPC export of sealed batches, several requests in flight, retries with jittered backoff.
With ``export.protocol: otap`` the number metrics go as OTel-Arrow instead, on one stream per worker.

Errors are classified once, here, where data leaves: retryable gRPC codes and OTAP statuses are
retried until the batch's deadline; anything else fails the batch, and its senders get a 503 so
they resend."""

import asyncio
import contextlib
import functools
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import grpc
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse

from ..batch import SealedBatch
from ..config import ExportConfig
from ..signals import NotDelivered, SeriesRegistry
from ._otap_encode import OtapMetricsEncoder
from ._otap_stream import OtapMetricsStream, OtapRefused, OtapStreamBroken, OtapUnsupported
from ._otlp_encode import encode_histograms, encode_logs, encode_metrics
from ._otlp_fast import FastMetricsEncoder
from ._otlp_histograms_fast import FastHistogramsEncoder
from ._otlp_logs_fast import FastLogsEncoder

log = logging.getLogger(__name__)

METRICS_METHOD = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
LOGS_METHOD = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
RETRYABLE_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.DATA_LOSS,
    }
)
_JITTER = 0.2
_R = TypeVar("_R")
_INLINE_ENCODE_POINTS = 16_384  # ~1.5 ms of encoding at most on the event loop


class ExportError(NotDelivered):
    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.retryable = retryable


@dataclass(slots=True)
class ExportStats:
    requests: int = 0
    retries: int = 0
    failed_batches: int = 0
    exported_points: int = 0
    rejected_points: int = 0  # partial success: the collector refused them (counted, not retried)
    last_latency_s: float = 0.0


class OtlpGrpcExporter:
    def __init__(self, config: ExportConfig, registry: SeriesRegistry) -> None:
        self._config = config
        self._registry = registry
        # The fast encoder keeps per-series wire bytes for the life of the process.
        self._encode_metrics = (
            FastMetricsEncoder(registry).encode
            if config.encoder == "fast"
            else functools.partial(encode_metrics, registry=registry)
        )
        self._encode_logs = FastLogsEncoder().encode if config.encoder == "fast" else encode_logs
        self._encode_histograms = (
            FastHistogramsEncoder(registry).encode
            if config.encoder == "fast"
            else functools.partial(encode_histograms, registry=registry)
        )
        # OTAP: the number metrics go as Arrow record batches on one stream per worker.
        self._otap = OtapMetricsEncoder(registry) if config.protocol == "otap" else None
        self._queue: asyncio.Queue[SealedBatch | None] = asyncio.Queue()
        self._workers: list[asyncio.Task[None]] = []
        self._channel: grpc.aio.Channel | None = None
        self._stopping = asyncio.Event()
        self.stats = ExportStats()
        self.on_worker_died: Callable[[BaseException], None] | None = None

    def channel_state(self) -> "grpc.ChannelConnectivity | None":
        return self._channel.get_state(try_to_connect=True) if self._channel is not None else None

    @property
    def queued_batches(self) -> int:
        return self._queue.qsize()

    async def start(self) -> None:
        if self._channel is not None:
            return
        options = [
            ("grpc.max_send_message_length", self._config.max_request_bytes + 1024 * 1024),
            ("grpc.keepalive_time_ms", 30_000),
        ]
        compression = (
            grpc.Compression.Gzip if self._config.compression == "gzip" else grpc.Compression.NoCompression
        )
        if self._config.insecure:
            self._channel = grpc.aio.insecure_channel(
                self._config.endpoint, options=options, compression=compression
            )
        else:
            self._channel = grpc.aio.secure_channel(
                self._config.endpoint,
                channel_credentials(self._config),
                options=options,
                compression=compression,
            )
        self._send_metrics = self._channel.unary_unary(
            METRICS_METHOD,
            request_serializer=None,
            response_deserializer=ExportMetricsServiceResponse.FromString,
        )
        self._send_logs = self._channel.unary_unary(
            LOGS_METHOD, request_serializer=None, response_deserializer=ExportLogsServiceResponse.FromString
        )
        for index in range(self._config.max_in_flight):
            task = asyncio.create_task(self._work(), name=f"otlp-export-{index}")
            task.add_done_callback(self._watch)
            self._workers.append(task)

    def submit(self, batch: SealedBatch) -> None:
        self._queue.put_nowait(batch)  # bounded upstream by the batcher's pending-points limit

    async def stop(self, timeout: float = 10.0) -> None:
        """Drain what is queued within ``timeout``, then cancel; safe to call twice."""
        if self._channel is None:
            return
        for _ in self._workers:
            self._queue.put_nowait(None)
        _, pending = await asyncio.wait(self._workers, timeout=timeout) if self._workers else (set(), set())
        self._stopping.set()
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        while not self._queue.empty():
            batch = self._queue.get_nowait()
            if batch is not None and not batch.done.done():
                batch.done.set_exception(ExportError("receiver stopped before export", retryable=True))
        await self._channel.close()
        self._channel = None
        self._workers.clear()

    def _watch(self, task: "asyncio.Task[None]") -> None:
        if not task.cancelled() and task.exception() is not None and self.on_worker_died is not None:
            self.on_worker_died(task.exception())  # type: ignore[arg-type]

    async def _work(self) -> None:
        assert self._channel is not None
        compression = None if self._config.otap_compression == "none" else self._config.otap_compression
        stream = OtapMetricsStream(self._channel, compression) if self._otap is not None else None
        try:
            await self._work_on(stream)
        finally:
            if stream is not None:
                stream.close()

    async def _work_on(self, stream: OtapMetricsStream | None) -> None:
        while True:
            batch = await self._queue.get()
            if batch is None:
                return
            try:
                await self._export(batch, stream)
            except ExportError as exc:
                self.stats.failed_batches += 1
                log.warning("batch %d not exported: %s", batch.seq, exc.reason)
                if not batch.done.done():
                    batch.done.set_exception(exc)
                    batch.done.exception()  # mark retrieved: the senders may have gone
            except asyncio.CancelledError:
                if not batch.done.done():
                    batch.done.set_exception(ExportError("receiver stopped during export", retryable=True))
                raise
            except Exception as exc:  # a bug must fail this batch loudly, not stall every sender
                log.exception("batch %d: unexpected export error", batch.seq)
                self.stats.failed_batches += 1
                if not batch.done.done():
                    batch.done.set_exception(ExportError(f"internal error: {exc!r}", retryable=True))
                    batch.done.exception()
            else:
                if not batch.done.done():
                    batch.done.set_result(None)

    async def _export(self, batch: SealedBatch, stream: OtapMetricsStream | None) -> None:
        started = time.monotonic()
        deadline = started + self._config.retry_deadline_s
        max_bytes = self._config.max_request_bytes
        if stream is not None:
            await self._export_otap(batch, stream, deadline)
        else:
            await self._export_otlp_metrics(batch, deadline)
        for payload in self._encode_histograms(batch, max_bytes=max_bytes):
            response = await self._call(self._send_metrics, payload, deadline)
            self.stats.rejected_points += response.partial_success.rejected_data_points
        for payload in self._encode_logs(batch, max_bytes):
            response = await self._call(self._send_logs, payload, deadline)
            self.stats.rejected_points += response.partial_success.rejected_log_records
        self.stats.exported_points += batch.point_count
        self.stats.last_latency_s = time.monotonic() - started

    async def _export_otap(self, batch: SealedBatch, stream: OtapMetricsStream, deadline: float) -> None:
        assert self._otap is not None
        # Points per message: ~4 bytes each compressed, ~40 plain; the request limit bounds the plain.
        max_points = max(1, self._config.max_request_bytes // 64)
        if batch.metrics.num_rows > _INLINE_ENCODE_POINTS:
            messages = await asyncio.to_thread(self._otap.encode, batch, max_points)
        else:
            messages = self._otap.encode(batch, max_points)
        for message in messages:
            await self._retrying(functools.partial(stream.send, message), deadline)

    async def _export_otlp_metrics(self, batch: SealedBatch, deadline: float) -> None:
        max_bytes = self._config.max_request_bytes
        # A merged batch takes milliseconds to encode: off the event loop, or requests wait meanwhile.
        # A small one is cheaper to encode in place than to hand to a thread (and back, under the GIL).
        if batch.metrics.num_rows > _INLINE_ENCODE_POINTS:
            payloads = await asyncio.to_thread(self._encode_metrics, batch, max_bytes=max_bytes)
        else:
            payloads = self._encode_metrics(batch, max_bytes=max_bytes)
        for payload in payloads:
            response = await self._call(self._send_metrics, payload, deadline)
            self.stats.rejected_points += response.partial_success.rejected_data_points

    async def _call(self, method: grpc.aio.UnaryUnaryMultiCallable, payload: bytes, deadline: float):  # type: ignore[no-untyped-def]
        return await self._retrying(lambda timeout: method(payload, timeout=timeout), deadline)

    async def _retrying(self, attempt_once: Callable[[float], Awaitable[_R]], deadline: float) -> _R:
        """``attempt_once(timeout)`` until it succeeds, fails for good, or ``deadline`` passes."""
        attempt = 0
        while True:
            self.stats.requests += 1
            remaining = deadline - time.monotonic()
            try:
                return await attempt_once(max(0.05, min(self._config.timeout_s, remaining)))
            except (
                grpc.aio.AioRpcError,
                OtapRefused,
                OtapStreamBroken,
                OtapUnsupported,
                TimeoutError,
            ) as exc:
                retryable, reason = _classify(exc)
                if not retryable:
                    raise ExportError(f"collector refused the data: {reason}", retryable=False) from exc
                backoff = min(self._config.retry_max_s, self._config.retry_initial_s * 2**attempt)
                backoff *= random.uniform(1 - _JITTER, 1 + _JITTER)
                if time.monotonic() + backoff >= deadline or self._stopping.is_set():
                    raise ExportError(f"collector unavailable: {reason}", retryable=True) from exc
                attempt += 1
                self.stats.retries += 1
                with contextlib.suppress(TimeoutError):  # the wait ends early on stop()
                    await asyncio.wait_for(self._stopping.wait(), timeout=backoff)


def _classify(exc: Exception) -> tuple[bool, str]:
    """Whether a failed attempt may succeed later, and why it failed."""
    if isinstance(exc, grpc.aio.AioRpcError):
        return exc.code() in RETRYABLE_CODES, f"{exc.code().name}: {exc.details()}"
    if isinstance(exc, OtapRefused):
        return exc.retryable, str(exc)
    if isinstance(exc, OtapUnsupported):
        return False, str(exc)
    if isinstance(exc, TimeoutError):
        return True, "no answer on the OTAP stream in time"
    return True, str(exc)


def channel_credentials(config: ExportConfig) -> grpc.ChannelCredentials:
    """TLS to the collector: a private CA and, for mTLS, a client certificate, all from files."""

    def read(path: str | None) -> bytes | None:
        return Path(path).read_bytes() if path else None

    return grpc.ssl_channel_credentials(
        root_certificates=read(config.ca_file),
        private_key=read(config.client_key_file),
        certificate_chain=read(config.client_cert_file),
    )
