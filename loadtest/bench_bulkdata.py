"""Bulk Data throughput: 1000-parameter CSV reports through one receiver process into our collector.

    python -m loadtest.bench_bulkdata [--reports 400] [--params 1000] [--concurrency 16] [--seconds 60]

Load comes from this process (async HTTP, keep-alive); the receiver and collector are separate
processes whose CPU time is read from /proc, so 'per receiver core' = points / receiver CPU-seconds.
Bounded by --reports and --seconds; loopback only."""

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from receiver.devstack import REPO, run_collector, run_receiver

BENCH_CONFIG = REPO / "otelcol" / "config.bench.yaml"
_TICKS = os.sysconf("SC_CLK_TCK")

# Realistic mix: counters, gauges, booleans and a few strings, with instance numbers.
_TEMPLATES = (
    ("Device.Ethernet.Interface.{}.Stats.BytesSent", "unsignedLong"),
    ("Device.Ethernet.Interface.{}.Stats.PacketsReceived", "unsignedLong"),
    ("Device.WiFi.AccessPoint.{}.AssociatedDevice.{}.SignalStrength", "int"),
    ("Device.WiFi.Radio.{}.Stats.Noise", "int"),
    ("Device.WiFi.Radio.{}.Enable", "boolean"),
    ("Device.Hosts.Host.{}.Active", "boolean"),
    ("Device.IP.Interface.{}.Stats.BytesReceived", "unsignedLong"),
    ("Device.DeviceInfo.ProcessStatus.Process.{}.CPUTime", "unsignedInt"),
)


def csv_report(params: int, rng: random.Random, timestamp: int) -> bytes:
    lines = ["ReportTimestamp,ParameterName,ParameterValue,ParameterType"]
    for index in range(params):
        template, type_ = _TEMPLATES[index % len(_TEMPLATES)]
        name = template.format(*(str(1 + (index // len(_TEMPLATES)) % 64),) * template.count("{}"))
        value = "true" if type_ == "boolean" else str(rng.randint(-95, 10**9))
        lines.append(f"{timestamp},{name},{value},{type_}")
    return ("\n".join(lines) + "\n").encode()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


async def drive(
    url: str, bodies: list[bytes], reports: int, concurrency: int, seconds: float
) -> tuple[int, int, list[float]]:
    ok = failed = 0
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    queue = iter(range(reports))
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency), timeout=60) as client:

        async def worker(wid: int) -> None:
            nonlocal ok, failed
            for n in queue:
                if time.monotonic() > deadline:
                    return
                started = time.perf_counter()
                response = await client.post(
                    f"{url}/bulkdata?oui=00256D&pc=Bench&sn=D{wid}-{n}",
                    content=bodies[n % len(bodies)],
                    headers={"content-type": "text/csv", "bbf-report-format": "ParameterPerRow"},
                )
                latencies.append(time.perf_counter() - started)
                if response.status_code == 204:
                    ok += 1
                else:
                    failed += 1

        await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return ok, failed, latencies


def _p99(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.99) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reports", type=int, default=400)
    parser.add_argument("--params", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    rng = random.Random(7)
    bodies = [csv_report(args.params, rng, 1700000000 + i) for i in range(8)]
    with (
        tempfile.TemporaryDirectory() as tmp,
        run_collector(Path(tmp), BENCH_CONFIG) as collector,
        run_receiver(Path(tmp), collector.otlp_endpoint, "--log-level", "warning") as receiver,
    ):
        asyncio.run(drive(receiver.url, bodies, min(20, args.reports), 4, 30))  # warm-up: caches, connections
        rcpu0, ccpu0 = cpu_seconds(receiver.process.pid), cpu_seconds(collector.process.pid)
        started = time.monotonic()
        ok, failed, latencies = asyncio.run(
            drive(receiver.url, bodies, args.reports, args.concurrency, args.seconds)
        )
        wall = time.monotonic() - started
        rcpu, ccpu = cpu_seconds(receiver.process.pid) - rcpu0, cpu_seconds(collector.process.pid) - ccpu0
    points = ok * args.params
    rows = [
        ("reports answered 204 / other", f"{ok} / {failed}"),
        ("datapoints acknowledged", f"{points}"),
        ("wall time (s)", f"{wall:.2f}"),
        ("datapoints/s end to end (wall)", f"{points / wall:,.0f}"),
        ("datapoints/s per receiver CPU-second", f"{points / rcpu:,.0f}" if rcpu else "n/a"),
        ("datapoints/s per collector CPU-second", f"{points / ccpu:,.0f}" if ccpu else "n/a"),
        ("receiver CPU per point / collector CPU per point", f"{rcpu / ccpu:.2f}" if ccpu else "n/a"),
        (
            "latency p50 / p99 (ms)",
            f"{statistics.median(latencies) * 1e3:.1f} / {_p99(latencies) * 1e3:.1f}" if latencies else "n/a",
        ),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"\nBulk Data benchmark: {args.params}-parameter CSV reports, concurrency {args.concurrency}")
    for name, value in rows:
        print(f"| {name:<{width}} | {value:>16} |")


if __name__ == "__main__":
    main()
