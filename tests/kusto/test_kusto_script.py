import re

import pytest

from kusto import ScriptError, split_commands


def texts(script: str) -> list[str]:
    return [c.text for c in split_commands(script, "x.kql")]


def test_commands_start_at_a_dot_in_column_one_and_comments_between_them_are_dropped() -> None:
    script = (
        "// header\n\n.create-merge table A (x: int)\n\n"
        "// about B\n.create-merge table B (y: string)\n// tail\n"
    )
    assert texts(script) == [".create-merge table A (x: int)", ".create-merge table B (y: string)"]


def test_lines_map_each_text_line_back_to_the_script() -> None:
    script = "// c\n.alter table T policy update\n// note\n@'[]'\n"
    [command] = split_commands(script, "x.kql")
    assert command.text == ".alter table T policy update\n@'[]'"
    assert command.lines == (2, 4)
    assert command.line == 2


def test_a_body_keeps_its_comments_blank_lines_and_lines_starting_with_a_dot() -> None:
    script = ".create-or-alter function F() {\n    T\n\n    // why\n.5\n}\n.create-merge table A (x: int)\n"
    first, second = texts(script)
    assert first == ".create-or-alter function F() {\n    T\n\n    // why\n.5\n}"
    assert second == ".create-merge table A (x: int)"


def test_braces_comment_markers_and_dots_inside_strings_do_not_count() -> None:
    script = (
        ".alter table T policy update\n"
        '@\'[{"Query": "F() // not a comment {"}]\'\n'
        ".create-or-alter function G() { print s = 'a}b', t = \"c\\\"{\", u = @'x''{' }\n"
    )
    assert len(texts(script)) == 2


def test_multi_line_string_literals_are_kept_verbatim() -> None:
    script = '.create-or-alter table T ingestion json mapping "m"\n```\n\n.not a command\n// kept\n```\n'
    [text] = texts(script)
    assert text.endswith("```\n\n.not a command\n// kept\n```")


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("T | take 1\n", "x.kql:1: text outside a command"),
        (".create-or-alter function F() {\n T\n", "ends inside a '{'"),
        (".create-or-alter table T ingestion json mapping 'm'\n```\n[]\n", "ends inside a string"),
        (".create-merge table A (x: int) with (docstring = 'open\n", "x.kql:1: a quoted string does not end"),
    ],
)
def test_scripts_that_cannot_be_split_name_the_place(script: str, message: str) -> None:
    with pytest.raises(ScriptError, match=re.escape(message)):
        split_commands(script, "x.kql")
