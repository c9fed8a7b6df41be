"""`python -m kusto apply --dry-run`: what would be sent, in order, without contacting anything."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kusto import KQL_DIR, STAGES, split_commands

REPO = Path(__file__).resolve().parents[2]
HEADER = re.compile(r"^// \[(\d+)/(\d+)\] ([\w-]+) (kql/[\w.]+\.kql):(\d+)$")


@pytest.fixture(scope="module")
def dry_run() -> list[tuple[str, str, int, str]]:
    """(stage, script, line, command text) per command, in output order."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADX_")}
    # An unusable cluster and no credentials: a dry run must not need either.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kusto",
            "apply",
            "--cluster",
            "https://127.0.0.1:9",
            "--database",
            "oteldb",
            "--dry-run",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    blocks = result.stdout.split("\n\n")
    assert blocks[0].startswith("// dry run: ") and "nothing was sent" in blocks[0]
    commands = []
    total = None
    for index, block in enumerate(b for b in blocks[1:] if b.strip()):
        header, _, text = block.partition("\n")
        match = HEADER.match(header)
        assert match, f"not a command header: {header!r}"
        number, count, stage, script, line = match.groups()
        assert int(number) == index + 1
        total = total or int(count)
        assert int(count) == total
        commands.append((stage, script, int(line), text))
    assert len(commands) == total
    return commands


def test_every_command_of_every_script_is_printed_exactly_once(
    dry_run: list[tuple[str, str, int, str]],
) -> None:
    expected = sorted(
        (f"kql/{p.name}", c.line, c.text)
        for p in KQL_DIR.glob("*.kql")
        for c in split_commands(p.read_text(), f"kql/{p.name}")
    )
    assert sorted((script, line, text) for _, script, line, text in dry_run) == expected


def test_commands_come_in_stage_order_tables_first_policies_last(
    dry_run: list[tuple[str, str, int, str]],
) -> None:
    order = [s.name for s in STAGES]
    stages = [stage for stage, *_ in dry_run]
    assert [order.index(s) for s in stages] == sorted(order.index(s) for s in stages)
    assert stages[0] == "tables" and stages[-1] == "policies"


def _first(dry_run: list[tuple[str, str, int, str]], pattern: str) -> int:
    return next(i for i, (*_, text) in enumerate(dry_run) if re.match(pattern, text))


def _last(dry_run: list[tuple[str, str, int, str]], pattern: str) -> int:
    return max(i for i, (*_, text) in enumerate(dry_run) if re.match(pattern, text))


def test_every_object_exists_before_anything_refers_to_it(dry_run: list[tuple[str, str, int, str]]) -> None:
    for table in ("OTELMetrics", "OTELLogs", "OTELTraces", "DeviceMetrics", "CdrData", "DeviceLifecycle"):
        created = _first(dry_run, rf"\.create-merge table {table} \(")
        assert created < _first(dry_run, rf"\.alter(-merge)? table {table} policy ")
    assert _last(dry_run, r"\.create-or-alter table \w+ ingestion json mapping") < _first(
        dry_run, r"\.create-or-alter function"
    )
    assert _last(dry_run, r"\.create-merge table") < _first(dry_run, r"\.alter table \w+ policy update")
    assert _first(dry_run, r"\.create-or-alter function[^\n]*\n*DeviceMetricsFromOtel\(") < _first(
        dry_run, r"\.alter table DeviceMetrics policy update"
    )
    assert _last(dry_run, r"\.alter table \w+ policy update") < _first(
        dry_run, r"\.create-or-alter materialized-view"
    )
    assert _last(dry_run, r"\.create-or-alter materialized-view") < _first(
        dry_run, r"\.create-or-alter function[^\n]*\n*DeviceHealthOverview\("
    )
    assert _last(dry_run, r"\.create-or-alter materialized-view") < _first(
        dry_run, r"\.alter(-merge)? materialized-view"
    )


def test_only_idempotent_forms_are_sent(dry_run: list[tuple[str, str, int, str]]) -> None:
    allowed = re.compile(
        r"\.(create-merge table|create-or-alter (function|materialized-view|table \w+ ingestion json mapping)"
        r"|alter(-merge)? (table|materialized-view) \w+ policy )"
    )
    assert all(allowed.match(text) for *_, text in dry_run)


def test_the_exporters_tables_and_mappings_are_all_there(dry_run: list[tuple[str, str, int, str]]) -> None:
    texts = "\n".join(text for *_, text in dry_run)
    for table, mapping in [
        ("OTELMetrics", "otel_metrics_mapping"),
        ("OTELLogs", "otel_logs_mapping"),
        ("OTELTraces", "otel_traces_mapping"),
    ]:
        assert f".create-merge table {table} (" in texts
        assert f'.create-or-alter table {table} ingestion json mapping "{mapping}"' in texts
        assert f".alter table {table} policy streamingingestion enable" in texts


def test_missing_cluster_is_a_usage_error() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADX_")}
    result = subprocess.run(
        [sys.executable, "-m", "kusto", "apply", "--database", "oteldb", "--dry-run"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "--cluster" in result.stderr
