"""The shape fast path (HostSessions.read_data -> SparkplugMapper.map_values) reports exactly what the
exact path (on_message -> map_metrics) reports, and hands everything unusual to the exact path."""

from collections.abc import Sequence

from sparkplug_builders import T0, M, encode, nbirth, payload

from receiver.decode.sparkplug import (
    DataType,
    EmitLifecycle,
    EmitMetrics,
    EmitValues,
    HostSessions,
    SendRebirth,
)
from receiver.decode.sparkplug._shape import learn_shape
from receiver.mapping._sparkplug import SparkplugMapper
from receiver.signals import MappedReport, MetricColumns, ResourcePoints, SeriesRegistry

D = DataType
NB = "spBv1.0/G1/NBIRTH/E1"
ND = "spBv1.0/G1/NDATA/E1"
DB = "spBv1.0/G1/DBIRTH/E1/D1"
DD = "spBv1.0/G1/DDATA/E1/D1"
RECEIVED_NS = 5_000_000_000_000_000_000
Point = tuple[object, ...]
Output = list[tuple[str, object]]


def _points(registry: SeriesRegistry, resource: object, columns: MetricColumns | ResourcePoints) -> Output:
    rows = zip(columns.series, columns.times_ns, columns.doubles, columns.ints, columns.is_int, strict=True)
    return [("point", (resource, registry[s], t, d, i, b)) for s, t, d, i, b in rows]


def _report(registry: SeriesRegistry, report: MappedReport) -> Output:
    out = _points(registry, report.resource, report.metrics)
    out += [("log", (report.resource, e.time_ns, e.body, e.attributes, e.severity_text)) for e in report.logs]
    return out


def run(messages: Sequence[tuple[str, bytes]], *, fast: bool) -> tuple[Output, int]:
    """What the receiver reports for ``messages``, and how many took the fast path."""
    registry = SeriesRegistry()
    mapper = SparkplugMapper(registry)
    sessions = HostSessions(shapes=fast)
    out: Output = []
    hits = 0
    for now, (topic, data) in enumerate(messages):
        values = sessions.read_data(topic, data) if fast else None
        if values is not None:
            hits += 1
            points = mapper.map_values(values, received_ns=RECEIVED_NS)
            out += _points(registry, points.resource, points)
            continue
        for action in sessions.on_message(topic, data, T0 + now):
            assert not isinstance(action, EmitValues)
            if isinstance(action, EmitMetrics):
                out += _report(registry, mapper.map_metrics(action, received_ns=RECEIVED_NS))
            elif isinstance(action, EmitLifecycle):
                out += _report(registry, mapper.map_lifecycle(action, received_ns=RECEIVED_NS))
            else:
                assert isinstance(action, SendRebirth)
                out.append(("rebirth", action.reason))
    return out, hits


def assert_same(messages: Sequence[tuple[str, bytes]]) -> int:
    exact, exact_hits = run(messages, fast=False)
    fast, hits = run(messages, fast=True)
    assert exact_hits == 0
    assert fast == exact
    return hits


def births(*device_metrics: M, node_metrics: Sequence[M] = ()) -> list[tuple[str, bytes]]:
    return [(NB, nbirth(0, 0, *node_metrics)), (DB, encode(*device_metrics, seq=1))]


UNITS = M("Temp", 1, D.Double, "double_value", 0.0)
DOUBLES = (UNITS, M("Hum", 2, D.Double, "double_value", 0.0), M("Lvl", 3, D.Float, "float_value", 0.0))


def doubles(seq: int, base: float, timestamp: int | None = T0) -> bytes:
    metrics = (
        M(None, 1, D.Double, "double_value", base, timestamp=timestamp),
        M(None, 2, D.Double, "double_value", base + 1, timestamp=timestamp),
        M(None, 3, None, "float_value", base / 4, timestamp=timestamp),
    )
    return encode(*metrics, seq=seq, timestamp=timestamp)


def test_repeated_ddata_takes_the_fast_path_with_identical_points() -> None:
    with_unit = payload(UNITS, seq=1)
    with_unit.metrics[0].properties.keys.append("engUnit")
    with_unit.metrics[0].properties.values.add(type=D.String, string_value="Cel")
    for metric in DOUBLES[1:]:
        metric.add_to(with_unit)
    messages = [(NB, nbirth()), (DB, with_unit.SerializeToString())]
    messages += [(DD, doubles(seq, seq * 1.5)) for seq in range(2, 40)]
    # The first DDATA teaches the shape; every later one uses it.
    assert assert_same(messages) == 37


def test_every_numeric_datatype_and_field_maps_like_the_exact_path() -> None:
    birth = [
        M("i8", 1, D.Int8, "int_value", 0),
        M("i64", 2, D.Int64, "long_value", 0),
        M("u64", 3, D.UInt64, "long_value", 0),
        M("u32", 4, D.UInt32, "int_value", 0),
        M("b", 5, D.Boolean, "boolean_value", False),
        M("b_int", 6, D.Boolean, "int_value", 0),
        M("f", 7, D.Float, "float_value", 0.0),
        M("d_as_float", 8, D.Double, "float_value", 0.0),
    ]

    def data(seq: int, flip: bool) -> bytes:
        return encode(
            M(None, 1, None, "int_value", 0xFFFFFFFF if flip else 0xFF),  # -1 sign-extended / low bits
            M(None, 2, None, "long_value", 2**62 + 5),
            M(None, 3, None, "long_value", 2**62 + 7 if flip else 2**62 + 9),
            M(None, 4, None, "int_value", 4_000_000_000),
            M(None, 5, None, "boolean_value", flip),
            M(None, 6, None, "int_value", 1 if flip else 0),
            M(None, 7, None, "float_value", 0.1),
            M(None, 8, None, "float_value", -2.5, timestamp=T0 + 7),  # its own timestamp
            seq=seq,
        )

    messages = [(NB, nbirth()), (DB, encode(*birth, seq=1))]
    messages += [(DD, data(seq, seq % 2 == 0)) for seq in range(2, 12)]
    # Two forms (the values take different varint widths), each learned from its first message.
    assert assert_same(messages) == 8


def test_ten_byte_varints_stay_on_the_exact_path() -> None:
    # Negative Int64 sign-extended and UInt64 >= 2**63 need 10 bytes, which parsers may treat apart.
    birth = [M("i64", 1, D.Int64, "long_value", 0), M("u64", 2, D.UInt64, "long_value", 0)]
    data = [
        (
            DD,
            encode(
                M(None, 1, None, "long_value", 2**64 - 5), M(None, 2, None, "long_value", 2**63 + s), seq=s
            ),
        )
        for s in range(2, 6)
    ]
    assert assert_same([(NB, nbirth()), (DB, encode(*birth, seq=1)), *data]) == 0


def test_missing_timestamps_fall_back_like_the_exact_path() -> None:
    no_payload_time = [(DD, doubles(seq, seq, timestamp=None)) for seq in range(2, 6)]
    mixed = [
        (
            DD,
            encode(
                M(None, 1, None, "double_value", 1.0, timestamp=None),
                M(None, 2, None, "double_value", 2.0),
                seq=s,
            ),
        )
        for s in range(6, 10)
    ]
    assert assert_same([*births(*DOUBLES), *no_payload_time, *mixed]) == 3 + 3


def test_node_data_uses_the_node_alias_table() -> None:
    node = M("n", 9, D.Int32, "int_value", 0)
    messages = [(NB, nbirth(0, 0, node))]
    messages += [(ND, encode(M(None, 9, None, "int_value", seq * 3), seq=seq)) for seq in range(1, 6)]
    assert assert_same(messages) == 4


def test_seq_gap_and_reordering_go_through_the_exact_path() -> None:
    steady = [(DD, doubles(seq, seq)) for seq in range(2, 5)]
    # seq 6 before 5: buffered, then both in order; seq 8 never followed by 7 until the end.
    disorder = [(DD, doubles(6, 6.0)), (DD, doubles(5, 5.0)), (DD, doubles(8, 8.0)), (DD, doubles(7, 7.0))]
    after = [(DD, doubles(seq, seq)) for seq in range(9, 12)]
    hits = assert_same([*births(*DOUBLES), *steady, *disorder, *after])
    assert hits == 2 + 3  # steady after learning, and after the gap closed; never while pending


def test_unknown_alias_null_and_properties_are_left_to_the_exact_path() -> None:
    unknown = encode(
        M(None, 1, None, "double_value", 1.0),
        M(None, 2, None, "double_value", 2.0),
        M(None, 99, None, "float_value", 3.0),  # same length as a known message, unknown alias
        seq=4,
    )
    null = payload(*(M(None, a, None, "double_value", 1.0) for a in (1, 2)), seq=5)
    null.metrics.add(alias=3, is_null=True)
    props = payload(*(M(None, a, None, "double_value", 1.0) for a in (1, 2, 3)), seq=6)
    props.metrics[0].properties.keys.append("Quality")
    props.metrics[0].properties.values.add(type=D.Int32, int_value=192)
    messages = [
        *births(*DOUBLES),
        (DD, doubles(2, 1.0)),
        (DD, doubles(3, 2.0)),
        (DD, unknown),
        (DD, null.SerializeToString()),
        (DD, props.SerializeToString()),
        (DD, doubles(7, 3.0)),
    ]
    exact, _ = run(messages, fast=False)
    assert ("rebirth", "unknown_alias") in exact
    assert assert_same(messages) == 2  # seq 3 and seq 7


def test_a_new_birth_replaces_the_shapes_of_the_device() -> None:
    rebirth = payload(
        M("Temp", 3, D.Double, "double_value", 0.0), M("Hum", 2, D.Int16, "int_value", 0), seq=4
    )
    rebirth.metrics.add(name="Lvl", alias=1, datatype=D.Float, float_value=0.0)
    rebirth.metrics[0].properties.keys.append("engUnit")
    rebirth.metrics[0].properties.values.add(type=D.String, string_value="K")
    same_bytes_new_meaning = encode(
        M(None, 1, None, "float_value", 1.0),
        M(None, 2, None, "int_value", 7),
        M(None, 3, None, "double_value", 9.0),
        seq=5,
    )
    messages = [
        *births(*DOUBLES),
        (
            DD,
            encode(
                M(None, 1, None, "float_value", 1.0),
                M(None, 2, None, "int_value", 7),
                M(None, 3, None, "double_value", 9.0),
                seq=2,
            ),
        ),
        (DD, doubles(3, 1.0)),
        ("spBv1.0/G1/DBIRTH/E1/D1", rebirth.SerializeToString()),
        (DD, same_bytes_new_meaning),
        (DD, same_bytes_new_meaning.replace(b"\x18\x05", b"\x18\x06")),
    ]
    assert assert_same(messages) == 1  # only after the new birth's first DDATA taught its shape


def test_a_shape_rejects_changed_structure() -> None:
    aliases = {1: _entry("a", D.Double), 2: _entry("b", D.Double), 3: _entry("c", D.Float)}
    data = doubles(5, 1.0)
    message = payload()
    message.ParseFromString(data)
    shape = learn_shape(data, message, aliases)
    assert shape is not None
    assert shape.read(data) == (5, T0, (1.0, 2.0, 0.25), None)
    assert shape.read(data.replace(b"\x10\x02", b"\x10\x04")) is None  # another alias
    assert shape.read(data[:-1] + b"\x85") is None  # seq varint that would run on
    assert shape.read(doubles(200, 1.0)) is None  # seq takes two bytes: another length
    assert learn_shape(data, message, {1: aliases[1]}) is None  # alias 2 unknown


def _entry(name: str, datatype: DataType) -> object:
    from receiver.decode.sparkplug import AliasEntry

    return AliasEntry(name, datatype)


def test_metric_timestamps_apart_from_the_payload_timestamp_are_read_per_metric() -> None:
    def data(seq: int, first: int, second: int, own: int = T0) -> bytes:
        return encode(
            M(None, 1, None, "double_value", 1.5, timestamp=first),
            M(None, 2, None, "double_value", 2.5, timestamp=second),
            seq=seq,
            timestamp=own,
        )

    birth = [M("a", 1, D.Double, "double_value", 0.0), M("b", 2, D.Double, "double_value", 0.0)]
    stamps = [(T0, T0), (T0, T0), (T0 + 1, T0), (T0, T0 + 1), (T0 + 2, T0 + 2), (T0, T0), (T0 + 3, T0 + 4)]
    messages = [(NB, nbirth()), (DB, encode(*birth, seq=1))]
    messages += [(DD, data(seq, *pair)) for seq, pair in enumerate(stamps, start=2)]
    messages += [(DD, data(9, T0 + 5, T0 + 5, own=T0 + 5))]  # all equal again, another payload time
    # Same widths throughout: one shape, whether the metrics repeat the payload's time or not.
    assert assert_same(messages) == len(stamps)
