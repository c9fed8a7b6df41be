"""Typed results of Sparkplug B payload decoding (no protobuf types leak out of the decoder)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from types import MappingProxyType
from typing import TypeAlias


class DataType(IntEnum):
    """Datatype codes of the Sparkplug B payload chapter (same numbers as the .proto enum)."""

    Unknown = 0
    Int8 = 1
    Int16 = 2
    Int32 = 3
    Int64 = 4
    UInt8 = 5
    UInt16 = 6
    UInt32 = 7
    UInt64 = 8
    Float = 9
    Double = 10
    Boolean = 11
    String = 12
    DateTime = 13
    Text = 14
    UUID = 15
    DataSet = 16
    Bytes = 17
    File = 18
    Template = 19
    PropertySet = 20
    PropertySetList = 21
    Int8Array = 22
    Int16Array = 23
    Int32Array = 24
    Int64Array = 25
    UInt8Array = 26
    UInt16Array = 27
    UInt32Array = 28
    UInt64Array = 29
    FloatArray = 30
    DoubleArray = 31
    BooleanArray = 32
    StringArray = 33
    DateTimeArray = 34


INTEGER_TYPES = frozenset(
    {
        DataType.Int8,
        DataType.Int16,
        DataType.Int32,
        DataType.Int64,
        DataType.UInt8,
        DataType.UInt16,
        DataType.UInt32,
        DataType.UInt64,
    }
)
FLOAT_TYPES = frozenset({DataType.Float, DataType.Double})


# int for every integer type and DateTime (epoch ms); str for String, Text and UUID.
ScalarValue: TypeAlias = int | float | bool | str
ArrayValue: TypeAlias = tuple[int, ...] | tuple[float, ...] | tuple[bool, ...] | tuple[str, ...]
PropertyScalar: TypeAlias = ScalarValue | None


@dataclass(frozen=True, slots=True)
class DecodedDataSet:
    """A DataSet value: ``rows[r][c]`` has the Python type of ``types[c]``; None is a missing cell."""

    columns: tuple[str, ...]
    types: tuple[DataType, ...]
    rows: tuple[tuple[ScalarValue | None, ...], ...]


MetricValue: TypeAlias = ScalarValue | bytes | ArrayValue | DecodedDataSet | None

EMPTY_PROPERTIES: Mapping[str, PropertyScalar] = MappingProxyType({})
_NO_ALIASES: Mapping[int, AliasEntry] = MappingProxyType({})
_NO_DEFINITIONS: Mapping[str, TemplateDefinition] = MappingProxyType({})


# Shared read-only empties: dataclasses reject a mapping as a plain default, and a fresh dict per
# metric would cost an allocation on the hot path.
def _empty_properties() -> Mapping[str, PropertyScalar]:
    return EMPTY_PROPERTIES


def _no_aliases() -> Mapping[int, AliasEntry]:
    return _NO_ALIASES


def _no_definitions() -> Mapping[str, TemplateDefinition]:
    return _NO_DEFINITIONS


@dataclass(frozen=True, slots=True)
class AliasEntry:
    """What a birth bound an alias to: DATA messages may carry only the alias and no datatype."""

    name: str
    datatype: DataType


@dataclass(slots=True)
class DecodedMetric:
    """One metric value; template members arrive flattened as ``Template/Member`` names.

    Not frozen on purpose: one is built per metric on the hot path, and a frozen dataclass's
    ``__init__`` costs ~5x a plain one (measured 815 ns vs 167 ns). Treat it as read-only."""

    name: str
    alias: int | None
    timestamp_ms: int | None
    datatype: DataType
    value: MetricValue
    is_null: bool = False
    is_historical: bool = False
    is_transient: bool = False
    properties: Mapping[str, PropertyScalar] = field(default_factory=_empty_properties)


@dataclass(frozen=True, slots=True)
class TemplateDefinition:
    """A template definition from an NBIRTH (``is_definition`` true): recorded, never emitted."""

    name: str
    version: str | None
    members: Mapping[str, DataType]
    parameters: Mapping[str, PropertyScalar]


@dataclass(frozen=True, slots=True)
class DecodedPayload:
    """A decoded Sparkplug B payload.

    ``declared_aliases`` holds every alias the payload binds to a name (births declare them), the
    first binding winning; ``duplicate_aliases`` lists aliases bound more than once, which breaks
    tck-id-payloads-alias-uniqueness. ``unknown_aliases`` holds aliases that arrived without a name
    and could not be resolved: their metrics are left out of ``metrics``.
    """

    timestamp_ms: int | None
    seq: int | None
    uuid: str | None
    body: bytes | None
    metrics: tuple[DecodedMetric, ...]
    unknown_aliases: tuple[int, ...] = ()
    declared_aliases: Mapping[int, AliasEntry] = field(default_factory=_no_aliases)
    duplicate_aliases: tuple[int, ...] = ()
    template_definitions: Mapping[str, TemplateDefinition] = field(default_factory=_no_definitions)
