"""Sparkplug B throughput: simulated edge nodes -> real Mosquitto -> one receiver -> our collector.

    python -m loadtest.bench_sparkplug [--messages 100000] [--metrics 10] [--rate 50000] [--seconds 60]

Prints DDATA messages/s and metrics/s per receiver CPU-second (CPU time from /proc, so the figure is
per core whatever else runs), end-to-end wall rates, and the collector's CPU for the same data. Each
figure is also measured, in the same run and with the same load, for the naive baseline (every
payload decoded by protobuf, per-point protobuf objects for OTLP: ``mqtt.learn_shapes`` off,
``export.encoder: protobuf``) and shown as a ratio against it. Bounded by --messages and --seconds;
loopback only."""

import argparse
import asyncio
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from loadtest._table import print_comparison
from loadtest.bench_bulkdata import BENCH_CONFIG, cpu_seconds
from loadtest.sparkplug_sim import run_load
from receiver.devstack import run_collector, run_mosquitto, run_receiver


def scrape(url: str, name: str) -> float:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and not line.startswith("#")
    )


BASELINE_ENV = {"RECEIVER_MQTT__LEARN_SHAPES": "false", "RECEIVER_EXPORT__ENCODER": "protobuf"}


@dataclass
class Figures:
    sent: int
    handled: float
    exported: float
    wall_s: float
    receiver_cpu_s: float
    collector_cpu_s: float


def measure(args: argparse.Namespace, rate: float, env: dict[str, str]) -> Figures:
    with (
        tempfile.TemporaryDirectory() as tmp,
        run_mosquitto(Path(tmp)) as broker,
        run_collector(Path(tmp), BENCH_CONFIG) as collector,
        run_receiver(
            Path(tmp),
            collector.otlp_endpoint,
            "--mqtt-broker",
            broker.url,
            "--log-level",
            "warning",
            env={"RECEIVER_MQTT__HOST_ID": "bench", **env},
        ) as receiver,
    ):
        time.sleep(0.5)
        rcpu0, ccpu0 = cpu_seconds(receiver.process.pid), cpu_seconds(collector.process.pid)
        handled0 = scrape(receiver.url, 'receiver_mqtt_messages_total{outcome="handled"}')
        started = time.monotonic()
        sent = asyncio.run(
            run_load(broker.url, args.nodes, args.devices, args.metrics, rate, args.seconds, args.messages)
        )
        deadline = time.monotonic() + 60
        handled = 0.0
        while time.monotonic() < deadline:  # wait until the receiver drained what the broker holds
            handled = scrape(receiver.url, 'receiver_mqtt_messages_total{outcome="handled"}') - handled0
            if handled >= sent:
                break
            time.sleep(0.2)
        wall = time.monotonic() - started
        rcpu, ccpu = cpu_seconds(receiver.process.pid) - rcpu0, cpu_seconds(collector.process.pid) - ccpu0
        exported = scrape(receiver.url, "receiver_datapoints_exported_total")
    return Figures(sent, handled, exported, wall, rcpu, ccpu)


def _rate(count: float, seconds: float) -> float:
    return count / seconds if seconds else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--metrics", type=int, default=10)
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--devices", type=int, default=25)
    parser.add_argument("--rate", type=float, default=60_000)
    # Offered beyond what it can take, the baseline falls behind, the broker drops QoS 0 messages and
    # the host waits out seq gaps: it is measured at a rate it sustains.
    parser.add_argument("--baseline-rate", type=float, default=15_000)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    base, fast = measure(args, args.baseline_rate, BASELINE_ENV), measure(args, args.rate, {})
    rows = [
        ("DDATA/s per receiver CPU-second", lambda f: _rate(f.handled, f.receiver_cpu_s), "{:,.0f}", "80 k"),
        (
            "metrics/s per receiver CPU-second",
            lambda f: _rate(f.handled * args.metrics, f.receiver_cpu_s),
            "{:,.0f}",
            "",
        ),
        ("DDATA/s end to end (wall)", lambda f: _rate(f.handled, f.wall_s), "{:,.0f}", ""),
        ("receiver CPU / collector CPU", lambda f: _rate(f.receiver_cpu_s, f.collector_cpu_s), "{:.2f}", ""),
        ("DDATA published", lambda f: f.sent, "{:,.0f}", ""),
        ("DDATA handled by the receiver", lambda f: f.handled, "{:,.0f}", ""),
        ("points acknowledged by the collector", lambda f: f.exported, "{:,.0f}", ""),
    ]
    print_comparison(
        f"Sparkplug B: {args.nodes} nodes x {args.devices} devices, {args.metrics} metrics per DDATA, "
        f"{args.messages} DDATA offered at {args.rate:,.0f}/s (baseline: {args.baseline_rate:,.0f}/s), "
        "one receiver process",
        [(name, fmt, figure(base), figure(fast), target) for name, figure, fmt, target in rows],
    )


if __name__ == "__main__":
    main()
