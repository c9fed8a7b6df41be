"""Splitting a .kql script into the control commands it holds.

A command starts on a line whose first character is ``.`` at the top level: outside ``{ }`` (function
and materialized-view bodies) and outside string literals (``'..'``, ``".."``, ``@'..'``, ``@".."``
and multi-line `````` ``` `````` strings). Comment-only and blank lines at the top level are left out
of the command text, so that what is sent to ADX starts with its verb and holds no commentary the
command grammar would have to skip; comments inside bodies and strings are kept verbatim.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ScriptCommand", "ScriptError", "split_commands"]


class ScriptError(ValueError):
    """A script that cannot be split: text outside a command, or an unclosed brace or string."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ScriptCommand:
    path: str
    """The script, relative to the kusto package (posix separators)."""
    lines: tuple[int, ...]
    """1-based line in the script of each line of ``text``."""
    text: str

    @property
    def line(self) -> int:
        return self.lines[0]


@dataclass(slots=True)
class _Scanner:
    """Tracks brace depth and string state across lines; knows nothing of commands."""

    depth: int = 0
    string: str | None = None  # the closing delimiter while inside a string literal

    def at_top_level(self) -> bool:
        return self.depth == 0 and self.string is None

    def feed(self, line: str) -> bool:
        """Consume one line; return True when it holds nothing but a comment or whitespace at the
        top level (judged from the state at its start)."""
        top_level_start = self.at_top_level()
        code_seen = False
        i = 0
        while i < len(line):
            if self.string is not None:
                i = self._in_string(line, i)
                code_seen = True
                continue
            ch = line[i]
            if line.startswith("//", i):
                break
            if not ch.isspace():
                code_seen = True
            if line.startswith("```", i):
                self.string, i = "```", i + 3
            elif ch == "@" and i + 1 < len(line) and line[i + 1] in "'\"":
                self.string, i = "@" + line[i + 1], i + 2
            elif ch in "'\"":
                self.string, i = ch, i + 1
            elif ch == "{":
                self.depth, i = self.depth + 1, i + 1
            elif ch == "}":
                self.depth, i = self.depth - 1, i + 1
            else:
                i += 1
        if self.string in ("'", '"'):
            raise ScriptError("a quoted string does not end on its line")
        return top_level_start and not code_seen

    def _in_string(self, line: str, i: int) -> int:
        closing = self.string
        assert closing is not None
        if closing == "```":
            end = line.find("```", i)
            if end < 0:
                return len(line)
            self.string = None
            return end + 3
        quote = closing[-1]
        verbatim = closing.startswith("@")
        while i < len(line):
            ch = line[i]
            if not verbatim and ch == "\\":
                i += 2
                continue
            if ch == quote:
                # In a verbatim string a doubled quote stands for one quote character.
                if verbatim and line.startswith(quote * 2, i):
                    i += 2
                    continue
                self.string = None
                return i + 1
            i += 1
        return i


def split_commands(text: str, path: str) -> list[ScriptCommand]:
    """The commands of one script, in order. Raises ScriptError naming the line at fault."""
    scanner = _Scanner()
    commands: list[ScriptCommand] = []
    current: list[tuple[int, str]] = []

    def flush() -> None:
        if current:
            commands.append(
                ScriptCommand(
                    path=path,
                    lines=tuple(n for n, _ in current),
                    text="\n".join(t for _, t in current).rstrip(),
                )
            )
            current.clear()

    for number, line in enumerate(text.splitlines(), start=1):
        starts_command = scanner.at_top_level() and line.startswith(".")
        try:
            commentary = scanner.feed(line)
        except ScriptError as e:
            raise ScriptError(f"{path}:{number}: {e}") from None
        if starts_command:
            flush()
        if commentary:
            continue
        if not current and not starts_command:
            raise ScriptError(
                f"{path}:{number}: text outside a command (a command starts with '.' in column 1)"
            )
        current.append((number, line))
    if not scanner.at_top_level():
        what = "a string" if scanner.string is not None else "a '{'"
        raise ScriptError(f"{path}: ends inside {what}")
    flush()
    return commands
