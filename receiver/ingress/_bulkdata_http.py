"""HTTP ingress for TR-069 / TR-369 Bulk Data reports (POST or PUT, any configured path).

Answers 204 only after the collector acknowledged the report's batch, so a 2xx is never lost;
every refusal carries a status and a one-line reason the CPE's operator can read."""

import asyncio
import email.utils
import logging
import time

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from ..batch import Batcher, BatcherClosed, Overloaded
from ..config import ReceiverConfig
from ..decode import DecodeError, TooLarge, decode_bulkdata
from ..mapping import BulkDataMapper, bulkdata_resource
from ..signals import NotDelivered
from ..telemetry import ReceiverMetrics
from ._body import decode_content, read_limited
from ._guard import RequestGuard
from ._query import split_target
from ._responses import unavailable

log = logging.getLogger(__name__)
INPUT = "bulkdata"


class BulkDataEndpoint:
    def __init__(
        self,
        config: ReceiverConfig,
        mapper: BulkDataMapper,
        batcher: Batcher,
        metrics: ReceiverMetrics,
        guard: RequestGuard | None = None,
    ) -> None:
        self._guard = guard
        self._config = config
        self._paths = frozenset(config.server.bulkdata_paths)
        self._mapper = mapper
        self._batcher = batcher
        self._metrics = metrics

    def accepts(self, request: Request) -> bool:
        path, _ = split_target(request.scope.get("raw_path") or request.url.path.encode(), b"")
        return path in self._paths

    async def __call__(self, request: Request) -> Response:
        try:
            response = await self._handle(request)
        except DecodeError as exc:
            response = PlainTextResponse(exc.reason + "\n", status_code=exc.status)
        self._metrics.requests.labels(INPUT, str(response.status_code)).inc()
        return response

    async def _handle(self, request: Request) -> Response:
        received_ns = time.time_ns()
        limits = self._config.limits
        _, query = split_target(request.scope.get("raw_path") or b"", request.scope.get("query_string", b""))
        user = None
        if self._guard is not None:
            user, refusal = await self._guard.check(request, query)
            if refusal is not None:
                return refusal
        resource = bulkdata_resource(
            query, auth_user=user, identity_from_auth=self._config.mapping.identity_from_auth
        )
        raw = await read_limited(
            request.stream(), request.headers.get("content-length"), limits.max_body_bytes
        )
        body = decode_content(raw, request.headers.get("content-encoding"), limits)
        table = decode_bulkdata(
            body,
            content_type=request.headers.get("content-type"),
            report_format=request.headers.get("bbf-report-format"),
            csv_separator=self._config.mapping.csv_separator,
            fast_csv=self._config.mapping.fast_csv,
        )
        if len(table) > limits.max_parameters:
            raise TooLarge(f"report has {len(table)} parameters, the limit is {limits.max_parameters}")
        report, stats = self._mapper.map_report(
            table, resource, fallback_time_ns=_date_header_ns(request) or received_ns, received_ns=received_ns
        )
        for reason, count in (("rule", stats.dropped_by_rule), ("series_limit", stats.series_overflow)):
            if count:
                self._metrics.points_dropped.labels(reason).inc(count)
        try:
            acked = self._batcher.add(report)
        except Overloaded as exc:
            return self._unavailable(f"over capacity: {exc}")
        except BatcherClosed as exc:
            return self._unavailable(str(exc))
        try:
            # shield: a CPE that hangs up must not cancel the batch shared with other reports.
            await asyncio.shield(acked)
        except NotDelivered as exc:
            return self._unavailable(f"not delivered, send again: {exc.reason}")
        return Response(status_code=204)

    def _unavailable(self, reason: str) -> Response:
        return unavailable(reason, self._config.server.retry_after_s)


def _date_header_ns(request: Request) -> int | None:
    value = request.headers.get("date")
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None  # a broken Date header is not worth refusing the report for
    return int(parsed.timestamp() * 1e9)
