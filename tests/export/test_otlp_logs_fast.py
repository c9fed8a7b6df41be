"""The hand-written OTLP logs encoder against the protobuf one (``encode_logs``), which is the
specification: the same request when nothing needs splitting, the same records in the same order
when something does, every request within the size limit; for LogEntry records and log chunks alike."""

import pyarrow as pa
from _batches import sealed_batch as _batch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from receiver.decode._cdr import decode_cdr_csv
from receiver.export import encode_logs
from receiver.export._otlp_encode import SCOPE
from receiver.export._otlp_logs_fast import FastLogsEncoder, encode_logs_fast
from receiver.mapping._cdr import map_cdr
from receiver.signals import AttrValue, LogEntry, MappedReport, SeriesRegistry, log_chunk

NO_LIMIT = 1 << 30
UNICODE = "Ünïcødé ✓ 漢字 \U0001f600"


def _parsed(payloads: list[bytes]) -> list[ExportLogsServiceRequest]:
    return [ExportLogsServiceRequest.FromString(payload) for payload in payloads]


def _flat(payloads: list[bytes]) -> list[tuple[bytes, bytes]]:
    """Every record in output order with its Resource, so differently split requests compare."""
    records = []
    for request in _parsed(payloads):
        for rl in request.resource_logs:
            assert len(rl.scope_logs) == 1 and rl.scope_logs[0].scope == SCOPE
            resource = rl.resource.SerializeToString(deterministic=True)
            records += [
                (resource, r.SerializeToString(deterministic=True)) for r in rl.scope_logs[0].log_records
            ]
    return records


def _within(payloads: list[bytes], max_bytes: int) -> bool:
    """Every request within the limit, unless it holds a single record that is larger alone."""
    return all(
        len(payload) <= max_bytes
        or sum(len(rl.scope_logs[0].log_records) for rl in request.resource_logs) == 1
        for payload, request in zip(payloads, _parsed(payloads), strict=True)
    )


def _entries(device: str) -> MappedReport:
    report = MappedReport(resource=(("device.id", device),))
    report.logs = [
        LogEntry(
            time_ns=1_700_000_000_123_456_789,
            observed_ns=1_700_000_001_000_000_000,
            body="bulkdata.report",
            attributes={"s": "7.2", "n": 3, "neg": -5, "big": 2**63 - 1, "ok": True, "no": False, "f": 0.5},
        ),
        LogEntry(time_ns=0, observed_ns=0, body="", attributes={}, severity_number=0, severity_text=""),
        LogEntry(
            time_ns=5,
            observed_ns=6,
            body=UNICODE * 20,  # > 127 bytes: multi-byte length varints
            attributes={UNICODE: UNICODE, "empty": "", "zero": 0, "minus_zero": -0.0},
            severity_number=17,
            severity_text="ERROR",
        ),
    ]
    return report


def _chunk(device: str) -> MappedReport:
    report = MappedReport(resource=(("device.id", device),))
    report.log_chunk = log_chunk(
        pa.array([10, 20, 30, 40], pa.int64()),
        99,
        "chunk.body",
        {
            "s": pa.array(["a", "", UNICODE * 30, None]),
            "i": pa.array([0, -1, 2**63 - 1, 300], pa.int64()),
            "i32": pa.array([None, 7, -(2**31), 2**31 - 1], pa.int32()),
            "f": pa.array([0.0, -1.5, None, 1e300]),
            "b": pa.array([True, False, None, True]),
            "dict": pa.array(["voice", "video", "voice", "voice"]).dictionary_encode(),
            UNICODE: pa.array(["x", "y", "z", "w"]),
        },
        severity_number=13,
        severity_text="WARN",
    )
    return report


def test_batch_without_logs_gives_no_requests() -> None:
    report = MappedReport(resource=(("device.id", "A"),))
    report.metrics.append(0, 1, 1.0)
    assert encode_logs_fast(_batch([report]), NO_LIMIT) == []


def test_same_request_as_protobuf_for_entries_and_chunks_of_every_attribute_type() -> None:
    # Resources interleaved: records group by resource in order of first appearance.
    batch = _batch([_entries("A"), _chunk("B"), _entries("B"), _chunk("A"), _chunk("C")])
    [fast] = encode_logs_fast(batch, NO_LIMIT)
    [slow] = encode_logs(batch, NO_LIMIT)
    assert ExportLogsServiceRequest.FromString(fast) == ExportLogsServiceRequest.FromString(slow)
    request = ExportLogsServiceRequest.FromString(fast)
    assert [rl.resource.attributes[0].value.string_value for rl in request.resource_logs] == ["A", "B", "C"]
    # B: its LogEntry records, then its chunk's (the batch keeps the two kinds in two runs of rows)
    records = request.resource_logs[1].scope_logs[0].log_records[3:]
    first = records[0]
    values = {
        kv.key: (kv.value.WhichOneof("value"), getattr(kv.value, kv.value.WhichOneof("value")))
        for kv in first.attributes
    }
    assert values == {
        "s": ("string_value", "a"),
        "i": ("int_value", 0),
        "f": ("double_value", 0.0),
        "b": ("bool_value", True),
        "dict": ("string_value", "voice"),
        UNICODE: ("string_value", "x"),
    }  # null i32: no such attribute on this record
    assert (first.severity_number, first.severity_text, first.body.string_value) == (13, "WARN", "chunk.body")
    assert (first.time_unix_nano, first.observed_time_unix_nano) == (10, 99)
    assert "s" not in {kv.key for kv in records[3].attributes}  # null string: absent, "" stays
    assert {kv.key: kv.value.string_value for kv in records[1].attributes}["s"] == ""
    assert len(records) == 4


def test_fixed_width_columns_fused_encode_like_protobuf() -> None:
    """Runs of parts of one width in every row are copied into one column before the join: constant
    columns, strings of one length, ints of one varint width, empty strings, doubles, bools, next to
    columns of varying width and columns with nulls (which are never fused)."""
    rows = 5
    columns = {
        "const": pa.array(["same"] * rows),
        "digits": pa.array(["31611111111", "31622222222", "31633333333", "31644444444", "31655555555"]),
        "small": pa.array([1, 2, 3, 4, 5], pa.int64()),
        "empty": pa.array([""] * rows),
        "f": pa.array([0.5, -1.0, 2.0, 3.5, 1e300]),
        "b": pa.array([True, False, True, True, False]),
        "varying": pa.array(["a", "bb", "", "dddd", UNICODE]),
        "wide": pa.array([1, 300, 2**40, -1, 7], pa.int64()),
        "nulls": pa.array(["xx", None, "yy", "zz", None]),
        "tail": pa.array(["t1", "t2", "t3", "t4", "t5"]),
    }
    chunk = log_chunk(pa.array(range(rows), pa.int64()), 99, "fused.body", columns)
    report = MappedReport(resource=(("device.id", "A"),), log_chunk=chunk)
    batch = _batch([report, MappedReport(resource=(("device.id", "B"),), log_chunk=chunk)])
    assert _parsed(encode_logs_fast(batch, NO_LIMIT)) == _parsed(encode_logs(batch, NO_LIMIT))
    for max_bytes in (200, 400, 1000):
        assert _flat(encode_logs_fast(batch, max_bytes)) == _flat(encode_logs(batch, NO_LIMIT))


def test_severities_outside_one_byte_encode_like_protobuf() -> None:
    report = MappedReport(resource=(("device.id", "A"),))
    report.logs = [
        LogEntry(1, 2, "b", {}, severity_number=number, severity_text="X")
        for number in (0, 1, 127, 128, 300, -1)
    ]
    batch = _batch([report])
    assert _parsed(encode_logs_fast(batch, NO_LIMIT)) == _parsed(encode_logs(batch, NO_LIMIT))


def test_cdr_records_encode_like_protobuf_plain_and_pseudonymised() -> None:
    body = (
        b"msisdn,tower_id,call_type,dest_nr,call_duration_sec,start_time\n"
        b"31611111111,7,voice,31699999999,3,2024-03-01 12:00:00\n"
        b"31622222222,7,video,,100,2024-03-01 12:01:00\n"
    )
    data = (
        b"msisdn,tower_id,up_bytes,down_bytes,data_type,ip_address,website_url,event_datetime\n"
        b'31611111111,7,100,200,video,81.2.3.4,"https://a.example/\xc3\xa9,x",2024-03-01 12:00:00\n'
    )
    registry = SeriesRegistry()
    for key in (None, b"secret"):
        reports = [
            map_cdr(
                decode_cdr_csv(raw, kind),
                registry,
                source=kind,
                source_digest="d",
                received_ns=7,
                pseudonym_key=key,
            )  # type: ignore[arg-type]
            for raw, kind in ((body, "voice"), (data, "data"))
        ]
        batch = _batch(reports)
        [fast] = encode_logs_fast(batch, NO_LIMIT)
        [slow] = encode_logs(batch, NO_LIMIT)
        assert ExportLogsServiceRequest.FromString(fast) == ExportLogsServiceRequest.FromString(slow)
        records = ExportLogsServiceRequest.FromString(fast).resource_logs[0].scope_logs[0].log_records
        attributes = {kv.key: kv.value for kv in records[1].attributes}
        assert attributes["cdr.dest_nr"].WhichOneof("value") == "string_value"
        assert attributes["cdr.tower_id"].int_value == 7 and attributes["cdr.record_id"].string_value == "d:3"


def test_requests_split_at_max_bytes_lose_nothing_and_keep_order() -> None:
    reports = [_chunk(f"D{n % 3}") for n in range(30)] + [_entries("D1") for _ in range(10)]
    batch = _batch(reports)
    expected = _flat(encode_logs(batch, NO_LIMIT))
    for max_bytes in (600, 2_000, 5_000, 50_000):
        payloads = encode_logs_fast(batch, max_bytes)
        assert len(payloads) > 1
        assert _within(payloads, max_bytes)
        assert _flat(payloads) == expected
        assert len(payloads) <= len(encode_logs(batch, max_bytes))  # exact sizes pack at least as tight


def test_a_record_larger_than_the_limit_goes_alone() -> None:
    big = MappedReport(resource=(("device.id", "A"),))
    big.logs = [LogEntry(1, 2, "x" * 5_000, {}), LogEntry(3, 4, "small", {}), LogEntry(5, 6, "small", {})]
    payloads = encode_logs_fast(_batch([big]), 1_000)
    assert [len(request.resource_logs[0].scope_logs[0].log_records) for request in _parsed(payloads)] == [
        1,
        2,
    ]
    assert len(payloads[0]) > 1_000 and len(payloads[1]) <= 1_000


def test_unsupported_attribute_column_is_a_clear_error() -> None:
    report = MappedReport(resource=(("device.id", "A"),))
    report.log_chunk = pa.table(
        {
            "time_ns": [1],
            "observed_ns": [1],
            "severity_number": pa.array([9], pa.int32()),
            "severity_text": ["I"],
            "body": ["b"],
            "attributes.l": pa.array([[1]]),
        }
    )
    try:
        FastLogsEncoder().encode(_batch([report]), NO_LIMIT)
    except ValueError as exc:
        assert "attributes.l" in str(exc) or "'l'" in str(exc)
    else:
        raise AssertionError("a list column must be refused")


_values = st.one_of(
    st.text(max_size=40),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.booleans(),
)


@st.composite
def _reports(draw: st.DrawFn) -> list[MappedReport]:
    reports = []
    for n in range(draw(st.integers(1, 5))):
        report = MappedReport(resource=(("device.id", draw(st.sampled_from("ABC"))), ("n", n % 2)))
        if draw(st.booleans()):
            report.logs = [
                LogEntry(
                    draw(st.integers(0, 2**63 - 1)),
                    draw(st.integers(0, 2**63 - 1)),
                    draw(st.text(max_size=200)),
                    draw(st.dictionaries(st.text(max_size=10), _values, max_size=4)),
                    severity_number=draw(st.integers(0, 24)),
                    severity_text=draw(st.sampled_from(["", "INFO", "WARN"])),
                )
                for _ in range(draw(st.integers(0, 4)))
            ]
        else:
            rows = draw(st.integers(0, 6))
            columns: dict[str, pa.Array] = {}
            for key, kind in draw(
                st.dictionaries(
                    st.text(min_size=1, max_size=10), st.sampled_from(["s", "i", "f", "b"]), max_size=4
                )
            ).items():
                strategy = {
                    "s": st.text(max_size=300),
                    "i": st.integers(-(2**63), 2**63 - 1),
                    "f": st.floats(allow_nan=False),
                    "b": st.booleans(),
                }[kind]
                values: list[AttrValue | None] = draw(
                    st.lists(st.one_of(st.none(), strategy), min_size=rows, max_size=rows)
                )
                columns[key] = pa.array(
                    values, {"s": pa.string(), "i": pa.int64(), "f": pa.float64(), "b": pa.bool_()}[kind]
                )
            report.log_chunk = log_chunk(
                pa.array(draw(st.lists(st.integers(0, 2**63 - 1), min_size=rows, max_size=rows)), pa.int64()),
                draw(st.integers(0, 2**63 - 1)),
                draw(st.text(max_size=20)),
                columns,
                severity_number=draw(st.integers(0, 24)),
            )
        reports.append(report)
    return reports


_settings = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_settings
@given(_reports())
def test_any_batch_encodes_like_protobuf(reports: list[MappedReport]) -> None:
    assume(any(report.point_count for report in reports))
    batch = _batch(reports)
    fast, slow = encode_logs_fast(batch, NO_LIMIT), encode_logs(batch, NO_LIMIT)
    assert _parsed(fast) == _parsed(slow)


@_settings
@given(_reports(), st.integers(300, 3_000))
def test_any_batch_splits_within_the_limit_without_loss(reports: list[MappedReport], max_bytes: int) -> None:
    assume(any(report.point_count for report in reports))
    batch = _batch(reports)
    payloads = encode_logs_fast(batch, max_bytes)
    assert _flat(payloads) == _flat(encode_logs(batch, NO_LIMIT))
    assert _within(payloads, max_bytes)
