"""The receiver's own telemetry reaches the collector through the OpenTelemetry SDK (DESIGN,
"Self-observability"): the same figures as /metrics, as the real collector received them."""

from pathlib import Path

import httpx

from ._sink import Point, wait_for
from ._stack import Collector, run_receiver

REPORT = b"ReportTimestamp,ParameterName,ParameterValue,ParameterType\n1700000000,Device.X.Y,5,int\n"


def _own(points: list[Point], name: str) -> list[Point]:
    return [p for p in points if p.resource.get("service.name") == "telemetry-receiver" and p.name == name]


def test_the_receivers_own_counters_and_gauges_arrive_at_the_collector(
    collector: Collector, tmp_path: Path
) -> None:
    with run_receiver(
        tmp_path, collector.otlp_endpoint, env={"RECEIVER_TELEMETRY__PUSH_INTERVAL_S": "0.5"}
    ) as receiver:
        answer = httpx.post(
            f"{receiver.url}/bulkdata?oui=00256D&pc=Self&sn=telemetry",
            content=REPORT,
            headers={"content-type": "text/csv"},
            timeout=30,
        )
        assert answer.status_code == 204
        instance = f"{receiver.process.pid}"

        def arrived(points: list[Point], logs: object) -> bool:
            requests = [
                p
                for p in _own(points, "receiver_requests")
                if p.resource["service.instance.id"].endswith("/" + instance)
                and p.attributes == {"input": "bulkdata", "status": "204"}
            ]
            return bool(requests) and requests[-1].value >= 1

        points, _ = wait_for(collector.sink_dir, arrived)
    mine = [p for p in points if p.resource.get("service.instance.id", "").endswith("/" + instance)]
    requests = [p for p in mine if p.name == "receiver_requests"]
    assert requests and requests[-1].kind == "sum" and requests[-1].monotonic
    assert requests[-1].attributes == {"input": "bulkdata", "status": "204"} and requests[-1].value == 1
    received = [
        p for p in mine if p.name == "receiver_datapoints_received" and p.attributes == {"signal": "metrics"}
    ]
    assert received and received[-1].value == 1
    depth = [p for p in mine if p.name == "receiver_spool_depth_batches"]
    assert depth and depth[-1].kind == "gauge"
    assert any(p.name == "receiver_export_latency_seconds_count" for p in mine)
    assert mine[0].resource["receiver.worker"] == 0
