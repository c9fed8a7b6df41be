"""Sparkplug B throughput: simulated edge nodes -> real Mosquitto -> one receiver -> our collector.

    python -m loadtest.bench_sparkplug [--messages 100000] [--metrics 10] [--rate 50000] [--seconds 60]

Prints DDATA messages/s and metrics/s per receiver CPU-second (CPU time from /proc, so the figure is
per core whatever else runs), end-to-end wall rates, and the collector's CPU for the same data.
Bounded by --messages and --seconds; loopback only."""

import argparse
import asyncio
import tempfile
import time
import urllib.request
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--metrics", type=int, default=10)
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--devices", type=int, default=25)
    parser.add_argument("--rate", type=float, default=50_000)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
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
            env={"RECEIVER_MQTT__HOST_ID": "bench"},
        ) as receiver,
    ):
        time.sleep(0.5)
        rcpu0, ccpu0 = cpu_seconds(receiver.process.pid), cpu_seconds(collector.process.pid)
        handled0 = scrape(receiver.url, 'receiver_mqtt_messages_total{outcome="handled"}')
        started = time.monotonic()
        sent = asyncio.run(
            run_load(
                broker.url, args.nodes, args.devices, args.metrics, args.rate, args.seconds, args.messages
            )
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
    rows = [
        ("DDATA published / handled by the receiver", f"{sent} / {handled:.0f}"),
        ("metrics per DDATA", f"{args.metrics}"),
        ("points acknowledged by the collector", f"{exported:.0f}"),
        ("wall time (s)", f"{wall:.2f}"),
        ("DDATA/s per receiver CPU-second", f"{handled / rcpu:,.0f}" if rcpu else "n/a"),
        ("metrics/s per receiver CPU-second", f"{handled * args.metrics / rcpu:,.0f}" if rcpu else "n/a"),
        ("DDATA/s end to end (wall)", f"{handled / wall:,.0f}"),
        ("receiver CPU / collector CPU", f"{rcpu / ccpu:.2f}" if ccpu else "n/a"),
    ]
    width = max(len(name) for name, _ in rows)
    print(
        f"\nSparkplug benchmark: {args.nodes} nodes x {args.devices} devices, "
        f"{args.metrics} metrics per DDATA"
    )
    for name, value in rows:
        print(f"| {name:<{width}} | {value:>20} |")


if __name__ == "__main__":
    main()
