"""Exporter proof without the cloud: our collector binary's REAL `azuredataexplorer` exporter
(contrib v0.152.0, managed = streaming ingestion, system-assigned managed identity) writes into a
local Kusto test double (`loadtest/kusto_ingest_double.py`) on https://127.0.0.1, and we assert the rows.

How the exporter is satisfied without Azure (TLS, token, cluster URI): `loadtest/adx_stack.py`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2_grpc import LogsServiceStub
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2_grpc import MetricsServiceStub
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AGGREGATION_TEMPORALITY_CUMULATIVE
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from loadtest.adx_stack import CONFIG, DATABASE, EXPORTER_CONFIG, AdxStack, StackError, run_adx_stack, tail
from loadtest.kusto_ingest_double import APP_SERVICE_API_VERSION, KustoIngestDouble, Row
from receiver.devstack import COLLECTOR_BINARY, run_receiver

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
KUSTO_DIR = REPO / "kusto"
MAPPINGS = {  # table -> the JSON mapping name the exporter passes as mappingName
    str(EXPORTER_CONFIG[f"{signal}_table_name"]): str(EXPORTER_CONFIG[f"{signal}_table_json_mapping"])
    for signal in ("metrics", "logs")
}
WAIT_S = 15.0

# The exporter's row shapes (adxMetric / adxLog in contrib v0.152.0), with the column types of the
# `.create-merge table` commands in the exporter's README. kusto/*.kql must agree when it defines them.
EXPECTED_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "OTELMetrics": [
        ("Timestamp", "datetime"),
        ("MetricName", "string"),
        ("MetricType", "string"),
        ("MetricUnit", "string"),
        ("MetricDescription", "string"),
        ("MetricValue", "real"),
        ("Host", "string"),
        ("ResourceAttributes", "dynamic"),
        ("MetricAttributes", "dynamic"),
    ],
    "OTELLogs": [
        ("Timestamp", "datetime"),
        ("ObservedTimestamp", "datetime"),
        ("TraceID", "string"),
        ("SpanID", "string"),
        ("SeverityText", "string"),
        ("SeverityNumber", "int"),
        ("Body", "string"),
        ("ResourceAttributes", "dynamic"),
        ("LogsAttributes", "dynamic"),
    ],
}

REPORT_TIME_S = 1_700_000_000
REPORT_TIME = "2023-11-14T22:13:20Z"
BYTES_SENT = "Device.Ethernet.Interface.{i}.Stats.BytesSent"
NOISE = "Device.WiFi.Radio.{i}.Stats.Noise"
SOFTWARE_VERSION = "Device.DeviceInfo.SoftwareVersion"
REPORT_LOG_BODY = "bulkdata.report"
BULKDATA_CSV = (
    b"ReportTimestamp,ParameterName,ParameterValue,ParameterType\n"
    b"1700000000,Device.Ethernet.Interface.1.Stats.BytesSent,12345,unsignedLong\n"
    b"1700000000,Device.WiFi.Radio.2.Stats.Noise,-92,int\n"
    b"1700000000,Device.DeviceInfo.SoftwareVersion,7.2.1,string\n"
)


def _cwmp_resource(serial: str) -> dict[str, str]:
    return {
        "device.id": f"00256D-Gateway-{serial}",
        "tr069.oui": "00256D",
        "tr069.product_class": "Gateway",
        "tr069.serial_number": serial,
        "service.name": "tr069-bulkdata",
    }


# ------------------------------------------------------------------------------------------ stack
@pytest.fixture(scope="module")
def adx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdxStack]:
    assert EXPORTER_CONFIG["cluster_uri"] == "https://127.0.0.1"
    assert (EXPORTER_CONFIG["ingestion_type"], EXPORTER_CONFIG["managed_identity_id"]) == (
        "managed",
        "system",
    )
    try:
        with run_adx_stack(tmp_path_factory.mktemp("adx")) as stack:
            assert stack.double.cluster_uri == EXPORTER_CONFIG["cluster_uri"]
            yield stack
    except StackError as exc:
        raise pytest.fail.Exception(str(exc), pytrace=False) from None


@pytest.fixture(autouse=True)
def _show_conversation_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """Printed output is shown only for failing tests: the double's log and the collector's errors."""
    yield
    if "adx" in request.fixturenames:
        stack: AdxStack = request.getfixturevalue("adx")
        print("--- requests the Kusto test double saw ---\n" + stack.double.describe_calls())
        errors = [
            line
            for line in (stack.workdir / "collector.log").read_text(errors="replace").splitlines()
            if "\terror\t" in line or "\twarn\t" in line
        ]
        print("--- collector warnings/errors ---\n" + "\n".join(errors[-20:]))


# ------------------------------------------------------------------------------------ OTLP input
def _kv(key: str, value: str) -> KeyValue:
    kv = KeyValue(key=key)
    kv.value.string_value = value
    return kv


SCOPE = InstrumentationScope(name="adx-exporter-test", version="1.0")


def _otlp_report(serial: str) -> tuple[ExportMetricsServiceRequest, ExportLogsServiceRequest]:
    """What the receiver sends for BULKDATA_CSV (its mapping: instance numbers -> attributes, StatsCounter
    -> monotonic cumulative Sum, strings -> one log record per report)."""
    resource = Resource(attributes=[_kv(k, v) for k, v in _cwmp_resource(serial).items()])
    resource.attributes.append(_kv("device.model.identifier", "Gateway"))
    t_ns = REPORT_TIME_S * 10**9

    metrics = ExportMetricsServiceRequest()
    rm = metrics.resource_metrics.add(resource=resource)
    sm = rm.scope_metrics.add(scope=SCOPE)
    sent = sm.metrics.add(name=BYTES_SENT, unit="By", description="Bytes sent")
    sent.sum.is_monotonic = True
    sent.sum.aggregation_temporality = AGGREGATION_TEMPORALITY_CUMULATIVE
    sent.sum.data_points.add(as_int=12345, time_unix_nano=t_ns, attributes=[_kv("Interface", "1")])
    noise = sm.metrics.add(name=NOISE, unit="dBm")
    noise.gauge.data_points.add(as_int=-92, time_unix_nano=t_ns, attributes=[_kv("Radio", "2")])

    logs = ExportLogsServiceRequest()
    sl = logs.resource_logs.add(resource=resource).scope_logs.add(scope=SCOPE)
    record = sl.log_records.add(
        time_unix_nano=t_ns,
        observed_time_unix_nano=t_ns + 10**9,
        severity_number=9,
        severity_text="INFO",
        attributes=[_kv(SOFTWARE_VERSION, "7.2.1")],
    )
    record.body.string_value = REPORT_LOG_BODY
    return metrics, logs


def _of_device(rows: list[Row], device_id: str) -> list[Row]:
    return [r for r in rows if (r.get("ResourceAttributes") or {}).get("device.id") == device_id]


def _wait_device_rows(double: KustoIngestDouble, device_id: str) -> tuple[list[Row], list[Row]]:
    metrics = double.wait_for_rows(
        "OTELMetrics",
        lambda rows: any(r.get("MetricName") == BYTES_SENT for r in _of_device(rows, device_id)),
        WAIT_S,
        f"{BYTES_SENT} of {device_id}",
    )
    logs = double.wait_for_rows(
        "OTELLogs", lambda rows: bool(_of_device(rows, device_id)), WAIT_S, f"the report log of {device_id}"
    )
    return _of_device(metrics, device_id), _of_device(logs, device_id)


@pytest.fixture(scope="module")
def direct_rows(adx: AdxStack) -> tuple[list[Row], list[Row]]:
    """OTLP/gRPC straight into the collector (independent of the receiver), then the ingested rows."""
    metrics, logs = _otlp_report("SN-OTLP")
    with grpc.insecure_channel(adx.collector.otlp_endpoint) as channel:
        MetricsServiceStub(channel).Export(metrics, timeout=10)  # type: ignore[no-untyped-call]
        LogsServiceStub(channel).Export(logs, timeout=10)  # type: ignore[no-untyped-call]
    return _wait_device_rows(adx.double, "00256D-Gateway-SN-OTLP")


# ----------------------------------------------------------------------------------- assertions
def _conforms(value: Any, kusto_type: str) -> bool:
    kusto_type = kusto_type.lower()
    if kusto_type == "datetime":
        if not isinstance(value, str):
            return False
        try:
            dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return False
        return True
    if kusto_type == "string":
        return isinstance(value, str)
    if kusto_type in ("real", "double", "decimal"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kusto_type in ("int", "long"):
        return isinstance(value, int) and not isinstance(value, bool)
    if kusto_type == "bool":
        return isinstance(value, bool)
    return kusto_type == "dynamic"


def _assert_schema(table: str, rows: list[Row], columns: list[tuple[str, str]]) -> None:
    names = [name for name, _ in columns]
    for row in rows:
        assert sorted(row) == sorted(names), f"{table} row columns {sorted(row)} != {sorted(names)}"
        wrong = {n: row[n] for n, t in columns if not _conforms(row[n], t)}
        assert not wrong, f"{table}: values not of the column's Kusto type: {wrong} ({columns})"


def _assert_bulkdata_rows(metric_rows: list[Row], log_rows: list[Row], serial: str) -> tuple[Row, Row]:
    for table, rows in (("OTELMetrics", metric_rows), ("OTELLogs", log_rows)):
        _assert_schema(table, rows, EXPECTED_COLUMNS[table])
    by_name = {r["MetricName"]: r for r in metric_rows}
    sent = by_name[BYTES_SENT]
    assert sent["MetricType"] == "Sum"
    assert sent["MetricValue"] == 12345
    assert sent["Timestamp"] == REPORT_TIME
    assert sent["MetricAttributes"]["Interface"] == "1"
    assert _cwmp_resource(serial).items() <= sent["ResourceAttributes"].items()
    assert sent["Host"] == socket.gethostname()  # no host.name on the resource: the collector's own
    noise = by_name[NOISE]
    assert (noise["MetricType"], noise["MetricValue"], noise["MetricAttributes"]["Radio"]) == (
        "Gauge",
        -92,
        "2",
    )
    assert not any(SOFTWARE_VERSION in name for name in by_name), "a string parameter became a metric"
    [log] = log_rows
    assert log["Body"] == REPORT_LOG_BODY
    assert log["LogsAttributes"][SOFTWARE_VERSION] == "7.2.1"
    assert log["Timestamp"] == REPORT_TIME
    assert _cwmp_resource(serial).items() <= log["ResourceAttributes"].items()
    return sent, log


# ---------------------------------------------------------------------------------------- tests
def test_adx_test_config_validates(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(COLLECTOR_BINARY), "validate", "--config", str(CONFIG)],
        env={**os.environ, "OTELCOL_STORAGE_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_otlp_metrics_and_logs_become_adx_rows(direct_rows: tuple[list[Row], list[Row]]) -> None:
    metric_rows, log_rows = direct_rows
    assert sorted(r["MetricName"] for r in metric_rows) == [BYTES_SENT, NOISE]
    sent, log = _assert_bulkdata_rows(metric_rows, log_rows, "SN-OTLP")
    # The exporter's mapping: unit and description carried, scope name/version merged into the
    # point's attributes (MetricAttributes) and the record's (LogsAttributes).
    assert (sent["MetricUnit"], sent["MetricDescription"]) == ("By", "Bytes sent")
    scope = {"scope.name": "adx-exporter-test", "scope.version": "1.0"}
    assert sent["MetricAttributes"] == {"Interface": "1", **scope}
    assert log["LogsAttributes"] == {SOFTWARE_VERSION: "7.2.1", **scope}
    assert (log["ObservedTimestamp"], log["SeverityText"], log["SeverityNumber"]) == (
        "2023-11-14T22:13:21Z",
        "INFO",
        9,
    )
    assert (log["TraceID"], log["SpanID"]) == ("", "")


def test_bulkdata_report_through_receiver_becomes_adx_rows(adx: AdxStack, tmp_path: Path) -> None:
    with contextlib.ExitStack() as stack:
        try:
            receiver = stack.enter_context(run_receiver(tmp_path, adx.collector.otlp_endpoint))
        except (RuntimeError, TimeoutError) as exc:
            logs = "\n".join(tail(p, 15) for p in tmp_path.glob("receiver-*.log"))
            message = f"the receiver did not start: {exc}\n--- receiver log ---\n{logs}"
            raise pytest.fail.Exception(message, pytrace=False) from None
        response = httpx.post(
            f"{receiver.url}/bulkdata?oui=00256D&pc=Gateway&sn=SN1",
            content=BULKDATA_CSV,
            headers={"content-type": "text/csv", "bbf-report-format": "ParameterPerRow"},
            timeout=10,
        )
        assert response.status_code == 204, response.text
        metric_rows, log_rows = _wait_device_rows(adx.double, "00256D-Gateway-SN1")
    _assert_bulkdata_rows(metric_rows, log_rows, "SN1")


def test_exporter_conversation_token_and_bearer(
    adx: AdxStack, direct_rows: tuple[list[Row], list[Row]]
) -> None:
    double = adx.double
    calls = double.calls()
    assert not double.calls("unexpected"), "requests the double does not serve"
    assert not double.calls("egress"), "the collector tried to reach a non-loopback host"

    # Order: cloud metadata (which names the token resource), then the token, then ingestion.
    assert calls[0].kind == "auth-metadata" and calls[0].path == "/v1/rest/auth/metadata"
    first = {
        kind: next(c.seq for c in calls if c.kind == kind) for kind in ("identity-token", "streaming-ingest")
    }
    assert first["identity-token"] < first["streaming-ingest"]

    tokens = double.calls("identity-token")
    for call in tokens:
        assert (call.method, call.path, call.status) == ("GET", "/msi/token", 200)
        assert call.query == {"api-version": APP_SERVICE_API_VERSION, "resource": double.kusto_resource}
        assert call.headers["x-identity-header"] == double.identity_header
    assert double.kusto_resource == "https://kusto.kusto.windows.net"  # from the metadata, as on Azure

    ingests = double.calls("streaming-ingest")
    tables = {c.path.rsplit("/", 1)[-1] for c in ingests}
    assert tables == {"OTELMetrics", "OTELLogs"}
    for call in ingests:
        table = call.path.rsplit("/", 1)[-1]
        assert call.status == 200, call.brief()
        assert call.path == f"/v1/rest/ingest/{DATABASE}/{table}"
        assert call.query == {"streamFormat": "Json", "mappingName": MAPPINGS[table]}
        assert call.headers["authorization"] == f"Bearer {double.token}"
        assert call.headers["content-encoding"] == "gzip"
        assert call.headers["x-ms-client-request-id"].startswith("KGC.executeManagedStreamingIngest;")
        assert "Kusto.OpenTelemetry:{0.152.0}" in call.headers["x-ms-app"]
    # No queued fallback (it starts with `.get kusto identity token`); the SDK's hourly background
    # `.get ingestion resources` (first after 30 s) is allowed.
    assert all(c.note.startswith(".get ingestion resources") for c in double.calls("mgmt"))


def test_streaming_ingest_bodies_are_plain_but_labelled_gzip_upstream_bug(
    adx: AdxStack, direct_rows: tuple[list[Row], list[Row]]
) -> None:
    """Pins a known exporter bug so a fix upstream shows up here: contrib v0.152.0 passes
    azkustoingest.CompressionType(GZIP) (adx_exporter.go newExporter) for an uncompressed NDJSON
    reader; azure-kusto-go v1.2.2 then skips compressing (queued.ShouldCompress) while StreamIngest
    still sends Content-Encoding: gzip (conn_streaming_ingest.go)."""
    encodings = {c.body_encoding for c in adx.double.calls("streaming-ingest")}
    assert encodings == {"identity, labelled gzip"}


# ------------------------------------------------------------------------------- kusto/ schema
_KQL_TABLE = re.compile(
    r"^\s*\.create(?:-merge|-or-alter)?\s+table\s+\[?[\"']?(\w+)[\"']?\]?\s*\(([^)]*)\)", re.I | re.M
)
_KQL_MAPPING = re.compile(
    r"^\s*\.create(?:-or-alter)?\s+table\s+\[?[\"']?(\w+)[\"']?\]?\s+ingestion\s+json\s+mapping\s+"
    r"[\"'](\w+)[\"']\s*(?:```(.*?)```|'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\")?",
    re.I | re.M | re.S,
)


_KUSTO_TYPE_ALIASES = {"double": "real", "date": "datetime", "boolean": "bool", "uniqueid": "guid"}


def _kusto_type(name: str) -> str:
    return _KUSTO_TYPE_ALIASES.get(name.strip().lower(), name.strip().lower())


def _kql_sources() -> list[Path]:
    return sorted(p for p in KUSTO_DIR.rglob("*.kql") if "node_modules" not in p.parts)


def _kql_tables() -> dict[str, list[tuple[str, str]]]:
    tables: dict[str, list[tuple[str, str]]] = {}
    for path in _kql_sources():
        for name, body in _KQL_TABLE.findall(path.read_text()):
            columns = []
            for column in body.split(","):
                if ":" in column:
                    col, typ = (part.strip().strip("[]'\"") for part in column.split(":", 1))
                    columns.append((col, _kusto_type(typ)))
            tables[name] = columns
    return tables


def _kql_mappings() -> dict[str, tuple[str, list[dict[str, Any]] | None]]:
    mappings: dict[str, tuple[str, list[dict[str, Any]] | None]] = {}
    for path in _kql_sources():
        for table, name, *bodies in _KQL_MAPPING.findall(path.read_text()):
            body = next((b for b in bodies if b), "")
            try:
                entries = json.loads(body.replace("\\'", "'").replace('\\"', '"')) if body else None
            except ValueError:
                entries = None
            mappings[table] = (name, entries if isinstance(entries, list) else None)
    return mappings


def _mapping_path(entry: dict[str, Any]) -> str | None:
    lowered = {k.lower(): v for k, v in entry.items()}
    props = {k.lower(): v for k, v in (lowered.get("properties") or {}).items()}
    path = props.get("path") or lowered.get("path")
    return path if isinstance(path, str) else None


def test_rows_match_the_kusto_table_definitions(
    adx: AdxStack, direct_rows: tuple[list[Row], list[Row]]
) -> None:
    """kusto/*.kql (when it defines the tables): same columns and types as the exporter's rows, and the
    JSON mapping the config names exists there and maps every column from a field the rows carry."""
    tables = _kql_tables()
    defined = {t: tables[t] for t in EXPECTED_COLUMNS if t in tables}
    assert defined, "kusto/*.kql must define OTELMetrics and OTELLogs (python -m kusto apply creates them)"
    metric_rows, log_rows = direct_rows
    rows = {"OTELMetrics": metric_rows, "OTELLogs": log_rows}
    mappings = _kql_mappings()
    for table, columns in defined.items():
        assert columns == EXPECTED_COLUMNS[table], f"kusto/ {table} differs from the exporter's row shape"
        _assert_schema(table, rows[table], columns)
        assert table in mappings, f"kusto/ defines {table} but no JSON mapping {MAPPINGS[table]!r} for it"
        name, entries = mappings[table]
        assert name == MAPPINGS[table], (
            f"kusto/ names the {table} mapping {name!r}, the config {MAPPINGS[table]!r}"
        )
        assert entries is not None, f"could not parse the body of kusto/ mapping {name!r}"
        mapped = {}
        for entry in entries:
            lowered = {k.lower(): v for k, v in entry.items()}
            path = _mapping_path(entry)
            assert path and re.fullmatch(r"\$\.\w+", path), f"{name}: unexpected path in {entry}"
            assert all(path[2:] in row for row in rows[table]), f"{name}: {path} is not a field of the rows"
            mapped[lowered["column"]] = _kusto_type(
                str(lowered.get("datatype") or dict(columns)[lowered["column"]])
            )
        assert mapped == dict(columns), f"{name} maps {mapped}, the table has {dict(columns)}"
