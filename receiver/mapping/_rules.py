"""User rules: a YAML file of glob -> override, first match wins.

rules:
  - match: "Device.WiFi.Radio.{i}.Stats.Noise"   # glob on the {i} template (or the raw name)
    kind: gauge            # gauge | sum | log
    unit: dBm
  - match: "Device.DeviceInfo.SoftwareVersion"
    to_resource: os.version  # the value becomes a resource attribute of that report
  - match: "Device.Hosts.*"
    drop: true
"""

import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import yaml

RuleKind = Literal["gauge", "sum", "log"]
_KINDS = ("gauge", "sum", "log")
_KEYS = frozenset({"match", "kind", "unit", "drop", "to_resource", "to_log"})


@dataclass(frozen=True, slots=True)
class Rule:
    match: str
    kind: RuleKind | None = None
    unit: str | None = None
    drop: bool = False
    to_resource: str | None = None


class RulesError(ValueError):
    pass


class RuleSet:
    __slots__ = ("rules",)

    def __init__(self, rules: tuple[Rule, ...] = ()) -> None:
        self.rules = rules

    def match(self, template: str, name: str) -> Rule | None:
        for rule in self.rules:
            if fnmatch.fnmatchcase(template, rule.match) or fnmatch.fnmatchcase(name, rule.match):
                return rule
        return None


def load_rules(path: str | None) -> RuleSet:
    """Read and check a rules file; RulesError lists every problem with its rule index."""
    if path is None:
        return RuleSet()
    try:
        document = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise RulesError(f"rules file {path!r}: {exc}") from exc
    entries = document.get("rules") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise RulesError(f"rules file {path!r}: expected a top-level 'rules:' list")
    problems: list[str] = []
    rules = [_rule(index, entry, problems) for index, entry in enumerate(entries)]
    if problems:
        raise RulesError(f"rules file {path!r}:\n  " + "\n  ".join(problems))
    return RuleSet(tuple(rule for rule in rules if rule is not None))


def _rule(index: int, entry: Any, problems: list[str]) -> Rule | None:
    where = f"rules[{index}]"
    if not isinstance(entry, dict):
        problems.append(f"{where}: must be a mapping")
        return None
    unknown = set(entry) - _KEYS
    if unknown:
        problems.append(f"{where}: unknown keys {sorted(unknown)} (known: {sorted(_KEYS)})")
    match = entry.get("match")
    if not isinstance(match, str) or not match:
        problems.append(f"{where}.match: a non-empty glob string is required")
        return None
    kind = "log" if entry.get("to_log") else entry.get("kind")
    if kind is not None and kind not in _KINDS:
        problems.append(f"{where}.kind: expected one of {_KINDS}, got {kind!r}")
        return None
    unit = entry.get("unit")
    to_resource = entry.get("to_resource")
    for key, value in (("unit", unit), ("to_resource", to_resource)):
        if value is not None and not isinstance(value, str):
            problems.append(f"{where}.{key}: expected a string, got {value!r}")
    checked_kind = cast("RuleKind | None", kind)
    return Rule(
        match=match,
        kind=checked_kind,
        unit=unit,
        drop=bool(entry.get("drop", False)),
        to_resource=to_resource,
    )
