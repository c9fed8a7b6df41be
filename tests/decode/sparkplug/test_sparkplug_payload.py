"""decode_payload: every datatype, aliases, templates, properties, flags and malformed input.

Payloads are built with the generated protobuf classes (sparkplug_builders), then decoded.
Requirement ids are those of the Sparkplug 3.0 numbered requirements.
"""

import pytest
from sparkplug_builders import T0, M, Metric, Payload, encode, payload

from receiver.decode import DecodeError
from receiver.decode.sparkplug import (
    AliasEntry,
    DataType,
    DecodedDataSet,
    SparkplugDecodeError,
    decode_payload,
    pack_array,
)

D = DataType
MAX64 = 2**64 - 1

SCALARS = [
    # Negative Int8/16/32 arrive sign-extended to the uint32 field, sign-extended to 64 bits (in
    # long_value) or as just their low bits; all decode to the same value.
    ("int8-sign-extended-32", D.Int8, "int_value", 0xFFFFFFFB, -5),
    ("int8-sign-extended-64", D.Int8, "long_value", MAX64 - 4, -5),
    ("int8-low-bits", D.Int8, "int_value", 0xFB, -5),
    ("int8-min", D.Int8, "int_value", 0x80, -128),
    ("int8-max", D.Int8, "int_value", 127, 127),
    ("int16-sign-extended", D.Int16, "int_value", 0xFFFF8AD0, -30000),
    ("int16-low-bits", D.Int16, "int_value", 0x8AD0, -30000),
    ("int16-positive", D.Int16, "int_value", 30000, 30000),
    ("int32-sign-extended-64", D.Int32, "long_value", MAX64, -1),
    ("int32-low-bits", D.Int32, "int_value", 0xFFFFFFFF, -1),
    ("int32-min", D.Int32, "int_value", 0x80000000, -(2**31)),
    ("int64-negative", D.Int64, "long_value", MAX64, -1),
    ("int64-min", D.Int64, "long_value", 2**63, -(2**63)),
    ("int64-in-int-value", D.Int64, "int_value", 7, 7),
    ("uint8", D.UInt8, "int_value", 250, 250),
    ("uint16", D.UInt16, "int_value", 52360, 52360),
    ("uint32", D.UInt32, "int_value", 3293969225, 3293969225),
    ("uint32-in-long-value", D.UInt32, "long_value", 3293969225, 3293969225),
    ("uint64-max", D.UInt64, "long_value", MAX64, MAX64),
    ("float", D.Float, "float_value", 1.5, 1.5),
    ("double", D.Double, "double_value", 12.354213, 12.354213),
    ("boolean-true", D.Boolean, "boolean_value", True, True),
    ("boolean-false", D.Boolean, "boolean_value", False, False),
    ("string", D.String, "string_value", "héllo wörld", "héllo wörld"),
    ("text", D.Text, "string_value", "long text", "long text"),
    (
        "uuid",
        D.UUID,
        "string_value",
        "a8b2c5f4-0d9e-4c4b-9c1f-3a0f6c9f1e11",
        "a8b2c5f4-0d9e-4c4b-9c1f-3a0f6c9f1e11",
    ),
    ("datetime", D.DateTime, "long_value", 1256102875335, 1256102875335),
    ("bytes", D.Bytes, "bytes_value", b"\x00\x01\xff", b"\x00\x01\xff"),
    ("file", D.File, "bytes_value", b"%PDF-1.7", b"%PDF-1.7"),
]


@pytest.mark.parametrize(
    ("datatype", "field", "raw", "expected"), [c[1:] for c in SCALARS], ids=[c[0] for c in SCALARS]
)
def test_scalar_datatypes_decode_to_python_values(
    datatype: DataType, field: str, raw: object, expected: object
) -> None:
    # tck-id-payloads-metric-datatype-value, tck-id-payloads-metric-datatype-req
    (metric,) = decode_payload(encode(M("m", 1, datatype, field, raw), seq=1)).metrics
    assert (metric.name, metric.alias, metric.datatype, metric.value) == ("m", 1, datatype, expected)
    assert type(metric.value) is type(expected)
    assert not metric.is_null


@pytest.mark.parametrize(
    ("datatype", "values"),
    [
        (D.Int8Array, (-128, -1, 0, 127)),
        (D.Int16Array, (-30000, 30000)),
        (D.Int32Array, (-1, 315338746)),
        (D.Int64Array, (-(2**63), 2**63 - 1)),
        (D.UInt8Array, (0, 255)),
        (D.UInt16Array, (30, 52360)),
        (D.UInt32Array, (52, 3293969225)),
        (D.UInt64Array, (52, MAX64)),
        (D.FloatArray, (1.5, -2.25)),
        (D.DoubleArray, (12.354213, 1022.9123213)),
        (D.BooleanArray, (True, False, True)),
        (D.StringArray, ("ABC", "", "hello")),
        (D.DateTimeArray, (1256102875335, 1656107875000)),
    ],
    ids=lambda v: v.name if isinstance(v, DataType) else "",
)
def test_array_metrics_decode_to_tuples(datatype: DataType, values: tuple[object, ...]) -> None:
    data = pack_array(datatype, values)  # type: ignore[arg-type]
    (metric,) = decode_payload(encode(M("arr", None, datatype, "bytes_value", data))).metrics
    assert metric.datatype is datatype
    assert metric.value == values


def test_payload_level_fields() -> None:
    message = payload(M("a", None, D.Int32, "int_value", 1), seq=42, timestamp=T0)
    message.uuid = "schema-1"
    message.body = b"\x01\x02"
    decoded = decode_payload(message.SerializeToString())
    assert (decoded.timestamp_ms, decoded.seq, decoded.uuid, decoded.body) == (
        T0,
        42,
        "schema-1",
        b"\x01\x02",
    )
    assert decoded.metrics[0].timestamp_ms == T0


def test_absent_payload_fields_are_none() -> None:
    decoded = decode_payload(encode(timestamp=None))
    assert (decoded.timestamp_ms, decoded.seq, decoded.uuid, decoded.body, decoded.metrics) == (
        None,
        None,
        None,
        None,
        (),
    )


def test_flags_is_null_is_historical_is_transient() -> None:
    message = payload()
    null = M("n", None, D.Int32).add_to(message)
    null.is_null = True
    stale_value = M("n2", None, D.Double, "double_value", 9.9).add_to(message)
    stale_value.is_null = True  # is_null wins over a value that should not be there
    historical = M("h", None, D.Double, "double_value", 1.0).add_to(message)
    historical.is_historical = True
    transient = M("t", None, D.Boolean, "boolean_value", True).add_to(message)
    transient.is_transient = True
    no_value = M("v", None, D.String).add_to(message)  # no value and no flag: null
    n, n2, h, t, v = decode_payload(message.SerializeToString()).metrics
    assert (n.value, n.is_null, n2.value, n2.is_null) == (None, True, None, True)
    assert (h.is_historical, h.is_transient, h.value) == (True, False, 1.0)
    assert (t.is_transient, t.is_historical) == (True, False)
    assert (v.value, v.is_null) == (None, True)
    assert (null.name, no_value.name) == ("n", "v")


def test_properties_quality_and_eng_unit_are_flattened() -> None:
    # Quality is a PropertyValue of type Int32 in int_value
    # (tck-id-payloads-propertyset-quality-value-type, -quality-value-value)
    message = payload()
    metric = M("Temperature", None, D.Float, "float_value", 21.5).add_to(message)
    props = metric.properties
    props.keys.extend(["Quality", "engUnit", "limits", "history", "note"])
    props.values.add(type=D.Int32, int_value=192)
    props.values.add(type=D.String, string_value="degC")
    nested = props.values.add(type=D.PropertySet)
    nested.propertyset_value.keys.extend(["low", "high"])
    nested.propertyset_value.values.add(type=D.Int16, int_value=0xFFF6)  # -10, sign-extended
    nested.propertyset_value.values.add(type=D.Double, double_value=85.0)
    listed = props.values.add(type=D.PropertySetList)
    first = listed.propertysets_value.propertyset.add()
    first.keys.append("by")
    first.values.add(type=D.String, string_value="alice")
    props.values.add(type=D.String, is_null=True)
    (decoded,) = decode_payload(message.SerializeToString()).metrics
    assert dict(decoded.properties) == {
        "Quality": 192,
        "engUnit": "degC",
        "limits/low": -10,
        "limits/high": 85.0,
        "history/0/by": "alice",
        "note": None,
    }


def test_dataset_decodes_columns_types_and_rows() -> None:
    message = payload()
    metric = M("Table", None, D.DataSet).add_to(message)
    dataset = metric.dataset_value
    dataset.num_of_columns = 4
    dataset.columns.extend(["i8", "name", "ok", "reading"])
    dataset.types.extend([D.Int8, D.String, D.Boolean, D.Double])
    row = dataset.rows.add()
    row.elements.add(int_value=0xFFFFFFFF)
    row.elements.add(string_value="a")
    row.elements.add(boolean_value=True)
    row.elements.add(double_value=1.25)
    row = dataset.rows.add()
    row.elements.add(int_value=0x7F)
    row.elements.add()  # a cell without a value
    row.elements.add(boolean_value=False)
    row.elements.add(double_value=-3.5)
    (decoded,) = decode_payload(message.SerializeToString()).metrics
    assert decoded.datatype is D.DataSet
    assert decoded.value == DecodedDataSet(
        columns=("i8", "name", "ok", "reading"),
        types=(D.Int8, D.String, D.Boolean, D.Double),
        rows=((-1, "a", True, 1.25), (127, None, False, -3.5)),
    )


def _template_instance(
    message: Payload, name: str, ref: str, *members: M, alias: int | None = None
) -> Metric:
    metric = M(name, alias, D.Template).add_to(message)
    metric.template_value.template_ref = ref
    metric.template_value.is_definition = False
    for member in members:
        member.add_to(metric.template_value)  # Template.metrics has the Payload.metrics API
    return metric


def test_template_instance_is_flattened_into_member_metrics() -> None:
    message = payload()
    _template_instance(
        message,
        "Motor",
        "MotorType",
        M("Speed", None, D.Float, "float_value", 1450.0, timestamp=None),
        M("Temp", None, D.Int16, "int_value", 0xFFFE, timestamp=T0 + 5),
    )
    speed, temp = decode_payload(message.SerializeToString()).metrics
    assert (speed.name, speed.value, speed.timestamp_ms) == (
        "Motor/Speed",
        1450.0,
        T0,
    )  # inherits the instance's
    assert (temp.name, temp.value, temp.timestamp_ms, temp.datatype) == ("Motor/Temp", -2, T0 + 5, D.Int16)


def test_nested_templates_flatten_to_slash_paths() -> None:
    message = payload()
    outer = _template_instance(message, "A", "AType")
    inner = M("B", None, D.Template).add_to(outer.template_value)
    inner.template_value.template_ref = "BType"
    M("C", None, D.Boolean, "boolean_value", True).add_to(inner.template_value)
    (metric,) = decode_payload(message.SerializeToString()).metrics
    assert (metric.name, metric.value) == ("A/B/C", True)


def test_template_definition_is_recorded_not_emitted() -> None:
    # tck-id-payloads-template-definition-is-definition, -ref, -parameters-default
    message = payload(M("Temperature", None, D.Double, "double_value", 20.0))
    definition = M("MotorType", None, D.Template).add_to(message)
    definition.template_value.is_definition = True
    definition.template_value.version = "1.0"
    M("Speed", None, D.Float, "float_value", 0.0).add_to(definition.template_value)
    M("Temp", None, D.Int16, "int_value", 0).add_to(definition.template_value)
    definition.template_value.parameters.add(name="serial", type=D.String, string_value="none")
    decoded = decode_payload(message.SerializeToString())
    assert [m.name for m in decoded.metrics] == ["Temperature"]
    (motor_type,) = decoded.template_definitions.values()
    assert motor_type.name == "MotorType"
    assert motor_type.version == "1.0"
    assert dict(motor_type.members) == {"Speed": D.Float, "Temp": D.Int16}
    assert dict(motor_type.parameters) == {"serial": "none"}


def test_template_instance_in_data_resolves_by_alias_and_member_types_by_name() -> None:
    # DATA omits datatypes (tck-id-payloads-metric-datatype-not-req): the birth's types apply.
    message = payload()
    instance = M(None, 7).add_to(message)
    M("Temp", None, None, "int_value", 0xFFFFFFFF).add_to(instance.template_value)
    decoded = decode_payload(
        message.SerializeToString(),
        {7: AliasEntry("Motor", D.Template)},
        known_types={"Motor/Temp": D.Int16},
    )
    (temp,) = decoded.metrics
    assert (temp.name, temp.datatype, temp.value) == ("Motor/Temp", D.Int16, -1)


def test_alias_only_metric_resolves_name_and_datatype_from_the_table() -> None:
    # tck-id-payloads-alias-data-cmd-requirement: DATA carries only the alias (and no datatype).
    data = encode(M(None, 3, None, "int_value", 0xFF), seq=5)
    (metric,) = decode_payload(data, {3: AliasEntry("Level", D.Int8)}).metrics
    assert (metric.name, metric.alias, metric.datatype, metric.value) == ("Level", 3, D.Int8, -1)


def test_unknown_alias_is_reported_not_raised() -> None:
    data = encode(M(None, 3, None, "int_value", 1), M(None, 99, None, "double_value", 2.0))
    decoded = decode_payload(data, {3: AliasEntry("Level", D.UInt8)})
    assert [m.name for m in decoded.metrics] == ["Level"]
    assert decoded.unknown_aliases == (99,)
    assert decode_payload(data).unknown_aliases == (3, 99)


def test_birth_declares_aliases_and_reports_duplicates() -> None:
    # tck-id-payloads-alias-birth-requirement, tck-id-payloads-alias-uniqueness
    data = encode(
        M("a", 1, D.Int32, "int_value", 1),
        M("b", 2, D.Double, "double_value", 2.0),
        M("c", 1, D.Boolean, "boolean_value", True),
    )
    decoded = decode_payload(data)
    assert dict(decoded.declared_aliases) == {1: AliasEntry("a", D.Int32), 2: AliasEntry("b", D.Double)}
    assert decoded.duplicate_aliases == (1,)


def test_missing_datatype_uses_known_types_then_the_value_field() -> None:
    data = encode(
        M("known", None, None, "int_value", 0xFFFFFFFE), M("unknown", None, None, "double_value", 0.5)
    )
    known, unknown = decode_payload(data, known_types={"known": D.Int32}).metrics
    assert (known.datatype, known.value) == (D.Int32, -2)
    assert (unknown.datatype, unknown.value) == (D.Double, 0.5)


def test_explicit_datatype_in_data_overrides_the_alias_entry() -> None:
    (metric,) = decode_payload(
        encode(M(None, 3, D.Int16, "int_value", 0xFFFF)), {3: AliasEntry("x", D.UInt16)}
    ).metrics
    assert (metric.name, metric.datatype, metric.value) == ("x", D.Int16, -1)


def _bad_utf8_name() -> bytes:
    return encode(M("AB", None, D.Int32, "int_value", 1)).replace(b"AB", b"\xff\xfe")


MALFORMED = [
    ("garbage", b"\xff\xff\xff\xff"),
    ("truncated", encode(M("name", None, D.String, "string_value", "value"))[:-3]),
    ("type-mismatch", encode(M("m", None, D.Int32, "string_value", "1"))),
    ("unknown-datatype", encode(M("m", None, 99, "int_value", 1))),  # type: ignore[arg-type]
    ("propertyset-as-metric-type", encode(M("m", None, D.PropertySet, "int_value", 1))),
    ("bad-array-length", encode(M("m", None, D.Int32Array, "bytes_value", b"\x01\x02\x03"))),
    ("invalid-utf8-name", _bad_utf8_name()),
    ("no-name-no-alias", encode(M(None, None, D.Int32, "int_value", 1))),
]


@pytest.mark.parametrize("data", [c[1] for c in MALFORMED], ids=[c[0] for c in MALFORMED])
def test_malformed_payload_raises_sparkplug_decode_error(data: bytes) -> None:
    with pytest.raises(SparkplugDecodeError) as caught:
        decode_payload(data)
    error = caught.value
    assert isinstance(error, DecodeError)
    assert error.status == 400
    assert error.reason
    assert error.__cause__ is not None


def test_dataset_shape_errors_are_decode_errors() -> None:
    # tck-id-payloads-dataset-column-num-headers, -types-num
    message = payload()
    dataset = M("t", None, D.DataSet).add_to(message).dataset_value
    dataset.columns.extend(["a", "b"])
    dataset.types.append(D.Int32)
    with pytest.raises(SparkplugDecodeError, match="2 columns but 1 types"):
        decode_payload(message.SerializeToString())
    dataset.types.append(D.Int32)
    dataset.rows.add().elements.add(int_value=1)
    with pytest.raises(SparkplugDecodeError, match="row 0 has 1 values"):
        decode_payload(message.SerializeToString())


def test_propertyset_keys_and_values_must_match() -> None:
    # tck-id-payloads-propertyset-keys-array-size, -values-array-size
    message = payload()
    props = M("m", None, D.Int32, "int_value", 1).add_to(message).properties
    props.keys.extend(["Quality", "extra"])
    props.values.add(type=D.Int32, int_value=192)
    with pytest.raises(SparkplugDecodeError, match="2 keys but 1 values"):
        decode_payload(message.SerializeToString())
