"""Scalar values of metrics, property values, DataSet cells and template parameters.

All four carry their value in a protobuf ``oneof value`` (``int_value``, ``long_value``,
``float_value``, ...) next to a Sparkplug datatype code. This module turns the pair into a Python
value. Errors are ``ValueError``; callers add context and convert them.
"""

from __future__ import annotations

from ._model import DataType, ScalarValue

# (bits, signed) of every integer datatype. DateTime is a uint64 of epoch milliseconds.
_INTEGER_LAYOUT: dict[DataType, tuple[int, bool]] = {
    DataType.Int8: (8, True),
    DataType.Int16: (16, True),
    DataType.Int32: (32, True),
    DataType.Int64: (64, True),
    DataType.UInt8: (8, False),
    DataType.UInt16: (16, False),
    DataType.UInt32: (32, False),
    DataType.UInt64: (64, False),
    DataType.DateTime: (64, False),
}
_INT_FIELDS = frozenset({"int_value", "long_value"})
_FLOAT_FIELDS = frozenset({"float_value", "double_value"})
_FLOAT_TYPES = frozenset({DataType.Float, DataType.Double})
_STRING_TYPES = frozenset({DataType.String, DataType.Text, DataType.UUID})

# The datatype a value field implies when the sender left the datatype out (DATA messages SHOULD
# omit it, and then neither an alias nor a known name may tell us).
IMPLIED_TYPE: dict[str, DataType] = {
    "int_value": DataType.UInt32,
    "long_value": DataType.UInt64,
    "float_value": DataType.Float,
    "double_value": DataType.Double,
    "boolean_value": DataType.Boolean,
    "string_value": DataType.String,
    "bytes_value": DataType.Bytes,
    "dataset_value": DataType.DataSet,
    "template_value": DataType.Template,
    "propertyset_value": DataType.PropertySet,
    "propertysets_value": DataType.PropertySetList,
}

SCALAR_TYPES: frozenset[DataType] = frozenset(
    {*_INTEGER_LAYOUT, *_FLOAT_TYPES, *_STRING_TYPES, DataType.Boolean},
)


# Indexed by code: the enum is contiguous from 0, and a tuple index is far cheaper than DataType(code).
_BY_CODE: tuple[DataType, ...] = tuple(DataType)
assert all(datatype == code for code, datatype in enumerate(_BY_CODE))


def to_datatype(code: int) -> DataType:
    if 0 <= code < len(_BY_CODE):
        return _BY_CODE[code]
    raise ValueError(f"unknown datatype code {code}")


def fit_integer(datatype: DataType, raw: int) -> int:
    """Keep the low N bits of ``raw`` and sign-extend them for signed types.

    Int8/16/32 travel in a uint32 field and Int64 in a uint64, so a negative value arrives either
    sign-extended to the field width (-1 as 0xFFFFFFFF, or 0xFFFF_FFFF_FFFF_FFFF when a publisher
    used long_value) or as just its low bits (-1 as 0xFF for Int8). Masking to the type's width
    makes both forms decode to the same number.
    """
    bits, signed = _INTEGER_LAYOUT[datatype]
    value = raw & ((1 << bits) - 1)
    if signed and value >> (bits - 1):
        value -= 1 << bits
    return value


def text(raw: str | bytes) -> str:
    """A proto2 ``string`` field: the runtime hands back bytes when they are not valid UTF-8."""
    if isinstance(raw, bytes):
        return raw.decode("utf-8")  # raises UnicodeDecodeError, a ValueError
    return raw


def convert_scalar(datatype: DataType, field: str, raw: object) -> ScalarValue:
    """Convert the value held in oneof field ``field`` to the Python value of ``datatype``.

    Publishers disagree about which field carries a type (Int64 in int_value, UInt32 in long_value,
    Double in float_value, Boolean as 0/1), so every field of the right family is accepted.
    """
    if datatype in _INTEGER_LAYOUT:
        if field in _INT_FIELDS and isinstance(raw, int):
            return fit_integer(datatype, raw)
    elif datatype in _FLOAT_TYPES:
        if field in _FLOAT_FIELDS and isinstance(raw, float):
            return raw
    elif datatype is DataType.Boolean:
        if field == "boolean_value" and isinstance(raw, bool):
            return raw
        if field in _INT_FIELDS and isinstance(raw, int):
            return raw != 0
    elif datatype in _STRING_TYPES:
        if field == "string_value" and isinstance(raw, str | bytes):
            return text(raw)
    else:
        raise ValueError(f"{datatype.name} is not a scalar datatype")
    raise ValueError(f"datatype {datatype.name} cannot be carried in {field}")
