"""Array datatypes packed into Metric.bytes_value (payload chapter, "Array Types").

Expected bytes are the payload chapter's examples, except where the example contradicts the
chapter's own rule ("simply little-endian packed byte arrays"); those cases say so.
"""

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver.decode.sparkplug import DataType, pack_array, unpack_array

D = DataType

SPEC_EXAMPLES = [
    # The example prints [-23, 123] -> [0xEF, 0x7B], but -23 as int8 is 0xE9 (0xEF is -17).
    (D.Int8Array, (-23, 123), "e9 7b"),
    (D.Int16Array, (-30000, 30000), "d0 8a 30 75"),
    (D.Int32Array, (-1, 315338746), "ff ff ff ff fa af cb 12"),
    (
        D.Int64Array,
        (-4270929666821191986, -3601064768563266876),
        "ce 06 72 ac 18 9c ba c4 c4 ba 9c 18 ac 72 06 ce",
    ),
    (D.UInt8Array, (23, 250), "17 fa"),
    (D.UInt16Array, (30, 52360), "1e 00 88 cc"),
    (D.UInt32Array, (52, 3293969225), "34 00 00 00 49 fb 55 c4"),
    (D.UInt64Array, (52, 16444743074749521625), "34 00 00 00 00 00 00 00 d9 9e 02 d1 b2 76 37 e4"),
    # The Float/Double examples print each element big-endian (0x3F9D70A4 for 1.23f); the rule,
    # and every other example, is little-endian, which is what edge nodes send.
    (D.FloatArray, (1.5, -2.25), "00 00 c0 3f 00 00 10 c0"),
    (D.DoubleArray, (12.354213, 1022.9123213), struct.pack("<2d", 12.354213, 1022.9123213).hex(" ")),
    # 12 values: count 0x0C little-endian, then bits MSB first; the example's don't-care bits are 0.
    (
        D.BooleanArray,
        (False, False, True, True, False, True, False, False, True, True, False, True),
        "0c 00 00 00 34 d0",
    ),
    (D.StringArray, ("ABC", "hello"), "41 42 43 00 68 65 6c 6c 6f 00"),
    # The example drops each value's two zero high bytes; a DateTime is a full uint64.
    (D.DateTimeArray, (1256102875335, 1656107875000), "c7 d0 90 75 24 01 00 00 b8 ba b8 97 81 01 00 00"),
]


@pytest.mark.parametrize(
    ("datatype", "values", "hex_bytes"), SPEC_EXAMPLES, ids=[c[0].name for c in SPEC_EXAMPLES]
)
def test_array_matches_the_payload_chapter_example(
    datatype: DataType, values: tuple[object, ...], hex_bytes: str
) -> None:
    # tck-id-payloads-metric-datatype-value (array types 22-34)
    data = bytes.fromhex(hex_bytes)
    assert unpack_array(datatype, data) == values
    assert pack_array(datatype, values) == data  # type: ignore[arg-type]


def test_float_array_is_little_endian_per_element() -> None:
    assert unpack_array(D.FloatArray, struct.pack("<2f", 1.23, 89.341)) == pytest.approx(
        (1.23, 89.341), rel=1e-6
    )


@pytest.mark.parametrize(
    ("datatype", "data"),
    [
        (D.Int16Array, b"\x01"),
        (D.Int32Array, b"\x01\x02\x03\x04\x05"),
        (D.DoubleArray, b"\x00" * 9),
        (D.BooleanArray, b"\x01\x00"),  # no room for the 4-byte count
        (D.BooleanArray, b"\x09\x00\x00\x00\xff"),  # 9 values need 2 bytes of bits
        (D.BooleanArray, b"\x01\x00\x00\x00\x80\x00"),  # trailing byte
        (D.StringArray, b"\xff\xfe\x00"),  # not UTF-8
    ],
)
def test_malformed_array_raises_value_error(datatype: DataType, data: bytes) -> None:
    with pytest.raises(ValueError):
        unpack_array(datatype, data)


def test_empty_arrays() -> None:
    for datatype in (D.Int8Array, D.DoubleArray, D.StringArray, D.DateTimeArray):
        assert unpack_array(datatype, b"") == ()
    assert unpack_array(D.BooleanArray, b"\x00\x00\x00\x00") == ()


def test_string_array_without_final_terminator_is_accepted() -> None:
    assert unpack_array(D.StringArray, b"ABC\x00hello") == ("ABC", "hello")
    assert unpack_array(D.StringArray, b"\x00\x00") == ("", "")


def test_pack_rejects_strings_with_nul_and_non_array_types() -> None:
    with pytest.raises(ValueError):
        pack_array(D.StringArray, ["a\x00b"])
    with pytest.raises(ValueError):
        pack_array(D.Int32, [1])
    with pytest.raises(ValueError):
        unpack_array(D.Int32, b"\x00\x00\x00\x00")


@given(st.lists(st.booleans(), max_size=40))
def test_boolean_array_round_trips(values: list[bool]) -> None:
    assert unpack_array(D.BooleanArray, pack_array(D.BooleanArray, values)) == tuple(values)


@given(st.lists(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00")), max_size=8))
def test_string_array_round_trips(values: list[str]) -> None:
    assert unpack_array(D.StringArray, pack_array(D.StringArray, values)) == tuple(values)


@given(st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=16))
def test_int64_array_round_trips(values: list[int]) -> None:
    assert unpack_array(D.Int64Array, pack_array(D.Int64Array, values)) == tuple(values)
