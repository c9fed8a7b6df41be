"""The benchmark harness: ``python -m loadtest.bench`` (``make bench``).

Starts the local stack (our collector on a counting pipeline, one receiver process), drives load from
this separate process, and prints one table per run. Every figure of the fast path is also measured,
in the same run, for the naive baseline (exact csv-module decoding, per-point protobuf objects), and
shown as a ratio against it. Bounded in count and time; loopback only.

Figures: datapoints/s per receiver CPU-second (acknowledged by the collector), receiver CPU per point
vs the collector's, p50/p99 latency of 200-parameter reports at half of the measured maximum rate, peak
RSS of the receiver."""

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from loadtest.bench_bulkdata import BENCH_CONFIG, cpu_seconds, csv_report
from receiver.devstack import run_collector, run_receiver

HEADERS = {"content-type": "text/csv", "bbf-report-format": "ParameterPerRow"}


@dataclass
class Figures:
    points_per_cpu_s: float
    points_per_wall_s: float
    receiver_vs_collector_cpu: float
    p50_ms: float
    p99_ms: float
    peak_rss_mb: float
    refused: int


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _saturate(
    url: str, bodies: list[bytes], reports: int, concurrency: int, seconds: float
) -> tuple[int, int]:
    ok = refused = 0
    deadline = time.monotonic() + seconds
    counter = iter(range(reports))
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency), timeout=60) as client:

        async def worker() -> None:
            nonlocal ok, refused
            for n in counter:
                if time.monotonic() > deadline:
                    return
                response = await client.post(
                    f"{url}/bulkdata?oui=00256D&pc=Bench&sn=S{n % 5000}",
                    content=bodies[n % len(bodies)],
                    headers=HEADERS,
                )
                ok += response.status_code == 204
                refused += response.status_code != 204

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ok, refused


async def _paced(url: str, body: bytes, rate: float, seconds: float) -> list[float]:
    """Open-loop load at ``rate`` reports/s; returns each report's latency."""
    latencies: list[float] = []
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=256), timeout=60) as client:

        async def one(n: int) -> None:
            started = time.perf_counter()
            response = await client.post(
                f"{url}/bulkdata?oui=00256D&pc=Bench&sn=P{n % 5000}", content=body, headers=HEADERS
            )
            if response.status_code == 204:
                latencies.append(time.perf_counter() - started)

        tasks = []
        begin = time.perf_counter()
        total = int(rate * seconds)
        for n in range(total):
            await asyncio.sleep(max(0.0, begin + n / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(n)))
        await asyncio.gather(*tasks)
    return latencies


def run(mode: str, args: argparse.Namespace) -> Figures:
    env = {
        "RECEIVER_MAPPING__FAST_CSV": "true" if mode == "fast" else "false",
        "RECEIVER_EXPORT__ENCODER": "fast" if mode == "fast" else "protobuf",
        "RECEIVER_BATCH__MAX_PENDING_POINTS": "2000000",
    }
    rng = random.Random(7)
    bodies = [csv_report(args.params, rng, 1_700_000_000 + i) for i in range(8)]
    small = csv_report(200, rng, 1_700_000_000)
    with (
        tempfile.TemporaryDirectory() as tmp,
        run_collector(Path(tmp), BENCH_CONFIG) as collector,
        run_receiver(Path(tmp), collector.otlp_endpoint, "--log-level", "warning", env=env) as receiver,
    ):
        asyncio.run(_saturate(receiver.url, bodies, 20, 4, 30))  # warm-up
        rcpu0, ccpu0 = cpu_seconds(receiver.process.pid), cpu_seconds(collector.process.pid)
        started = time.monotonic()
        ok, refused = asyncio.run(
            _saturate(receiver.url, bodies, args.reports, args.concurrency, args.seconds)
        )
        wall = time.monotonic() - started
        rcpu, ccpu = cpu_seconds(receiver.process.pid) - rcpu0, cpu_seconds(collector.process.pid) - ccpu0
        points = ok * args.params
        # Latency: 200-parameter reports at half of the rate this receiver sustains for them.
        started_small = time.monotonic()
        small_ok, _ = asyncio.run(_saturate(receiver.url, [small], args.reports * 2, args.concurrency, 10))
        half_rate = max(1.0, small_ok / (time.monotonic() - started_small) / 2)
        latencies = sorted(asyncio.run(_paced(receiver.url, small, half_rate, args.latency_seconds)))
        rss = peak_rss_mb(receiver.process.pid)
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)] if latencies else float("nan")
    return Figures(
        points_per_cpu_s=points / rcpu if rcpu else 0.0,
        points_per_wall_s=points / wall,
        receiver_vs_collector_cpu=rcpu / ccpu if ccpu else float("nan"),
        p50_ms=statistics.median(latencies) * 1e3 if latencies else float("nan"),
        p99_ms=p99 * 1e3,
        peak_rss_mb=rss,
        refused=refused,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reports", type=int, default=600)
    parser.add_argument("--params", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--latency-seconds", type=float, default=10)
    args = parser.parse_args()
    base, fast = run("baseline", args), run("fast", args)
    rows = [
        ("datapoints/s per receiver CPU-second", "{:,.0f}", "points_per_cpu_s", "1.5 M"),
        ("datapoints/s end to end (wall, 2 cores shared)", "{:,.0f}", "points_per_wall_s", ""),
        ("receiver CPU per point / collector CPU per point", "{:.2f}", "receiver_vs_collector_cpu", "<= 0.3"),
        ("p50 latency, 200-param report at half max (ms)", "{:.1f}", "p50_ms", ""),
        ("p99 latency, 200-param report at half max (ms)", "{:.1f}", "p99_ms", "< 20"),
        ("peak RSS of the receiver (MB)", "{:.0f}", "peak_rss_mb", "< 300"),
        ("reports refused (503) while saturating", "{:.0f}", "refused", ""),
    ]
    print(
        f"\nBulk Data, {args.params}-parameter CSV reports, {args.concurrency} concurrent senders, "
        "one receiver process"
    )
    print(
        f"| {'figure':<50} | {'baseline':>12} | {'fast path':>12} | {'fast/baseline':>13} | {'target':>8} |"
    )
    print(f"|{'-' * 52}|{'-' * 14}|{'-' * 14}|{'-' * 15}|{'-' * 10}|")
    for name, fmt, attr, target in rows:
        b, f = getattr(base, attr), getattr(fast, attr)
        ratio = f"{f / b:.2f}x" if b else "n/a"
        print(f"| {name:<50} | {fmt.format(b):>12} | {fmt.format(f):>12} | {ratio:>13} | {target:>8} |")


if __name__ == "__main__":
    main()
