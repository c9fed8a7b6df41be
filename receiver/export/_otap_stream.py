"""One OTel-Arrow (OTAP) ``ArrowMetrics`` gRPC stream: Arrow IPC stream state plus request/answer.

The server keeps one Arrow IPC reader per payload's ``schema_id`` for the life of the gRPC stream,
so each schema travels once per stream and later messages carry only record batches (and the
dictionaries that changed). This module mirrors that state: one IPC writer per payload type, created
with the stream and dropped with it. A stream that fails in any way is closed and forgotten; the
next send opens a new one, with fresh schemas, because after an error neither side can know what the
other's IPC state is.

Each sender (export worker) owns one stream and has one message in flight on it: the answer for a
message is the next ``BatchStatus``, which the server sends in order of receipt."""

import asyncio
import itertools

import grpc
import pyarrow as pa

from ._otap_encode import SCHEMAS, OtapMessage
from ._pb.arrow_service_pb2 import ArrowPayload, ArrowPayloadType, BatchArrowRecords, BatchStatus, StatusCode

ARROW_METRICS_METHOD = "/opentelemetry.proto.experimental.arrow.v1.ArrowMetricsService/ArrowMetrics"
# BatchStatus codes a later attempt can cure (the collector's pipeline was busy or unreachable).
RETRYABLE_STATUS = frozenset(
    {
        StatusCode.CANCELED,
        StatusCode.DEADLINE_EXCEEDED,
        StatusCode.RESOURCE_EXHAUSTED,
        StatusCode.ABORTED,
        StatusCode.INTERNAL,
        StatusCode.UNAVAILABLE,
    }
)


class OtapRefused(Exception):
    """The collector answered a message with a non-OK BatchStatus."""

    def __init__(self, status: BatchStatus) -> None:
        super().__init__(f"{StatusCode.Name(status.status_code)}: {status.status_message}")
        self.retryable = status.status_code in RETRYABLE_STATUS


class OtapUnsupported(Exception):
    """The endpoint has no ArrowMetrics service: a configuration error, not a passing fault."""


class OtapStreamBroken(Exception):
    """The stream ended or answered out of order; the message may or may not have been delivered."""


class _Chunks:
    """A write-only sink that keeps what it is given: cheaper than truncating a BytesIO every time
    (measured 0.03 vs 0.24 ms per 18 k-row attribute batch)."""

    __slots__ = ("parts",)

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: memoryview) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    @property
    def closed(self) -> bool:
        return False

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


class _IpcWriter:
    """An Arrow IPC stream for one payload type whose bytes are taken after each record batch."""

    __slots__ = ("_sink", "_writer")

    def __init__(self, schema: pa.Schema, options: pa.ipc.IpcWriteOptions) -> None:
        self._sink = _Chunks()
        self._writer = pa.ipc.new_stream(self._sink, schema, options=options)

    def encode(self, batch: pa.RecordBatch) -> bytes:
        self._writer.write_batch(batch)
        return self._sink.take()


class OtapIpcState:
    """The IPC writers of one stream, by payload type: serializes messages in stream order."""

    def __init__(self, compression: str | None) -> None:
        self._options = pa.ipc.IpcWriteOptions(compression=compression, emit_dictionary_deltas=False)
        self._writers: dict[ArrowPayloadType, _IpcWriter] = {}
        self._batch_ids = itertools.count()

    def serialize(self, message: OtapMessage) -> tuple[int, bytes]:
        """The message's batch id and its ``BatchArrowRecords`` bytes."""
        payloads = []
        for payload_type, batch in message.records:
            writer = self._writers.get(payload_type)
            if writer is None:
                writer = self._writers[payload_type] = _IpcWriter(SCHEMAS[payload_type], self._options)
            payloads.append(
                ArrowPayload(schema_id=str(payload_type), type=payload_type, record=writer.encode(batch))
            )
        batch_id = next(self._batch_ids)
        return batch_id, BatchArrowRecords(batch_id=batch_id, arrow_payloads=payloads).SerializeToString()


class OtapMetricsStream:
    """A lazily opened ``ArrowMetrics`` stream on ``channel`` with one message in flight at a time."""

    def __init__(self, channel: grpc.aio.Channel, compression: str | None) -> None:
        self._method = channel.stream_stream(
            ARROW_METRICS_METHOD, request_serializer=None, response_deserializer=BatchStatus.FromString
        )
        self._compression = compression
        self._call: grpc.aio.StreamStreamCall | None = None
        self._state: OtapIpcState | None = None

    async def send(self, message: OtapMessage, timeout: float) -> None:
        """Deliver ``message``; raises ``OtapRefused`` (the stream is kept unless the server may
        have lost its IPC state), or ``OtapStreamBroken``, ``OtapUnsupported``, ``TimeoutError``,
        ``grpc.aio.AioRpcError`` (the stream is closed: the next send opens another)."""
        if self._call is None or self._state is None:
            self._call = self._method()
            self._state = OtapIpcState(self._compression)
        call = self._call
        batch_id, payload = self._state.serialize(message)
        try:
            async with asyncio.timeout(timeout):
                await call.write(payload)
                status = await call.read()
        except grpc.aio.AioRpcError as exc:
            self.close()
            if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                raise OtapUnsupported(
                    "export.protocol is 'otap' but the collector at export.endpoint has no OTel-Arrow "
                    f"receiver ({exc.details()}): point it at the collector's otap receiver, or use 'otlp'"
                ) from exc
            raise
        except BaseException:
            self.close()
            raise
        if status is grpc.aio.EOF or status.batch_id != batch_id:
            self.close()
            raise OtapStreamBroken(
                "stream ended"
                if status is grpc.aio.EOF
                else f"answer for batch {status.batch_id}, not {batch_id}"
            )
        if status.status_code != StatusCode.OK:
            if status.status_code == StatusCode.INVALID_ARGUMENT:
                self.close()  # the server may have lost its IPC state with this message
            raise OtapRefused(status)

    def close(self) -> None:
        if self._call is not None:
            self._call.cancel()
        self._call = None
        self._state = None
