"""Batcher: many reports -> one sealed batch, flushed by size or age, with bounded memory.

Age: a batch is sealed when its most impatient content has waited its limit. HTTP reports wait at
most ``max_age_s`` (their sender waits for the answer); an input that acknowledges by other means
(MQTT: QoS 0 has no answer, QoS 1 is flow-controlled by Receive Maximum) may allow longer, so under
its load batches are larger and the per-batch costs (seal, spool record, fsync, export) are paid
less often.

Every point accepted stays counted as *pending* until the export stage settles its batch, so the
memory held between ingress and the collector is bounded by ``max_pending_points``."""

import asyncio
import logging
from collections.abc import Callable

from ..config import BatchConfig
from ..signals import MappedReport, ResourcePoints
from ._batch import BatchBuilder, SealedBatch

log = logging.getLogger(__name__)


class Overloaded(Exception):
    """More points are pending than configured: the sender should retry later (HTTP 503)."""


class BatcherClosed(Exception):
    pass


class Batcher:
    def __init__(
        self,
        config: BatchConfig,
        sink: Callable[[SealedBatch], None],
        admission: Callable[[], str | None] | None = None,
    ) -> None:
        """``admission`` names a reason to refuse new reports (e.g. the spool is full), or None."""
        self._config = config
        self._sink = sink
        self._admission = admission
        self._builder: BatchBuilder | None = None
        self._done: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._deadline = 0.0  # loop time at which the open batch is sealed by age
        self._seq = 0
        self._closed = False
        self.pending_points = 0
        # Accepted from every input since start (read by /metrics and the self-telemetry).
        self.accepted_metric_points = 0
        self.accepted_log_records = 0

    def add(self, report: MappedReport) -> "asyncio.Future[None]":
        """Queue a report; the future settles when the collector acknowledged (or we gave up on) it."""
        points = report.point_count
        if points == 0:
            return self._nothing_to_wait_for()
        builder, future = self._open(points, self._config.max_age_s)
        builder.add(
            report.resource,
            report.metrics,
            report.logs,
            report.metric_chunk,
            report.histograms,
            log_chunk=report.log_chunk,
            histogram_chunk=report.histogram_chunk,
        )
        logs = len(report.logs) + (0 if report.log_chunk is None else report.log_chunk.num_rows)
        self.accepted_log_records += logs
        self.accepted_metric_points += points - logs
        return self._added(builder, points, future)

    def add_points(self, block: ResourcePoints, max_age_s: float | None = None) -> "asyncio.Future[None]":
        """``add`` for a ``MappedReport`` holding only these metric points, without building one.
        ``max_age_s``: how long these points may wait for their batch (default: ``max_age_s``)."""
        points = len(block.series)
        if points == 0:
            return self._nothing_to_wait_for()
        builder, future = self._open(points, self._config.max_age_s if max_age_s is None else max_age_s)
        builder.add_points(block)
        self.accepted_metric_points += points
        return self._added(builder, points, future)

    def _nothing_to_wait_for(self) -> "asyncio.Future[None]":
        if self._closed:
            raise BatcherClosed("receiver is shutting down")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    def _open(self, points: int, max_age_s: float) -> "tuple[BatchBuilder, asyncio.Future[None]]":
        """The open batch, after checking that ``points`` more may enter it; sealed by age no later
        than ``max_age_s`` after it was opened."""
        if self._closed:
            raise BatcherClosed("receiver is shutting down")
        if self.pending_points + points > self._config.max_pending_points:
            raise Overloaded(
                f"{self.pending_points} points pending export, limit {self._config.max_pending_points}"
            )
        builder = self._builder
        if builder is None or self._done is None:
            # Asked once per batch, not per report: the sink may take at most one batch beyond it.
            if self._admission is not None:
                reason = self._admission()
                if reason is not None:
                    raise Overloaded(reason)
            loop = asyncio.get_running_loop()
            builder = self._builder = BatchBuilder(created=loop.time())
            self._done = loop.create_future()
            self._seal_at(builder, builder.created + max_age_s)
        elif builder.created + max_age_s < self._deadline:  # more impatient than what is in it
            self._seal_at(builder, builder.created + max_age_s)
        return builder, self._done

    def _seal_at(self, builder: BatchBuilder, deadline: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._deadline = deadline
        self._timer = asyncio.get_running_loop().call_at(deadline, self._seal_by_age, builder)

    def _added(
        self, builder: BatchBuilder, points: int, future: "asyncio.Future[None]"
    ) -> "asyncio.Future[None]":
        self.pending_points += points
        if builder.points >= self._config.max_points:
            self.flush()
        return future

    def flush(self) -> None:
        """Seal the open batch now and hand it to the sink."""
        builder, done = self._builder, self._done
        if builder is None or done is None:
            return
        self._builder = self._done = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._seq += 1
        batch = builder.seal(self._seq, done)
        points = builder.points
        done.add_done_callback(lambda _: self._release(points))
        self._sink(batch)

    def _seal_by_age(self, builder: BatchBuilder) -> None:
        if self._builder is builder:
            self.flush()

    def _release(self, points: int) -> None:
        self.pending_points -= points

    async def stop(self) -> None:
        """Idempotent: refuse new reports and flush what is open."""
        self._closed = True
        self.flush()
