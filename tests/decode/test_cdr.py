import csv
import gzip
import io
import re
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadtest.gen_cdr import DATA_TYPES, main, write_cdr
from receiver.decode import DecodeError
from receiver.decode._cdr import (
    _NAIVE,
    _SLICE_ROWS,
    _ZONED,
    CdrDecodeError,
    CdrKind,
    CdrRowError,
    cdr_schema,
    decode_cdr_csv,
)

DATA_HEADER = "msisdn,tower_id,up_bytes,down_bytes,data_type,ip_address,website_url,event_datetime"
VOICE_HEADER = "msisdn,tower_id,call_type,dest_nr,call_duration_sec,start_time"
DATA_ROW = "27821234567,1523,523456,123456,video,41.202.45.12,https://example.com/a,2024-01-01 10:15:30"
VOICE_ROW = "27821234567,1523,voice,27829876543,125,2024-01-01 10:15:30"
T0 = 1704104130 * 10**9  # 2024-01-01 10:15:30 UTC


def ns(text: str) -> int:
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return (int(parsed.timestamp()) * 10**6 + parsed.microsecond) * 1000


def voice(*rows: str, header: str = VOICE_HEADER, newline: str = "\r\n") -> bytes:
    return newline.join([header, *rows, ""]).encode()


def data(*rows: str, header: str = DATA_HEADER, newline: str = "\r\n") -> bytes:
    return newline.join([header, *rows, ""]).encode()


def generated(kind: CdrKind, rows: int, *, bad_rate: float = 0.0, seed: int = 7) -> tuple[bytes, list[int]]:
    out = io.StringIO(newline="")
    bad = write_cdr(out, kind, rows, seed=seed, bad_rate=bad_rate, pool_size=300)
    return out.getvalue().encode(), bad


# --- good files -------------------------------------------------------------------------------------


def test_data_file_decodes_column_by_column() -> None:
    body = data(
        DATA_ROW,
        "0031612345678,1,100000,1000000,Image ,81.2.3.4,http://x.org/?a=1&b=2,2024-02-29T23:59:59.123456789Z",
    )
    batch = decode_cdr_csv(body, "data")
    assert batch.errors == []
    assert batch.table.schema == cdr_schema("data")
    table = batch.table
    assert table.column("msisdn").to_pylist() == ["27821234567", "0031612345678"]
    assert table.column("tower_id").to_pylist() == [1523, 1]
    assert table.column("up_bytes").to_pylist() == [523456, 100000]
    assert table.column("down_bytes").to_pylist() == [123456, 1000000]
    assert table.column("data_type").to_pylist() == ["video", "image"]
    assert table.column("ip_address").to_pylist() == ["41.202.45.12", "81.2.3.4"]
    assert table.column("website_url").to_pylist() == ["https://example.com/a", "http://x.org/?a=1&b=2"]
    assert table.column("time_ns").to_pylist() == [T0, 1709251199_123456789]
    assert batch.line_numbers.to_pylist() == [2, 3]


def test_voice_file_decodes_column_by_column() -> None:
    body = voice(VOICE_ROW, "+447700900123,2000,VIDEO,,1800,1704067200")
    batch = decode_cdr_csv(body, "voice")
    assert batch.errors == []
    assert batch.table.schema == cdr_schema("voice")
    table = batch.table
    assert table.column("msisdn").to_pylist() == ["27821234567", "+447700900123"]
    assert table.column("tower_id").to_pylist() == [1523, 2000]
    assert table.column("call_type").to_pylist() == ["voice", "video"]
    assert table.column("dest_nr").to_pylist() == ["27829876543", ""]
    assert table.column("call_duration_sec").to_pylist() == [125, 1800]
    assert table.column("time_ns").to_pylist() == [T0, 1704067200 * 10**9]
    assert batch.line_numbers.to_pylist() == [2, 3]


def test_schema_types() -> None:
    assert cdr_schema("voice").types == [
        pa.string(),
        pa.int32(),
        pa.dictionary(pa.int32(), pa.string()),
        pa.string(),
        pa.int32(),
        pa.int64(),
    ]
    assert cdr_schema("data").field("up_bytes").type == pa.int64()
    assert cdr_schema("data").names[-1] == "time_ns"


@pytest.mark.parametrize("kind", ["data", "voice"])
def test_generated_file_matches_the_csv_module_row_by_row(kind: CdrKind) -> None:
    body, bad = generated(kind, 3000)
    assert bad == []
    batch = decode_cdr_csv(body, kind)
    assert batch.errors == []
    expected = list(csv.DictReader(io.StringIO(body.decode(), newline="")))
    table = batch.table.to_pylist()
    assert len(table) == len(expected) == 3000
    time_column = "event_datetime" if kind == "data" else "start_time"
    for got, want in zip(table, expected, strict=True):
        assert got["time_ns"] == ns(want.pop(time_column))
        assert {name: str(value) for name, value in got.items() if name != "time_ns"} == want
    assert batch.line_numbers.to_pylist() == list(range(2, 3002))


def test_generated_values_stay_in_seed_ranges() -> None:
    table = decode_cdr_csv(generated("data", 2000)[0], "data").table
    towers = table.column("tower_id")
    assert pc.min(towers).as_py() >= 1 and pc.max(towers).as_py() <= 2000
    for name in ("up_bytes", "down_bytes"):
        assert (
            pc.min(table.column(name)).as_py() >= 100_000 and pc.max(table.column(name)).as_py() <= 1_000_000
        )
    assert set(table.column("data_type").to_pylist()) == set(DATA_TYPES)
    voice_table = decode_cdr_csv(generated("voice", 2000)[0], "voice").table
    durations = voice_table.column("call_duration_sec")
    assert pc.min(durations).as_py() >= 1 and pc.max(durations).as_py() <= 1800
    assert set(voice_table.column("call_type").to_pylist()) == {"voice", "video"}


@pytest.mark.parametrize("kind", ["data", "voice"])
def test_generated_bad_rows_are_reported_on_their_lines(kind: CdrKind) -> None:
    body, bad = generated(kind, 3 * _SLICE_ROWS, bad_rate=0.01)
    assert len(bad) > 50
    batch = decode_cdr_csv(body, kind)
    assert [error.line for error in batch.errors] == bad
    assert batch.table.num_rows == 3 * _SLICE_ROWS - len(bad)
    assert set(batch.line_numbers.to_pylist()).isdisjoint(bad)
    assert len(batch.line_numbers) == batch.table.num_rows


def test_generator_is_deterministic_and_seeded() -> None:
    assert generated("voice", 500, bad_rate=0.05) == generated("voice", 500, bad_rate=0.05)
    assert generated("voice", 500)[0] != generated("voice", 500, seed=8)[0]
    assert generated("data", 10)[0].startswith(DATA_HEADER.encode() + b"\r\n")


def test_generator_cli_writes_gzip(tmp_path: Path) -> None:
    out = tmp_path / "voice.csv.gz"
    args = ["--kind", "voice", "--rows", "50", "--out", str(out), "--gzip", "--pool-size", "20"]
    assert main([*args, "--bad-rate", "0.1"]) == 0
    batch = decode_cdr_csv(gzip.decompress(out.read_bytes()), "voice")
    assert batch.table.num_rows + len(batch.errors) == 50
    assert batch.errors


# --- bad rows ---------------------------------------------------------------------------------------

VOICE_BAD_ROWS = [
    ("27821234567,1523,voice,27829876543,125", "expected 6 fields, found 5"),
    (VOICE_ROW + ",extra", "expected 6 fields, found 7"),
    ("27821234567,tower-7,voice,2782,125,2024-01-01 10:15:30", "tower_id: not an integer: 'tower-7'"),
    ("27821234567,0,voice,2782,125,2024-01-01 10:15:30", "tower_id: 0 out of range 1..2147483647"),
    ("27821234567,-4,voice,2782,125,2024-01-01 10:15:30", "tower_id: negative: -4"),
    (
        "27821234567,2147483648,voice,2782,1,2024-01-01 10:15:30",
        "tower_id: 2147483648 out of range 1..2147483647",
    ),
    ("27821234567,0x1F,voice,2782,125,2024-01-01 10:15:30", "tower_id: not an integer: '0x1F'"),
    ("27821234567,+5,voice,2782,125,2024-01-01 10:15:30", "tower_id: not an integer: '+5'"),
    ("27821234567, 5,voice,2782,125,2024-01-01 10:15:30", "tower_id: not an integer: ' 5'"),
    ("27821234567,,voice,2782,125,2024-01-01 10:15:30", "tower_id: empty"),
    ("27821234567,5,voice,2782,-1,2024-01-01 10:15:30", "call_duration_sec: negative: -1"),
    ("27821234567,5,voice,2782,12.5,2024-01-01 10:15:30", "call_duration_sec: not an integer: '12.5'"),
    (
        "27821234567,5,voice,2782,99999999999999999999,2024-01-01 10:15:30",
        "call_duration_sec: 99999999999999999999 out of range 0..2147483647",
    ),
    (",5,voice,2782,125,2024-01-01 10:15:30", "msisdn: empty"),
    ("  ,5,voice,2782,125,2024-01-01 10:15:30", "msisdn: empty"),
    ("27821234567,5,fax,2782,125,2024-01-01 10:15:30", "call_type: 'fax' is not one of video, voice"),
    ("27821234567,5,,2782,125,2024-01-01 10:15:30", "call_type: empty"),
    (
        "27821234567,5,voice,2782,125,2024-13-45 25:61:00",
        "start_time: unreadable timestamp '2024-13-45 25:61:00': expected Unix epoch or ISO-8601",
    ),
    (
        "27821234567,5,voice,2782,125,2024-02-30 10:00:00",
        "start_time: unreadable timestamp '2024-02-30 10:00:00': expected Unix epoch or ISO-8601",
    ),
    ("27821234567,5,voice,2782,125,", "start_time: empty timestamp"),
    (
        "27821234567,5,voice,2782,125,1969-12-31 23:59:59",
        "start_time: timestamp out of range: '1969-12-31 23:59:59'",
    ),
    (
        "27821234567,5,voice,2782,125,2300-01-01 00:00:00",
        "start_time: timestamp out of range: '2300-01-01 00:00:00'",
    ),
    ("27821234567,5,voice,2782,125,99999999999999", "start_time: timestamp out of range: '99999999999999'"),
    (
        ",0,fax,2782,-1,never",
        "msisdn: empty; tower_id: 0 out of range 1..2147483647; call_type: 'fax' is not one of video, voice; "
        "call_duration_sec: negative: -1; "
        "start_time: unreadable timestamp 'never': expected Unix epoch or ISO-8601",
    ),
]


@pytest.mark.parametrize(("row", "reason"), VOICE_BAD_ROWS)
def test_bad_voice_row_is_reported_with_line_and_reason(row: str, reason: str) -> None:
    batch = decode_cdr_csv(voice(VOICE_ROW, row, VOICE_ROW), "voice")
    assert batch.errors == [CdrRowError(3, reason)]
    assert batch.line_numbers.to_pylist() == [2, 4]
    assert batch.table.column("tower_id").to_pylist() == [1523, 1523]


DATA_BAD_ROWS = [
    ("27821234567,1523,-5,123456,video,1.2.3.4,http://a,2024-01-01 10:15:30", "up_bytes: negative: -5"),
    (
        "27821234567,1523,5,1000000000001,video,1.2.3.4,http://a,2024-01-01 10:15:30",
        "down_bytes: 1000000000001 out of range 0..1000000000000",
    ),
    (
        "27821234567,1523,5,1e3,video,1.2.3.4,http://a,2024-01-01 10:15:30",
        "down_bytes: not an integer: '1e3'",
    ),
    ("27821234567,1523,5,6, ,1.2.3.4,http://a,2024-01-01 10:15:30", "data_type: empty"),
]


@pytest.mark.parametrize(("row", "reason"), DATA_BAD_ROWS)
def test_bad_data_row_is_reported_with_line_and_reason(row: str, reason: str) -> None:
    batch = decode_cdr_csv(data(DATA_ROW, row, DATA_ROW), "data")
    assert batch.errors == [CdrRowError(3, reason)]
    assert batch.line_numbers.to_pylist() == [2, 4]


def test_any_data_type_token_is_accepted_lower_cased() -> None:
    row = "27821234567,1523,5,6, Streaming-HD ,1.2.3.4,http://a,2024-01-01 10:15:30"
    batch = decode_cdr_csv(data(row), "data")
    assert batch.errors == []
    assert batch.table.column("data_type").to_pylist() == ["streaming-hd"]


@pytest.mark.parametrize("kind", ["data", "voice"])
def test_bad_rows_in_many_slices_keep_their_lines(kind: CdrKind) -> None:
    good = DATA_ROW if kind == "data" else VOICE_ROW
    broken = good.replace("2024-01-01 10:15:30", "2024-02-30 10:15:30").replace(",1523,", ",x,")
    rows = [broken if i % 997 == 0 else good for i in range(3 * _SLICE_ROWS + 5)]
    batch = decode_cdr_csv((data if kind == "data" else voice)(*rows), kind)
    expected = [i + 2 for i in range(len(rows)) if i % 997 == 0]
    assert [error.line for error in batch.errors] == expected
    assert all("tower_id: not an integer: 'x'" in error.reason for error in batch.errors)
    assert all("unreadable timestamp '2024-02-30 10:15:30'" in error.reason for error in batch.errors)
    assert batch.table.num_rows == len(rows) - len(expected)
    assert set(batch.table.column("time_ns").to_pylist()) == {T0}


def test_too_many_bad_rows_refuse_the_file() -> None:
    rows = [VOICE_ROW.replace("voice", "fax")] * 4
    assert len(decode_cdr_csv(voice(*rows), "voice", max_errors=4).errors) == 4
    with pytest.raises(CdrDecodeError, match="more than 3 bad rows"):
        decode_cdr_csv(voice(*rows), "voice", max_errors=3)
    with pytest.raises(CdrDecodeError, match="more than 3 bad rows"):
        decode_cdr_csv(voice(*["a,b"] * 10), "voice", max_errors=3)  # stops reading early


def test_only_bad_rows_give_an_empty_table() -> None:
    batch = decode_cdr_csv(voice("a,b", VOICE_ROW.replace("voice", "fax")), "voice")
    assert batch.table.num_rows == 0
    assert batch.table.schema == cdr_schema("voice")
    assert [error.line for error in batch.errors] == [2, 3]


# --- header and whole-file errors --------------------------------------------------------------------


def test_header_matches_case_insensitively_in_any_order() -> None:
    header = "START_TIME;Call_Duration_Sec;dest_nr;call_type; Tower_ID ;MSISDN"
    row = "2024-01-01 10:15:30;125;27829876543;voice;1523;27821234567"
    batch = decode_cdr_csv(voice(row, header=header), "voice", delimiter=";")
    assert batch.table.to_pylist() == decode_cdr_csv(voice(VOICE_ROW), "voice").table.to_pylist()


def test_quoted_header_names() -> None:
    header = '"msisdn","tower_id","call_type","dest_nr","call_duration_sec","start_time"'
    assert decode_cdr_csv(voice(VOICE_ROW, header=header), "voice").table.num_rows == 1


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (VOICE_HEADER + ",imsi", "unknown column 'imsi'"),
        (VOICE_HEADER.replace(",dest_nr", ""), "missing column(s) dest_nr"),
        (VOICE_HEADER + ",msisdn", "column 'msisdn' appears twice"),
        (VOICE_ROW, "unknown column '27821234567' (a header is required; voice records have msisdn, "),
        (DATA_HEADER, "unknown column 'up_bytes'"),
        (VOICE_HEADER + ",", "unknown column ''"),
    ],
)
def test_header_problems_refuse_the_file(header: str, message: str) -> None:
    with pytest.raises(CdrDecodeError) as caught:
        decode_cdr_csv(voice(VOICE_ROW, header=header), "voice")
    assert message in caught.value.reason
    assert isinstance(caught.value, DecodeError) and caught.value.status == 400


@pytest.mark.parametrize("body", [b"", b"\xef\xbb\xbf", b"\r\n \n", b"   "])
def test_empty_body_is_refused(body: bytes) -> None:
    with pytest.raises(CdrDecodeError, match="empty body"):
        decode_cdr_csv(body, "voice")


@pytest.mark.parametrize("tail", [b"", b"\r\n", b"\n\n\n", b"\r\n\r\n"])
def test_header_and_blank_lines_give_an_empty_batch(tail: bytes) -> None:
    batch = decode_cdr_csv(VOICE_HEADER.encode() + tail, "voice")
    assert batch.table.num_rows == 0 and batch.errors == []
    assert batch.table.schema == cdr_schema("voice")
    assert batch.line_numbers.type == pa.int64()


def test_byte_order_mark_is_skipped() -> None:
    batch = decode_cdr_csv(b"\xef\xbb\xbf" + voice(VOICE_ROW), "voice")
    assert batch.errors == [] and batch.table.column("msisdn").to_pylist() == ["27821234567"]


def test_non_utf8_body_is_refused_with_its_line() -> None:
    body = voice(VOICE_ROW, VOICE_ROW.replace("27829876543", "2782\xe9")).decode().encode("latin-1")
    with pytest.raises(CdrDecodeError, match="not UTF-8: invalid byte on line 3"):
        decode_cdr_csv(body, "voice")
    with pytest.raises(CdrDecodeError, match="not UTF-8: invalid byte on line 3"):
        decode_cdr_csv(body.replace(b"\r\n", b"\r"), "voice")
    with pytest.raises(CdrDecodeError, match="not UTF-8"):
        decode_cdr_csv(VOICE_HEADER.encode("utf-16"), "voice")


def test_utf8_values_pass() -> None:
    batch = decode_cdr_csv(data(DATA_ROW.replace("https://example.com/a", "https://bücher.de/ü")), "data")
    assert batch.table.column("website_url").to_pylist() == ["https://bücher.de/ü"]


def test_bad_arguments_are_programming_errors() -> None:
    with pytest.raises(ValueError, match="kind"):
        decode_cdr_csv(voice(VOICE_ROW), "sms")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="delimiter"):
        decode_cdr_csv(voice(VOICE_ROW), "voice", delimiter=";;")


# --- line structure: line ends, blank lines, quoting ------------------------------------------------


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_line_ends(newline: str) -> None:
    body = voice(VOICE_ROW, "x,5", VOICE_ROW, newline=newline)
    batch = decode_cdr_csv(body, "voice")
    assert batch.line_numbers.to_pylist() == [2, 4]
    assert batch.errors == [CdrRowError(3, "expected 6 fields, found 2")]


def test_last_row_without_line_end() -> None:
    body = (VOICE_HEADER + "\n" + VOICE_ROW + "\n" + VOICE_ROW).encode()
    assert decode_cdr_csv(body, "voice").line_numbers.to_pylist() == [2, 3]


def test_blank_lines_are_skipped_but_counted() -> None:
    body = voice("", VOICE_ROW, "", "", "x", VOICE_ROW, "") + b"\r\n"
    batch = decode_cdr_csv(body, "voice")
    assert batch.line_numbers.to_pylist() == [3, 7]
    assert batch.errors == [CdrRowError(6, "expected 6 fields, found 1")]


@pytest.mark.parametrize("quote", ["", '"'])
def test_empty_fields_and_blank_lines_at_the_end(quote: str) -> None:
    row = VOICE_ROW.replace("voice", f"{quote}voice{quote}")
    body = voice(row, "", row, ",,,,,", "", ",,,,,", "", "") + b"\n"
    batch = decode_cdr_csv(body, "voice")
    assert batch.line_numbers.to_pylist() == [2, 4]
    assert [error.line for error in batch.errors] == [5, 7]


def test_a_row_of_empty_fields_is_not_a_blank_line() -> None:
    batch = decode_cdr_csv(voice(VOICE_ROW, ",,,,,", "", VOICE_ROW), "voice")
    assert [error.line for error in batch.errors] == [3]
    assert batch.errors[0].reason.startswith("msisdn: empty; tower_id: empty; call_type: empty;")
    assert batch.line_numbers.to_pylist() == [2, 5]


def test_quoted_values_with_delimiters_quotes_and_line_breaks() -> None:
    body = data(
        DATA_ROW,
        '"2782","1","2","3","video","1.2.3.4",'
        '"http://a/?q=""x,y""\r\nsecond line\nthird","2024-01-01 10:15:30"',
        DATA_ROW.replace(",1523,", ",0,"),
        DATA_ROW,
        '2782,1,2,3,"audio\r\n",1.2.3.4,x,2024-01-01 10:15:30',
        "short,row",
        DATA_ROW,
    )
    batch = decode_cdr_csv(body, "data")
    assert batch.line_numbers.to_pylist() == [2, 3, 7, 8, 11]
    assert batch.errors == [
        CdrRowError(6, "tower_id: 0 out of range 1..2147483647"),
        CdrRowError(10, "expected 8 fields, found 2"),
    ]
    assert batch.table.column("website_url")[1].as_py() == 'http://a/?q="x,y"\r\nsecond line\nthird'
    assert batch.table.column("data_type").to_pylist() == ["video", "video", "video", "audio", "video"]


def test_misshapen_quoted_row_spanning_lines() -> None:
    body = voice(VOICE_ROW, '"2782\nx",5', VOICE_ROW, '"open quote,5,voice,1,2,2024-01-01', VOICE_ROW)
    batch = decode_cdr_csv(body, "voice")
    assert batch.line_numbers.to_pylist() == [2, 5]
    assert batch.errors == [
        CdrRowError(3, "expected 6 fields, found 2"),
        CdrRowError(6, "expected 6 fields, found 1 (unbalanced quote?)"),
    ]


def test_tab_delimiter() -> None:
    body = voice(VOICE_ROW.replace(",", "\t"), header=VOICE_HEADER.replace(",", "\t"))
    assert decode_cdr_csv(body, "voice", delimiter="\t").table.column("tower_id").to_pylist() == [1523]


# --- timestamps --------------------------------------------------------------------------------------

TIMES = [
    ("2024-01-01 10:15:30", T0),
    ("2024-01-01 10:15:30.25", T0 + 250_000_000),
    ("2024-01-01T10:15:30.123456789", T0 + 123_456_789),
    ("2024-01-01T10:15:30Z", T0),
    ("2024-01-01T12:15:30+02:00", T0),
    ("2024-01-01T05:15:30.5-0500", T0 + 500_000_000),
    ("2024-01-01 10:15", T0 - 30 * 10**9),
    ("2024-01-01", T0 - (10 * 3600 + 15 * 60 + 30) * 10**9),
    ("1704104130", T0),
    ("1704104130250", T0 + 250_000_000),
    ("1704104130.5", T0 + 500_000_000),
    ("2024-01-01T10:15:30 UTC", T0),
    ("0", 0),
]


@pytest.mark.parametrize(("text", "expected"), TIMES)
def test_time_formats(text: str, expected: int) -> None:
    batch = decode_cdr_csv(voice(VOICE_ROW.replace("2024-01-01 10:15:30", text)), "voice")
    assert batch.errors == []
    assert batch.table.column("time_ns").to_pylist() == [expected]


def test_mixed_time_formats_in_one_file() -> None:
    rows = [VOICE_ROW.replace("2024-01-01 10:15:30", text) for text, _ in TIMES * 700]
    batch = decode_cdr_csv(voice(*rows), "voice")
    assert batch.errors == []
    assert batch.table.column("time_ns").to_pylist() == [expected for _, expected in TIMES * 700]


def test_homogeneous_zoned_and_epoch_files() -> None:
    for text, expected in [("2024-01-01T10:15:30Z", T0), ("1704104130000", T0)]:
        rows = [VOICE_ROW.replace("2024-01-01 10:15:30", text)] * (_SLICE_ROWS + 3)
        assert set(decode_cdr_csv(voice(*rows), "voice").table.column("time_ns").to_pylist()) == {expected}


time_texts = st.one_of(
    st.text(alphabet="0123456789-:T .Z+", max_size=32),
    st.builds(
        lambda date, time, zone: date + time + zone,
        st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", fullmatch=True),
        st.from_regex(r"([T ][0-9]{2}(:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,10})?)?)?)?", fullmatch=True),
        st.from_regex(r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)?", fullmatch=True),
    ),
)


@settings(max_examples=300, deadline=None)
@given(time_texts)
def test_every_time_arrow_casts_has_the_shape_the_slow_path_expects(text: str) -> None:
    for arrow_type, shape in ((pa.timestamp("ns"), _NAIVE), (pa.timestamp("ns", "UTC"), _ZONED)):
        try:
            pc.cast(pa.array([text]), arrow_type)
        except pa.ArrowInvalid:
            continue
        assert re.match(shape, text), (text, arrow_type)


@settings(max_examples=100, deadline=None)
@given(st.lists(time_texts, min_size=1, max_size=8))
def test_a_time_decodes_alike_alone_and_next_to_bad_values(texts: list[str]) -> None:
    rows = [VOICE_ROW.replace("2024-01-01 10:15:30", text) for text in texts]
    alone = decode_cdr_csv(voice(*rows), "voice", max_errors=100)
    mixed = decode_cdr_csv(voice(*rows, VOICE_ROW.replace("2024-01-01 10:15:30", "garbage")), "voice")
    assert mixed.table.to_pylist() == alone.table.to_pylist()
    assert mixed.errors[: len(alone.errors)] == alone.errors


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet="0123456789-x+ .", max_size=21), min_size=1, max_size=8))
def test_an_integer_decodes_alike_alone_and_next_to_bad_values(texts: list[str]) -> None:
    rows = [VOICE_ROW.replace(",125,", f",{text},") for text in texts]
    alone = decode_cdr_csv(voice(*rows), "voice", max_errors=100)
    mixed = decode_cdr_csv(voice(*rows, VOICE_ROW.replace(",125,", ",bad,")), "voice")
    assert mixed.table.to_pylist() == alone.table.to_pylist()
    assert mixed.errors[: len(alone.errors)] == alone.errors


field_texts = st.text(alphabet='ab,"\r\n ', min_size=1, max_size=6).filter(lambda text: text.strip())
csv_rows = st.one_of(
    st.builds(lambda msisdn, dest: [msisdn, "5", "voice", dest, "1", "0"], field_texts, field_texts),
    st.lists(field_texts, min_size=1, max_size=7).filter(lambda fields: len(fields) != 6),
    st.just([]),  # a blank line
)


@settings(max_examples=200, deadline=None)
@given(st.lists(csv_rows, max_size=12), st.sampled_from(["\n", "\r\n", "\r"]))
def test_row_lines_agree_with_the_csv_module(rows: list[list[str]], newline: str) -> None:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator=newline)
    writer.writerow(VOICE_HEADER.split(","))
    for row in rows:
        out.write(newline) if not row else writer.writerow(row)
    reader = csv.reader(io.StringIO(out.getvalue(), newline=""))
    next(reader)
    good, misshapen, line = [], [], reader.line_num
    for fields in reader:
        if len(fields) == 6:
            good.append(line + 1)
        elif fields:
            misshapen.append(line + 1)
        line = reader.line_num
    batch = decode_cdr_csv(out.getvalue().encode(), "voice", max_errors=100)
    shaped = [error.line for error in batch.errors if not error.reason.startswith("expected 6 fields")]
    assert sorted(batch.line_numbers.to_pylist() + shaped) == good  # some values may be bad
    assert [error.line for error in batch.errors if error.line not in shaped] == misshapen
