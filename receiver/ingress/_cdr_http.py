"""HTTP upload of CDR files: ``POST /cdr/data`` or ``/cdr/voice`` with a CSV body (gzip allowed).

Answers 200 with JSON ``{"accepted": N, "rejected": [{"line": L, "reason": "..."}], "rejected_count": K}``
once the accepted rows are durable; with ``cdr.partial_accept: false`` a file with any bad row is
refused whole with 400 and the same listing."""

import asyncio
import dataclasses
import hashlib
import os
import time
from pathlib import Path

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ..batch import Batcher, BatcherClosed, Overloaded
from ..config import ReceiverConfig
from ..decode._cdr import CdrBatch, decode_cdr_csv
from ..mapping._cdr import map_cdr
from ..signals import NotDelivered, SeriesRegistry
from ..telemetry import ReceiverMetrics
from ._body import decode_content, read_limited
from ._endpoint import UploadEndpoint
from ._guard import RequestGuard
from ._responses import unavailable

PSEUDONYM_KEY_ENV = "RECEIVER_CDR_PSEUDONYM_KEY"
_LISTED_ERRORS = 100
KINDS = ("data", "voice")


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
            part, registry, source=source, source_digest=digest, received_ns=time.time_ns(), pseudonym_key=key
        )
        while True:
            try:
                acks.append(batcher.add(report))
                break
            except Overloaded:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)
    return acks


class CdrUploadEndpoint(UploadEndpoint):
    def __init__(
        self,
        config: ReceiverConfig,
        batcher: Batcher,
        registry: SeriesRegistry,
        metrics: ReceiverMetrics,
        guard: RequestGuard | None = None,
    ) -> None:
        super().__init__(config, batcher, registry, metrics, guard)
        self._key = pseudonym_key(config.cdr.pseudonym_key_file)

    def kind_of(self, path: str) -> str | None:
        prefix = self._config.cdr.path_prefix.rstrip("/")
        for kind in KINDS:
            if path.rstrip("/") == f"{prefix}/{kind}":
                return kind
        return None

    async def _handle(self, request: Request, kind: str) -> Response:
        if self._guard is not None:
            _, refusal = await self._guard.check(request, {})
            if refusal is not None:
                return refusal
        raw = await read_limited(
            request.stream(), request.headers.get("content-length"), self._config.cdr.max_body_bytes
        )
        # CDR files are large by nature: their own decompressed-size cap, same ratio check.
        limits = dataclasses.replace(
            self._config.limits, max_decompressed_bytes=8 * self._config.cdr.max_body_bytes
        )
        body = decode_content(raw, request.headers.get("content-encoding"), limits)
        batch = await asyncio.to_thread(decode_cdr_csv, body, kind)  # type: ignore[arg-type]
        listing = {
            "accepted": batch.table.num_rows,
            "rejected": [{"line": e.line, "reason": e.reason} for e in batch.errors[:_LISTED_ERRORS]],
            "rejected_count": len(batch.errors),
        }
        if batch.errors and not self._config.cdr.partial_accept:
            listing["accepted"] = 0
            return Response(orjson.dumps(listing), status_code=400, media_type="application/json")
        source = request.query_params.get("source") or request.headers.get("x-cdr-source") or "http-upload"
        digest = hashlib.sha256(body).hexdigest()[:16]
        try:
            acks = await submit_in_chunks(
                batch,
                self._batcher,
                self._registry,
                source=source,
                digest=digest,
                chunk_rows=self._config.cdr.chunk_rows,
                key=self._key,
                wait_for_capacity_s=10.0,
            )
            await asyncio.gather(*(asyncio.shield(ack) for ack in acks))
        except (Overloaded, BatcherClosed) as exc:
            return unavailable(f"over capacity, send again: {exc}", self._config.server.retry_after_s)
        except NotDelivered as exc:
            return unavailable(f"not delivered, send again: {exc.reason}", self._config.server.retry_after_s)
        return Response(orjson.dumps(listing), status_code=200, media_type="application/json")
