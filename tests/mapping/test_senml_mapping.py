"""Resolved SenML records -> gauges, cumulative sums and one log record per timestamp for text."""

import json
from typing import Any

import pytest

from receiver.decode._senml import SENML_JSON, SenmlRecord, decode_senml
from receiver.mapping._senml import (
    SENML_PACK_LOG_BODY,
    UPDATE_TIME_ATTRIBUTE,
    map_senml,
    sum_unit,
)
from receiver.signals import MappedReport, SeriesRegistry

NOW = 1_700_000_000.0
RECEIVED = 1_700_000_001_000_000_000


def _map(
    pack: list[dict[str, Any]], registry: SeriesRegistry | None = None
) -> tuple[MappedReport, SeriesRegistry]:
    registry = SeriesRegistry() if registry is None else registry
    records = decode_senml(json.dumps(pack).encode(), SENML_JSON, now_s=NOW)
    return map_senml(records, registry, device_id="meter-7", received_ns=RECEIVED), registry


def _points(report: MappedReport, registry: SeriesRegistry) -> list[tuple[Any, ...]]:
    m = report.metrics
    out = []
    for sid, time_ns, d, i, is_int in zip(m.series, m.times_ns, m.doubles, m.ints, m.is_int, strict=True):
        s = registry[sid]
        out.append((s.name, s.unit, s.kind, s.monotonic, s.attributes, time_ns, i if is_int else d))
    return out


def test_resource_is_the_callers_device() -> None:
    report, _ = _map([{"n": "urn:dev:ow:10e2073a01080063", "u": "Cel", "v": 23.1}])
    assert report.resource == (("device.id", "meter-7"), ("service.name", "senml"))


def test_numeric_values_are_gauges_with_their_units() -> None:
    """RFC 8428 §5.1.2: voltage and current, the current every second for 5 s."""
    pack = [
        {
            "bn": "urn:dev:ow:10e2073a0108006:",
            "bt": 1.276020076001e09,
            "bu": "A",
            "n": "voltage",
            "u": "V",
            "v": 120.1,
        },
        {"n": "current", "t": -1, "v": 1.6},
        {"n": "current", "v": 1.7},
    ]
    report, registry = _map(pack)
    t0 = 1_276_020_076_001_000_000
    assert _points(report, registry) == [
        ("urn:dev:ow:10e2073a0108006:voltage", "V", "gauge", False, (), t0, 120.1),
        ("urn:dev:ow:10e2073a0108006:current", "A", "gauge", False, (), t0 - 1_000_000_000, 1.6),
        ("urn:dev:ow:10e2073a0108006:current", "A", "gauge", False, (), t0, 1.7),
    ]
    assert report.metrics.series[1] == report.metrics.series[2]  # one series, interned once
    assert len(registry) == 2
    assert report.logs == []


def test_same_name_with_different_units_are_different_series() -> None:
    """RFC 8428 §5.1.3 reports humidity and position under one name, told apart by the unit."""
    report, registry = _map(
        [
            {"bn": "urn:dev:ow:10e2073a01080063", "bt": 1.320067464e09, "bu": "%RH", "v": 20},
            {"u": "lon", "v": 24.30621},
            {"u": "lat", "v": 60.07965},
        ]
    )
    assert [(p[0], p[1]) for p in _points(report, registry)] == [
        ("urn:dev:ow:10e2073a01080063", "%RH"),
        ("urn:dev:ow:10e2073a01080063", "lon"),
        ("urn:dev:ow:10e2073a01080063", "lat"),
    ]


def test_booleans_are_0_1_gauges_and_text_goes_to_one_log_record() -> None:
    """RFC 8428 §5.1.5: a number, a string, a boolean and binary data from one sensor."""
    report, registry = _map(
        [
            {"bn": "urn:dev:ow:10e2073a01080063:", "n": "temp", "u": "Cel", "v": 23.1},
            {"n": "label", "vs": "Machine Room"},
            {"n": "open", "vb": False},
            {"n": "nfv-reader", "vd": "aGkgCg"},
        ]
    )
    now_ns = int(NOW) * 10**9
    assert _points(report, registry) == [
        ("urn:dev:ow:10e2073a01080063:temp", "Cel", "gauge", False, (), now_ns, 23.1),
        ("urn:dev:ow:10e2073a01080063:open", "", "gauge", False, (), now_ns, 0),
    ]
    assert report.metrics.is_int == [False, True]
    (log,) = report.logs
    assert (log.body, log.time_ns, log.observed_ns) == (SENML_PACK_LOG_BODY, now_ns, RECEIVED)
    assert log.attributes == {
        "urn:dev:ow:10e2073a01080063:label": "Machine Room",
        "urn:dev:ow:10e2073a01080063:nfv-reader": "aGkgCg",  # binary as unpadded base64url
    }


def test_text_at_different_times_gives_one_log_record_per_time() -> None:
    report, _ = _map(
        [
            {"bn": "door/", "bt": 1.6e9, "n": "state", "vs": "open"},
            {"n": "state", "t": 30, "vs": "closed"},
            {"n": "who", "t": 30, "vs": "badge-17"},
        ]
    )
    assert [(log.time_ns, log.attributes) for log in report.logs] == [
        (1_600_000_000 * 10**9, {"door/state": "open"}),
        (1_600_000_030 * 10**9, {"door/state": "closed", "door/who": "badge-17"}),
    ]


def test_sums_are_monotonic_cumulative_sums_beside_the_value() -> None:
    """Seed 002's cumulative energy: power in v (W), energy in s (W·s = J, RFC 8428 §4.2)."""
    report, registry = _map([{"bn": "emonpi/", "bt": 1.6e9, "n": "power1", "u": "W", "v": 350, "s": 4.5e7}])
    t = 1_600_000_000 * 10**9
    assert _points(report, registry) == [
        ("emonpi/power1", "W", "gauge", False, (), t, 350.0),
        ("emonpi/power1.sum", "J", "sum", True, (), t, 4.5e7),
    ]
    series = registry[report.metrics.series[1]]
    assert series.temporality == "cumulative"


def test_a_meter_reading_in_kwh_keeps_its_unit() -> None:
    report, registry = _map([{"bn": "meter/", "bs": 1000, "bu": "kWh", "n": "import", "s": 234.5}])
    assert _points(report, registry) == [
        ("meter/import.sum", "kWh", "sum", True, (), int(NOW) * 10**9, 1234.5),
    ]


@pytest.mark.parametrize(
    ("unit", "expected"),
    [("W", "J"), ("VA", "VAs"), ("var", "vars"), ("kWh", "kWh"), ("m3", "m3"), ("Cel", "Cel.s"), ("", "")],
)
def test_sum_units(unit: str, expected: str) -> None:
    assert sum_unit(unit) == expected


def test_update_time_is_a_point_attribute() -> None:
    report, registry = _map(
        [{"n": "t1", "u": "Cel", "v": 21, "ut": 300}, {"n": "t1", "u": "Cel", "v": 22, "t": 1}]
    )
    attributes = [registry[sid].attributes for sid in report.metrics.series]
    assert attributes == [((UPDATE_TIME_ATTRIBUTE, 300.0),), ()]


def test_over_the_series_limit_values_go_to_the_log_record() -> None:
    registry = SeriesRegistry(max_series=1)
    report, _ = _map(
        [
            {"bn": "m/", "n": "a", "v": 1},
            {"n": "b", "v": 2},
            {"n": "c", "u": "W", "s": 30},
            {"n": "d", "vs": "text"},
        ],
        registry,
    )
    assert _points(report, registry) == [("m/a", "", "gauge", False, (), int(NOW) * 10**9, 1.0)]
    (log,) = report.logs
    assert log.attributes == {"m/b": 2.0, "m/c.sum": 30.0, "m/d": "text"}


def test_mapping_accepts_records_built_directly() -> None:
    records = [SenmlRecord("x", "", True, None, 1.5), SenmlRecord("y", "B", None, 10.0, 1.5)]
    report = map_senml(records, SeriesRegistry(), device_id="d", received_ns=0)
    assert report.metrics.times_ns == [1_500_000_000, 1_500_000_000]
    assert report.metrics.ints[0] == 1 and report.metrics.doubles[1] == 10.0
    assert report.point_count == 2
