"""The ordered list of commands ``apply`` sends: every script under ``kql/``, stage by stage.

A script's two-digit prefix names its stage, and the stages run in dependency order: raw tables,
their ingestion mappings, the functions update policies call, typed tables, update policies,
materialized views, the SRE functions (they read the typed tables and views, and ADX validates a
function body when it is created), then retention/caching/ingestion policies.

Each stage admits only idempotent command forms of its kind (``.create-merge table``,
``.create-or-alter ...``, ``.alter[-merge] ... policy``), so applying the plan twice is the same as
applying it once; anything else (``.create table``, ``.drop ...``, ``.set-or-append ...``) is refused
when the plan is built, before anything is sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ._script import ScriptCommand, ScriptError, split_commands

__all__ = [
    "KQL_DIR",
    "PACKAGE_DIR",
    "STAGES",
    "Plan",
    "PlanError",
    "PlannedCommand",
    "Stage",
    "build_plan",
    "classify",
]

PACKAGE_DIR = Path(__file__).resolve().parent
KQL_DIR = PACKAGE_DIR / "kql"


class PlanError(ValueError):
    """Scripts that cannot be turned into a safe plan; the message names every problem."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Stage:
    number: int
    name: str
    kinds: frozenset[str]


STAGES: tuple[Stage, ...] = (
    Stage(number=10, name="tables", kinds=frozenset({"table"})),
    Stage(number=20, name="mappings", kinds=frozenset({"mapping"})),
    Stage(number=30, name="transforms", kinds=frozenset({"function"})),
    Stage(number=40, name="typed-tables", kinds=frozenset({"table"})),
    Stage(number=50, name="update-policies", kinds=frozenset({"update-policy"})),
    Stage(number=60, name="materialized-views", kinds=frozenset({"materialized-view"})),
    Stage(number=70, name="functions", kinds=frozenset({"function"})),
    Stage(number=80, name="policies", kinds=frozenset({"policy"})),
)
_STAGE_BY_NUMBER = {s.number: s for s in STAGES}

_NAME = r"(?:\w+|\[\s*'[^']*'\s*\]|\[\s*\"[^\"]*\"\s*\])"
# Order matters: update policies are policies too, but a stage of their own.
_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("table", re.compile(rf"\.create-merge\s+table\s+{_NAME}\s*\(")),
    ("mapping", re.compile(rf"\.create-or-alter\s+table\s+{_NAME}\s+ingestion\s+\w+\s+mapping\s")),
    ("function", re.compile(r"\.create-or-alter\s+function\s")),
    ("update-policy", re.compile(rf"\.alter\s+table\s+{_NAME}\s+policy\s+update\s")),
    ("materialized-view", re.compile(r"\.create-or-alter\s+materialized-view\s")),
    (
        "policy",
        re.compile(
            rf"\.alter(?:-merge)?\s+(?:table|materialized-view)\s+{_NAME}\s+policy\s+"
            r"(?:retention|caching|streamingingestion|ingestionbatching|partitioning|merge|roworder)\b"
        ),
    ),
)


def classify(text: str) -> str | None:
    """The kind of an idempotent command we deploy, or None for anything else."""
    for kind, pattern in _KINDS:
        if pattern.match(text):
            return kind
    return None


@dataclass(frozen=True, kw_only=True, slots=True)
class PlannedCommand:
    stage: Stage
    kind: str
    command: ScriptCommand

    @property
    def text(self) -> str:
        return self.command.text

    @property
    def location(self) -> str:
        return f"{self.command.path}:{self.command.line}"


@dataclass(frozen=True, kw_only=True, slots=True)
class Plan:
    commands: tuple[PlannedCommand, ...]
    scripts: tuple[str, ...]
    """The scripts the plan was built from, relative to the package, in order."""


def _stage_of(script: Path) -> Stage | None:
    prefix = re.match(r"(\d\d)_", script.name)
    return _STAGE_BY_NUMBER.get(int(prefix.group(1))) if prefix else None


def build_plan(kql_dir: Path = KQL_DIR) -> Plan:
    """Read every ``*.kql`` under ``kql_dir`` and order its commands by stage (then file, then line)."""
    problems: list[str] = []
    staged: list[tuple[Stage, Path]] = []
    for script in sorted(kql_dir.glob("*.kql")):
        stage = _stage_of(script)
        if stage is None:
            known = ", ".join(f"{s.number}_ ({s.name})" for s in STAGES)
            problems.append(f"{script.name}: the name must start with a stage prefix: {known}")
        else:
            staged.append((stage, script))
    staged.sort(key=lambda item: (item[0].number, item[1].name))
    commands: list[PlannedCommand] = []
    for stage, script in staged:
        relative = script.relative_to(kql_dir.parent).as_posix()
        try:
            script_commands = split_commands(script.read_text(encoding="utf-8"), relative)
        except ScriptError as e:
            problems.append(str(e))
            continue
        for command in script_commands:
            kind = classify(command.text)
            if kind is None:
                problems.append(
                    f"{relative}:{command.line}: not an idempotent command we deploy: "
                    f"{command.text.splitlines()[0][:80]}"
                )
            elif kind not in stage.kinds:
                problems.append(
                    f"{relative}:{command.line}: {kind} command does not belong in stage "
                    f"{stage.number} ({stage.name}, which takes {', '.join(sorted(stage.kinds))})"
                )
            else:
                commands.append(PlannedCommand(stage=stage, kind=kind, command=command))
    if problems:
        raise PlanError("\n".join(problems))
    if not commands:
        raise PlanError(f"{kql_dir}: no commands found")
    return Plan(
        commands=tuple(commands),
        scripts=tuple(script.relative_to(kql_dir.parent).as_posix() for _, script in staged),
    )
