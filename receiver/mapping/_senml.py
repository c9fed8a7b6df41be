"""Resolved SenML records -> metric points, plus one log record per timestamp for text values.

- ``v`` -> Gauge named by the resolved name, unit ``u``; ``vb`` -> 0/1 Gauge.
- ``s`` -> monotonic cumulative Sum named ``<name>.sum``. The suffix keeps one name per kind: a
  record may carry both ``v`` (power, W) and ``s`` (energy), and one metric name with two kinds
  or units is an identity conflict for most backends. RFC 8428 §4.2 puts the sum in "the unit
  multiplied by seconds" (W -> J); a unit that already measures an accumulated amount (kWh, m3)
  is kept, because that is what a meter sending ``{"u": "kWh", "s": ...}`` means (seed 002).
- ``vs``/``vd`` -> attributes ``name -> value`` of a log record with body ``senml.pack``, one per
  distinct time in the pack (usually one per pack); ``vd`` as unpadded base64url, as in JSON.
- ``ut`` -> point attribute ``senml.update_time_s``: a sensor's reporting period is stable, so
  it costs no series churn, and it stays next to the value for "stale when now - time > ut".
- Over the series limit a number goes to that log record too (``<name>`` or ``<name>.sum``),
  never silently away.
"""

import base64

from ..decode._senml import SenmlRecord
from ..signals import Attributes, AttrValue, LogEntry, MappedReport, MetricSeries, SeriesRegistry

SERVICE_SENML = "senml"
SENML_PACK_LOG_BODY = "senml.pack"
SUM_SUFFIX = ".sum"
UPDATE_TIME_ATTRIBUTE = "senml.update_time_s"

# Rate units whose integral over seconds has its own SenML/UCUM name (W·s = J; the registry's
# VAs and vars). Any other unit u becomes "u.s" (UCUM product).
_INTEGRAL_UNITS = {"W": "J", "kW": "kJ", "VA": "VAs", "var": "vars"}
# Units that already measure an accumulated amount: a sum in them is a meter reading.
_ACCUMULATED_UNITS = frozenset(
    {"J", "kJ", "Wh", "kWh", "VAs", "VAh", "kVAh", "vars", "varh", "kvarh", "Ah", "C", "m3", "l", "B", "bit"}
)

_MISSING = -1  # series-cache sentinel (ids are >= 0; None means "over the limit")
_SeriesKey = str | tuple[str, float]


def senml_resource(device_id: str) -> Attributes:
    return (("device.id", device_id), ("service.name", SERVICE_SENML))


def sum_unit(unit: str) -> str:
    """The unit of ``s`` for a record whose value unit is ``unit`` (RFC 8428 §4.2)."""
    if not unit or unit in _ACCUMULATED_UNITS:
        return unit
    return _INTEGRAL_UNITS.get(unit) or f"{unit}.s"


def map_senml(
    records: list[SenmlRecord], registry: SeriesRegistry, *, device_id: str, received_ns: int
) -> MappedReport:
    """``device_id`` comes from the caller (URL, credentials or verified JWS kid), not the pack:
    base names are sensor names, and a device could claim anyone's."""
    report = MappedReport(resource=senml_resource(device_id))
    metrics = report.metrics
    # name -> unit (or (unit, ut)) -> series id, per kind: a pack repeats its series, so a record
    # costs two dict lookups and the appends; MetricSeries objects are built once per series.
    gauges: dict[str, dict[_SeriesKey, int | None]] = {}
    sums: dict[str, dict[_SeriesKey, int | None]] = {}
    logs: dict[int, dict[str, AttrValue]] = {}
    for record in records:
        time_ns = round(record.time_s * 1e6) * 1000  # µs: what a float of epoch seconds holds
        value = record.value
        if value is not None:
            if value.__class__ is float or value.__class__ is bool:
                series_id = _series(gauges, registry, record, "gauge")
                number = value if value.__class__ is float else int(value)
                if series_id is not None:
                    metrics.append(series_id, time_ns, number)
                else:
                    _log(logs, time_ns)[record.name] = number
            elif isinstance(value, bytes):
                _log(logs, time_ns)[record.name] = base64.urlsafe_b64encode(value).rstrip(b"=").decode()
            else:
                _log(logs, time_ns)[record.name] = value
        if record.sum is not None:
            series_id = _series(sums, registry, record, "sum")
            if series_id is not None:
                metrics.append(series_id, time_ns, record.sum)
            else:
                _log(logs, time_ns)[record.name + SUM_SUFFIX] = record.sum
    for time_ns, attributes in logs.items():
        report.logs.append(
            LogEntry(
                time_ns=time_ns, observed_ns=received_ns, body=SENML_PACK_LOG_BODY, attributes=attributes
            )
        )
    return report


def _series(
    cache: dict[str, dict[_SeriesKey, int | None]],
    registry: SeriesRegistry,
    record: SenmlRecord,
    kind: str,
) -> int | None:
    by_unit = cache.get(record.name)
    if by_unit is None:
        by_unit = cache[record.name] = {}
    key: _SeriesKey = record.unit if record.update_time_s is None else (record.unit, record.update_time_s)
    found = by_unit.get(key, _MISSING)
    if found != _MISSING:
        return found
    attributes: Attributes = (
        () if record.update_time_s is None else ((UPDATE_TIME_ATTRIBUTE, record.update_time_s),)
    )
    if kind == "sum":
        series = MetricSeries(record.name + SUM_SUFFIX, sum_unit(record.unit), "sum", True, attributes)
    else:
        series = MetricSeries(record.name, record.unit, "gauge", False, attributes)
    found = by_unit[key] = registry.intern(series)
    return found


def _log(logs: dict[int, dict[str, AttrValue]], time_ns: int) -> dict[str, AttrValue]:
    attributes = logs.get(time_ns)
    if attributes is None:
        attributes = logs[time_ns] = {}
    return attributes
