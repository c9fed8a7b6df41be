"""The receiver's own telemetry pushed to the collector through the OpenTelemetry SDK (DESIGN,
"Self-observability"), so it lands in ADX beside the devices' data; ``/metrics`` serves the same.

One source of truth: the Prometheus registry behind ``/metrics``. The event loop takes a snapshot of
it every few seconds (the components' counters are read where they are written, never from another
thread), and the SDK's observable instruments report the latest one when its reader exports, every
``interval_s``.
The hot path never touches the SDK. Counters stay cumulative counters, gauges gauges; a histogram
becomes its ``_count``, ``_sum`` and ``_bucket`` counters (``le`` attribute), as Prometheus shows it."""

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Iterable

from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from prometheus_client import CollectorRegistry

from .config import ExportConfig
from .export import channel_credentials

log = logging.getLogger(__name__)
SERVICE_NAME = "telemetry-receiver"
_SHUTDOWN_TIMEOUT_MS = 3000  # the last export at stop; a collector that is down must not hold the exit
_SNAPSHOT_EVERY_S = 5.0  # at most this stale when exported (a snapshot costs ~0.1 ms)
# sample name -> its value and attributes, from one snapshot of the registry
_Snapshot = dict[str, list[tuple[float, dict[str, str]]]]


class SelfTelemetry:
    def __init__(
        self, registry: CollectorRegistry, export: ExportConfig, *, interval_s: float, worker: int = 0
    ) -> None:
        self._registry = registry
        self._interval_s = interval_s
        self._snapshot: _Snapshot = {}
        self._task: asyncio.Task[None] | None = None
        exporter = OTLPMetricExporter(
            endpoint=export.endpoint,
            insecure=export.insecure,
            credentials=None if export.insecure else channel_credentials(export),
            timeout=export.timeout_s,
        )
        self._provider = MeterProvider(
            metric_readers=[
                PeriodicExportingMetricReader(exporter, export_interval_millis=interval_s * 1000)
            ],
            resource=Resource.create(
                {
                    "service.name": SERVICE_NAME,
                    "service.instance.id": f"{socket.gethostname()}/{os.getpid()}",
                    "receiver.worker": worker,
                }
            ),
        )
        meter = self._provider.get_meter(SERVICE_NAME)
        observe = self._observe
        for family in registry.collect():
            if family.type == "counter":
                meter.create_observable_counter(
                    family.name, [observe(f"{family.name}_total")], description=family.documentation
                )
            elif family.type == "gauge":
                meter.create_observable_gauge(
                    family.name, [observe(family.name)], description=family.documentation
                )
            elif family.type == "histogram":
                for part in ("_count", "_sum", "_bucket"):
                    meter.create_observable_counter(
                        family.name + part, [observe(family.name + part)], description=family.documentation
                    )

    def start(self) -> None:
        self.take_snapshot()
        self._task = asyncio.create_task(self._run(), name="self-telemetry")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
            self.take_snapshot()  # the final figures go out with the shutdown's export
        # Blocking (the SDK flushes synchronously, bounded by the timeout): done in a thread.
        await asyncio.to_thread(self._provider.shutdown, timeout_millis=_SHUTDOWN_TIMEOUT_MS)

    def take_snapshot(self) -> None:
        snapshot: _Snapshot = {}
        try:
            for family in self._registry.collect():
                for sample in family.samples:
                    snapshot.setdefault(sample.name, []).append((sample.value, dict(sample.labels)))
        except Exception:  # a component's reading failed: keep the last snapshot rather than none
            log.exception("self-telemetry: snapshot failed")
            return
        self._snapshot = snapshot  # replaced whole: the SDK's thread reads either the old or the new

    def _observe(self, sample: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def callback(options: CallbackOptions) -> Iterable[Observation]:
            return [Observation(value, labels) for value, labels in self._snapshot.get(sample, [])]

        return callback

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(min(self._interval_s, _SNAPSHOT_EVERY_S))
            self.take_snapshot()
