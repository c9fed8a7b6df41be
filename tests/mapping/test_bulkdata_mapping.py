"""Bulk Data parameters -> metric points and log records, through the real TR-181 table, with both
the exact (row list) and the fast (columnar) mapper, which must agree."""

from pathlib import Path

import pytest

from receiver.decode import ParameterColumns, ParameterTable, as_parameter_table, decode_bulkdata
from receiver.mapping import BulkDataMapper, RuleSet, bulkdata_resource, load_rules, load_tr181_table
from receiver.signals import MappedReport, SeriesRegistry

RESOURCE = bulkdata_resource({"oui": "00256D", "pc": "Gateway", "sn": "SN1"})
MODEL = load_tr181_table()
T = 1700000000 * 10**9
HEADER = "ReportTimestamp,ParameterName,ParameterValue,ParameterType\n"


def _rows(report: MappedReport, registry: SeriesRegistry) -> list[tuple[object, ...]]:
    """Every point as (name, unit, kind, monotonic, attributes, time, value), sorted."""
    out = []
    m = report.metrics
    for sid, time, d, i, is_int in zip(m.series, m.times_ns, m.doubles, m.ints, m.is_int, strict=True):
        s = registry[sid]
        out.append((s.name, s.unit, s.kind, s.monotonic, s.attributes, time, i if is_int else d))
    if report.metric_chunk is not None:
        for row in report.metric_chunk.to_pylist():
            s = registry[row["series"]]
            value = row["int"] if row["is_int"] else row["double"]
            out.append((s.name, s.unit, s.kind, s.monotonic, s.attributes, row["time_ns"], value))
    return sorted(out, key=repr)


def _map_both(body: str, rules: RuleSet | None = None) -> tuple[MappedReport, MappedReport, SeriesRegistry]:
    registry = SeriesRegistry()
    mapper = BulkDataMapper(MODEL, registry, rules)
    decoded = decode_bulkdata(body.encode(), content_type="text/csv", report_format="ParameterPerRow")
    table: ParameterTable = as_parameter_table(decoded) if isinstance(decoded, ParameterColumns) else decoded
    exact, _ = mapper.map_report(table, RESOURCE, fallback_time_ns=1, received_ns=2)
    fast, _ = mapper.map_report(decoded, RESOURCE, fallback_time_ns=1, received_ns=2)
    return exact, fast, registry


def test_kinds_units_instances_and_logs_from_the_data_model() -> None:
    body = HEADER + (
        "1700000000,Device.Ethernet.Interface.1.Stats.BytesSent,12345,unsignedLong\n"
        "1700000000,Device.WiFi.AccessPoint.1.AssociatedDevice.3.SignalStrength,-61,int\n"
        "1700000000,Device.DeviceInfo.UpTime,3600,unsignedInt\n"
        "1700000000,Device.WiFi.Radio.2.Enable,false,boolean\n"
        "1700000000,Device.DeviceInfo.SoftwareVersion,7.2.1,string\n"
        "1700000000,Vendor.Custom.Temperature,41.5,int\n"
    )
    exact, fast, registry = _map_both(body)
    assert _rows(exact, registry) == _rows(fast, registry)
    by_name = {row[0]: row for row in _rows(exact, registry)}
    assert by_name["Device.Ethernet.Interface.{i}.Stats.BytesSent"][1:] == (
        "By",
        "sum",
        True,
        (("Interface", "1"),),
        T,
        12345,
    )
    signal = by_name["Device.WiFi.AccessPoint.{i}.AssociatedDevice.{i}.SignalStrength"]
    assert (signal[2], signal[4], signal[6]) == (
        "gauge",
        (("AccessPoint", "1"), ("AssociatedDevice", "3")),
        -61,
    )
    assert by_name["Device.DeviceInfo.UpTime"][1:3] == ("s", "gauge")
    assert by_name["Device.WiFi.Radio.{i}.Enable"][2:] == ("gauge", False, (("Radio", "2"),), T, 0)
    assert (
        by_name["Vendor.Custom.Temperature"][2] == "gauge" and by_name["Vendor.Custom.Temperature"][6] == 41.5
    )
    assert "Device.DeviceInfo.SoftwareVersion" not in by_name
    for report in (exact, fast):
        assert [(e.time_ns, e.observed_ns, e.body, e.attributes) for e in report.logs] == [
            (T, 2, "bulkdata.report", {"Device.DeviceInfo.SoftwareVersion": "7.2.1"})
        ]


def test_numeric_parameter_with_text_value_goes_to_the_log_not_lost() -> None:
    body = (
        HEADER
        + "1700000000,Device.DeviceInfo.UpTime,unknown,unsignedInt\n"
        + "1700000000,Device.DeviceInfo.MemoryStatus.Total,1024,unsignedInt\n"
    )
    exact, fast, registry = _map_both(body)
    for report in (exact, fast):
        assert [row[0] for row in _rows(report, registry)] == ["Device.DeviceInfo.MemoryStatus.Total"]
        assert report.logs[0].attributes == {"Device.DeviceInfo.UpTime": "unknown"}


def test_rules_override_kind_unit_drop_and_resource(tmp_path: Path) -> None:
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(
        "rules:\n"
        "  - {match: 'Device.DeviceInfo.UpTime', kind: sum, unit: min}\n"
        "  - {match: 'Device.Hosts.*', drop: true}\n"
        "  - {match: 'Device.DeviceInfo.SoftwareVersion', to_resource: os.version}\n"
    )
    body = HEADER + (
        "1700000000,Device.DeviceInfo.UpTime,10,unsignedInt\n"
        "1700000000,Device.Hosts.Host.1.Active,true,boolean\n"
        "1700000000,Device.DeviceInfo.SoftwareVersion,7.2.1,string\n"
    )
    exact, fast, registry = _map_both(body, load_rules(str(rules_file)))
    for report in (exact, fast):
        assert [row[:3] for row in _rows(report, registry)] == [("Device.DeviceInfo.UpTime", "min", "sum")]
        assert dict(report.resource)["os.version"] == "7.2.1"
        assert report.logs == []


def test_relative_names_take_the_spec_their_suffix_agrees_on() -> None:
    registry = SeriesRegistry()
    mapper = BulkDataMapper(MODEL, registry)
    table = ParameterTable()
    table.append("Stats.BytesSent", 5, None, T)
    table.append(".Stats.BytesReceived", 6, None, T)
    report, _ = mapper.map_report(table, RESOURCE, fallback_time_ns=1, received_ns=2)
    kinds = {row[0]: row[2] for row in _rows(report, registry)}
    assert kinds == {"Stats.BytesSent": "sum", "Stats.BytesReceived": "sum"}


@pytest.mark.parametrize("value", ["", "   "])
def test_empty_values_carry_no_measurement(value: str) -> None:
    exact, fast, registry = _map_both(HEADER + f"1700000000,Device.DeviceInfo.UpTime,{value},unsignedInt\n")
    for report in (exact, fast):
        assert _rows(report, registry) == [] and report.logs == []
