"""MQTT level: a QoS 1 message is acknowledged (PUBACK) only once the spool made its data durable.

A real Mosquitto, the receiver's MQTT session (with its own packet splitter) and a real batcher and
spool whose fsync is held. Receive Maximum 2 makes the PUBACKs observable: the broker sends a third
QoS 1 message only after one of the first two was acknowledged. QoS 0 probes give sync points
without waiting for time to pass: the broker handles one connection's packets in order."""

import asyncio
import os
import threading
from pathlib import Path

import pytest
from _until import until
from gmqtt import Client

from receiver.batch import Batcher, SealedBatch
from receiver.config import BatchConfig, SpoolConfig
from receiver.devstack import Broker
from receiver.ingress._mqtt import MqttSession, MqttSettings
from receiver.signals import MetricSeries, ResourcePoints, SeriesRegistry
from receiver.spool import Spool


async def test_qos1_message_is_acknowledged_only_after_its_data_is_durable(
    broker: Broker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fsync_allowed = threading.Event()
    fsyncs_started = threading.Event()
    real_fsync = os.fsync

    def held_fsync(fd: int) -> None:  # the spool runs it in a thread (below): blocking is fine
        fsyncs_started.set()
        assert fsync_allowed.wait(30)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", held_fsync)
    registry = SeriesRegistry()
    series = registry.intern(MetricSeries("m", "", "gauge", False, ()))
    assert series is not None
    exported: list[SealedBatch] = []
    spool = Spool(
        SpoolConfig(directory=str(tmp_path / "spool"), fsync_inline_max_s=0), registry, exported.append
    )
    await spool.start()
    batcher = Batcher(BatchConfig(), spool.append, admission=spool.full_reason)
    seen: list[str] = []

    def handle(topic: str, payload: bytes) -> "asyncio.Future[None] | None":
        seen.append(topic)
        if topic != "t/data":
            return None
        return batcher.add_points(ResourcePoints((("device.id", "d"),), [series], [1], [1.0], [0], [0]))

    async def handle_async(
        topic: str, payload: bytes, response_topic: str | None
    ) -> "asyncio.Future[None] | None":
        return handle(topic, payload)

    session = MqttSession(
        broker.url,
        MqttSettings(client_id="host", subscriptions=(("t/#", 1),)),
        handle_async,
        max_queued=2,  # also the Receive Maximum announced to the broker
        sync_handler=handle,
    )
    publisher = Client("publisher")
    try:
        await session.start()
        await session.connected.wait()
        await publisher.connect(broker.host, broker.port)
        for _ in range(3):
            publisher.publish("t/data", b"x", qos=1)
        publisher.publish("t/probe", b"", qos=0)
        await until(lambda: "t/probe" in seen)
        await until(fsyncs_started.is_set)
        # A PUBACK sent before now would reach the broker before this probe of our own connection,
        # and the broker would deliver the third message before the probe comes back.
        session.publish("t/probe-own", b"", qos=0)
        await until(lambda: "t/probe-own" in seen)
        assert seen.count("t/data") == 2
        assert not exported  # nothing durable yet, so nothing went on to export

        fsync_allowed.set()
        await until(lambda: seen.count("t/data") == 3)
        await until(lambda: bool(exported))  # durable, then exported (after the spool's linger)
    finally:
        fsync_allowed.set()
        await publisher.disconnect()
        await session.stop()
        await batcher.stop()
        await spool.stop()


class _Connection:
    def __init__(self) -> None:
        self.packages: list[tuple[int, bytes]] = []

    def put_package(self, package: object) -> None:
        self.packages.append((package.cmd, package.data))  # type: ignore[attr-defined]


class _Handler:
    current_connection: object = None


def test_splitter_hands_over_packets_whole_however_the_stream_is_cut() -> None:
    from receiver.ingress._gmqtt_publish import _splitter

    def packet(cmd: int, body: bytes) -> bytes:
        size, length = len(body), bytearray()
        while True:
            length.append((size & 0x7F) | (0x80 if size > 0x7F else 0))
            size >>= 7
            if not size:
                return bytes([cmd, *length]) + body

    packets = [(0x32, b"p" * 5), (0x40, b"\x00\x01"), (0x30, b"q" * 300), (0xD0, b""), (0x30, b"r" * 20_000)]
    stream = b"".join(packet(cmd, body) for cmd, body in packets)
    for cut in range(0, len(stream), 7):
        connection, handler = _Connection(), _Handler()
        handler.current_connection = connection
        published: list[tuple[int, bytes]] = []
        split = _splitter(
            connection, handler, lambda data: 0, lambda cmd, body, out=published: out.append((cmd, body))
        )
        buffer = stream[:cut]
        buffer = buffer[split(buffer) :] + stream[cut:]  # as gmqtt's read loop keeps the rest
        assert split(buffer) == len(buffer)
        assert published == [p for p in packets if p[0] & 0xF0 == 0x30]
        assert connection.packages == [p for p in packets if p[0] & 0xF0 != 0x30]
    # A superseded connection's data goes to gmqtt's own splitter (which drops it).
    assert _splitter(_Connection(), _Handler(), lambda data: 42, print)(stream) == 42
    # A remaining length of more than 4 bytes: malformed, the connection is reset.
    connection, handler = _Connection(), _Handler()
    handler.current_connection = connection
    assert _splitter(connection, handler, lambda data: 0, print)(b"\x30\x80\x80\x80\x80\x01") == -1


def test_splitter_leaves_the_rest_to_gmqtt_once_the_connection_is_superseded() -> None:
    from receiver.ingress._gmqtt_publish import _splitter

    connection, handler = _Connection(), _Handler()
    handler.current_connection = connection
    superseding = _Connection.put_package

    def put_package(self: _Connection, package: object) -> None:
        superseding(self, package)
        handler.current_connection = None  # the DISCONNECT handling replaced the connection

    connection.put_package = put_package.__get__(connection)  # type: ignore[method-assign]
    published: list[bytes] = []
    left: list[bytes] = []
    split = _splitter(
        connection, handler, lambda data: left.append(data) or len(data), lambda c, b: published.append(b)
    )
    stream = b"\x30\x03\x00\x01t" + b"\xe0\x00" + b"\x30\x03\x00\x01u"
    assert split(stream) == len(stream)
    assert published == [b"\x00\x01t"] and connection.packages == [(0xE0, b"")]
    assert left == [b"\x30\x03\x00\x01u"]
