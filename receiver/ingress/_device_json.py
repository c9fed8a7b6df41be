"""HTTP inputs for SenML packs (RFC 8428, JSON or CBOR, optionally JWS-signed) and YANG-push change
events (RFC 8641 / seed 004). Both answer 204 once the data is durable.

    POST /senml?device=ID        application/senml+json | application/senml+cbor | application/jose
    POST /yang-push[?device=ID]  application/json (the managed element in the payload wins)"""

import asyncio
import time
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from ..batch import Batcher, BatcherClosed, Overloaded
from ..config import ReceiverConfig
from ..decode import DecodeError, parse_media_type
from ..decode._jws import SignatureError, key_lookup, load_device_keys, verify_jws_pack
from ..decode._senml import decode_senml
from ..decode._yang_push import decode_yang_push
from ..mapping._senml import map_senml
from ..mapping._yang_push import map_yang_push
from ..signals import MappedReport, NotDelivered, SeriesRegistry
from ..telemetry import ReceiverMetrics
from ._body import decode_content, read_limited
from ._endpoint import UploadEndpoint
from ._guard import RequestGuard
from ._query import split_target
from ._responses import unavailable

_SENML_TYPES = ("application/senml+json", "application/senml+cbor")


class DeviceJsonEndpoint(UploadEndpoint):
    def __init__(
        self,
        config: ReceiverConfig,
        batcher: Batcher,
        registry: SeriesRegistry,
        metrics: ReceiverMetrics,
        guard: RequestGuard | None = None,
    ) -> None:
        super().__init__(config, batcher, registry, metrics, guard)
        keys_path = config.inputs.senml_device_keys
        self._keys = key_lookup(load_device_keys(Path(keys_path))) if keys_path else None

    def input_of(self, path: str) -> str | None:
        inputs = self._config.inputs
        if path.rstrip("/") == inputs.senml_path.rstrip("/"):
            return "senml"
        if path.rstrip("/") == inputs.yang_push_path.rstrip("/"):
            return "yang-push"
        return None

    async def _handle(self, request: Request, name: str) -> Response:
        received_ns = time.time_ns()
        _, query = split_target(request.scope.get("raw_path") or b"", request.scope.get("query_string", b""))
        if self._guard is not None:
            # The device named in the URL is bound like a USP endpoint id: the guard's binding applies.
            claimed = {"eid": query["device"]} if query.get("device") else {}
            _, refusal = await self._guard.check(request, claimed)
            if refusal is not None:
                return refusal
        limits = self._config.limits
        raw = await read_limited(
            request.stream(), request.headers.get("content-length"), limits.max_body_bytes
        )
        body = decode_content(raw, request.headers.get("content-encoding"), limits)
        media, _ = parse_media_type(request.headers.get("content-type"))
        if name == "senml":
            report = self._senml(body, media, query.get("device", ""), received_ns)
        else:
            notification = decode_yang_push(body, default_device_id=query.get("device") or None)
            report = map_yang_push(notification, self._registry, received_ns=received_ns)
        try:
            acked = self._batcher.add(report)
            await asyncio.shield(acked)
        except (Overloaded, BatcherClosed, NotDelivered) as exc:
            reason = exc.reason if isinstance(exc, NotDelivered) else str(exc)
            return unavailable(f"not accepted, send again: {reason}", self._config.server.retry_after_s)
        return Response(status_code=204)

    def _senml(self, body: bytes, media: str | None, device: str, received_ns: int) -> MappedReport:
        if media == "application/jose":
            if self._keys is None:
                raise SignatureError("signed packs need inputs.senml_device_keys configured")
            body, kid = verify_jws_pack(body, self._keys)
            if device and kid != device:
                raise SignatureError(f"pack signed by {kid!r} but sent for device {device!r}")
            device = device or str(kid)
            media = (
                "application/senml+json" if body.lstrip()[:1] in (b"[", b"{") else "application/senml+cbor"
            )
        if not device:
            raise DecodeError("missing device identity: add ?device=ID to the URL")
        records = decode_senml(body, media or "application/senml+json", now_s=received_ns / 1e9)
        return map_senml(records, self._registry, device_id=device, received_ns=received_ns)
