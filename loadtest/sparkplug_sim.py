"""A Sparkplug B 3.0 edge node simulator over a real MQTT broker: for end-to-end tests and load.

    python -m loadtest.sparkplug_sim --broker mqtt://127.0.0.1:1883 --nodes 4 --devices 10 --metrics 10 \
        --rate 1000 --seconds 10

Each node connects with its NDEATH as the Will, publishes NBIRTH (bdSeq, metrics with aliases) and a
DBIRTH per device, then DDATA by alias with seq 0..255. It answers a Rebirth NCMD with a new birth.
Bounded by --seconds and --messages; loopback brokers only."""

import argparse
import asyncio
import itertools
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from gmqtt import Client, Message

from receiver.decode.sparkplug import DataType
from receiver.decode.sparkplug._pb import sparkplug_b_pb2 as pb


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class EdgeNode:
    group: str
    node: str
    devices: Sequence[str]
    metrics_per_device: int = 10
    bd_seq: int = 0
    seq: int = 0
    rebirths_received: int = 0
    client: Client | None = None
    births: int = 0
    _aliases: dict[tuple[str, int], int] = field(default_factory=dict)

    def topic(self, kind: str, device: str | None = None) -> str:
        return f"spBv1.0/{self.group}/{kind}/{self.node}" + (f"/{device}" if device else "")

    def metric_name(self, index: int) -> str:
        return f"Sensors/Value{index}"

    def alias(self, device: str, index: int) -> int:
        return self._aliases.setdefault((device, index), len(self._aliases) + 1)

    def _next_seq(self) -> int:
        seq = self.seq
        self.seq = (self.seq + 1) % 256
        return seq

    def ndeath_payload(self) -> bytes:
        payload = pb.Payload(timestamp=now_ms())
        payload.metrics.add(name="bdSeq", datatype=DataType.Int64, long_value=self.bd_seq)
        return payload.SerializeToString()

    def nbirth_payload(self) -> bytes:
        self.seq = 0
        payload = pb.Payload(timestamp=now_ms(), seq=self._next_seq())
        payload.metrics.add(name="bdSeq", datatype=DataType.Int64, long_value=self.bd_seq)
        payload.metrics.add(name="Node Control/Rebirth", datatype=DataType.Boolean, boolean_value=False)
        return payload.SerializeToString()

    def dbirth_payload(self, device: str) -> bytes:
        payload = pb.Payload(timestamp=now_ms(), seq=self._next_seq())
        for index in range(self.metrics_per_device):
            metric = payload.metrics.add(
                name=self.metric_name(index),
                alias=self.alias(device, index),
                datatype=DataType.Double,
                double_value=0.0,
            )
            prop = metric.properties
            prop.keys.append("engUnit")
            prop.values.add(type=DataType.String, string_value="Cel")
        return payload.SerializeToString()

    def ddata_payload(self, device: str, values: Sequence[float], *, seq: int | None = None) -> bytes:
        ts = now_ms()
        payload = pb.Payload(timestamp=ts, seq=self._next_seq() if seq is None else seq)
        for index, value in enumerate(values):
            payload.metrics.add(
                alias=self.alias(device, index), timestamp=ts, datatype=DataType.Double, double_value=value
            )
        return payload.SerializeToString()

    async def connect(self, broker: str) -> None:
        url = urlsplit(broker)
        self.client = Client(
            f"sim-{self.group}-{self.node}",
            clean_session=True,
            will_message=Message(self.topic("NDEATH"), self.ndeath_payload(), qos=1),
        )
        self.client.on_message = self._on_command
        await self.client.connect(url.hostname, url.port or 1883, keepalive=30)
        self.client.subscribe(self.topic("NCMD"), qos=1)

    def birth(self) -> None:
        assert self.client is not None
        self.client.publish(self.topic("NBIRTH"), self.nbirth_payload(), qos=0)
        for device in self.devices:
            self.client.publish(self.topic("DBIRTH", device), self.dbirth_payload(device), qos=0)
        self.births += 1

    def publish_ddata(
        self, device: str, values: Sequence[float], *, seq: int | None = None, qos: int = 0
    ) -> None:
        assert self.client is not None
        self.client.publish(self.topic("DDATA", device), self.ddata_payload(device, values, seq=seq), qos=qos)

    async def disconnect_with_ndeath(self) -> None:
        assert self.client is not None
        self.client.publish(self.topic("NDEATH"), self.ndeath_payload(), qos=1)
        await asyncio.sleep(0.05)
        await self.client.disconnect()
        self.bd_seq = (self.bd_seq + 1) % 256

    def _on_command(self, client: Client, topic: str, payload: bytes, qos: int, properties: object) -> int:
        command = pb.Payload.FromString(payload)
        if any(m.name == "Node Control/Rebirth" and m.boolean_value for m in command.metrics):
            self.rebirths_received += 1
            self.birth()
        return 0


async def run_load(
    broker: str, nodes: int, devices: int, metrics: int, rate: float, seconds: float, max_messages: int
) -> int:
    """Publish DDATA at ``rate`` messages/s across all devices; returns how many were published."""
    edge_nodes = [
        EdgeNode("Load", f"node{n}", [f"dev{d}" for d in range(devices)], metrics) for n in range(nodes)
    ]
    for edge in edge_nodes:
        await edge.connect(broker)
        edge.birth()
    rng = random.Random(1)
    sent = 0
    deadline = time.monotonic() + seconds
    started = time.monotonic()
    targets = itertools.cycle([(e, d) for e in edge_nodes for d in e.devices])
    while sent < max_messages and time.monotonic() < deadline:
        edge, device = next(targets)
        edge.publish_ddata(device, [rng.random() * 100 for _ in range(metrics)])
        sent += 1
        if sent % 100 == 0:
            ahead = sent / rate - (time.monotonic() - started)
            await asyncio.sleep(max(0.0, ahead))
    for edge in edge_nodes:
        await edge.disconnect_with_ndeath()
    return sent


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--broker", default="mqtt://127.0.0.1:1883")
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--metrics", type=int, default=10)
    parser.add_argument("--rate", type=float, default=1000.0, help="DDATA messages per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--messages", type=int, default=1_000_000)
    args = parser.parse_args()
    if urlsplit(args.broker).hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("load is only sent to a broker on loopback")
    sent = asyncio.run(
        run_load(args.broker, args.nodes, args.devices, args.metrics, args.rate, args.seconds, args.messages)
    )
    print(f"published {sent} DDATA messages")


if __name__ == "__main__":
    main()
