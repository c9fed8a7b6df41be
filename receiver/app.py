"""The Starlette application: wires ingress -> decode -> mapping -> batch -> export.

The lifespan starts the far end first (export, then batch) and stops in reverse, so queued
reports drain to the collector before the process exits."""

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import grpc
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ._gc import GcFreezer
from .batch import Batcher, SealedBatch
from .config import ReceiverConfig
from .export import OtlpGrpcExporter
from .ingress import (
    BulkDataEndpoint,
    CdrUploadEndpoint,
    DeviceJsonEndpoint,
    MqttInputs,
    RequestGuard,
    UspBulkDataInput,
)
from .mapping import BulkDataMapper, load_rules, load_tr181_table
from .self_telemetry import SelfTelemetry
from .signals import SeriesRegistry
from .spool import Spool, adopt_orphans, worker_directory
from .telemetry import ReceiverMetrics

log = logging.getLogger(__name__)


class Pipeline:
    """The stages of one receiver process, built from config; owned by the app's lifespan."""

    def __init__(self, config: ReceiverConfig, worker: int = 0, *, own_process: bool = False) -> None:
        """``worker``: this process's index among ``server.workers`` (its spool directory; the MQTT
        inputs and the adoption of orphaned spool directories belong to worker 0). ``own_process``:
        the process runs only this pipeline (``serve``), so it also tunes the interpreter's garbage
        collector and pushes its own telemetry to the collector; not in tests that embed the app."""
        self.worker = worker
        self._spool_base = Path(config.spool.directory)
        self._spool_own = worker_directory(self._spool_base, worker, config.server.workers)
        config = replace(config, spool=replace(config.spool, directory=str(self._spool_own)))
        self.config = config
        self.metrics = ReceiverMetrics()
        self.registry = SeriesRegistry()
        self.exporter = OtlpGrpcExporter(config.export, self.registry)
        self.spool: Spool | None = None
        if config.spool.enabled:
            self.spool = Spool(
                config.spool,
                self.registry,
                self.exporter.submit,
                # Few exports at once: records that become durable while they run wait and then
                # leave together, in one larger request (a gRPC call costs ~0.3 ms of CPU).
                max_in_flight=min(2, config.export.max_in_flight),
                merge_points=8 * config.batch.max_points,
            )
            self.batcher = Batcher(config.batch, self.spool.append, admission=self.spool.full_reason)
        else:
            self.batcher = Batcher(config.batch, self._submit)
        self.mapper = BulkDataMapper(
            load_tr181_table(),
            self.registry,
            load_rules(config.mapping.rules_file),
            max_name_length=config.limits.max_name_length,
        )
        self.guard = RequestGuard(config.auth)
        self.bulkdata = BulkDataEndpoint(config, self.mapper, self.batcher, self.metrics, self.guard)
        self.cdr = CdrUploadEndpoint(config, self.batcher, self.registry, self.metrics, self.guard)
        self.device_json = DeviceJsonEndpoint(config, self.batcher, self.registry, self.metrics, self.guard)
        self.healthy = True
        self.exporter.on_worker_died = self._worker_died
        self.mqtt: MqttInputs | None = None
        self.usp: UspBulkDataInput | None = None
        if config.mqtt.broker is not None and worker == 0:
            prefixes = [topic.rstrip("#").rstrip("/") for topic in config.mqtt.usp_topics]
            self.usp = UspBulkDataInput(
                self.mapper,
                controller_id=config.mqtt.usp_endpoint_id,
                only_addressed_to_us=config.mqtt.usp_controller_id is not None,
                reply_topic_template=config.mqtt.usp_reply_topic,
                # Our "reply to" topic: an exact one under a USP subscription ("usp/bulkdata" for
                # "usp/bulkdata/#"), when there is one.
                own_topic=next((p for p in prefixes if p and "+" not in p), None),
                fast_csv=config.mapping.fast_csv,
            )
            extra = dict.fromkeys(prefixes, self.usp)
            self.mqtt = MqttInputs(config.mqtt, self.registry, self.batcher, self.metrics, extra=extra)
        self._expose_counters()
        self.gc: GcFreezer | None = None
        self.self_telemetry: SelfTelemetry | None = None
        if own_process:
            self.gc = GcFreezer(config.server.gc_freeze_interval_s)
            if config.telemetry.push_interval_s > 0:  # after _expose_counters: it pushes what they add
                self.self_telemetry = SelfTelemetry(
                    self.metrics.registry,
                    config.export,
                    interval_s=config.telemetry.push_interval_s,
                    worker=worker,
                )

    def _expose_counters(self) -> None:
        stats, add = self.exporter.stats, self.metrics.counter_source
        batcher, received = self.batcher, "receiver_datapoints_received"
        accepted = "Metric points and log records accepted (all inputs)"
        add(received, accepted, lambda: batcher.accepted_metric_points, signal="metrics")
        add(received, accepted, lambda: batcher.accepted_log_records, signal="logs")
        add("receiver_export_requests", "OTLP export calls", lambda: stats.requests)
        add("receiver_export_retries", "OTLP export retries", lambda: stats.retries)
        add(
            "receiver_export_failed_batches",
            "Batches the collector did not take",
            lambda: stats.failed_batches,
        )
        add(
            "receiver_datapoints_exported", "Points the collector acknowledged", lambda: stats.exported_points
        )
        add(
            "receiver_datapoints_rejected",
            "Points the collector refused (partial success)",
            lambda: stats.rejected_points,
        )
        if self.spool is not None:
            spool = self.spool
            add(
                "receiver_spool_appended_batches",
                "Batches written to the spool",
                lambda: spool.stats.appended,
            )
            add(
                "receiver_spool_acked_batches",
                "Spooled batches the collector acknowledged",
                lambda: spool.stats.acked,
            )
            add(
                "receiver_spool_replayed_batches",
                "Batches replayed from disk at start",
                lambda: spool.stats.replayed,
            )
            add(
                "receiver_spool_write_errors",
                "Failed spool writes (answered 503)",
                lambda: spool.stats.write_errors,
            )
            gauge = self.metrics.gauge_source
            gauge("receiver_spool_depth_batches", "Spooled batches not yet acknowledged", lambda: spool.depth)
            gauge("receiver_spool_bytes", "Bytes on disk in the spool", lambda: spool.bytes_on_disk)
            gauge(
                "receiver_spool_oldest_age_seconds", "Age of the oldest unexported batch", spool.oldest_age_s
            )
        if self.mqtt is not None:
            session = self.mqtt.session
            add("receiver_mqtt_messages", "MQTT messages handled", lambda: session.handled, outcome="handled")
            add("receiver_mqtt_messages", "MQTT messages handled", lambda: session.failed, outcome="failed")
            add(
                "receiver_sparkplug_rebirths_sent",
                "Rebirth NCMDs sent",
                lambda: self.mqtt.rebirths_sent if self.mqtt else 0,
            )
            mqtt, doc = self.mqtt, "USP NotifyResps for Notifies with send_resp"
            add("receiver_usp_notify_responses", doc, lambda: mqtt.replies_sent, outcome="sent")
            add("receiver_usp_notify_responses", doc, lambda: mqtt.replies_failed, outcome="publish_failed")
            if self.usp is not None:
                usp = self.usp
                add("receiver_usp_notify_responses", doc, lambda: usp.unanswerable, outcome="no_reply_topic")
                add(
                    "receiver_usp_records_ignored",
                    "USP Records addressed to another Controller (TR-369 R-E2E.1)",
                    lambda: usp.not_addressed_to_us,
                )

    def _submit(self, batch: SealedBatch) -> None:
        self.metrics.pending.set(self.batcher.pending_points)
        self.exporter.submit(batch)

    def _worker_died(self, exc: BaseException) -> None:
        self.healthy = False
        log.error("export worker died: %r", exc)

    async def start(self) -> None:
        await self.exporter.start()
        if self.spool is not None:
            if self.worker == 0:
                adopt_orphans(self._spool_base, self._spool_own, self.config.server.workers)
            await self.spool.start()
        if self.mqtt is not None:
            await self.mqtt.start()
        if self.self_telemetry is not None:
            self.self_telemetry.start()
        if self.gc is not None:
            self.gc.start()  # last: what start-up made is long-lived

    async def stop(self) -> None:
        if self.gc is not None:
            await self.gc.stop()
        if self.mqtt is not None:
            await self.mqtt.stop()
        await self.batcher.stop()
        if self.spool is not None:
            await self.spool.stop()  # what is not exported yet stays on disk for the next start
        await self.exporter.stop()
        if self.self_telemetry is not None:
            await self.self_telemetry.stop()  # last: its final push carries the figures of the drain


def create_app(config: ReceiverConfig, worker: int = 0, *, own_process: bool = False) -> Starlette:
    pipeline = Pipeline(config, worker, own_process=own_process)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await pipeline.start()
        try:
            yield
        finally:
            await pipeline.stop()

    async def report(request: Request) -> Response:
        cdr_kind = pipeline.cdr.kind_of(request.url.path)
        if cdr_kind is not None:
            return await pipeline.cdr(request, cdr_kind)
        json_input = pipeline.device_json.input_of(request.url.path)
        if json_input is not None:
            return await pipeline.device_json(request, json_input)
        if not pipeline.bulkdata.accepts(request):
            return PlainTextResponse("no report endpoint at this path\n", status_code=404)
        return await pipeline.bulkdata(request)

    async def healthz(request: Request) -> Response:
        if pipeline.healthy:
            return PlainTextResponse("ok\n")
        return PlainTextResponse("export worker died\n", status_code=503)

    async def readyz(request: Request) -> Response:
        """Ready = can take reports now: workers alive, spool not full, collector reachable."""
        state = pipeline.exporter.channel_state()
        spool_full = pipeline.spool.full_reason() if pipeline.spool is not None else None
        if not pipeline.healthy:
            return PlainTextResponse("export worker died\n", status_code=503)
        if spool_full is not None:
            return PlainTextResponse(f"spool full: {spool_full}\n", status_code=503)
        if state not in (grpc.ChannelConnectivity.READY, grpc.ChannelConnectivity.IDLE):
            return PlainTextResponse(f"collector not reachable ({state})\n", status_code=503)
        return PlainTextResponse("ready\n")

    async def metrics(request: Request) -> Response:
        pipeline.metrics.pending.set(pipeline.batcher.pending_points)
        return Response(generate_latest(pipeline.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/{path:path}", report, methods=["POST", "PUT"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.pipeline = pipeline
    return app
