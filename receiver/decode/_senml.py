"""SenML packs (RFC 8428) in JSON and CBOR -> resolved records (RFC 8428 §4.6).

Resolution follows §4.1-4.5: base fields apply to their own record and every later one until the
next record that sets the same base field; the name is ``bn + n``; the time is ``bt + t``, and a
result below 2**28 (strictly, per §4.5.3: 2**28 itself is absolute) counts from "now" (``now_s``,
passed in: decoders never read the clock); the unit is ``u`` or else ``bu``. Values:

- ``v`` resolves to ``bv + v``. A record with no value field and no ``s`` of its own takes ``bv`` as
  its value when a base value is in force (§4.5.4: a missing Value counts as zero). ``bv`` never
  applies to ``vs``/``vb``/``vd``.
- a record with base fields only (no ``n``, ``u``, value, ``s``, ``t`` or ``ut``) measures nothing:
  it only sets context, like the first record of §5.1.7, and yields no resolved record.
- the sum is ``bs + s`` whenever either is present (§4.5.4 says so literally: a record under a Base
  Sum has a sum even without ``s``).
- otherwise exactly one of ``v``/``vs``/``vb``/``vd`` unless there is a sum (§4.2).

Every problem is reported with the index of the record (0-based) so a sender can find it.
"""

import base64
import binascii
import io
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

import cbor2
import orjson

from ._errors import DecodeError, UnsupportedFormat

SENML_JSON = "application/senml+json"
SENML_CBOR = "application/senml+cbor"
# SensML (§4.8) is the same array sent as a stream; a complete body decodes the same way.
SENSML_JSON = "application/sensml+json"
SENSML_CBOR = "application/sensml+cbor"
_JSON_TYPES = frozenset({SENML_JSON, SENSML_JSON})
_CBOR_TYPES = frozenset({SENML_CBOR, SENSML_CBOR})

SENML_VERSION = 10  # the default Base Version (§4.1)
# RFC 9100 makes the version a feature bitmap: 10 is RFC 8428 itself and 26 adds secondary units
# (RFC 8798), which only widens what ``u`` may say; we take units as given, so we understand both.
# Lower numbers are older drafts (the RFC's own example in §5.1.2 says 5): §4.4 rejects only higher.
_UNDERSTOOD_VERSIONS = frozenset({*range(1, SENML_VERSION + 1), 26})

RELATIVE_TIME_LIMIT = 2**28  # §4.5.3: a resolved time below this is seconds relative to now

# §6 Table 4. Integer labels are conclusive; extensions use text labels.
CBOR_LABELS: dict[int, str] = {
    -1: "bver",
    -2: "bn",
    -3: "bt",
    -4: "bu",
    -5: "bv",
    -6: "bs",
    0: "n",
    1: "u",
    2: "v",
    3: "vs",
    4: "vb",
    5: "s",
    6: "t",
    7: "ut",
    8: "vd",
}
_VALUE_LABELS = ("v", "vs", "vb", "vd")
_REGULAR_LABELS = frozenset({"n", "u", "v", "vs", "vb", "vd", "s", "t", "ut"})
# §4.5.1: the concatenated name's character set and first character.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-:./_]*\Z")
_CBOR_MAX_DEPTH = 16  # array -> map -> value is 3; extension fields may nest a little

SenmlValue = float | str | bool | bytes


@dataclass(frozen=True, slots=True)
class SenmlRecord:
    """One resolved record: no base fields, absolute time (seconds since the epoch)."""

    name: str
    unit: str  # "" when neither u nor bu gave one
    value: SenmlValue | None  # None: a record that carries only a sum
    sum: float | None
    time_s: float
    update_time_s: float | None = None


class SenmlDecodeError(DecodeError):
    pass


def decode_senml(body: bytes, media_type: str, *, now_s: float) -> list[SenmlRecord]:
    """Decode and resolve one SenML pack; ``media_type`` is the Content-Type's type/subtype."""
    kind = media_type.partition(";")[0].strip().lower()
    if kind in _JSON_TYPES:
        return resolve_senml(_load_json(body), binary=False, now_s=now_s)
    if kind in _CBOR_TYPES:
        return resolve_senml(_load_cbor(body), binary=True, now_s=now_s)
    raise UnsupportedFormat(
        f"unsupported SenML media type {media_type!r}: expected {SENML_JSON} or {SENML_CBOR}"
    )


def _load_json(body: bytes) -> list[Mapping[str, Any]]:
    try:
        pack = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise SenmlDecodeError(f"malformed SenML JSON: {exc}") from exc
    if not isinstance(pack, list):
        raise SenmlDecodeError("a SenML pack must be a JSON array of records")
    for index, record in enumerate(pack):
        if not isinstance(record, dict):
            raise SenmlDecodeError(f"record {index}: must be a JSON object")
    return pack


def _load_cbor(body: bytes) -> list[Mapping[str, Any]]:
    decoder = cbor2.CBORDecoder(io.BytesIO(body), max_depth=_CBOR_MAX_DEPTH)
    try:
        pack = decoder.decode()
    except (cbor2.CBORError, ValueError, TypeError, OverflowError) as exc:
        raise SenmlDecodeError(f"malformed SenML CBOR: {exc}") from exc
    try:
        decoder.read(1)
    except cbor2.CBORDecodeEOF:
        pass
    else:
        raise SenmlDecodeError("malformed SenML CBOR: bytes after the pack")
    if not isinstance(pack, list):
        raise SenmlDecodeError("a SenML pack must be a CBOR array of records")
    records: list[Mapping[str, Any]] = []
    for index, record in enumerate(pack):
        if not isinstance(record, Mapping):
            raise SenmlDecodeError(f"record {index}: must be a CBOR map")
        records.append(_cbor_labels(record, index))
    return records


def _cbor_labels(record: Mapping[Any, Any], index: int) -> dict[str, Any]:
    """Integer labels -> the JSON ones, so one resolver serves both encodings. Text labels are
    extensions (§6), kept as they are; the JSON spelling of a known label is accepted too."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(key, int) and not isinstance(key, bool):
            label = CBOR_LABELS.get(key)
            if label is None:
                continue  # §4.4: ignore what we don't recognise (only text labels can be must-understand)
        elif isinstance(key, str):
            label = key
        else:
            raise SenmlDecodeError(f"record {index}: map keys must be integers or text, got {key!r}")
        if label in out:
            raise SenmlDecodeError(f"record {index}: label {label!r} given twice")
        out[label] = value
    return out


def resolve_senml(records: list[Mapping[str, Any]], *, binary: bool, now_s: float) -> list[SenmlRecord]:
    """Apply base fields and validate (§4.4-4.5). ``binary``: CBOR typing (``vd`` is a byte string
    rather than base64url text; numbers may be decimal fractions)."""
    base_name = ""
    base_unit = ""
    base_time = 0.0
    base_value: float | None = None
    base_sum: float | None = None
    version = SENML_VERSION
    valid_names: set[str] = set()  # names repeat within a pack: check each once
    out: list[SenmlRecord] = []
    for index, record in enumerate(records):
        has_base = False
        for label in record:
            # §4.4: an unknown label ending in "_" is must-understand. We know none of them.
            if label[-1:] == "_":
                raise SenmlDecodeError(f"record {index}: unsupported must-understand field {label!r}")
            if label[:1] == "b":
                has_base = True
        if has_base:  # most records carry none: skip six lookups
            if "bver" in record:
                version = _version(record["bver"], index, version)
            if "bn" in record:
                base_name = _text(record["bn"], "bn", index)
            if "bt" in record:
                base_time = _number(record["bt"], "bt", index, binary)
            if "bu" in record:
                base_unit = _text(record["bu"], "bu", index)
            if "bv" in record:
                base_value = _number(record["bv"], "bv", index, binary)
            if "bs" in record:
                base_sum = _number(record["bs"], "bs", index, binary)

        if _REGULAR_LABELS.isdisjoint(record):
            continue  # base fields only, as in §5.1.7's first record: sets context, measures nothing

        name = base_name + _text(record["n"], "n", index) if "n" in record else base_name
        if name not in valid_names:
            if not name:
                raise SenmlDecodeError(f"record {index}: no name (neither n nor a base name bn)")
            if _NAME.match(name) is None:
                raise SenmlDecodeError(
                    f"record {index}: name {name!r} must start with a letter or digit and use only"
                    " letters, digits and - : . / _ (RFC 8428 §4.5.1)"
                )
            valid_names.add(name)

        value: SenmlValue | None = None
        value_label = ""
        for label in _VALUE_LABELS:
            if label in record:
                if value_label:
                    raise SenmlDecodeError(
                        f"record {index}: more than one value field ({value_label}, {label})"
                    )
                value_label = label
        if value_label:
            value = _value(value_label, record[value_label], index, binary, base_value)
        elif base_value is not None and "s" not in record:
            value = base_value

        total: float | None = None
        if "s" in record:
            total = _number(record["s"], "s", index, binary) + (base_sum or 0.0)
        elif base_sum is not None:
            total = base_sum
        if value is None and total is None:
            raise SenmlDecodeError(f"record {index}: no value (v, vs, vb or vd) and no sum (s)")

        time_s = base_time + _number(record["t"], "t", index, binary) if "t" in record else base_time
        if time_s < RELATIVE_TIME_LIMIT:
            time_s += now_s
        update_time: float | None = None
        if "ut" in record:
            update_time = _number(record["ut"], "ut", index, binary)
            if update_time < 0:
                raise SenmlDecodeError(f"record {index}: 'ut' must not be negative, got {update_time}")
        unit = _text(record["u"], "u", index) if "u" in record else base_unit
        out.append(SenmlRecord(name, unit, value, total, time_s, update_time))
    return out


def _version(raw: Any, index: int, current: int) -> int:
    if type(raw) is not int or raw <= 0:
        raise SenmlDecodeError(f"record {index}: 'bver' must be a positive integer, got {raw!r}")
    if raw not in _UNDERSTOOD_VERSIONS:
        raise SenmlDecodeError(
            f"record {index}: SenML version {raw} is not supported (this receiver understands"
            f" {SENML_VERSION} and RFC 9100's 26)"
        )
    if index > 0 and raw != current:
        raise SenmlDecodeError(
            f"record {index}: version {raw} differs from the pack's version {current} (RFC 8428 §4.4)"
        )
    return raw


def _value(label: str, raw: Any, index: int, binary: bool, base_value: float | None) -> SenmlValue:
    if label == "v":
        number = _number(raw, "v", index, binary)
        return number if base_value is None else number + base_value
    if label == "vs":
        return _text(raw, "vs", index)
    if label == "vb":
        if not isinstance(raw, bool):
            raise SenmlDecodeError(f"record {index}: 'vb' must be a boolean, got {_kind(raw)}")
        return raw
    if binary:
        if not isinstance(raw, bytes):
            raise SenmlDecodeError(f"record {index}: 'vd' must be a CBOR byte string, got {_kind(raw)}")
        return raw
    text = _text(raw, "vd", index)
    try:
        # base64url without padding (§4.3); padded input is tolerated.
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SenmlDecodeError(f"record {index}: 'vd' is not base64url: {exc}") from exc


def _number(raw: Any, label: str, index: int, binary: bool) -> float:
    kind = type(raw)
    if kind is float:
        number: float = raw
    elif kind is int or (binary and (kind is Decimal or kind is Fraction)):  # CBOR tag 4 (§6)
        try:
            number = float(raw)
        except OverflowError:
            raise SenmlDecodeError(f"record {index}: {label!r} is out of range") from None
    else:
        raise SenmlDecodeError(f"record {index}: {label!r} must be a number, got {_kind(raw)}")
    if not math.isfinite(number):
        raise SenmlDecodeError(f"record {index}: {label!r} must be finite, got {number}")
    return number


def _text(raw: Any, label: str, index: int) -> str:
    if type(raw) is not str:
        raise SenmlDecodeError(f"record {index}: {label!r} must be a string, got {_kind(raw)}")
    return raw


def _kind(raw: Any) -> str:
    return "null" if raw is None else type(raw).__name__
