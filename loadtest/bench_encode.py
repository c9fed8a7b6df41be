"""OTLP metric encoding cost: protobuf objects (``encode_metrics``) vs cached wire bytes
(``FastMetricsEncoder``), on sealed batches of realistic shape.

    python -m loadtest.bench_encode [--devices 10] [--params 1000] [--repeat 5]

Shapes (one batch each, devices x params points, as TR-181 Bulk Data reports map them):
  instances  8 metric names, each with ~125 instances (an ``instance`` attribute per series)
  names      500 metric names, 2 instances each (many small Metrics per resource)
Every point of a device has its own series; a third are monotonic sums, the rest gauges; half of
the values are integers. Each device resource has 4 attributes. Series are interned before timing,
as in a running receiver, so the fast encoder's per-series cache is warm.

Prints ns/point and points/s (best of --repeat runs) for both encoders and their ratio, after
checking that both produce equal requests; "fast, cold" is the first batch of a new encoder, which
also encodes every series once. CPU only: no I/O, one thread."""

import argparse
import asyncio
import functools
import time
from collections.abc import Callable

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from receiver.batch import Batcher, SealedBatch
from receiver.config import BatchConfig
from receiver.export import encode_metrics
from receiver.export._otlp_fast import FastMetricsEncoder
from receiver.signals import MappedReport, MetricSeries, SeriesRegistry

MAX_BYTES = 4 << 20  # the collector's default gRPC limit
SHAPES = {"instances": 8, "names": 500}  # shape -> distinct metric names
_NAMES = (
    "Device.Ethernet.Interface.{i}.Stats.BytesSent",
    "Device.Ethernet.Interface.{i}.Stats.PacketsReceived",
    "Device.WiFi.Radio.{i}.Stats.Noise",
    "Device.WiFi.AccessPoint.{i}.AssociatedDeviceNumberOfEntries",
    "Device.Hosts.Host.{i}.Active",
    "Device.DSL.Line.{i}.DownstreamNoiseMargin",
    "Device.Optical.Interface.{i}.OpticalSignalLevel",
    "Device.Cellular.Interface.{i}.RSRP",
)


def build_batch(names: int, devices: int, params: int) -> tuple[SeriesRegistry, SealedBatch]:
    registry = SeriesRegistry()
    reports = []
    for device in range(devices):
        report = MappedReport(
            resource=(
                ("device.id", f"00D09E-CPE{device:06d}"),
                ("device.manufacturer", "Acme"),
                ("device.model.identifier", "HGW-5000"),
                ("device.software.version", "7.2.1-r4"),
            )
        )
        for param in range(params):
            metric = param % names
            name = (
                _NAMES[metric] if names <= len(_NAMES) else f"Device.Vendor.Component.{{i}}.Stats.P{metric}"
            )
            is_sum = metric % 3 == 0
            series = MetricSeries(
                name=name,
                unit="By" if is_sum else "1",
                kind="sum" if is_sum else "gauge",
                monotonic=is_sum,
                attributes=(("instance", param // names + 1),),
            )
            series_id = registry.intern(series)
            assert series_id is not None
            value: int | float = param * 1013 if param % 2 else param * 0.25
            report.metrics.append(series_id, 1_763_000_000_000_000_000 + device * 1_000_000, value)
        reports.append(report)
    return registry, asyncio.run(_seal(reports))


async def _seal(reports: list[MappedReport]) -> SealedBatch:
    sealed: list[SealedBatch] = []
    batcher = Batcher(BatchConfig(max_points=10**9, max_age_s=60), sealed.append)
    for report in reports:
        batcher.add(report)
    batcher.flush()
    return sealed[0]


def best_seconds(run: Callable[[], object], repeat: int, budget_s: float = 0.5) -> float:
    """Best per-call time over ``repeat`` rounds, each of enough calls to last ~budget_s / repeat."""
    started = time.perf_counter()
    run()
    calls = max(1, int(budget_s / repeat / max(time.perf_counter() - started, 1e-6)))
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(calls):
            run()
        best = min(best, (time.perf_counter() - started) / calls)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--params", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{'shape':<10} {'points':>7} {'encoder':<12} {'ns/point':>9} {'points/s':>12} {'speed-up':>9}")
    for shape, names in SHAPES.items():
        registry, batch = build_batch(names, args.devices, args.params)
        points = batch.metrics.num_rows
        started = time.perf_counter()
        encoder = FastMetricsEncoder(registry)
        fast = encoder.encode(batch, MAX_BYTES)  # first batch: also encodes every series once
        cold_s = time.perf_counter() - started
        baseline = encode_metrics(batch, registry, MAX_BYTES)
        if [ExportMetricsServiceRequest.FromString(p) for p in baseline] != [
            ExportMetricsServiceRequest.FromString(p) for p in fast
        ]:
            raise SystemExit(f"{shape}: the encoders disagree")
        slow_s = best_seconds(functools.partial(encode_metrics, batch, registry, MAX_BYTES), args.repeat)
        fast_s = best_seconds(functools.partial(encoder.encode, batch, MAX_BYTES), args.repeat)
        for label, seconds in (("protobuf", slow_s), ("fast", fast_s), ("fast, cold", cold_s)):
            print(
                f"{shape:<10} {points:>7} {label:<12} {seconds / points * 1e9:>9.0f} "
                f"{points / seconds:>12,.0f} {slow_s / seconds:>8.1f}x"
            )


if __name__ == "__main__":
    main()
