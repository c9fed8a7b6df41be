"""Sending a plan: every command in order, stopping at the first failure.

Stopping is safe because every planned command is idempotent: fix the cause and run ``apply`` again
from the start; what already succeeded is a no-op the second time."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from ._client import KustoCommandClient
from ._plan import Plan, PlannedCommand

__all__ = ["ApplyError", "apply_plan", "write_dry_run"]


class ApplyError(RuntimeError):
    """A command failed; ``command`` says which, the cause is chained."""

    def __init__(self, command: PlannedCommand, applied: int) -> None:
        super().__init__(f"{command.location} ({command.kind}) failed after {applied} commands succeeded")
        self.command = command
        self.applied = applied


def header(index: int, total: int, command: PlannedCommand) -> str:
    return f"// [{index}/{total}] {command.stage.name} {command.location}"


def write_dry_run(plan: Plan, out: TextIO, *, cluster: str, database: str) -> None:
    """The plan as a Kusto script (comments + commands), without contacting anything."""
    total = len(plan.commands)
    out.write(f"// dry run: {total} commands for database {database} on {cluster}; nothing was sent\n\n")
    for index, command in enumerate(plan.commands, start=1):
        out.write(f"{header(index, total, command)}\n{command.text}\n\n")


def apply_plan(
    plan: Plan,
    client: KustoCommandClient,
    *,
    database: str,
    progress: Callable[[str], None] = lambda _: None,
) -> int:
    """Run every command; return how many ran. Raises ApplyError (cause chained) on the first failure."""
    total = len(plan.commands)
    for index, command in enumerate(plan.commands, start=1):
        progress(header(index, total, command))
        try:
            client.execute_command(database, command.text)
        except Exception as e:  # any client error: report which command, keep the cause
            raise ApplyError(command, index - 1) from e
    return total
