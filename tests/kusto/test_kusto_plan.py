from pathlib import Path

import pytest

from kusto import KQL_DIR, STAGES, PlanError, build_plan, split_commands


def test_the_plan_holds_every_command_of_every_script_once() -> None:
    plan = build_plan()
    scripts = sorted(KQL_DIR.glob("*.kql"))
    assert [f"kql/{p.name}" for p in scripts] == sorted(plan.scripts)
    expected = [c for p in scripts for c in split_commands(p.read_text(), f"kql/{p.name}")]
    assert sorted((c.path, c.line) for c in expected) == sorted(
        (c.command.path, c.command.line) for c in plan.commands
    )


def test_stages_run_in_dependency_order() -> None:
    numbers = [c.stage.number for c in build_plan().commands]
    assert numbers == sorted(numbers)
    assert {c.stage.number for c in build_plan().commands} == {s.number for s in STAGES}


def _plan_of(tmp_path: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    build_plan(tmp_path)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"10_tables.kql": ".create table A (x: int)\n"}, "10_tables.kql:1: not an idempotent command"),
        ({"10_tables.kql": ".drop table A\n"}, "not an idempotent command we deploy: .drop table A"),
        ({"10_tables.kql": ".set-or-append A <| print x = 1\n"}, "not an idempotent command"),
        (
            {"80_policies.kql": ".create-merge table A (x: int)\n"},
            "80_policies.kql:1: table command does not belong in stage 80 (policies",
        ),
        (
            {"10_tables.kql": ".alter table A policy update @'[]'\n"},
            "update-policy command does not belong in stage 10 (tables, which takes table)",
        ),
        (
            {"tables.kql": ".create-merge table A (x: int)\n"},
            "tables.kql: the name must start with a stage prefix",
        ),
        ({"10_tables.kql": "A | take 1\n"}, "text outside a command"),
        ({"README.md": "x"}, "no commands found"),
    ],
)
def test_unsafe_or_misplaced_commands_are_refused_before_anything_is_sent(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    with pytest.raises(PlanError) as raised:
        _plan_of(tmp_path, files)
    assert message in str(raised.value)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises(PlanError) as raised:
        _plan_of(tmp_path, {"10_tables.kql": ".drop table A\n.drop table B\n", "99_x.kql": ".show tables\n"})
    lines = str(raised.value).splitlines()
    assert len(lines) == 3
