from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from receiver.config import ExportConfig
from receiver.self_telemetry import SelfTelemetry


class _Flaky(Collector):
    def __init__(self) -> None:
        self.fail = False

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if self.fail:
            raise RuntimeError("a component's reading failed")
        yield GaugeMetricFamily("receiver_depth", "depth", value=3)


async def test_a_failed_reading_keeps_the_last_snapshot_instead_of_reporting_nothing() -> None:
    registry = CollectorRegistry()
    flaky = _Flaky()
    registry.register(flaky)
    requests = Counter("receiver_requests", "answered", ["status"], registry=registry)
    requests.labels("204").inc(2)
    telemetry = SelfTelemetry(registry, ExportConfig(endpoint="127.0.0.1:9"), interval_s=3600)
    try:
        telemetry.take_snapshot()
        requests.labels("204").inc()
        flaky.fail = True
        telemetry.take_snapshot()  # logged, not raised
        snapshot = telemetry._snapshot
        assert snapshot["receiver_requests_total"] == [(2.0, {"status": "204"})]
        assert snapshot["receiver_depth"] == [(3.0, {})]
    finally:
        await telemetry.stop()
