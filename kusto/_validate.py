"""Running the offline KQL validator (``validate/``, Node.js + Microsoft's Kusto.Language).

Python decides what is validated: the very commands ``apply`` would send, in the same order and with
the same splitting, plus every dashboard under ``dashboards/``. The Node side only analyzes. The two
talk through a JSON manifest on stdin and a JSON report on stdout.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._plan import PACKAGE_DIR, Plan

__all__ = [
    "DASHBOARDS_DIR",
    "VALIDATOR_DIR",
    "Finding",
    "ValidationReport",
    "ValidatorUnavailableError",
    "build_manifest",
    "run_validator",
]

VALIDATOR_DIR = PACKAGE_DIR / "validate"
DASHBOARDS_DIR = PACKAGE_DIR / "dashboards"
INSTALL_HINT = "run `npm ci --prefix kusto/validate` (needs Node.js >= 18 and the npm registry)"


class ValidatorUnavailableError(RuntimeError):
    """Node.js or the validator's npm packages are missing: nothing was validated."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Finding:
    severity: str  # "error" | "warning" | "info"
    code: str  # Kusto.Language's KSnnn, or KVnnn for the validator's own checks
    message: str
    path: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.severity} {self.code}: {self.message}"


@dataclass(frozen=True, kw_only=True, slots=True)
class ValidationReport:
    findings: tuple[Finding, ...]
    checked: dict[str, int]
    schema: dict[str, Any]
    """Tables, materialized views and functions as the validator built them from the scripts."""

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")


def build_manifest(plan: Plan, dashboards: list[Path], *, database: str) -> dict[str, Any]:
    return {
        "database": database,
        "commands": [
            {
                "path": c.command.path,
                "lines": list(c.command.lines),
                "stage": c.stage.name,
                "kind": c.kind,
                "text": c.text,
            }
            for c in plan.commands
        ],
        "dashboards": [
            {"path": _display_path(d), "content": d.read_text(encoding="utf-8")} for d in dashboards
        ],
    }


def _display_path(path: Path) -> str:
    try:
        return path.resolve().relative_to(PACKAGE_DIR.parent).as_posix()
    except ValueError:
        return str(path)


def run_validator(
    plan: Plan,
    dashboards: list[Path],
    *,
    database: str = "oteldb",
    node: str = "node",
    validator_dir: Path = VALIDATOR_DIR,
    timeout: float = 300.0,
) -> ValidationReport:
    """Validate ``plan`` and ``dashboards``; raise ValidatorUnavailableError if it cannot run."""
    if not (validator_dir / "node_modules" / "@kusto" / "language-service-next").is_dir():
        raise ValidatorUnavailableError(f"{validator_dir}/node_modules is missing: {INSTALL_HINT}")
    node_path = shutil.which(node)
    if node_path is None:
        raise ValidatorUnavailableError(
            f"{node!r} is not on PATH: install Node.js >= 18, then {INSTALL_HINT}"
        )
    manifest = json.dumps(build_manifest(plan, dashboards, database=database))
    result = subprocess.run(
        [node_path, str(validator_dir / "validate.js"), "--json", "-"],
        input=manifest,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    # 0: clean, 1: findings with errors; anything else means the validator itself failed.
    if result.returncode not in (0, 1):
        raise RuntimeError(f"the KQL validator failed (exit {result.returncode}): {result.stderr.strip()}")
    output = json.loads(result.stdout)
    findings = tuple(
        Finding(
            severity=str(f["severity"]),
            code=str(f["code"]),
            message=str(f["message"]),
            path=str(f["path"]),
            line=int(f["line"]),
            column=int(f["column"]),
        )
        for f in output["findings"]
    )
    return ValidationReport(findings=findings, checked=dict(output["checked"]), schema=dict(output["schema"]))
