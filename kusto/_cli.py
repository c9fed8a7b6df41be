"""``python -m kusto``: ``apply`` deploys the scripts to a database, ``validate`` checks them offline.

Exit codes: 0 done, 1 a command or a validation failed, 2 bad arguments, configuration or missing
tools (nothing was sent)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from ._apply import ApplyError, apply_plan, write_dry_run
from ._auth import AuthConfigError, auth_from_env
from ._client import AdxUnavailableError, connect
from ._plan import KQL_DIR, PlanError, build_plan
from ._validate import DASHBOARDS_DIR, ValidatorUnavailableError, run_validator

__all__ = ["main"]


def _parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m kusto", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    apply = commands.add_parser("apply", help="create or update tables, functions, views and policies")
    apply.add_argument(
        "--cluster",
        default=env.get("ADX_CLUSTER_URI") or None,
        required=not env.get("ADX_CLUSTER_URI"),
        help="cluster URI, e.g. https://<cluster>.<region>.kusto.windows.net (default: $ADX_CLUSTER_URI)",
    )
    apply.add_argument(
        "--database",
        default=env.get("ADX_DATABASE") or None,
        required=not env.get("ADX_DATABASE"),
        help="database name (default: $ADX_DATABASE)",
    )
    apply.add_argument("--dry-run", action="store_true", help="print the ordered commands; contact nothing")
    apply.add_argument("--kql-dir", type=Path, default=KQL_DIR, help=argparse.SUPPRESS)

    validate = commands.add_parser("validate", help="check every script and dashboard with Kusto.Language")
    validate.add_argument("--database", default=env.get("ADX_DATABASE") or "oteldb", help=argparse.SUPPRESS)
    validate.add_argument("--kql-dir", type=Path, default=KQL_DIR, help=argparse.SUPPRESS)
    validate.add_argument("--dashboards-dir", type=Path, default=DASHBOARDS_DIR, help=argparse.SUPPRESS)
    validate.add_argument("--json", action="store_true", help="print the report as JSON")
    validate.add_argument("--warnings", action="store_true", help="show Kusto.Language's warnings too")
    return parser


def _apply(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    plan = build_plan(args.kql_dir)
    if args.dry_run:
        write_dry_run(plan, out, cluster=args.cluster, database=args.database)
        return 0
    auth = auth_from_env(env)
    err.write(
        f"applying {len(plan.commands)} commands to {args.database} on {args.cluster} as {auth.describe()}\n"
    )
    client = connect(args.cluster, auth)

    def progress(line: str) -> None:
        err.write(line + "\n")

    try:
        applied = apply_plan(plan, client, database=args.database, progress=progress)
    except ApplyError as e:
        err.write(f"error: {e}: {e.__cause__}\nre-running apply is safe once the cause is fixed\n")
        return 1
    finally:
        client.close()
    err.write(f"done: {applied} commands applied\n")
    return 0


def _validate(args: argparse.Namespace, out: TextIO) -> int:
    plan = build_plan(args.kql_dir)
    dashboards = sorted(args.dashboards_dir.glob("*.json"))
    report = run_validator(plan, dashboards, database=args.database)
    shown = [f for f in report.findings if args.warnings or f.severity == "error"]
    if args.json:
        out.write(
            json.dumps({"findings": [str(f) for f in shown], "checked": report.checked}, indent=1) + "\n"
        )
    else:
        for finding in shown:
            out.write(f"{finding}\n")
        checked = ", ".join(f"{n} {what}" for what, n in report.checked.items())
        out.write(f"{len(report.errors)} errors ({checked} checked)\n")
    return 1 if report.errors else 0


def main(
    argv: Sequence[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    env = os.environ if env is None else env
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    args = _parser(env).parse_args(argv)
    try:
        if args.command == "apply":
            return _apply(args, env, out, err)
        return _validate(args, out)
    except (PlanError, AuthConfigError, AdxUnavailableError, ValidatorUnavailableError) as e:
        err.write(f"error: {e}\n")
        return 2
