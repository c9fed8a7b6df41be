"""Keeps the cyclic garbage collector's pauses short.

A full collection visits every tracked object, ~0.5-0.7 us each here: the ~70 k objects of the
imported libraries alone made a ~50 ms pause, every 2-3 s under load, which set the p99 latency of
reports (measured in ``python -m loadtest.bench``). Objects that live as long as the process
(modules, caches, interned series, resources) are moved out of the collector's view with
``gc.freeze()``: at start, then periodically, each time right after collecting what is not frozen
yet, so short-lived cyclic garbage is still found first.

Reference counting still frees frozen objects. Only a cycle that forms later among frozen objects
would be kept, so every ``full_every`` rounds everything is unfrozen and collected once (one long
pause every few minutes instead of every few seconds)."""

import asyncio
import gc
import logging
import time

log = logging.getLogger(__name__)


class GcFreezer:
    def __init__(self, interval_s: float, full_every: int = 30) -> None:
        self._interval_s = interval_s
        self._full_every = full_every
        self._task: asyncio.Task[None] | None = None
        self.rounds = 0

    def start(self) -> None:
        if self._interval_s <= 0 or self._task is not None:
            return
        self.freeze(full=True)
        self._task = asyncio.create_task(self._run(), name="gc-freeze")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def freeze(self, *, full: bool = False) -> None:
        started = time.perf_counter()
        if full:
            gc.unfreeze()
        gc.collect()  # without ``full``: only the objects not frozen yet, a short pause
        gc.freeze()
        self.rounds += 1
        log.debug(
            "gc: %s, %.1f ms",
            "full collection and freeze" if full else "freeze",
            (time.perf_counter() - started) * 1e3,
        )

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            self.freeze(full=self.rounds % self._full_every == 0)
