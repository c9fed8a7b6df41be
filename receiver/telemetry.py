"""The receiver's own telemetry, scrapeable on /metrics. Updated per request or batch, never per
datapoint; hot loops (MQTT messages) keep plain integer counters that are read at scrape time."""

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector


class _Sources(Collector):
    """Counters whose values live in the components (read only when scraped)."""

    def __init__(self) -> None:
        self.counters: list[tuple[str, str, dict[str, str], Callable[[], float]]] = []

    def collect(self) -> Iterator[CounterMetricFamily]:
        families: dict[str, CounterMetricFamily] = {}
        for name, doc, labels, read in self.counters:
            family = families.get(name)
            if family is None:
                family = families[name] = CounterMetricFamily(name, doc, labels=list(labels))
            family.add_metric(list(labels.values()), read())
        yield from families.values()


class ReceiverMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._sources = _Sources()
        self.registry.register(self._sources)
        self.requests = Counter(
            "receiver_requests",
            "Reports answered, by input and HTTP status",
            ["input", "status"],
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

    def gauge_source(self, name: str, doc: str, read: Callable[[], float]) -> None:
        Gauge(name, doc, registry=self.registry).set_function(read)

    def counter_source(self, name: str, doc: str, read: Callable[[], float], **labels: str) -> None:
        """Expose a component's own counter (``name`` without ``_total``) at scrape time."""
        self._sources.counters.append((name, doc, labels, read))
