"""Sparkplug B payload bytes -> ``DecodedPayload``: aliases resolved, values typed, templates flattened.

Parsing is split from decoding because the host session must read ``seq`` to put messages in
order before it can know which alias table applies (a DBIRTH can arrive after the DDATA that uses
its aliases): ``parse_payload`` is the cheap first step, ``decode_message`` the second.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from types import MappingProxyType

from google.protobuf.message import DecodeError as ProtobufDecodeError

from ._arrays import ARRAY_TYPES, unpack_array
from ._errors import SparkplugDecodeError
from ._model import (
    EMPTY_PROPERTIES,
    AliasEntry,
    DataType,
    DecodedDataSet,
    DecodedMetric,
    DecodedPayload,
    MetricValue,
    PropertyScalar,
    ScalarValue,
    TemplateDefinition,
)
from ._pb import sparkplug_b_pb2 as pb
from ._values import IMPLIED_TYPE, SCALAR_TYPES, convert_scalar, text, to_datatype

_NO_ALIASES: Mapping[int, AliasEntry] = MappingProxyType({})
_NO_TYPES: Mapping[str, DataType] = MappingProxyType({})
_NO_DEFINITIONS: Mapping[str, TemplateDefinition] = MappingProxyType({})
_BINARY_TYPES = frozenset({DataType.Bytes, DataType.File})


def parse_payload(data: bytes) -> pb.Payload:
    """Parse the protobuf only; raises ``SparkplugDecodeError`` when the bytes are not a Payload."""
    message = pb.Payload()
    try:
        message.ParseFromString(data)
    except ProtobufDecodeError as exc:
        raise SparkplugDecodeError(f"malformed Sparkplug B payload: {exc}") from exc
    return message


def decode_payload(
    data: bytes,
    aliases: Mapping[int, AliasEntry] | None = None,
    *,
    known_types: Mapping[str, DataType] | None = None,
) -> DecodedPayload:
    """Decode one Sparkplug B payload.

    ``aliases`` resolves metrics that carry only an alias (the edge node's table from its births);
    an alias missing from it is reported in ``unknown_aliases``, not raised. ``known_types`` gives
    the datatype of metrics, by (flattened) name, that DATA messages send without one. Any malformed
    content raises ``SparkplugDecodeError``.
    """
    return decode_message(parse_payload(data), aliases, known_types=known_types)


def decode_message(
    message: pb.Payload,
    aliases: Mapping[int, AliasEntry] | None = None,
    *,
    known_types: Mapping[str, DataType] | None = None,
) -> DecodedPayload:
    """Second step of ``decode_payload``, for a message from ``parse_payload``."""
    decoder = _MetricDecoder(aliases or _NO_ALIASES, known_types or _NO_TYPES)
    top_level = decoder.top_level
    metrics = message.metrics
    for index, metric in enumerate(metrics):
        try:  # free unless raised (Python 3.11 zero-cost exceptions)
            top_level(metric)
        except (ValueError, struct.error) as exc:
            raise SparkplugDecodeError(f"metric #{index} ({_label(metric)}): {exc}") from exc
    try:
        uuid = text(message.uuid) if message.uuid else None
    except ValueError as exc:
        raise SparkplugDecodeError(f"payload uuid: {exc}") from exc
    return DecodedPayload(
        message.timestamp if message.HasField("timestamp") else None,
        message.seq if message.HasField("seq") else None,
        uuid,
        message.body if message.HasField("body") else None,
        tuple(decoder.metrics),
        tuple(decoder.unknown_aliases),
        decoder.declared_aliases or _NO_ALIASES,
        tuple(decoder.duplicate_aliases),
        decoder.definitions or _NO_DEFINITIONS,
    )


def _label(metric: pb.Payload.Metric) -> str:
    if metric.name:
        return repr(metric.name)
    return f"alias {metric.alias}" if metric.HasField("alias") else "no name or alias"


class _Inherited:
    """What template members take from their instance when they don't set it themselves."""

    __slots__ = ("is_historical", "is_transient", "properties", "timestamp_ms")

    def __init__(
        self,
        timestamp_ms: int | None,
        is_historical: bool,
        is_transient: bool,
        properties: Mapping[str, PropertyScalar],
    ) -> None:
        self.timestamp_ms = timestamp_ms
        self.is_historical = is_historical
        self.is_transient = is_transient
        self.properties = properties


class _MetricDecoder:
    __slots__ = (
        "aliases",
        "declared_aliases",
        "definitions",
        "duplicate_aliases",
        "known_types",
        "metrics",
        "unknown_aliases",
    )

    def __init__(self, aliases: Mapping[int, AliasEntry], known_types: Mapping[str, DataType]) -> None:
        self.aliases = aliases
        self.known_types = known_types
        self.metrics: list[DecodedMetric] = []
        self.unknown_aliases: list[int] = []
        self.declared_aliases: dict[int, AliasEntry] = {}
        self.duplicate_aliases: list[int] = []
        self.definitions: dict[str, TemplateDefinition] = {}

    def top_level(self, metric: pb.Payload.Metric) -> None:
        # The hot path: called for every metric of every DATA message, hence the few HasField calls
        # (an empty name cannot name anything, so it counts as absent).
        raw_name = metric.name
        if raw_name:
            name = text(raw_name)
            alias = metric.alias if metric.HasField("alias") else None
            datatype = self._datatype(metric, name)
            if alias is not None:
                if alias in self.declared_aliases:
                    self.duplicate_aliases.append(alias)
                else:
                    self.declared_aliases[alias] = AliasEntry(name, datatype)
        elif metric.HasField("alias"):
            alias = metric.alias
            entry = self.aliases.get(alias)
            if entry is None:
                self.unknown_aliases.append(alias)
                return
            name = entry.name
            # DATA messages should omit the datatype: the birth's, bound to the alias, applies.
            datatype = to_datatype(metric.datatype) if metric.datatype else entry.datatype
        else:
            raise ValueError("metric has neither a name nor an alias")
        self._emit(metric, name, alias, datatype, None)

    def _datatype(self, metric: pb.Payload.Metric, name: str) -> DataType:
        # Births must carry the datatype; DATA messages should not, so fall back to what the birth
        # said for this name, and only then to what the value field implies.
        if metric.datatype:
            return to_datatype(metric.datatype)
        known = self.known_types.get(name)
        if known is not None:
            return known
        field = metric.WhichOneof("value")
        return DataType.Unknown if field is None else IMPLIED_TYPE.get(field, DataType.Unknown)

    def _emit(
        self,
        metric: pb.Payload.Metric,
        name: str,
        alias: int | None,
        datatype: DataType,
        inherited: _Inherited | None,
    ) -> None:
        if inherited is None:
            timestamp_ms = metric.timestamp if metric.HasField("timestamp") else None
            is_historical = metric.is_historical
            is_transient = metric.is_transient
            properties = _properties(metric.properties) if metric.HasField("properties") else EMPTY_PROPERTIES
        else:
            timestamp_ms = metric.timestamp if metric.HasField("timestamp") else inherited.timestamp_ms
            is_historical = (
                metric.is_historical if metric.HasField("is_historical") else inherited.is_historical
            )
            is_transient = metric.is_transient if metric.HasField("is_transient") else inherited.is_transient
            properties = inherited.properties
            if metric.HasField("properties"):
                own = _properties(metric.properties)
                properties = {**properties, **own} if properties else own
        field = metric.WhichOneof("value")
        if field == "template_value" and datatype is DataType.Template and not metric.is_null:
            self._template(
                metric.template_value, name, _Inherited(timestamp_ms, is_historical, is_transient, properties)
            )
            return
        value = _value(metric, datatype, field)
        # A metric without any value can only mean null (some publishers omit the flag).
        is_null = value is None and (metric.is_null or field is None)
        self.metrics.append(
            DecodedMetric(
                name, alias, timestamp_ms, datatype, value, is_null, is_historical, is_transient, properties
            )
        )

    def _template(self, template: pb.Payload.Template, name: str, inherited: _Inherited) -> None:
        """Flatten an instance into ``name/member`` metrics; record a definition instead."""
        if template.is_definition:
            self.definitions[name] = _definition(name, template)
            return
        for member in template.metrics:
            if not member.name:
                raise ValueError("template member has no name")
            member_name = f"{name}/{text(member.name)}"
            member_alias = member.alias if member.HasField("alias") else None
            self._emit(member, member_name, member_alias, self._datatype(member, member_name), inherited)


def _value(metric: pb.Payload.Metric, datatype: DataType, field: str | None) -> MetricValue:
    if metric.is_null or field is None or field == "extension_value":
        return None
    if datatype in SCALAR_TYPES:
        return convert_scalar(datatype, field, getattr(metric, field))
    if field == "bytes_value":
        if datatype in _BINARY_TYPES:
            return metric.bytes_value
        if datatype in ARRAY_TYPES:
            return unpack_array(datatype, metric.bytes_value)
    if datatype is DataType.DataSet and field == "dataset_value":
        return _dataset(metric.dataset_value)
    if datatype in (DataType.PropertySet, DataType.PropertySetList, DataType.Unknown):
        raise ValueError(f"{datatype.name} is not a metric datatype")
    raise ValueError(f"datatype {datatype.name} cannot be carried in {field}")


def _dataset(dataset: pb.Payload.DataSet) -> DecodedDataSet:
    columns = tuple(text(column) for column in dataset.columns)
    types = tuple(to_datatype(code) for code in dataset.types)
    if len(columns) != len(types):
        raise ValueError(f"DataSet has {len(columns)} columns but {len(types)} types")
    if dataset.HasField("num_of_columns") and dataset.num_of_columns != len(types):
        raise ValueError(f"DataSet num_of_columns is {dataset.num_of_columns} but it has {len(types)} types")
    for datatype in types:
        if datatype not in SCALAR_TYPES:
            raise ValueError(f"DataSet column type {datatype.name} is not a basic type")
    rows: list[tuple[ScalarValue | None, ...]] = []
    for index, row in enumerate(dataset.rows):
        if len(row.elements) != len(types):
            raise ValueError(f"DataSet row {index} has {len(row.elements)} values for {len(types)} columns")
        rows.append(tuple(_cell(datatype, cell) for datatype, cell in zip(types, row.elements, strict=True)))
    return DecodedDataSet(columns=columns, types=types, rows=tuple(rows))


def _cell(datatype: DataType, cell: pb.Payload.DataSet.DataSetValue) -> ScalarValue | None:
    field = cell.WhichOneof("value")
    if field is None or field == "extension_value":
        return None
    return convert_scalar(datatype, field, getattr(cell, field))


def _properties(
    properties: pb.Payload.PropertySet,
    prefix: str = "",
    into: dict[str, PropertyScalar] | None = None,
) -> dict[str, PropertyScalar]:
    """Flatten a PropertySet; nested sets become ``key/sub`` and set lists ``key/<index>/sub``."""
    out: dict[str, PropertyScalar] = {} if into is None else into
    if len(properties.keys) != len(properties.values):
        raise ValueError(f"PropertySet has {len(properties.keys)} keys but {len(properties.values)} values")
    for key, prop in zip(properties.keys, properties.values, strict=True):
        name = prefix + text(key)
        field = prop.WhichOneof("value")
        if prop.is_null or field is None or field == "extension_value":
            out[name] = None
        elif field == "propertyset_value":
            _properties(prop.propertyset_value, f"{name}/", out)
        elif field == "propertysets_value":
            for index, nested in enumerate(prop.propertysets_value.propertyset):
                _properties(nested, f"{name}/{index}/", out)
        else:
            datatype = to_datatype(prop.type) if prop.type else IMPLIED_TYPE[field]
            out[name] = convert_scalar(datatype, field, getattr(prop, field))
    return out


def _definition(name: str, template: pb.Payload.Template) -> TemplateDefinition:
    members: dict[str, DataType] = {}
    for member in template.metrics:
        if not member.HasField("name"):
            raise ValueError("template definition member has no name")
        members[text(member.name)] = to_datatype(member.datatype)
    parameters: dict[str, PropertyScalar] = {}
    for parameter in template.parameters:
        field = parameter.WhichOneof("value")
        value: PropertyScalar = None
        if field is not None and field != "extension_value":
            datatype = to_datatype(parameter.type) if parameter.type else IMPLIED_TYPE[field]
            value = convert_scalar(datatype, field, getattr(parameter, field))
        parameters[text(parameter.name)] = value
    return TemplateDefinition(
        name=name,
        version=text(template.version) if template.HasField("version") else None,
        members=members,
        parameters=parameters,
    )
