"""The offline validator (kusto/validate, Node.js + Kusto.Language) over our KQL and dashboards, and
proof that it catches what it must: misspelled columns, wrong order, schema drift between a policy's
query and its table, broken dashboard tiles.

These tests fail (never skip) when `npm ci --prefix kusto/validate` has not been run."""

import copy
import io
import json
import re
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from kusto import (
    DASHBOARDS_DIR,
    VALIDATOR_DIR,
    Plan,
    PlannedCommand,
    ValidationReport,
    ValidatorUnavailableError,
    build_plan,
    run_validator,
)
from kusto._cli import main

DASHBOARD = DASHBOARDS_DIR / "device-telemetry.json"

# The exporter's tables (contrib v0.152.0: its README's `.create-merge table` scripts, the fields of
# adxMetric / adxLog / adxTrace). Ours must be exactly these.
EXPORTER_TABLES = {
    "OTELMetrics": "Timestamp:datetime MetricName:string MetricType:string MetricUnit:string "
    "MetricDescription:string MetricValue:real Host:string ResourceAttributes:dynamic "
    "MetricAttributes:dynamic",
    "OTELLogs": "Timestamp:datetime ObservedTimestamp:datetime TraceID:string SpanID:string "
    "SeverityText:string SeverityNumber:int Body:string ResourceAttributes:dynamic LogsAttributes:dynamic",
    "OTELTraces": "TraceID:string SpanID:string ParentID:string SpanName:string SpanStatus:string "
    "SpanKind:string StartTime:datetime EndTime:datetime ResourceAttributes:dynamic "
    "TraceAttributes:dynamic Events:dynamic Links:dynamic",
}


def require_validator() -> None:
    if not (VALIDATOR_DIR / "node_modules" / "@kusto" / "language-service-next").is_dir():
        pytest.fail(
            f"{VALIDATOR_DIR}/node_modules is missing: run `npm ci --prefix kusto/validate` "
            "(Node.js >= 18; `make setup` does it)",
            pytrace=False,
        )


def validate(plan: Plan, dashboards: list[Path] | None = None) -> ValidationReport:
    require_validator()
    try:
        return run_validator(plan, dashboards or [])
    except ValidatorUnavailableError as e:
        pytest.fail(str(e), pytrace=False)


def errors(report: ValidationReport, path: str | None = None) -> list[str]:
    return [str(f) for f in report.errors if path is None or f.path == path]


def subset(*patterns: str) -> list[PlannedCommand]:
    """Commands of the real plan whose text matches one of the patterns, in plan order."""
    return [c for c in build_plan().commands if any(re.search(p, c.text) for p in patterns)]


def edited(command: PlannedCommand, old: str, new: str) -> PlannedCommand:
    assert old in command.text, f"{old!r} not in {command.location}"
    return replace(command, command=replace(command.command, text=command.text.replace(old, new, 1)))


def plan_of(commands: list[PlannedCommand]) -> Plan:
    return Plan(commands=tuple(commands), scripts=())


def broken_dashboard(tmp_path: Path) -> Path:
    """A copy of our dashboard with three faults, each in a different tile."""
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    broken = copy.deepcopy(dashboard)
    queries = {q["id"]: q for q in broken["queries"]}
    tiles = {t["title"]: t for t in broken["tiles"]}
    gauges = queries[tiles["Gauges over time"]["queryRef"]["queryId"]]
    gauges["text"] = gauges["text"].replace('where Kind == "Gauge"', 'where Knd == "Gauge"')
    latest = queries[tiles["Latest numeric values"]["queryRef"]["queryId"]]
    latest["usedVariables"] = []
    tiles["Counter rates (per second)"]["visualOptions"]["yColumns"]["value"] = ["RatePerSecond"]
    path = tmp_path / "broken-dashboard.json"
    path.write_text(json.dumps(broken))
    return path


@pytest.fixture(scope="module")
def repo_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[ValidationReport, str]:
    """One run over all our scripts and dashboards, plus a broken dashboard copy (a full run takes
    seconds: Kusto.Language parses each control command in ~0.1 s), told apart by path."""
    broken = broken_dashboard(tmp_path_factory.mktemp("dashboards"))
    report = validate(build_plan(), [*sorted(DASHBOARDS_DIR.glob("*.json")), broken])
    return report, str(broken)


def test_all_our_kql_and_dashboards_validate_without_errors(
    repo_report: tuple[ValidationReport, str],
) -> None:
    report, broken = repo_report
    assert [e for e in errors(report) if not e.startswith(broken)] == []
    plan = build_plan()
    assert report.checked["commands"] == len(plan.commands)
    assert report.checked["embeddedQueries"] == sum(c.kind == "update-policy" for c in plan.commands)
    dashboard_queries = len(json.loads(DASHBOARD.read_text())["queries"])
    assert report.checked["dashboardQueries"] == 2 * dashboard_queries  # ours and the broken copy


def test_the_raw_tables_are_exactly_the_exporters(repo_report: tuple[ValidationReport, str]) -> None:
    tables = repo_report[0].schema["tables"]
    for table, expected in EXPORTER_TABLES.items():
        assert " ".join(f"{c['name']}:{c['type']}" for c in tables[table]) == expected


def test_every_function_and_view_resolves_into_the_schema(repo_report: tuple[ValidationReport, str]) -> None:
    schema = repo_report[0].schema
    plan_text = "\n".join(c.text for c in build_plan().commands)
    functions = re.findall(r"^\.create-or-alter function[^\n]*\n(\w+)\(", plan_text, re.M)
    views = re.findall(r"^\.create-or-alter materialized-view[^\n]*\n(\w+) on table", plan_text, re.M)
    assert sorted(schema["functions"]) == sorted(functions)
    assert sorted(schema["materializedViews"]) == sorted(views)
    assert all(schema["materializedViews"][v] for v in views)  # columns were inferred from the query


def test_a_misspelled_column_in_a_function_is_an_error_naming_it() -> None:
    [table, function] = subset(r"^\.create-merge table DeviceMetrics \(", r"\nDeviceParameterHistory\(")
    assert errors(validate(plan_of([table, function]))) == []  # the copy alone is fine in this context
    typo = edited(function, "Parameter startswith parameterPrefix", "Paramter startswith parameterPrefix")
    report = validate(plan_of([table, typo]))
    line = function.command.lines[
        typo.text.splitlines().index(next(t for t in typo.text.splitlines() if "Paramter startswith" in t))
    ]
    assert [(f.path, f.line, f.code) for f in report.errors] == [("kql/70_functions.kql", line, "KS142")]
    assert "'Paramter'" in report.errors[0].message


def test_a_misspelled_column_of_a_raw_table_in_a_transform_is_an_error() -> None:
    commands = subset(r"^\.create-merge table OTELMetrics \(", r"\nDeviceMetricsFromOtel\(")
    report = validate(
        plan_of([commands[0], edited(commands[1], "Value = MetricValue,", "Value = MetricValu,")])
    )
    assert len(report.errors) == 1 and "'MetricValu'" in report.errors[0].message


def test_an_update_policy_whose_query_no_longer_matches_its_table_is_an_error() -> None:
    commands = subset(
        r"^\.create-merge table (OTELMetrics|DeviceMetrics) \(",
        r"\nDeviceMetricsFromOtel\(",
        r"table DeviceMetrics policy update",
    )
    assert errors(validate(plan_of(commands))) == []
    drifted = [
        edited(c, "Instance1: int,", "Instance1: long,") if "DeviceMetrics (" in c.text else c
        for c in commands
    ]
    [error] = validate(plan_of(drifted)).errors
    assert error.code == "KV024" and "Instance1:int" in error.message and "Instance1:long" in error.message
    assert error.path == "kql/50_update_policies.kql"


def test_a_mapping_must_name_real_columns_with_their_types() -> None:
    table, mapping = subset(r"^\.create-merge table OTELLogs \(", r"table OTELLogs ingestion json mapping")
    bad = edited(
        edited(mapping, '"column": "SpanID"', '"column": "SpanId"'), '"datatype": "int"', '"datatype": "long"'
    )
    messages = sorted(f.message for f in validate(plan_of([table, bad])).errors)
    assert messages == [
        "mapping otel_logs_mapping: SeverityNumber is int in OTELLogs, mapped as long",
        "mapping otel_logs_mapping: column SpanId is not in table OTELLogs",
    ]


def test_a_function_reading_a_table_created_later_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "10_tables.kql").write_text(".create-merge table A (x: int)\n")
    (tmp_path / "30_transforms.kql").write_text(".create-or-alter function F() {\n    B | take 1\n}\n")
    (tmp_path / "40_typed_tables.kql").write_text(".create-merge table B (y: int)\n")
    [error] = validate(build_plan(tmp_path)).errors
    assert (error.path, error.line) == (f"{tmp_path.name}/30_transforms.kql", 2)
    assert "'B'" in error.message


def test_broken_dashboard_tiles_are_errors_naming_the_tile(repo_report: tuple[ValidationReport, str]) -> None:
    report, broken = repo_report
    found = errors(report, broken)
    assert any('tile "Gauges over time"' in e and "'Knd'" in e for e in found), found
    assert any("KV048" in e and 'tile "Latest numeric values": uses _deviceId' in e for e in found), found
    assert any("KV050" in e and "RatePerSecond" in e for e in found), found
    assert len(found) == 3, found


def test_the_validator_cli_reads_a_manifest_and_flags_unknown_commands(tmp_path: Path) -> None:
    require_validator()
    manifest = {
        "database": "oteldb",
        "commands": [
            {"path": "x.kql", "lines": [1], "text": ".create-merge table A (x: int)"},
            {"path": "x.kql", "lines": [3], "text": ".frobnicate table A"},
            {"path": "x.kql", "lines": [5], "text": ".alter table Nope policy caching hot = 1d"},
        ],
        "dashboards": [],
    }
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    result = subprocess.run(
        ["node", str(VALIDATOR_DIR / "validate.js"), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert (
        "x.kql:3:1: error KV001: not a control command Kusto.Language knows: .frobnicate table A"
        in result.stdout
    )
    assert "x.kql:5:14: error KS204" in result.stdout and "'Nope'" in result.stdout


def test_validate_command_reports_errors_and_exits_non_zero(tmp_path: Path) -> None:
    kql = tmp_path / "kql"
    kql.mkdir()
    (kql / "10_tables.kql").write_text(".create-merge table A (x: int)\n")
    (kql / "70_functions.kql").write_text(".create-or-alter function F() {\n    A | where y > 1\n}\n")
    require_validator()
    out = io.StringIO()
    code = main(
        ["validate", "--kql-dir", str(kql), "--dashboards-dir", str(tmp_path)],
        env={},
        out=out,
        err=io.StringIO(),
    )
    assert code == 1
    assert "kql/70_functions.kql:2:15: error KS142" in out.getvalue()
    assert (
        out.getvalue()
        .rstrip()
        .endswith("1 errors (2 commands, 0 embeddedQueries, 0 dashboardQueries checked)")
    )


def test_without_the_npm_packages_validation_refuses_to_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValidatorUnavailableError, match=r"npm ci --prefix kusto/validate"):
        run_validator(build_plan(), [], validator_dir=tmp_path)

    def unavailable(*args: object, **kwargs: object) -> ValidationReport:
        raise ValidatorUnavailableError("node_modules is missing: run `npm ci --prefix kusto/validate`")

    monkeypatch.setattr("kusto._cli.run_validator", unavailable)
    err = io.StringIO()
    # The CLI makes it a usage error (exit 2), never a silent success.
    assert main(["validate"], env={}, out=io.StringIO(), err=err) == 2
    assert "npm ci --prefix kusto/validate" in err.getvalue()
