"""LwM2M messages -> metric points and a lifecycle / text log record per message."""

from ..decode._lwm2m import Lwm2mMessage
from ..signals import Attributes, AttrValue, LogEntry, MappedReport, MetricSeries, SeriesRegistry
from ._lwm2m_registry import resource_name_and_unit

SERVICE_LWM2M = "lwm2m"
_SENSOR_UNITS = 5701


def lwm2m_resource(endpoint: str) -> Attributes:
    return (("device.id", endpoint), ("lwm2m.endpoint", endpoint), ("service.name", SERVICE_LWM2M))


def map_lwm2m(message: Lwm2mMessage, registry: SeriesRegistry, *, received_ns: int) -> MappedReport:
    time_ns = received_ns if message.time_ms is None else message.time_ms * 1_000_000
    report = MappedReport(resource=lwm2m_resource(message.endpoint))
    units = {
        (r.object_id, r.instance): r.value
        for r in message.resources
        if r.resource_id == _SENSOR_UNITS and isinstance(r.value, str)
    }
    text: dict[str, AttrValue] = {}
    for resource in message.resources:
        path = f"/{resource.object_id}/{resource.instance}/{resource.resource_id}"
        if resource.resource_instance is not None:
            path += f"/{resource.resource_instance}"
        value = resource.value
        if isinstance(value, str):
            text[path] = value
            continue
        device_unit = units.get((resource.object_id, resource.instance))
        name, unit = resource_name_and_unit(
            resource.object_id, resource.resource_id, str(device_unit or "") or None
        )
        attrs: list[tuple[str, AttrValue]] = [
            ("lwm2m.instance", str(resource.instance)),
            ("lwm2m.object_id", str(resource.object_id)),
            ("lwm2m.resource_id", str(resource.resource_id)),
        ]
        if resource.resource_instance is not None:
            attrs.append(("lwm2m.resource_instance", str(resource.resource_instance)))
        series_id = registry.intern(MetricSeries(name, unit, "gauge", False, tuple(sorted(attrs))))
        if series_id is None:
            text[path] = str(value)  # over the series limit: keep the value in the log, never drop it
            continue
        report.metrics.append(series_id, time_ns, int(value) if isinstance(value, bool) else value)
    if message.kind != "response" or text:
        attributes: dict[str, AttrValue] = {f"lwm2m.{k}": v for k, v in message.attributes.items()}
        attributes.update(text)
        report.logs.append(
            LogEntry(
                time_ns=time_ns, observed_ns=received_ns, body=f"lwm2m.{message.kind}", attributes=attributes
            )
        )
    return report
