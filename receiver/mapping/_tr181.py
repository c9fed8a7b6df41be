"""The TR-181 lookup table and the instance-number rule that keeps metric names few.

The table (``data/tr181.tsv``) is generated at build time by ``tools/gen_tr181.py`` from the
Broadband Forum XML; nothing here parses XML. Keys are templates such as
``Device.WiFi.Radio.{i}.Stats.Noise``; ``template_of`` turns a reported path into its template.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

MetricKind = Literal["sum", "gauge", "log"]

DEFAULT_TABLE = Path(__file__).parent / "data" / "tr181.tsv"
TABLE_HEADER = "path\tbase_type\tdata_type\tunit\tkind"
INSTANCE = "{i}"
_KINDS: dict[str, MetricKind] = {"sum": "sum", "gauge": "gauge", "log": "log"}


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """What the data model says about one parameter: TR-106 base type, named type, UCUM unit, kind."""

    base_type: str
    data_type: str
    unit: str
    kind: MetricKind


def load_tr181_table(path: Path | None = None) -> dict[str, ParamSpec]:
    """``{template: ParamSpec}`` from the generated table (by default the one shipped in the package).

    Raises ``ValueError`` naming the line if the file is not such a table."""
    source = path or DEFAULT_TABLE
    lines = source.read_text(encoding="utf-8").splitlines()
    if not lines or lines[0] != TABLE_HEADER:
        raise ValueError(
            f"{source}: not a TR-181 table (expected the header {TABLE_HEADER!r})"
        )
    table: dict[str, ParamSpec] = {}
    shared: dict[
        ParamSpec, ParamSpec
    ] = {}  # a few hundred distinct specs for thousands of paths
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != 5 or fields[4] not in _KINDS:
            raise ValueError(
                f"{source}:{number}: expected path, base_type, data_type, unit, kind: {line!r}"
            )
        name, base_type, data_type, unit, kind = fields
        spec = ParamSpec(base_type, data_type, unit, _KINDS[kind])
        table[name] = shared.setdefault(spec, spec)
    return table


def lookup(table: dict[str, ParamSpec], template: str) -> ParamSpec | None:
    """The spec of an exact template (``Device.WiFi.Radio.{i}.Stats.Noise``), else None.

    Relative names from ParameterPerColumn/NameValuePair reports (``Stats.BytesSent``) are the
    caller's to complete; this does no prefix or suffix matching."""
    return table.get(template)


def template_of(parameter_path: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Split a reported path into its metric template and instance attributes.

    ``Device.WiFi.AccessPoint.1.AssociatedDevice.3.SignalStrength`` ->
    ``("Device.WiFi.AccessPoint.{i}.AssociatedDevice.{i}.SignalStrength",
    (("AccessPoint", "1"), ("AssociatedDevice", "3")))``.

    An instance segment is all ASCII digits or a USP alias reference ``[cpe-1]`` (the attribute value
    drops the brackets). Its key is the segment before it, so it must follow a name: a leading
    instance, or one after an empty segment (``Device..1``), stays as it is. Consecutive instances
    (not in TR-181, seen from vendors) key the second and later ones ``<name>_2``, ``<name>_3``.
    Anything else, including empty segments and a trailing dot, passes through unchanged."""
    parts = parameter_path.split(".")
    attrs: list[tuple[str, str]] = []
    key = ""
    run = 0  # instance segments in a row so far
    for index in range(1, len(parts)):
        segment = parts[index]
        if (
            segment.isdigit() and segment.isascii()
        ):  # isdigit alone also takes "²" and other digits
            value = segment
        elif len(segment) > 2 and segment[0] == "[" and segment[-1] == "]":
            value = segment[1:-1]
        else:
            run = 0
            continue
        if run:
            run += 1
            attrs.append((f"{key}_{run}", value))
        else:
            key = parts[index - 1]
            if not key or (key.isdigit() and key.isascii()):
                continue  # nothing to name it after
            run = 1
            attrs.append((key, value))
        parts[index] = INSTANCE
    if not attrs:
        return parameter_path, ()
    return ".".join(parts), tuple(attrs)
