"""HTTP upload of CDR files: ``POST /cdr/data`` or ``/cdr/voice`` with a CSV body (gzip allowed).

Answers 200 with JSON ``{"accepted": N, "rejected": [{"line": L, "reason": "..."}], "rejected_count": K}``
once the accepted rows are durable; with ``cdr.partial_accept: false`` a file with any bad row is
refused whole with 400 and the same listing."""

import asyncio
import dataclasses
import hashlib

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ..batch import Batcher, BatcherClosed, Overloaded
from ..cdr_submit import pseudonym_key, submit_in_chunks
from ..config import ReceiverConfig
from ..decode._cdr import decode_cdr_csv
from ..signals import NotDelivered, SeriesRegistry
from ..telemetry import ReceiverMetrics
from ._body import decode_content, read_limited
from ._endpoint import UploadEndpoint
from ._guard import RequestGuard
from ._responses import unavailable

_LISTED_ERRORS = 100
KINDS = ("data", "voice")


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
