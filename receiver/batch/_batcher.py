"""Batcher: many reports -> one sealed batch, flushed by size or age, with bounded memory.

Every point accepted stays counted as *pending* until the export stage settles its batch, so the
memory held between ingress and the collector is bounded by ``max_pending_points``."""

import asyncio
import logging
from collections.abc import Callable

from ..config import BatchConfig
from ..signals import MappedReport
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
        self._seq = 0
        self._closed = False
        self.pending_points = 0

    def add(self, report: MappedReport) -> "asyncio.Future[None]":
        """Queue a report; the future settles when the collector acknowledged (or we gave up on) it."""
        if self._closed:
            raise BatcherClosed("receiver is shutting down")
        points = report.point_count
        loop = asyncio.get_running_loop()
        if points == 0:
            done: asyncio.Future[None] = loop.create_future()
            done.set_result(None)
            return done
        if self.pending_points + points > self._config.max_pending_points:
            raise Overloaded(
                f"{self.pending_points} points pending export, limit {self._config.max_pending_points}"
            )
        if self._admission is not None:
            reason = self._admission()
            if reason is not None:
                raise Overloaded(reason)
        if self._builder is None or self._done is None:
            self._builder = BatchBuilder(created=loop.time())
            self._done = loop.create_future()
            self._timer = loop.call_later(self._config.max_age_s, self._seal_by_age, self._builder)
        self._builder.add(
            report.resource,
            report.metrics,
            report.logs,
            report.metric_chunk,
            report.histograms,
            log_chunk=report.log_chunk,
        )
        self.pending_points += points
        future = self._done
        if self._builder.points >= self._config.max_points:
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
