"""Receiver CPU per point against the collector's in the production pipeline's shape: our collector
with the REAL ``azuredataexplorer`` exporter (``otelcol/config.adx-test.yaml``: OTLP in,
memory_limiter, persistent sending queue with exporter-side batching, streaming ingestion), writing
into the Kusto test double (``loadtest/kusto_ingest_double.py``) on https://127.0.0.1:443, which
only counts the rows here. ``make bench`` compares against a collector that relays OTLP, the
collector testbed's setup; this is the comparison for the pipeline we ship.

    python -m loadtest.bench_adx [--reports 1500] [--params 1000] [--concurrency 16] [--repeat 3]

The run ends when the double has counted one row per point sent (the exporter writes one row per
datapoint), so both processes' CPU covers all of the data. Needs port 443 (root here). Bounded in
count and time; loopback only."""

import argparse
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from loadtest._client import closed_loop
from loadtest.adx_stack import EXPORTER_CONFIG, run_adx_stack
from loadtest.bench import device_requests, wait_idle
from loadtest.bench_bulkdata import cpu_seconds, csv_report
from loadtest.kusto_ingest_double import KustoIngestDouble
from receiver.devstack import run_receiver

METRICS_TABLE = str(EXPORTER_CONFIG["metrics_table_name"])
# Requests the exporter can stream (managed ingestion sends larger ones through blob storage).
STREAMABLE = {"ADX_BATCH_MAX_SIZE": "3000"}
FAST_PATH = {"RECEIVER_MAPPING__FAST_CSV": "true", "RECEIVER_EXPORT__ENCODER": "fast"}


@dataclass(frozen=True)
class AdxFigures:
    points: int
    rows: int
    receiver_points_per_cpu_s: float
    collector_points_per_cpu_s: float

    @property
    def ratio(self) -> float:
        """Receiver CPU per point / collector CPU per point."""
        return self.collector_points_per_cpu_s / self.receiver_points_per_cpu_s


def run_once(args: argparse.Namespace) -> AdxFigures:
    rng = random.Random(7)
    requests = device_requests([csv_report(args.params, rng, 1_700_000_000 + i) for i in range(8)], 512, "A")
    with (
        tempfile.TemporaryDirectory() as tmp,
        run_adx_stack(Path(tmp), count_only=True, extra_env=STREAMABLE) as stack,
    ):
        double, collector = stack.double, stack.collector
        with run_receiver(
            Path(tmp), collector.otlp_endpoint, "--log-level", "warning", env=FAST_PATH
        ) as receiver:
            warm = closed_loop(receiver.url, requests, 40, 4, 30)  # caches, connections, a token
            _wait_rows(double, warm.ok * args.params, 60)
            rcpu0, ccpu0 = cpu_seconds(receiver.process.pid), cpu_seconds(collector.process.pid)
            rows0 = double.row_count(METRICS_TABLE)
            result = closed_loop(receiver.url, requests, args.reports, args.concurrency, args.seconds)
            points = result.ok * args.params
            rows = _wait_rows(double, rows0 + points, 180) - rows0
            wait_idle(receiver.process.pid)
            wait_idle(collector.process.pid)
            rcpu = cpu_seconds(receiver.process.pid) - rcpu0
            ccpu = cpu_seconds(collector.process.pid) - ccpu0
    if result.failed:
        raise SystemExit(f"{result.failed} reports were not answered 204")
    return AdxFigures(points, rows, points / rcpu, points / ccpu)


def _wait_rows(double: KustoIngestDouble, expected: int, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    while (count := double.row_count(METRICS_TABLE)) < expected and time.monotonic() < deadline:
        time.sleep(0.2)
    return count


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reports", type=int, default=1500)
    parser.add_argument("--params", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs = [run_once(args) for _ in range(args.repeat)]
    print(f"\nBulk Data, {args.params}-parameter CSV reports, receiver -> our collector -> ADX exporter")
    print(
        "| run | points sent | rows ingested | receiver points/CPU-s | collector points/CPU-s "
        "| receiver CPU per point / collector's (target <= 0.3) |"
    )
    print("|---|---|---|---|---|---|")
    for n, figures in enumerate(runs, 1):
        print(
            f"| {n} | {figures.points:,} | {figures.rows:,} | {figures.receiver_points_per_cpu_s:,.0f} "
            f"| {figures.collector_points_per_cpu_s:,.0f} | {figures.ratio:.2f} |"
        )
    print(f"| median | | | | | {statistics.median(f.ratio for f in runs):.2f} |")


if __name__ == "__main__":
    main()
