"""Derive the compact TR-181 lookup table the receiver uses from the Broadband Forum XML.

    python tools/gen_tr181.py [--src ../shared/reference/tr-181] [--out receiver/mapping/data/tr181.tsv]

One row per parameter: ``path`` (instance numbers as ``{i}``), ``base_type`` (TR-106 base type),
``data_type`` (the named type, else the base type), ``unit`` (OpenTelemetry/UCUM) and ``kind``:
``sum`` for counters, ``gauge`` for numbers and booleans, ``log`` for text. Deterministic output.

How the model composes: each file's ``<model>`` references ``<component>``s (by name, from any file;
``path=`` prefixes them) and holds ``<object>``s; an object inside a component is relative to where
the component is referenced, and a parameter directly in a component belongs to the referencing
object. ``<profile>``s, ``<command>``s and ``<event>``s describe no parameters and are skipped.

Counters: StatsCounter32/64 (and named types based on them) are monotonic counters. The TR-106 type
definitions are not in the reference folder, so those and other TR-106 named types are resolved from
the table ``TR106_TYPES`` below."""

import argparse
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BASE_TYPES = (
    "string",
    "int",
    "unsignedInt",
    "long",
    "unsignedLong",
    "boolean",
    "dateTime",
    "base64",
    "hexBinary",
    "decimal",
)
NUMERIC = frozenset({"int", "unsignedInt", "long", "unsignedLong", "decimal", "boolean"})
# TR-106 named data types (tr-106-types.xml is not in the reference set).
TR106_TYPES = {
    "StatsCounter32": "unsignedInt",
    "StatsCounter64": "unsignedLong",
    "Dbm1000": "int",
    "IPAddress": "string",
    "IPv4Address": "string",
    "IPv6Address": "string",
    "IPPrefix": "string",
    "IPv4Prefix": "string",
    "IPv6Prefix": "string",
    "MACAddress": "string",
    "Alias": "string",
    "URL": "string",
    "URI": "string",
    "UUID": "string",
    "DiagnosticsState": "string",
    "ZigBeeNetworkAddress": "string",
    "IEEE_EUI64": "string",
    "PSDBreakPointIndexAndLevel": "string",
    "PSMBreakPointIndexAndLevel": "string",
    "SELTPAttenuationCharacteristicsIndexAndTFlog": "string",
    "SELTPQuietLineNoiseIndexAndQLN": "string",
    "Order": "unsignedInt",
}
COUNTER_TYPES = frozenset({"StatsCounter32", "StatsCounter64"})
UNITS = {
    "seconds": "s",
    "second": "s",
    "milliseconds": "ms",
    "microseconds": "us",
    "nanoseconds": "ns",
    "bytes": "By",
    "kilobytes": "kBy",
    "KiB": "KiBy",
    "MiB": "MiBy",
    "bits": "bit",
    "bps": "bit/s",
    "bits per second": "bit/s",
    "Kbps": "kbit/s",
    "kbps": "kbit/s",
    "Mbps": "Mbit/s",
    "percent": "%",
    "%": "%",
    "hertz": "Hz",
    "Hz": "Hz",
    "kHz": "kHz",
    "MHz": "MHz",
    "dB": "dB",
    "dBm": "dBm",
    "minutes": "min",
    "hours": "h",
    "days": "d",
    "degrees Celsius": "Cel",
    "watts": "W",
    "milliwatts": "mW",
    "volts": "V",
    "millivolts": "mV",
    "milliamperes": "mA",
    "packets": "{packet}",
}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class Model:
    def __init__(self, files: list[Path]) -> None:
        self.trees = [ET.parse(path).getroot() for path in files]
        self.components: dict[str, ET.Element] = {}
        self.data_types: dict[str, ET.Element] = {}
        for root in self.trees:
            for child in root:
                if _local(child.tag) == "component" and child.get("name") and len(child):
                    self.components.setdefault(child.get("name", ""), child)
                elif (
                    _local(child.tag) == "dataType"
                    and child.get("name")
                    and (len(child) or child.get("base"))
                ):
                    self.data_types.setdefault(child.get("name", ""), child)
        self.rows: dict[str, tuple[str, str, str, str]] = {}

    def build(self) -> dict[str, tuple[str, str, str, str]]:
        for root in self.trees:
            for model in (c for c in root if _local(c.tag) == "model"):
                self._walk(model, "", set())
        return self.rows

    def _walk(self, element: ET.Element, prefix: str, seen: set[str]) -> None:
        for child in element:
            tag = _local(child.tag)
            if tag == "component" and child.get("ref"):
                name = child.get("ref", "")
                if name in self.components and name not in seen:
                    self._walk(self.components[name], prefix + child.get("path", ""), seen | {name})
            elif tag == "object" and (child.get("name") or child.get("base")):
                self._walk(child, _join(prefix, child.get("name") or child.get("base") or ""), seen)
            elif tag == "parameter" and child.get("name"):
                self._parameter(prefix, child)

    def _parameter(self, object_path: str, element: ET.Element) -> None:
        if not object_path.startswith("Device."):
            return  # a component used only outside the Device model (or not at all)
        syntax = next((c for c in element if _local(c.tag) == "syntax"), None)
        if syntax is None:
            return
        base, named, unit, is_list = self._type(syntax)
        path = object_path + element.get("name", "")
        if is_list or base not in NUMERIC:
            kind = "log"
        elif named in COUNTER_TYPES or self._counter_like(object_path, element.get("name", ""), base):
            kind = "sum"
        else:
            kind = "gauge"
        self.rows[path] = (base, named or base, unit, kind)

    @staticmethod
    def _counter_like(object_path: str, name: str, base: str) -> bool:
        """Older objects count with plain unsignedInt/Long: a Stats object's ...Sent/...Received totals."""
        return (
            object_path.endswith(".Stats.")
            and base in ("unsignedInt", "unsignedLong")
            and name.endswith(("Sent", "Received"))
        )

    def _type(self, syntax: ET.Element) -> tuple[str, str, str, bool]:
        is_list = False
        for child in syntax:
            tag = _local(child.tag)
            if tag == "list":
                is_list = True
            elif tag in BASE_TYPES:
                return tag, "", _unit(child), is_list
            elif tag == "dataType" and child.get("ref"):
                base, unit = self._resolve(child.get("ref", ""), set())
                return base, child.get("ref", ""), _unit(child) or unit, is_list
        return "string", "", "", is_list

    def _resolve(self, name: str, seen: set[str]) -> tuple[str, str]:
        if name in TR106_TYPES:
            return TR106_TYPES[name], ""
        element = self.data_types.get(name)
        if element is None or name in seen:
            return "string", ""
        if element.get("base"):
            base, unit = self._resolve(element.get("base", ""), seen | {name})
            return base, _unit(element) or unit
        for child in element:
            if _local(child.tag) in BASE_TYPES:
                return _local(child.tag), _unit(child)
        return "string", ""


def _join(prefix: str, name: str) -> str:
    return name if name.startswith("Device.") or not prefix else prefix + name


def _unit(element: ET.Element) -> str:
    for child in element.iter():
        if _local(child.tag) == "units" and child.get("value"):
            value = child.get("value", "")
            return UNITS.get(value, value)
    return ""


def generate(src: Path) -> str:
    files = sorted(src.glob("tr-181-2-*.xml"))
    rows = Model(files).build()
    lines = ["path\tbase_type\tdata_type\tunit\tkind"]
    lines += ["\t".join((path, *fields)) for path, fields in sorted(rows.items())]
    return "\n".join(lines) + "\n"


def _iter_counts(text: str) -> Iterator[tuple[str, int]]:
    kinds = [line.rsplit("\t", 1)[1] for line in text.splitlines()[1:]]
    for kind in ("sum", "gauge", "log"):
        yield kind, kinds.count(kind)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--src", type=Path, default=REPO.parent / "shared" / "reference" / "tr-181")
    parser.add_argument("--out", type=Path, default=REPO / "receiver" / "mapping" / "data" / "tr181.tsv")
    args = parser.parse_args()
    text = generate(args.src)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    counts = ", ".join(f"{kind} {count}" for kind, count in _iter_counts(text))
    print(f"{args.out}: {text.count(chr(10)) - 1} parameters ({counts})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
