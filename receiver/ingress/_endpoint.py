"""What the upload-style HTTP inputs (CDR files, SenML, YANG-push) share: the pipeline handles, the
guard, and one place that turns a DecodeError into its answer and counts every answer."""

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from ..batch import Batcher
from ..config import ReceiverConfig
from ..decode import DecodeError
from ..signals import SeriesRegistry
from ..telemetry import ReceiverMetrics
from ._guard import RequestGuard


class UploadEndpoint:
    def __init__(
        self,
        config: ReceiverConfig,
        batcher: Batcher,
        registry: SeriesRegistry,
        metrics: ReceiverMetrics,
        guard: RequestGuard | None = None,
    ) -> None:
        self._config = config
        self._batcher = batcher
        self._registry = registry
        self._metrics = metrics
        self._guard = guard

    async def __call__(self, request: Request, name: str) -> Response:
        try:
            response = await self._handle(request, name)
        except DecodeError as exc:
            response = PlainTextResponse(exc.reason + "\n", status_code=exc.status)
        label = "cdr" if name in ("data", "voice") else name
        self._metrics.requests.labels(label, str(response.status_code)).inc()
        return response

    async def _handle(self, request: Request, name: str) -> Response:
        raise NotImplementedError
