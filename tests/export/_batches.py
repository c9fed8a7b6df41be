"""Sealed batches for the encoder tests: reports through a real Batcher, one batch."""

import asyncio

from receiver.batch import Batcher, SealedBatch
from receiver.config import BatchConfig
from receiver.signals import MappedReport


async def _seal(reports: list[MappedReport]) -> SealedBatch:
    sealed: list[SealedBatch] = []
    batcher = Batcher(BatchConfig(max_points=10**9, max_age_s=60, max_pending_points=10**9), sealed.append)
    for report in reports:
        batcher.add(report)
    batcher.flush()
    return sealed[0]


def sealed_batch(reports: list[MappedReport]) -> SealedBatch:
    return asyncio.run(_seal(reports))
