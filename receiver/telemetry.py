"""The receiver's own telemetry, scrapeable on /metrics. Updated per request or batch, never per
datapoint: the hot path only adds counts it already has."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class ReceiverMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "receiver_requests",
            "Reports answered, by input and HTTP status",
            ["input", "status"],
            registry=self.registry,
        )
        self.points_in = Counter(
            "receiver_datapoints_received",
            "Metric points and log records accepted",
            ["signal"],
            registry=self.registry,
        )
        self.points_dropped = Counter(
            "receiver_datapoints_dropped",
            "Values not forwarded, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.pending = Gauge(
            "receiver_pending_points", "Points accepted and not yet acknowledged", registry=self.registry
        )
        self.export_latency = Histogram(
            "receiver_export_latency_seconds",
            "Time from seal to collector acknowledgement",
            registry=self.registry,
        )
        self.export_failures = Counter(
            "receiver_export_failed_batches", "Batches the collector did not take", registry=self.registry
        )
