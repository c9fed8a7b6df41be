"""The benchmark harness: ``python -m loadtest.bench`` (``make bench``).

Starts the local stack (one receiver process, our collector, a backend collector), drives load from
this separate process with our own keep-alive client (``loadtest/_client.py``: httpx cost ~1 ms of
client CPU per request and capped the rate on 2 cores), and prints one table per run. Every figure
of the fast path is also measured, in the same run, for the naive baseline (exact csv-module
decoding, per-point protobuf objects), and shown as a ratio against it. Bounded in count and time;
loopback only.

Figures: datapoints/s per receiver CPU-second (acknowledged: the receiver answers 204 once the data
is durable, and the run ends only when the collector has taken every point), receiver CPU per point
vs the collector's for the same data, p50/p99 latency of 200-parameter reports at half of the
measured maximum rate, peak RSS of the receiver. The collector runs the production pipeline's shape
minus ADX (``otelcol/config.bench-relay.yaml``: OTLP in, memory_limiter, exporter-side batching,
OTLP out to a backend collector whose CPU is not counted), the collector testbed's setup. Then the
fast path once more exporting OTel-Arrow to our ``otap`` receiver, and the bytes per datapoint each
transport puts on the wire. ``loadtest/bench_adx.py`` compares with the ADX exporter instead."""

import argparse
import contextlib
import os
import random
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from loadtest._client import closed_loop, open_loop, request_bytes
from loadtest._table import print_comparison
from loadtest.bench_bulkdata import BENCH_CONFIG, cpu_seconds, csv_report
from receiver.config import BatchConfig
from receiver.devstack import REPO, run_collector, run_receiver

HEADERS = {"content-type": "text/csv", "bbf-report-format": "ParameterPerRow"}
RELAY_CONFIG = REPO / "otelcol" / "config.bench-relay.yaml"


@dataclass
class Figures:
    points_per_cpu_s: float
    points_per_wall_s: float
    receiver_vs_collector_cpu: float
    collector_points_per_cpu_s: float
    p50_ms: float
    p99_ms: float
    p50_own_core_ms: float
    p99_own_core_ms: float
    peak_rss_mb: float
    refused: int


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def device_requests(bodies: list[bytes], devices: int, prefix: str) -> list[bytes]:
    """Pre-built requests from ``devices`` distinct serial numbers (one resource each)."""
    return [
        request_bytes(f"/bulkdata?oui=00256D&pc=Bench&sn={prefix}{n}", bodies[n % len(bodies)], HEADERS)
        for n in range(devices)
    ]


def run(mode: str, args: argparse.Namespace) -> Figures:
    """One stack and its figures. ``mode``: "baseline" (naive parsing and protobuf objects), "fast"
    (the hot path, OTLP export) or "otap" (the hot path, OTel-Arrow export to our otap receiver)."""
    fast = mode != "baseline"
    env = {
        "RECEIVER_MAPPING__FAST_CSV": "true" if fast else "false",
        "RECEIVER_EXPORT__ENCODER": "fast" if fast else "protobuf",
        "RECEIVER_EXPORT__PROTOCOL": "otap" if mode == "otap" else "otlp",
        "RECEIVER_BATCH__MAX_PENDING_POINTS": "2000000",
    }
    rng = random.Random(7)
    bodies = [csv_report(args.params, rng, 1_700_000_000 + i) for i in range(8)]
    big = device_requests(bodies, 512, "S")
    small = device_requests([csv_report(200, rng, 1_700_000_000)], 512, "P")
    with tempfile.TemporaryDirectory() as tmp:
        backend_dir, collector_dir = Path(tmp, "backend"), Path(tmp, "collector")
        with (
            run_collector(backend_dir, BENCH_CONFIG) as backend,
            run_collector(
                collector_dir, RELAY_CONFIG, extra_env={"OTELCOL_BACKEND_ENDPOINT": backend.otlp_endpoint}
            ) as collector,
            run_receiver(
                Path(tmp),
                collector.otap_endpoint if mode == "otap" else collector.otlp_endpoint,
                "--log-level",
                "warning",
                env=env,
            ) as receiver,
        ):
            closed_loop(receiver.url, big, 40, 4, 30)  # warm-up: caches, connections
            rcpu0, ccpu0 = cpu_seconds(receiver.process.pid), cpu_seconds(collector.process.pid)
            started = time.monotonic()
            result = closed_loop(receiver.url, big, args.reports, args.concurrency, args.seconds)
            wall = time.monotonic() - started
            # Both processes' CPU for all of the data: the receiver exports what it made durable
            # after answering, the collector forwards it after that.
            wait_idle(receiver.process.pid)
            wait_idle(collector.process.pid)
            rcpu = cpu_seconds(receiver.process.pid) - rcpu0
            ccpu = cpu_seconds(collector.process.pid) - ccpu0
            points = result.ok * args.params
            # Latency: 200-parameter reports at half of the rate this receiver sustains for them.
            started_small = time.monotonic()
            saturated = closed_loop(receiver.url, small, args.reports * 4, args.concurrency, 10)
            half_rate = max(1.0, saturated.ok / (time.monotonic() - started_small) / 2)
            # Steady state at half load: not while the saturated phase's backlog is still exported.
            wait_idle(receiver.process.pid)
            wait_idle(collector.process.pid)
            paced = open_loop(receiver.url, small[0], half_rate, args.latency_seconds)
            latencies = sorted(paced.latencies_s)
            # Again with the receiver on a core of its own and everything else on the other, as
            # a deployment gives it: on 2 shared cores the collectors' and this client's bursts
            # preempt it, and the tail measures the box rather than the receiver.
            with _cores_apart(receiver.process.pid, [collector.process.pid, backend.process.pid]):
                paced_own = open_loop(receiver.url, small[0], half_rate, args.latency_seconds)
            latencies_own = sorted(paced_own.latencies_s)
            rss = peak_rss_mb(receiver.process.pid)
    return Figures(
        points_per_cpu_s=points / rcpu if rcpu else 0.0,
        points_per_wall_s=points / wall,
        receiver_vs_collector_cpu=rcpu / ccpu if ccpu else float("nan"),
        collector_points_per_cpu_s=points / ccpu if ccpu else float("nan"),
        p50_ms=_quantile_ms(latencies, 0.5),
        p99_ms=_quantile_ms(latencies, 0.99),
        p50_own_core_ms=_quantile_ms(latencies_own, 0.5),
        p99_own_core_ms=_quantile_ms(latencies_own, 0.99),
        peak_rss_mb=rss,
        refused=result.failed + saturated.failed + paced.failed + paced_own.failed,
    )


def _quantile_ms(ordered: list[float], q: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[max(0, int(len(ordered) * q) - 1)] * 1e3


@contextlib.contextmanager
def _cores_apart(pid: int, others: list[int]) -> Iterator[None]:
    """``pid`` (all its threads) alone on CPU 0; ``others`` and this process on the rest."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        yield
        return
    own, rest = {cpus[0]}, set(cpus[1:])
    _set_affinity(pid, own)
    for other in [*others, os.getpid()]:
        _set_affinity(other, rest)
    try:
        yield
    finally:
        for every in [pid, *others, os.getpid()]:
            _set_affinity(every, set(cpus))


def _set_affinity(pid: int, cpus: set[int]) -> None:
    for task in Path(f"/proc/{pid}/task").iterdir():  # threads: affinity is per thread
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(int(task.name), cpus)


@dataclass(frozen=True)
class WireBytes:
    """Bytes per datapoint of one request's worth of reports, as each transport puts them on the wire."""

    otlp: float
    otlp_gzip: float
    otap_first: float  # the first message of an OTAP stream: it carries the Arrow schemas
    otap: float  # a later message on the same stream: record batches (and dictionaries) only


def wire_bytes_per_point(params: int, devices: int) -> WireBytes:
    """Request bytes per datapoint for ``devices`` reports of the benchmark's shape in one batch: OTLP
    plain and gzip-compressed (``export.compression: gzip``), and OTAP (``export.protocol: otap``, zstd)."""
    import asyncio
    import gzip

    from receiver.batch._batch import BatchBuilder, SealedBatch
    from receiver.decode import decode_bulkdata
    from receiver.export._otap_encode import OtapMetricsEncoder
    from receiver.export._otap_stream import OtapIpcState
    from receiver.export._otlp_fast import FastMetricsEncoder
    from receiver.mapping import BulkDataMapper, load_tr181_table
    from receiver.signals import SeriesRegistry

    registry = SeriesRegistry()
    mapper = BulkDataMapper(load_tr181_table(), registry)
    rng = random.Random(7)

    def batch_of_reports(timestamp: int) -> SealedBatch:
        builder = BatchBuilder(0.0)
        for n in range(devices):
            columns = decode_bulkdata(
                csv_report(params, rng, timestamp), content_type="text/csv", report_format=None
            )
            resource = (("device.id", f"00256D-Bench-S{n}"),)
            report, _ = mapper.map_report(columns, resource, fallback_time_ns=0, received_ns=0)
            builder.add(report.resource, report.metrics, report.logs, report.metric_chunk, report.histograms)
        loop = asyncio.new_event_loop()
        batch = builder.seal(1, loop.create_future())
        loop.close()
        return batch

    first, later = batch_of_reports(1_700_000_000), batch_of_reports(1_700_000_900)  # the next interval
    points = later.metrics.num_rows
    payloads = FastMetricsEncoder(registry).encode(later, 4 << 20)
    stream, encoder = OtapIpcState("zstd"), OtapMetricsEncoder(registry)
    otap_first = sum(len(stream.serialize(m)[1]) for m in encoder.encode(first))
    otap = sum(len(stream.serialize(m)[1]) for m in encoder.encode(later))
    return WireBytes(
        otlp=sum(map(len, payloads)) / points,
        otlp_gzip=sum(len(gzip.compress(p)) for p in payloads) / points,
        otap_first=otap_first / first.metrics.num_rows,
        otap=otap / points,
    )


def wait_idle(pid: int, timeout_s: float = 30.0) -> None:
    """Until ``pid`` stops using CPU (its queue drained), so its CPU time covers all the data."""
    deadline = time.monotonic() + timeout_s
    last = cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = cpu_seconds(pid)
        if now - last < 0.02:
            return
        last = now


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reports", type=int, default=3000)
    parser.add_argument("--params", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--latency-seconds", type=float, default=10)
    args = parser.parse_args()
    base, fast, otap = run("baseline", args), run("fast", args), run("otap", args)
    rows = [
        ("datapoints/s per receiver CPU-second", "{:,.0f}", "points_per_cpu_s", "1.5 M"),
        ("datapoints/s end to end (wall, 2 cores shared)", "{:,.0f}", "points_per_wall_s", ""),
        ("receiver CPU per point / collector CPU per point", "{:.2f}", "receiver_vs_collector_cpu", "<= 0.3"),
        ("collector datapoints/s per CPU-second (relay)", "{:,.0f}", "collector_points_per_cpu_s", ""),
        ("p50 latency, 200-param report at half max (ms)", "{:.1f}", "p50_ms", ""),
        ("p99 latency, 200-param report at half max (ms)", "{:.1f}", "p99_ms", "< 20"),
        ("p50 latency, same, receiver on its own core (ms)", "{:.1f}", "p50_own_core_ms", ""),
        ("p99 latency, same, receiver on its own core (ms)", "{:.1f}", "p99_own_core_ms", "< 20"),
        ("peak RSS of the receiver (MB)", "{:.0f}", "peak_rss_mb", "< 300"),
        ("reports not answered 204 (all phases)", "{:.0f}", "refused", ""),
    ]
    print_comparison(
        f"Bulk Data, {args.params}-parameter CSV reports, {args.concurrency} concurrent senders, "
        "one receiver process",
        [(name, fmt, getattr(base, attr), getattr(fast, attr), target) for name, fmt, attr, target in rows],
    )
    print_comparison(
        "The same fast path exporting OTel-Arrow (export.protocol: otap) instead of OTLP",
        [(name, fmt, getattr(fast, attr), getattr(otap, attr), "") for name, fmt, attr, _ in rows[:4]],
        labels=("OTLP export", "OTAP export"),
    )
    # As many reports as fill one batch of the receiver's default size: what one export carries.
    devices = max(1, BatchConfig().max_points // args.params)
    wire = wire_bytes_per_point(args.params, devices)
    print(
        f"\nOn the wire, one batch of {devices} {args.params}-parameter reports (bytes per datapoint):\n"
        f"  OTLP {wire.otlp:.2f} | OTLP+gzip {wire.otlp_gzip:.2f} | OTAP (zstd) {wire.otap:.2f} on a running "
        f"stream, {wire.otap_first:.2f} in a stream's first message (schemas)\n"
        f"  OTAP / OTLP+gzip = {wire.otap / wire.otlp_gzip:.2f} (target <= 0.5). Three in four values are "
        "uniform random integers up to 1e9: ~2.8 bytes per point of entropy that no encoding removes."
    )


if __name__ == "__main__":
    main()
