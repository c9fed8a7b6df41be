"""CDR records from a decoded file to the batcher, chunk by chunk: shared by the HTTP upload
(``ingress._cdr_http``) and the ``ingest-cdr`` CLI. Outside the ingress package so the CLI does not
import the HTTP stack (Starlette, JOSE, the other inputs) just to start."""

import asyncio
import os
import time
from pathlib import Path

from .batch import Batcher, Overloaded
from .decode._cdr import CdrBatch
from .mapping._cdr import map_cdr, pseudonymise_cdr
from .signals import SeriesRegistry

PSEUDONYM_KEY_ENV = "RECEIVER_CDR_PSEUDONYM_KEY"
# Pseudonymising a file costs an HMAC per distinct value, in Python: ~0.1 s per million rows of a
# typical file, more when most values are distinct. From this many rows it runs in a worker thread, so
# the event loop keeps serving other requests (it gets the GIL back every switch interval instead of
# after the whole file). Below it the work blocks the loop for at most ~2 ms (measured: 1.6 ms for
# 1000 rows of distinct numbers and addresses) and the hand-over (~40 us) is not worth it.
PSEUDONYMISE_IN_THREAD_ROWS = 1_000


def pseudonym_key(key_file: str | None) -> bytes | None:
    if key_file:
        return Path(key_file).read_bytes().strip()
    value = os.environ.get(PSEUDONYM_KEY_ENV)
    return value.encode() if value else None


async def submit_in_chunks(
    batch: CdrBatch,
    batcher: Batcher,
    registry: SeriesRegistry,
    *,
    source: str,
    digest: str,
    chunk_rows: int,
    key: bytes | None,
    wait_for_capacity_s: float,
) -> list["asyncio.Future[None]"]:
    """Map and hand a decoded file to the batcher chunk by chunk (bounded memory), in order."""
    if key is not None:  # the whole file at once: each distinct value hashed once
        if batch.table.num_rows >= PSEUDONYMISE_IN_THREAD_ROWS:
            batch = await asyncio.to_thread(pseudonymise_cdr, batch, key)
        else:
            batch = pseudonymise_cdr(batch, key)
    acks = []
    deadline = time.monotonic() + wait_for_capacity_s
    for start in range(0, max(batch.table.num_rows, 1), chunk_rows):
        part = CdrBatch(
            kind=batch.kind,
            table=batch.table.slice(start, chunk_rows),
            line_numbers=batch.line_numbers.slice(start, chunk_rows),
            errors=[],
        )
        report = map_cdr(
            part,
            registry,
            source=source,
            source_digest=digest,
            received_ns=time.time_ns(),
            pseudonym_key=None,
        )
        while True:
            try:
                acks.append(batcher.add(report))
                break
            except Overloaded:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)
        # Mapping a chunk holds the event loop (~20 ms for 20 k rows): let other requests run
        # between chunks rather than after the whole file.
        await asyncio.sleep(0)
    return acks
