"""SenML (RFC 8428) decoding and resolution, JSON and CBOR, and the optional JWS wrapping (RFC 7515).

The RFC cases are the examples of RFC 8428 §5.1 (and the CBOR dump of §6); each JSON example is also
re-encoded with the integer labels of §6 Table 4 and must resolve to the same records."""

import base64
import datetime
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from joserfc import jws
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey
from joserfc.registry import HeaderParameter

from receiver.decode._errors import DecodeError, UnsupportedFormat
from receiver.decode._jws import (
    DEFAULT_JWS_ALGORITHMS,
    DeviceKey,
    DeviceKeysError,
    KeyLookup,
    SignatureError,
    key_lookup,
    load_device_keys,
    verify_jws_pack,
)
from receiver.decode._senml import (
    CBOR_LABELS,
    SENML_CBOR,
    SENML_JSON,
    SenmlDecodeError,
    SenmlRecord,
    decode_senml,
)

NOW = 1_700_000_000.0
LABEL_CODES = {label: code for code, label in CBOR_LABELS.items()}


def _json(pack: list[dict[str, Any]]) -> list[SenmlRecord]:
    return decode_senml(json.dumps(pack).encode(), SENML_JSON, now_s=NOW)


def _cbor(pack: list[dict[Any, Any]]) -> list[SenmlRecord]:
    return decode_senml(cbor2.dumps(pack), SENML_CBOR, now_s=NOW)


def _as_cbor_pack(pack: list[dict[str, Any]]) -> list[dict[Any, Any]]:
    """The §6 encoding of a JSON pack: integer labels, vd as a byte string."""
    out = []
    for record in pack:
        converted: dict[Any, Any] = {}
        for label, value in record.items():
            if label == "vd":
                value = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            converted[LABEL_CODES.get(label, label)] = value
        out.append(converted)
    return out


# RFC 8428 §5.1.1 - §5.1.7
RFC_EXAMPLES: dict[str, list[dict[str, Any]]] = {
    "5.1.1 single data point": [{"n": "urn:dev:ow:10e2073a01080063", "u": "Cel", "v": 23.1}],
    "5.1.2 multiple data points": [
        {"bn": "urn:dev:ow:10e2073a01080063:", "n": "voltage", "u": "V", "v": 120.1},
        {"n": "current", "u": "A", "v": 1.2},
    ],
    "5.1.2 relative times": [
        {
            "bn": "urn:dev:ow:10e2073a0108006:",
            "bt": 1.276020076001e09,
            "bu": "A",
            "bver": 5,
            "n": "voltage",
            "u": "V",
            "v": 120.1,
        },
        {"n": "current", "t": -5, "v": 1.2},
        {"n": "current", "t": -4, "v": 1.3},
        {"n": "current", "t": -3, "v": 1.4},
        {"n": "current", "t": -2, "v": 1.5},
        {"n": "current", "t": -1, "v": 1.6},
        {"n": "current", "v": 1.7},
    ],
    "5.1.3 multiple measurements": [
        {"bn": "urn:dev:ow:10e2073a01080063", "bt": 1.320067464e09, "bu": "%RH", "v": 20},
        {"u": "lon", "v": 24.30621},
        {"u": "lat", "v": 60.07965},
        {"t": 60, "v": 20.3},
        {"u": "lon", "t": 60, "v": 24.30622},
        {"u": "lat", "t": 60, "v": 60.07965},
        {"t": 120, "v": 20.7},
        {"u": "lon", "t": 120, "v": 24.30623},
        {"u": "lat", "t": 120, "v": 60.07966},
        {"u": "%EL", "t": 150, "v": 98},
        {"t": 180, "v": 21.2},
        {"u": "lon", "t": 180, "v": 24.30628},
        {"u": "lat", "t": 180, "v": 60.07967},
    ],
    "5.1.5 multiple data types": [
        {"bn": "urn:dev:ow:10e2073a01080063:", "n": "temp", "u": "Cel", "v": 23.1},
        {"n": "label", "vs": "Machine Room"},
        {"n": "open", "vb": False},
        {"n": "nfv-reader", "vd": "aGkgCg"},
    ],
    "5.1.6 collection of resources": [
        {"bn": "2001:db8::2/", "bt": 1.320078429e09, "n": "temperature", "u": "Cel", "v": 25.2},
        {"n": "humidity", "u": "%RH", "v": 30},
        {"bn": "2001:db8::1/", "n": "temperature", "u": "Cel", "v": 12.3},
        {"n": "humidity", "u": "%RH", "v": 67},
    ],
    "5.1.7 setting an actuator": [
        {"bn": "urn:dev:ow:10e2073a01080063:"},
        {"n": "temp", "u": "Cel", "v": 23.1},
        {"n": "heat", "u": "/", "v": 1},
        {"n": "fan", "u": "/", "v": 0},
    ],
    "5.1.7 lights off": [
        {"bt": 1.320078429e09, "bu": "/", "n": "2001:db8::3", "v": 0.5},
        {"n": "2001:db8::4", "v": 0.5},
        {"n": "2001:db8::3", "t": 0.1, "v": 0},
        {"n": "2001:db8::4", "t": 0.1, "v": 0},
    ],
}

# RFC 8428 §6: the CBOR dump of the §5.1.2 relative-times example.
RFC_CBOR_DUMP = bytes.fromhex(
    """
    87 a7 21 78 1b 75 72 6e 3a 64 65 76 3a 6f 77 3a
    31 30 65 32 30 37 33 61 30 31 30 38 30 30 36 3a
    22 fb 41 d3 03 a1 5b 00 10 62 23 61 41 20 05 00
    67 76 6f 6c 74 61 67 65 01 61 56 02 fb 40 5e 06
    66 66 66 66 66 a3 00 67 63 75 72 72 65 6e 74 06
    24 02 fb 3f f3 33 33 33 33 33 33 a3 00 67 63 75
    72 72 65 6e 74 06 23 02 fb 3f f4 cc cc cc cc cc
    cd a3 00 67 63 75 72 72 65 6e 74 06 22 02 fb 3f
    f6 66 66 66 66 66 66 a3 00 67 63 75 72 72 65 6e
    74 06 21 02 f9 3e 00 a3 00 67 63 75 72 72 65 6e
    74 06 20 02 fb 3f f9 99 99 99 99 99 9a a3 00 67
    63 75 72 72 65 6e 74 06 00 02 fb 3f fb 33 33 33
    33 33 33
    """
)


@pytest.mark.parametrize("example", RFC_EXAMPLES, ids=list(RFC_EXAMPLES))
def test_rfc_examples_decode_the_same_from_json_and_cbor(example: str) -> None:
    pack = RFC_EXAMPLES[example]
    assert _json(pack) == _cbor(_as_cbor_pack(pack))


def test_rfc_cbor_dump_equals_the_json_example() -> None:
    assert len(RFC_CBOR_DUMP) == 0xC3
    from_cbor = decode_senml(RFC_CBOR_DUMP, SENML_CBOR, now_s=NOW)
    assert from_cbor == _json(RFC_EXAMPLES["5.1.2 relative times"])
    assert from_cbor[0] == SenmlRecord("urn:dev:ow:10e2073a0108006:voltage", "V", 120.1, None, 1276020076.001)
    assert [r.time_s for r in from_cbor[1:]] == pytest.approx([1276020076.001 + dt for dt in range(-5, 1)])
    assert {r.unit for r in from_cbor[1:]} == {"A"}  # bu applies where u is absent
    assert from_cbor[4].value == 1.5  # a half-precision float in the dump


def test_rfc_resolved_form_of_multiple_measurements() -> None:
    """§5.1.4 lists the resolved records of §5.1.3."""
    records = _json(RFC_EXAMPLES["5.1.3 multiple measurements"])
    name = "urn:dev:ow:10e2073a01080063"
    assert [(r.name, r.unit, r.time_s, r.value) for r in records] == [
        (name, "%RH", 1.320067464e09, 20),
        (name, "lon", 1.320067464e09, 24.30621),
        (name, "lat", 1.320067464e09, 60.07965),
        (name, "%RH", 1.320067524e09, 20.3),
        (name, "lon", 1.320067524e09, 24.30622),
        (name, "lat", 1.320067524e09, 60.07965),
        (name, "%RH", 1.320067584e09, 20.7),
        (name, "lon", 1.320067584e09, 24.30623),
        (name, "lat", 1.320067584e09, 60.07966),
        (name, "%EL", 1.320067614e09, 98),
        (name, "%RH", 1.320067644e09, 21.2),
        (name, "lon", 1.320067644e09, 24.30628),
        (name, "lat", 1.320067644e09, 60.07967),
    ]


def test_value_types_and_names() -> None:
    records = _json(RFC_EXAMPLES["5.1.5 multiple data types"])
    assert [(r.name, r.value) for r in records] == [
        ("urn:dev:ow:10e2073a01080063:temp", 23.1),
        ("urn:dev:ow:10e2073a01080063:label", "Machine Room"),
        ("urn:dev:ow:10e2073a01080063:open", False),
        ("urn:dev:ow:10e2073a01080063:nfv-reader", b"hi \n"),
    ]
    assert all(r.time_s == NOW for r in records)  # no time at all: "roughly now"
    assert records[0].unit == "Cel" and records[1].unit == ""


def test_base_name_changes_but_base_time_carries_on() -> None:
    records = _json(RFC_EXAMPLES["5.1.6 collection of resources"])
    assert [r.name for r in records] == [
        "2001:db8::2/temperature",
        "2001:db8::2/humidity",
        "2001:db8::1/temperature",
        "2001:db8::1/humidity",
    ]
    assert {r.time_s for r in records} == {1.320078429e09}


# Base value / sum / time resolution edge cases (§4.5.3, §4.5.4).
RESOLUTION_CASES: list[tuple[str, list[dict[str, Any]], list[tuple[Any, Any]]]] = [
    ("bv is added to v", [{"n": "a", "bv": 100, "v": 5}, {"n": "a", "v": -1}], [(105, None), (99, None)]),
    ("a record without value takes bv", [{"n": "a", "bv": 7}, {"n": "a"}], [(7, None), (7, None)]),
    (
        "bv never applies to vs/vb",
        [{"n": "a", "bv": 7, "vs": "x"}, {"n": "a", "vb": True}],
        [("x", None), (True, None)],
    ),
    (
        "a sum-only record does not take bv",
        [{"n": "a", "bv": 7, "v": 1}, {"n": "a", "s": 3}],
        [(8, None), (None, 3)],
    ),
    (
        "bs is added to s",
        [{"n": "e", "bs": 1000, "s": 5}, {"n": "e", "s": 7.5}],
        [(None, 1005), (None, 1007.5)],
    ),
    ("a record under bs has a sum", [{"n": "e", "bs": 1000}, {"n": "e", "v": 3}], [(None, 1000), (3, 1000)]),
    ("value and sum together", [{"n": "p", "u": "W", "v": 350, "s": 12_000}], [(350, 12_000)]),
    (
        "bv can be replaced",
        [{"n": "a", "bv": 10, "v": 1}, {"bv": 20, "n": "a", "v": 1}],
        [(11, None), (21, None)],
    ),
]


@pytest.mark.parametrize(("case", "pack", "expected"), RESOLUTION_CASES, ids=[c[0] for c in RESOLUTION_CASES])
def test_base_value_and_sum_resolution(
    case: str, pack: list[dict[str, Any]], expected: list[tuple[Any, Any]]
) -> None:
    for records in (_json(pack), _cbor(_as_cbor_pack(pack))):
        assert [(r.value, r.sum) for r in records] == expected


TIME_CASES: list[tuple[str, dict[str, Any], float]] = [
    ("no time is now", {}, NOW),
    ("negative t is the past", {"t": -5}, NOW - 5),
    ("positive t below 2**28 is the future", {"t": 2**28 - 1}, NOW + 2**28 - 1),
    ("2**28 itself is absolute", {"t": 2**28}, 2**28),
    ("bt + t reaching 2**28 is absolute", {"bt": 2**28 - 10, "t": 10}, 2**28),
    ("bt + t below 2**28 is relative", {"bt": 2**28 - 10, "t": 9.5}, NOW + 2**28 - 0.5),
    ("absolute bt with negative t", {"bt": 1.6e9, "t": -60}, 1.6e9 - 60),
]


@pytest.mark.parametrize(("case", "fields", "expected"), TIME_CASES, ids=[c[0] for c in TIME_CASES])
def test_relative_and_absolute_times(case: str, fields: dict[str, Any], expected: float) -> None:
    (record,) = _json([{"n": "x", "v": 1, **fields}])
    assert record.time_s == pytest.approx(expected)


def test_records_with_base_fields_only_measure_nothing() -> None:
    records = _json(RFC_EXAMPLES["5.1.7 setting an actuator"])
    assert [(r.name, r.value) for r in records] == [
        ("urn:dev:ow:10e2073a01080063:temp", 23.1),
        ("urn:dev:ow:10e2073a01080063:heat", 1),
        ("urn:dev:ow:10e2073a01080063:fan", 0),
    ]
    header = {"bn": "meter/", "bt": 1.6e9, "bu": "W", "bv": 100, "bs": 5000}
    assert [(r.name, r.value, r.sum) for r in _json([header, {"n": "p", "v": 1}])] == [("meter/p", 101, 5000)]
    assert _json([]) == []


def test_update_time_and_units() -> None:
    records = _json([{"bn": "m/", "bu": "W", "n": "p", "v": 1, "ut": 60}, {"n": "q", "u": "kWh", "s": 9}])
    assert (records[0].unit, records[0].update_time_s) == ("W", 60)
    assert (records[1].unit, records[1].update_time_s) == ("kWh", None)


def test_versions() -> None:
    assert _json([{"bver": 10, "n": "a", "v": 1}, {"bver": 10, "n": "b", "v": 2}])[1].name == "b"
    assert _json([{"bver": 26, "n": "a", "v": 1}])[0].value == 1  # RFC 9100 feature: secondary units
    assert _json([{"n": "a", "v": 1}, {"bver": 10, "n": "b", "v": 2}])[1].value == 2  # default is 10


def test_unknown_fields_are_ignored_and_cbor_accepts_decimal_fractions() -> None:
    assert _json([{"n": "a", "v": 1, "x-vendor": {"nested": [1]}}])[0].value == 1
    (record,) = _cbor([{0: "a", 2: Decimal("273.15"), 99: "unknown integer label", "ext": 1}])
    assert record.value == 273.15


def test_media_type_parameters_and_sensml() -> None:
    body = b'[{"n":"a","v":1}]'
    assert decode_senml(body, "Application/SenML+JSON; charset=utf-8", now_s=NOW)[0].value == 1
    assert decode_senml(body, "application/sensml+json", now_s=NOW)[0].value == 1


def test_unsupported_media_type_is_415() -> None:
    with pytest.raises(UnsupportedFormat) as caught:
        decode_senml(b"[]", "application/senml+xml", now_s=NOW)
    assert caught.value.status == 415


BAD_JSON: list[tuple[str, bytes, str]] = [
    ("malformed", b'[{"n":"a","v":1}', "malformed SenML JSON"),
    ("not an array", b'{"n":"a","v":1}', "must be a JSON array"),
    ("record not an object", b'[{"n":"a","v":1}, 5]', "record 1: must be a JSON object"),
    ("NaN is not JSON", b'[{"n":"a","v":NaN}]', "malformed SenML JSON"),
    ("no name", b'[{"v":1}]', "record 0: no name"),
    ("name with a space", b'[{"n":"a b","v":1}]', "record 0: name 'a b' must start"),
    ("name starting with -", b'[{"bn":"-dev/","n":"a","v":1}]', "name '-dev/a'"),
    ("name with a non-ASCII letter", b'[{"n":"temp\xc3\xa9","v":1}]', "record 0: name"),
    (
        "two value fields",
        b'[{"n":"a","v":1},{"n":"a","v":1,"vs":"x"}]',
        "record 1: more than one value field (v, vs)",
    ),
    ("no value and no sum", b'[{"n":"a"}]', "record 0: no value (v, vs, vb or vd) and no sum (s)"),
    ("v as a string", b'[{"n":"a","v":"1"}]', "record 0: 'v' must be a number, got str"),
    ("v as a boolean", b'[{"n":"a","v":true}]', "'v' must be a number, got bool"),
    ("vb as a number", b'[{"n":"a","vb":1}]', "'vb' must be a boolean, got int"),
    ("vs as a number", b'[{"n":"a","vs":1}]', "'vs' must be a string, got int"),
    ("vd not base64url", b'[{"n":"a","vd":"a*b"}]', "'vd' is not base64url"),
    ("n as null", b'[{"n":null,"v":1}]', "'n' must be a string, got null"),
    ("bt as a string", b'[{"bt":"1","n":"a","v":1}]', "'bt' must be a number"),
    ("t out of double range", b'[{"n":"a","v":1,"t":' + b"9" * 400 + b"}]", "malformed SenML JSON"),
    ("regular field but no value", b'[{"bn":"d/"},{"n":"a","u":"W","s":1},{"u":"W"}]', "record 2: no value"),
    ("must-understand field", b'[{"n":"a","v":1,"sig_":"x"}]', "unsupported must-understand field 'sig_'"),
    ("negative update time", b'[{"n":"a","v":1,"ut":-1}]', "'ut' must not be negative"),
    ("unknown version", b'[{"bver":11,"n":"a","v":1}]', "SenML version 11 is not supported"),
    ("version not an integer", b'[{"bver":10.5,"n":"a","v":1}]', "'bver' must be a positive integer"),
    ("version zero", b'[{"bver":0,"n":"a","v":1}]', "'bver' must be a positive integer"),
    (
        "version changes",
        b'[{"bver":10,"n":"a","v":1},{"bver":5,"n":"a","v":1}]',
        "record 1: version 5 differs",
    ),
    (
        "version changes from the default",
        b'[{"n":"a","v":1},{"bver":5,"n":"a","v":1}]',
        "differs from the pack",
    ),
]


@pytest.mark.parametrize(("case", "body", "reason"), BAD_JSON, ids=[c[0] for c in BAD_JSON])
def test_bad_json_is_rejected_with_a_reason(case: str, body: bytes, reason: str) -> None:
    with pytest.raises(SenmlDecodeError) as caught:
        decode_senml(body, SENML_JSON, now_s=NOW)
    assert reason in caught.value.reason
    assert caught.value.status == 400


BAD_CBOR: list[tuple[str, bytes, str]] = [
    ("truncated", cbor2.dumps([{0: "a", 2: 1.0}])[:-2], "malformed SenML CBOR"),
    ("trailing bytes", cbor2.dumps([{0: "a", 2: 1.0}]) + b"\x00", "bytes after the pack"),
    ("not an array", cbor2.dumps({0: "a", 2: 1.0}), "must be a CBOR array"),
    ("record not a map", cbor2.dumps([[0, "a"]]), "record 0: must be a CBOR map"),
    ("label twice", cbor2.dumps([{0: "a", 2: 1.0, "v": 2.0}]), "record 0: label 'v' given twice"),
    ("vd as text", cbor2.dumps([{0: "a", 8: "aGk"}]), "'vd' must be a CBOR byte string, got str"),
    ("vs as bytes", cbor2.dumps([{0: "a", 3: b"x"}]), "'vs' must be a string, got bytes"),
    ("NaN value", cbor2.dumps([{0: "a", 2: float("nan")}]), "'v' must be finite"),
    ("infinite time", cbor2.dumps([{0: "a", 2: 1.0, 6: float("inf")}]), "'t' must be finite"),
    ("float map key", cbor2.dumps([{0: "a", 2: 1.0, 1.5: 1}]), "map keys must be integers or text"),
    (
        "a tagged date as time",
        cbor2.dumps([{0: "a", 2: 1.0, 6: datetime.datetime.now(datetime.UTC)}]),
        "'t' must be a number",
    ),
    ("integer beyond double", cbor2.dumps([{0: "a", 2: 2**1100}]), "'v' is out of range"),
    ("version as text", cbor2.dumps([{-1: "10", 0: "a", 2: 1.0}]), "'bver' must be a positive integer"),
    ("too deep", b"\x81" * 40, "malformed SenML CBOR"),
]


@pytest.mark.parametrize(("case", "body", "reason"), BAD_CBOR, ids=[c[0] for c in BAD_CBOR])
def test_bad_cbor_is_rejected_with_a_reason(case: str, body: bytes, reason: str) -> None:
    with pytest.raises(SenmlDecodeError) as caught:
        decode_senml(body, SENML_CBOR, now_s=NOW)
    assert reason in caught.value.reason
    assert caught.value.status == 400


# JWS (RFC 7515 compact serialization) around a pack --------------------------------------------

PACK = b'[{"bn":"urn:dev:mac:0024befffe804ff1:","n":"energy","u":"kWh","s":1234.5}]'


@pytest.fixture(scope="module")
def ec_key() -> ECKey:
    return ECKey.generate_key("P-256")


@pytest.fixture(scope="module")
def rsa_key() -> RSAKey:
    return RSAKey.generate_key(2048)


@pytest.fixture(scope="module")
def ed_key() -> OKPKey:
    return OKPKey.generate_key("Ed25519")


def _public(key: ECKey | RSAKey | OKPKey) -> DeviceKey:
    public = type(key).import_key(key.as_dict(private=False))
    assert isinstance(public, RSAKey | ECKey | OKPKey)
    return public


def _keys(mapping: dict[str, DeviceKey]) -> KeyLookup:
    return key_lookup(mapping)


def _sign(
    key: Any,
    alg: str,
    kid: str | None = "meter-1",
    payload: bytes = PACK,
    header: dict[str, Any] | None = None,
) -> bytes:
    header = header or {}
    protected: dict[str, Any] = {"alg": alg, **header}
    if kid is not None:
        protected["kid"] = kid
    # A permissive signer: devices may add header parameters (even critical ones) we don't know.
    extra = {name: HeaderParameter(name, lambda _: None) for name in header}
    signer = jws.JWSRegistry(header_registry=extra, algorithms=[alg], strict_check_header=False)
    return jws.serialize_compact(protected, payload, key, registry=signer).encode()


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


@pytest.mark.parametrize(
    ("alg", "fixture"),
    [("ES256", "ec_key"), ("RS256", "rsa_key"), ("PS256", "rsa_key"), ("Ed25519", "ed_key")],
)
def test_signed_pack_verifies_and_decodes(alg: str, fixture: str, request: pytest.FixtureRequest) -> None:
    key = request.getfixturevalue(fixture)
    payload, kid = verify_jws_pack(
        _sign(key, alg, header={"cty": "senml+json"}), _keys({"meter-1": _public(key)})
    )
    assert (payload, kid) == (PACK, "meter-1")
    (record,) = decode_senml(payload, SENML_JSON, now_s=NOW)
    assert (record.name, record.unit, record.sum) == ("urn:dev:mac:0024befffe804ff1:energy", "kWh", 1234.5)


def test_signed_cbor_pack_verifies(ec_key: ECKey) -> None:
    body = cbor2.dumps([{-2: "dev/", 0: "t", 2: 21.5}])
    payload, _ = verify_jws_pack(_sign(ec_key, "ES256", payload=body), _keys({"meter-1": _public(ec_key)}))
    assert decode_senml(payload, SENML_CBOR, now_s=NOW)[0].value == 21.5


def test_unknown_header_parameters_are_ignored(ec_key: ECKey) -> None:
    compact = _sign(ec_key, "ES256", header={"x-firmware": "1.2"})
    assert verify_jws_pack(compact, _keys({"meter-1": _public(ec_key)}))[0] == PACK


def _bad_signature(ec_key: ECKey) -> bytes:
    header, _payload, signature = _sign(ec_key, "ES256").split(b".")
    tampered = _b64(PACK.replace(b"1234.5", b"9234.5"))
    return b".".join((header, tampered, signature))


def _alg_none(ec_key: ECKey) -> bytes:
    return _b64(b'{"alg":"none","kid":"meter-1"}') + b"." + _b64(PACK) + b"."


def _alg_none_uppercase(ec_key: ECKey) -> bytes:
    return _b64(b'{"alg":"NONE","kid":"meter-1"}') + b"." + _b64(PACK) + b"."


def _hs256(ec_key: ECKey) -> bytes:
    return jws.serialize_compact(
        {"alg": "HS256", "kid": "meter-1"}, PACK, OctKey.import_key("secret" * 6)
    ).encode()


def _other_key(ec_key: ECKey) -> bytes:
    return _sign(ECKey.generate_key("P-256"), "ES256")


def _unknown_kid(ec_key: ECKey) -> bytes:
    return _sign(ec_key, "ES256", kid="meter-2")


def _no_kid(ec_key: ECKey) -> bytes:
    return _sign(ec_key, "ES256", kid=None)


def _alg_key_mismatch(ec_key: ECKey) -> bytes:
    return _sign(ECKey.generate_key("P-384"), "ES384")  # registered key is P-256


def _eddsa(ec_key: ECKey) -> bytes:
    header = _b64(b'{"alg":"EdDSA","kid":"meter-1"}')
    return header + b"." + _b64(PACK) + b"." + _b64(b"x" * 64)


def _unknown_crit(ec_key: ECKey) -> bytes:
    return _sign(ec_key, "ES256", header={"crit": ["exp-policy"], "exp-policy": 1})


SIGNATURE_FAILURES = [
    ("tampered payload", _bad_signature, "does not verify"),
    ("alg none", _alg_none, "alg 'none'"),
    ("alg NONE", _alg_none_uppercase, "alg 'none'"),
    ("HMAC", _hs256, "algorithm 'HS256' is not accepted"),
    ("another device's key", _other_key, "does not verify"),
    ("unknown kid", _unknown_kid, "unknown JWS key id 'meter-2'"),
    ("no kid", _no_kid, "no 'kid'"),
    ("key unfit for the algorithm", _alg_key_mismatch, "not verified with key 'meter-1'"),
    ("deprecated EdDSA not accepted by default", _eddsa, "algorithm 'EdDSA' is not accepted"),
    ("unknown critical header", _unknown_crit, "not verified"),
]


@pytest.mark.parametrize(
    ("case", "build", "reason"), SIGNATURE_FAILURES, ids=[c[0] for c in SIGNATURE_FAILURES]
)
def test_signature_failures_are_401(case: str, build: Any, reason: str, ec_key: ECKey) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_jws_pack(build(ec_key), _keys({"meter-1": _public(ec_key)}))
    assert caught.value.status == 401
    assert reason in caught.value.reason


def test_key_lookup_may_raise_key_error(ec_key: ECKey) -> None:
    def lookup(kid: str | None) -> DeviceKey:
        raise KeyError(kid)

    with pytest.raises(SignatureError, match="unknown JWS key id"):
        verify_jws_pack(_sign(ec_key, "ES256"), lookup)


MALFORMED_JWS = [
    ("two segments", b"abc.def", "malformed JWS"),
    ("header not JSON", _b64(b"not json") + b"." + _b64(PACK) + b".sig", "malformed JWS"),
    (
        "kid not a string",
        _b64(b'{"alg":"ES256","kid":7}') + b"." + _b64(PACK) + b".c2ln",
        "'kid' must be a string",
    ),
]


@pytest.mark.parametrize(("case", "compact", "reason"), MALFORMED_JWS, ids=[c[0] for c in MALFORMED_JWS])
def test_malformed_jws_is_400(case: str, compact: bytes, reason: str, ec_key: ECKey) -> None:
    with pytest.raises(DecodeError) as caught:
        verify_jws_pack(compact, _keys({"meter-1": _public(ec_key)}))
    assert not isinstance(caught.value, SignatureError)
    assert caught.value.status == 400
    assert reason in caught.value.reason


def test_detached_payload_is_refused(ec_key: ECKey) -> None:
    header, _, signature = _sign(ec_key, "ES256").split(b".")
    with pytest.raises(DecodeError) as caught:
        verify_jws_pack(header + b".." + signature, _keys({"meter-1": _public(ec_key)}))
    assert caught.value.status in (400, 401)


def test_default_algorithms_are_asymmetric_only() -> None:
    assert not {a for a in DEFAULT_JWS_ALGORITHMS if a.startswith("HS") or a == "none"}


# Device key store ------------------------------------------------------------------------------


def _pem_public(private: Any) -> bytes:
    return bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def _certificate(private: ec.EllipticCurvePrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "meter-cert")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(private, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def test_load_keys_from_a_directory(tmp_path: Path, ec_key: ECKey) -> None:
    ec_private = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "meter-ec.pem").write_bytes(_pem_public(ec_private))
    (tmp_path / "meter-rsa.pem").write_bytes(
        _pem_public(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    )
    (tmp_path / "meter-ed.pem").write_bytes(_pem_public(ed25519.Ed25519PrivateKey.generate()))
    (tmp_path / "meter-cert.pem").write_bytes(_certificate(ec.generate_private_key(ec.SECP256R1())))
    (tmp_path / "file-name.jwk").write_text(json.dumps({**ec_key.as_dict(private=False), "kid": "meter-jwk"}))
    (tmp_path / "fallback.jwk").write_text(json.dumps(ec_key.as_dict(private=False)))
    jwks = {"keys": [{**ec_key.as_dict(private=False), "kid": "set-1"}]}
    (tmp_path / "set.json").write_text(json.dumps(jwks))
    (tmp_path / "README.txt").write_text("ignored")
    (tmp_path / ".hidden.pem").write_text("ignored")
    keys = load_device_keys(tmp_path)
    assert sorted(keys) == [
        "fallback",
        "meter-cert",
        "meter-ec",
        "meter-ed",
        "meter-jwk",
        "meter-rsa",
        "set-1",
    ]
    assert isinstance(keys["meter-rsa"], RSAKey) and isinstance(keys["meter-ed"], OKPKey)
    assert verify_jws_pack(_sign(ec_key, "ES256", kid="meter-jwk"), key_lookup(keys))[1] == "meter-jwk"


def test_load_keys_from_one_json_file(tmp_path: Path, ec_key: ECKey) -> None:
    mapping = tmp_path / "keys.json"
    pem = _pem_public(ed25519.Ed25519PrivateKey.generate()).decode()
    mapping.write_text(json.dumps({"a": ec_key.as_dict(private=False), "b": pem}))
    assert sorted(load_device_keys(mapping)) == ["a", "b"]
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**ec_key.as_dict(private=False), "kid": "k1"}]}))
    assert list(load_device_keys(str(jwks))) == ["k1"]


def test_key_store_problems_are_all_reported(tmp_path: Path, ec_key: ECKey) -> None:
    private_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "private.pem").write_bytes(private_pem)
    (tmp_path / "private.jwk").write_text(json.dumps(ec_key.as_dict(private=True)))
    (tmp_path / "oct.jwk").write_text(json.dumps({"kty": "oct", "k": "c2VjcmV0"}))
    (tmp_path / "garbage.pem").write_text("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    (tmp_path / "broken.json").write_text("{")
    (tmp_path / "set.json").write_text(json.dumps({"keys": [ec_key.as_dict(private=False)]}))
    (tmp_path / "dup1.jwk").write_text(json.dumps({**ec_key.as_dict(private=False), "kid": "same"}))
    (tmp_path / "dup2.jwk").write_text(json.dumps({**ec_key.as_dict(private=False), "kid": "same"}))
    with pytest.raises(DeviceKeysError) as caught:
        load_device_keys(tmp_path)
    problems = "\n".join(caught.value.problems)
    assert len(caught.value.problems) == 7
    for expected in (
        "private.pem: kid 'private': this is a private key",
        "private.jwk: kid 'private': this is a private key",
        "oct.jwk: kid 'oct': symmetric (oct) keys are not accepted",
        "garbage.pem: kid 'garbage'",
        "broken.json: not JSON",
        "set.json keys[0]: key has no kid",
        "dup2.jwk: kid 'same' is defined twice",
    ):
        assert expected in problems


def test_missing_or_empty_key_store(tmp_path: Path) -> None:
    with pytest.raises(DeviceKeysError, match="no such file"):
        load_device_keys(tmp_path / "absent")
    with pytest.raises(DeviceKeysError, match="no keys found"):
        load_device_keys(tmp_path)
