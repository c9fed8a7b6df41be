"""Sparkplug B array values: the payload chapter packs them by hand into ``Metric.bytes_value``.

Layouts (payload chapter, "Array Types"):

- numeric and DateTime arrays: little-endian packed elements (DateTime = uint64 epoch ms);
- BooleanArray: a 4-byte little-endian element count, then the bits, most significant bit first,
  padded with zero bits to a whole byte;
- StringArray: UTF-8 strings, each terminated by a NUL byte.

Both directions raise ``ValueError`` (or ``struct.error``) on bad input; the payload decoder turns
that into ``SparkplugDecodeError`` with the metric's name.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from ._model import ArrayValue, DataType

# struct codes; '<' is applied when the format string is built.
_FIXED_WIDTH: dict[DataType, str] = {
    DataType.Int8Array: "b",
    DataType.Int16Array: "h",
    DataType.Int32Array: "i",
    DataType.Int64Array: "q",
    DataType.UInt8Array: "B",
    DataType.UInt16Array: "H",
    DataType.UInt32Array: "I",
    DataType.UInt64Array: "Q",
    DataType.FloatArray: "f",
    DataType.DoubleArray: "d",
    DataType.DateTimeArray: "Q",
}
_ITEM_SIZE: dict[DataType, int] = {dt: struct.calcsize("<" + code) for dt, code in _FIXED_WIDTH.items()}
_BOOL_COUNT = struct.Struct("<I")

ARRAY_TYPES: frozenset[DataType] = frozenset(
    {*_FIXED_WIDTH, DataType.BooleanArray, DataType.StringArray},
)


def unpack_array(datatype: DataType, data: bytes) -> ArrayValue:
    """Decode ``bytes_value`` of an array metric into a tuple of Python values."""
    code = _FIXED_WIDTH.get(datatype)
    if code is not None:
        size = _ITEM_SIZE[datatype]
        count, extra = divmod(len(data), size)
        if extra:
            raise ValueError(
                f"{datatype.name} of {len(data)} bytes is not a whole number of {size}-byte items"
            )
        values: ArrayValue = struct.unpack(f"<{count}{code}", data)
        return values
    if datatype is DataType.BooleanArray:
        return _unpack_booleans(data)
    if datatype is DataType.StringArray:
        return _unpack_strings(data)
    raise ValueError(f"{datatype.name} is not an array type")


def pack_array(
    datatype: DataType, values: Sequence[int] | Sequence[float] | Sequence[bool] | Sequence[str]
) -> bytes:
    """Encode ``values`` as the ``bytes_value`` of an array metric (the inverse of unpack_array)."""
    code = _FIXED_WIDTH.get(datatype)
    if code is not None:
        return struct.pack(f"<{len(values)}{code}", *values)
    if datatype is DataType.BooleanArray:
        return _pack_booleans([bool(v) for v in values])
    if datatype is DataType.StringArray:
        strings = [v for v in values if isinstance(v, str)]
        if len(strings) != len(values):
            raise ValueError("StringArray values must all be str")
        return _pack_strings(strings)
    raise ValueError(f"{datatype.name} is not an array type")


def _unpack_booleans(data: bytes) -> tuple[bool, ...]:
    if len(data) < _BOOL_COUNT.size:
        raise ValueError(f"BooleanArray of {len(data)} bytes has no 4-byte count")
    (count,) = _BOOL_COUNT.unpack_from(data)
    bits = data[_BOOL_COUNT.size :]
    if len(bits) != (count + 7) // 8:
        raise ValueError(f"BooleanArray says {count} values but carries {len(bits)} bytes of bits")
    return tuple(bool(bits[i >> 3] & (0x80 >> (i & 7))) for i in range(count))


def _pack_booleans(values: Sequence[bool]) -> bytes:
    packed = bytearray((len(values) + 7) // 8)
    for i, value in enumerate(values):
        if value:
            packed[i >> 3] |= 0x80 >> (i & 7)
    return _BOOL_COUNT.pack(len(values)) + bytes(packed)


def _unpack_strings(data: bytes) -> tuple[str, ...]:
    if not data:
        return ()
    parts = data.split(b"\0")
    # A well-formed array ends with NUL, leaving an empty last part. Some publishers omit the final
    # terminator; the text is unambiguous either way, so accept it.
    if parts[-1] == b"":
        parts.pop()
    return tuple(part.decode("utf-8") for part in parts)


def _pack_strings(values: Sequence[str]) -> bytes:
    out = bytearray()
    for value in values:
        encoded = value.encode("utf-8")
        if b"\0" in encoded:
            raise ValueError("StringArray values cannot contain NUL")
        out += encoded + b"\0"
    return bytes(out)
