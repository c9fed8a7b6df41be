"""Derive the receiver's TR-181 lookup table from the Broadband Forum Device:2 XML (build time only).

    python tools/gen_tr181.py [--src ../shared/reference/tr-181] [--out receiver/mapping/data/tr181.tsv]

Output: a header, then one row per parameter sorted by path, tab separated:
``path base_type data_type unit kind``, e.g. ``Device.WiFi.Radio.{i}.Stats.Noise int int dBm gauge``.
Same input, byte-identical output.

How the model is composed (the BBF DM schema's rules):

* Only the ``Device:*`` models are walked: tr-181-2-common.xml's protocol-independent one, and the
  CWMP and USP ones (tr-181-2-cwmp.xml, tr-181-2-usp.xml) built on it with ``base=``. The table is
  their union: both protocols deliver Bulk Data. The per-file models (``ATM:2.18``,
  ``Interface:2.19``, ...) are stand-alone test harnesses (``Interface:2.19`` invents
  ``Device.Layer1A.``) and are skipped.
* Names are scoped per file: ``<component ref>``, ``<dataType ref|base>`` and ``<model base>``
  resolve to the file's own definition or follow its ``<import>`` (``name=`` is the local name,
  ``ref=`` the imported one), file after file. A few files use tr-106 types they do not import
  (dhcpv4.xml: StatsCounter64); such a name falls back to its definition elsewhere, with a warning.
* tr-106-types.xml is imported by every file but is not in the reference set; the part we need
  (named types, the ``Alias`` components) is embedded below as ``TR106``, from the BBF's file.
* A ``<component>`` expands where it is referenced: its objects are relative to the current object
  plus the reference's ``path=`` (an absolute ``Device.`` path stands alone); its parameters belong
  to the current object. ``<object base=>`` and ``<parameter base=>`` extend what came before; a
  later ``<syntax>`` replaces the earlier one (keeping the earlier unit if it gives none).
* ``<command>``/``<event>`` arguments and ``<profile>``s are not parameters and are not walked.
  Deprecated, obsoleted and deleted items stay: older CPEs still report them.

Kinds: ``sum`` (monotonic cumulative counter) for StatsCounter32/64 and types derived from them,
``gauge`` for int, unsignedInt, long, unsignedLong, decimal, boolean and types based on them,
``log`` for everything else and for every list.

Legacy counters: objects older than StatsCounter32/64 count with a plain unsignedInt/unsignedLong.
Such a parameter (no named type) is a ``sum`` as well when

* it is in a ``...Stats`` object and named ``...(Bytes|Packets|Frames|Errors)...(Sent|Received)``
  (``DSL.BondingGroup.{i}.Ethernet.Stats.CRCErrorsReceived``), or
* its description counts events since a reset: "number of X ... since" where X is not ``{{units}}``
  (``DeviceInfo.Reboots.BootCount``, ``WiFi.Radio.{i}.Stats.TotalChannelChangeCount``), or it
  says "counter ... reset" (``FAP.ApplicationPlatform.Monitoring.*``).

Elapsed times ("Time in {{units}} since ...": ``DeviceInfo.UpTime``, ``LastChange``) stay gauges, as
do totals that do not say "since" (``Ethernet.RMONStats.{i}.Packets``); the rules file can override.

Units become OpenTelemetry/UCUM by ``UNITS`` (``seconds`` -> ``s``, ``packets`` -> ``{packet}``);
a unit not in the map (``0.1dB``, ``TenthdBmV``) is kept verbatim.
"""

import argparse
import re
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEADER = "path\tbase_type\tdata_type\tunit\tkind"
BASE_TYPES = frozenset(
    {"string", "int", "unsignedInt", "long", "unsignedLong", "boolean", "dateTime", "base64", "hexBinary"}
    | {"decimal"}
)
NUMERIC = frozenset({"int", "unsignedInt", "long", "unsignedLong", "decimal", "boolean"})
COUNTER_TYPES = frozenset({"StatsCounter32", "StatsCounter64"})
# The two legacy-counter rules of the module docstring.
COUNTER_NAME = re.compile(r"\w*(Bytes|Packets|Frames|Errors)\w*(Sent|Received)")
COUNTS_SINCE = re.compile(
    r"\b(number|count)s? of (?!\{\{units\}\}).{0,200}?\bsince\b|\bcounter\b.{0,100}?\breset\b", re.IGNORECASE
)
UNITS = {
    "seconds": "s", "Seconds": "s", "milliseconds": "ms", "Milliseconds": "ms", "ms": "ms",
    "microseconds": "us", "centiseconds": "cs", "minutes": "min", "Minutes": "min", "hours": "h",
    "bytes": "By", "byte": "By", "octets": "By", "kilobytes": "kBy", "KiB": "KiBy", "MiB": "MiBy",
    "bits": "bit", "bits per second": "bit/s", "bps": "bit/s", "Kbps": "kbit/s", "kbps": "kbit/s",
    "kbit/s": "kbit/s", "Mbps": "Mbit/s", "Mb/s": "Mbit/s", "Gbps": "Gbit/s",
    "percent": "%", "percentage": "%", "%": "%", "hertz": "Hz", "Hz": "Hz", "kHz": "kHz", "MHz": "MHz",
    "dB": "dB", "decibels (dB)": "dB", "dBm": "dBm", "mW": "mW", "mV": "mV", "mA": "mA", "µA": "uA",
    "degrees celsius": "Cel", "meters": "m", "kilometers": "km", "millimeters": "mm", "nanometers": "nm",
    "packets": "{packet}", "Packets": "{packet}", "messages": "{message}", "records": "{record}",
}  # fmt: skip
# What the TR-181 files import from tr-106-types.xml (BroadbandForum/cwmp-data-models). Its Alias
# components differ only in access and description, so all give the parameter the type "Alias".
TR106 = """<document>
  <dataType name="_AliasCommon"><string/></dataType>
  <dataType name="_AliasCWMP" base="_AliasCommon"/>
  <dataType name="_AliasUSP" base="_AliasCommon"/>
  <dataType name="Alias" base="_AliasCWMP"/>
  <dataType name="Dbm1000"><int/></dataType>
  <dataType name="DiagnosticsState"><string/></dataType>
  <dataType name="IEEE_EUI64"><string/></dataType>
  <dataType name="IPAddress"><string/></dataType>
  <dataType name="IPv4Address" base="IPAddress"/>
  <dataType name="IPv6Address" base="IPAddress"/>
  <dataType name="IPPrefix"><string/></dataType>
  <dataType name="IPv4Prefix" base="IPPrefix"/>
  <dataType name="IPv6Prefix" base="IPPrefix"/>
  <dataType name="JSONObject"><string/></dataType>
  <dataType name="MACAddress"><string/></dataType>
  <dataType name="Order"><unsignedInt/></dataType>
  <dataType name="PLMNId"><unsignedInt/></dataType>
  <dataType name="StatsCounter32"><unsignedInt/></dataType>
  <dataType name="StatsCounter64"><unsignedLong/></dataType>
  <dataType name="UUID"><string/></dataType>
  <dataType name="URI"><string/></dataType>
  <dataType name="URN" base="URI"/>
  <dataType name="URL" base="URI"/>
  <dataType name="ZigBeeNetworkAddress"><string/></dataType>
  <component name="_AliasCWMP"><component ref="Alias"/></component>
  <component name="_AliasUSP"><component ref="Alias"/></component>
  <component name="Alias-2-0"><component ref="Alias"/></component>
  <component name="Alias">
    <parameter name="Alias"><syntax><dataType ref="Alias"/></syntax></parameter>
  </component>
</document>"""
TR106_FILE = "tr-106-types.xml"


@dataclass(frozen=True, slots=True)
class Row:
    base_type: str
    data_type: str
    unit: str
    kind: str


@dataclass(frozen=True, slots=True)
class _Type:
    base: str
    unit: str
    is_list: bool
    is_counter: bool


class _Document:
    """One XML file: its own definitions and what it imports, keyed by (kind, name)."""

    def __init__(self, name: str, root: ET.Element) -> None:
        self.name = name
        self.defs: dict[tuple[str, str], ET.Element] = {}
        self.imports: dict[tuple[str, str], tuple[str, str]] = {}  # -> (file, name there)
        for child in root:
            tag = _local(child.tag)
            if tag in ("component", "dataType", "model") and child.get("name"):
                self.defs[tag, child.get("name", "")] = child
            elif tag == "import":
                file = child.get("file", "")
                for item in child:
                    local = item.get("name", "")
                    if local:
                        self.imports[_local(item.tag), local] = (file, item.get("ref", local))


class Generator:
    def __init__(self, src: Path) -> None:
        docs = [_Document(path.name, ET.parse(path).getroot()) for path in sorted(src.glob("tr-181-2-*.xml"))]
        if not docs:
            raise SystemExit(f"no tr-181-2-*.xml in {src}")
        docs.append(_Document(TR106_FILE, ET.fromstring(TR106)))
        self.docs = {doc.name: doc for doc in docs}
        self.rows: dict[str, Row] = {}
        self.descriptions: dict[str, str] = {}
        self.walked: list[ET.Element] = []
        self.warnings: set[str] = set()

    def generate(self) -> str:
        for doc in self.docs.values():
            for (kind, name), model in sorted(doc.defs.items()):
                if kind == "model" and name.startswith("Device:"):
                    self._model(doc, model)
        lines = [HEADER]
        for path, row in sorted(self.rows.items()):
            lines.append("\t".join((path, row.base_type, row.data_type, row.unit, row.kind)))
        return "\n".join(lines) + "\n"

    def _lookup(self, doc: _Document, kind: str, name: str) -> tuple[_Document, ET.Element] | None:
        for _ in range(16):  # import chains are short; the bound only stops a cycle
            if (kind, name) in doc.defs:
                return doc, doc.defs[kind, name]
            file, name = doc.imports.get((kind, name), ("", name))
            if file not in self.docs:
                break
            doc = self.docs[file]
        for other in sorted(self.docs.values(), key=lambda d: (d.name != TR106_FILE, d.name)):
            if (kind, name) in other.defs:
                self.warnings.add(f"{doc.name}: {kind} {name} is not imported; used {other.name}'s")
                return other, other.defs[kind, name]
        self.warnings.add(f"{doc.name}: no {kind} {name}")
        return None

    def _model(self, doc: _Document, model: ET.Element) -> None:
        if model in self.walked:
            return  # common.xml's Device model is the base of both the CWMP and the USP one
        self.walked.append(model)
        found = self._lookup(doc, "model", model.get("base", "")) if model.get("base") else None
        if found:
            self._model(*found)
        self._walk(doc, model, "", 0)

    def _walk(self, doc: _Document, element: ET.Element, obj: str, depth: int) -> None:
        if depth > 32:
            self.warnings.add(f"{doc.name}: components nest too deep at {obj}")
            return
        for child in element:
            tag = _local(child.tag)
            if tag == "component" and child.get("ref"):
                found = self._lookup(doc, "component", child.get("ref", ""))
                path = child.get("path", "")
                if found:
                    self._walk(*found, path if path.startswith("Device.") else obj + path, depth + 1)
            elif tag == "object":
                name = child.get("name") or child.get("base") or ""
                self._walk(doc, child, name if name.startswith("Device.") else obj + name, depth)
            elif tag == "parameter":
                self._parameter(doc, child, obj)

    def _parameter(self, doc: _Document, element: ET.Element, obj: str) -> None:
        name = element.get("name") or element.get("base") or ""
        path = obj + name
        text = " ".join(_text(element, "description").split())
        if element.get("base"):  # an extension's description adds to the original one
            text = f"{self.descriptions.get(path, '')} {text}"
        self.descriptions[path] = text
        syntax = next((c for c in element if _local(c.tag) == "syntax"), None)
        if syntax is None:
            return  # an extension that only changes text: the earlier definition stands
        if not obj.startswith("Device."):
            self.warnings.add(f"{doc.name}: parameter {name} outside a Device. object ({obj!r})")
            return
        data_type, typ = self._syntax(doc, syntax)
        if typ.is_list or typ.base not in NUMERIC:
            kind = "log"
        elif typ.is_counter or (data_type in ("unsignedInt", "unsignedLong") and _counts(obj, name, text)):
            kind = "sum"
        else:
            kind = "gauge"
        earlier = self.rows.get(path)
        # cellular.xml widens StatsCounter32 to 64 without repeating the unit: it still counts packets
        unit = typ.unit or (earlier.unit if earlier and element.get("base") else "")
        self.rows[path] = Row(typ.base, data_type, unit, kind)

    def _syntax(self, doc: _Document, syntax: ET.Element) -> tuple[str, _Type]:
        is_list = any(_local(c.tag) == "list" for c in syntax)
        for child in syntax:
            tag = _local(child.tag)
            if tag in BASE_TYPES:
                return tag, _Type(tag, _unit(child), is_list, False)
            if tag == "dataType":  # ref= a named type, or base= for an anonymous restriction of one
                name = child.get("ref") or child.get("base") or ""
                typ = self._named(doc, name, 0)
                return name, _Type(typ.base, _unit(child) or typ.unit, is_list or typ.is_list, typ.is_counter)
        self.warnings.add(f"{doc.name}: a syntax without a type")
        return "string", _Type("string", "", is_list, False)

    def _named(self, doc: _Document, name: str, depth: int) -> _Type:
        found = self._lookup(doc, "dataType", name) if depth < 16 else None
        if found is None:
            return _Type("string", "", False, False)
        doc, element = found
        is_list = any(_local(c.tag) == "list" for c in element)
        if element.get("base"):
            typ = self._named(doc, element.get("base", ""), depth + 1)
            is_counter = typ.is_counter or name in COUNTER_TYPES
            return _Type(typ.base, _unit(element) or typ.unit, is_list or typ.is_list, is_counter)
        for child in element:
            if _local(child.tag) in BASE_TYPES:
                return _Type(_local(child.tag), _unit(child), is_list, name in COUNTER_TYPES)
        self.warnings.add(f"{doc.name}: dataType {name} has no base type")
        return _Type("string", "", is_list, False)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]  # without the XML namespace


def _text(element: ET.Element, tag: str) -> str:
    child = next((c for c in element if _local(c.tag) == tag), None)
    return "" if child is None else "".join(child.itertext())


def _unit(element: ET.Element) -> str:
    units = next((c for c in element if _local(c.tag) == "units"), None)
    value = "" if units is None else units.get("value", "").strip()
    return UNITS.get(value, value)


def _counts(obj: str, name: str, description: str) -> bool:
    in_stats = any(segment.endswith("Stats") for segment in obj.split("."))
    return bool(in_stats and COUNTER_NAME.fullmatch(name)) or bool(COUNTS_SINCE.search(description))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--src", type=Path, default=REPO.parent / "shared" / "reference" / "tr-181")
    parser.add_argument("--out", type=Path, default=REPO / "receiver" / "mapping" / "data" / "tr181.tsv")
    args = parser.parse_args(argv)
    generator = Generator(args.src)
    text = generator.generate()
    for warning in sorted(generator.warnings):
        print(f"warning: {warning}", file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(text.encode())  # bytes: no newline translation on any platform
    kinds = [row.kind for row in generator.rows.values()]
    counts = ", ".join(f"{kind} {kinds.count(kind)}" for kind in ("sum", "gauge", "log"))
    print(f"{args.out}: {len(kinds)} parameters ({counts})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
