"""ADX (Azure Data Explorer) artifacts for the telemetry the collector exports, and the tools that
deploy and check them: ``python -m kusto apply`` and ``python -m kusto validate``.

``kql/`` holds the scripts (raw tables, mappings, typed tables, update policies, views, SRE
functions, policies), ``dashboards/`` the ADX dashboard, ``validate/`` the offline validator."""

from ._plan import KQL_DIR, STAGES, Plan, PlanError, PlannedCommand, Stage, build_plan
from ._script import ScriptCommand, ScriptError, split_commands
from ._validate import (
    DASHBOARDS_DIR,
    VALIDATOR_DIR,
    Finding,
    ValidationReport,
    ValidatorUnavailableError,
    run_validator,
)

__all__ = [
    "DASHBOARDS_DIR",
    "KQL_DIR",
    "STAGES",
    "VALIDATOR_DIR",
    "Finding",
    "Plan",
    "PlanError",
    "PlannedCommand",
    "ScriptCommand",
    "ScriptError",
    "Stage",
    "ValidationReport",
    "ValidatorUnavailableError",
    "build_plan",
    "run_validator",
    "split_commands",
]
