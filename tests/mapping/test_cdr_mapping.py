"""CDR batches -> a log record per record plus per-upload aggregates (delta sums, a histogram)."""

from typing import Any

from receiver.decode._cdr import CdrBatch, decode_cdr_csv
from receiver.mapping._cdr import CALL_DURATION_BOUNDS, map_cdr, pseudonymise_cdr
from receiver.signals import LOG_ATTRIBUTE_PREFIX, HistogramPoint, MappedReport, SeriesRegistry

DATA = (
    b"msisdn,tower_id,up_bytes,down_bytes,data_type,ip_address,website_url,event_datetime\n"
    b"31611111111,7,100,200,video,81.2.3.4,https://a.example/x,2024-03-01 12:00:00\n"
    b"31622222222,7,300,400,video,81.2.3.5,https://b.example/y,2024-03-01 12:00:10\n"
    b"31633333333,9,500,600,text,81.2.3.6,https://c.example/z,2024-03-01 12:00:20\n"
)
VOICE = (
    b"msisdn,tower_id,call_type,dest_nr,call_duration_sec,start_time\n"
    b"31611111111,7,voice,31699999999,3,2024-03-01 12:00:00\n"
    b"31622222222,7,voice,31699999998,100,2024-03-01 12:01:00\n"
    b"31633333333,7,video,31699999997,2000,2024-03-01 12:02:00\n"
)


def _logs(report: MappedReport) -> list[dict[str, Any]]:
    """The log records of a report's log chunk, attributes under "attributes"."""
    assert report.log_chunk is not None and not report.logs
    return [
        {
            **{k: v for k, v in row.items() if not k.startswith(LOG_ATTRIBUTE_PREFIX)},
            "attributes": {
                k[len(LOG_ATTRIBUTE_PREFIX) :]: v
                for k, v in row.items()
                if k.startswith(LOG_ATTRIBUTE_PREFIX)
            },
        }
        for row in report.log_chunk.to_pylist()
    ]


def _points(report: MappedReport) -> list[tuple[int, int]]:
    """(series, int value) of every metric point, from the columns and the chunk."""
    points = list(zip(report.metrics.series, report.metrics.ints, strict=True))
    if report.metric_chunk is not None:
        chunk = report.metric_chunk
        points += zip(chunk.column("series").to_pylist(), chunk.column("int").to_pylist(), strict=True)
    return points


def test_data_records_become_logs_and_byte_sums_by_tower_direction_and_type() -> None:
    registry = SeriesRegistry()
    report = map_cdr(
        decode_cdr_csv(DATA, "data"), registry, source="f.csv", source_digest="abc", received_ns=1
    )
    logs = _logs(report)
    assert [entry["body"] for entry in logs] == ["cdr.data"] * 3
    first = logs[0]
    assert first["attributes"]["cdr.msisdn"] == "31611111111" and first["attributes"]["cdr.tower_id"] == 7
    assert first["attributes"]["cdr.record_id"] == "abc:2"
    assert first["time_ns"] == 1709294400 * 10**9
    assert (first["observed_ns"], first["severity_number"], first["severity_text"]) == (1, 9, "INFO")
    assert list(first["attributes"]) == [
        "cdr.msisdn",
        "cdr.tower_id",
        "cdr.up_bytes",
        "cdr.down_bytes",
        "cdr.data_type",
        "cdr.ip_address",
        "cdr.website_url",
        "cdr.record_id",
    ]
    assert first["attributes"]["cdr.data_type"] == "video" and first["attributes"]["cdr.up_bytes"] == 100
    sums = {}
    for sid, value in _points(report):
        series = registry[sid]
        sums[
            (
                series.name,
                dict(series.attributes).get("cdr.tower_id"),
                dict(series.attributes).get("cdr.direction"),
                dict(series.attributes).get("cdr.data_type"),
            )
        ] = value
        assert series.temporality == "delta"
    assert sums[("cdr.data.bytes", 7, "up", "video")] == 400
    assert sums[("cdr.data.bytes", 7, "down", "video")] == 600
    assert sums[("cdr.data.bytes", 9, "down", "text")] == 600
    assert sums[("cdr.records", None, None, None)] == 3


def test_voice_durations_become_a_histogram_per_tower_and_call_type() -> None:
    registry = SeriesRegistry()
    report = map_cdr(
        decode_cdr_csv(VOICE, "voice"), registry, source="v.csv", source_digest="d", received_ns=1
    )
    assert report.histogram_chunk is not None and not report.histograms
    points = [HistogramPoint(**row) for row in report.histogram_chunk.to_pylist()]
    by_type = {dict(registry[h.series].attributes)["cdr.call_type"]: h for h in points}
    assert len(points) == 2 and {h.start_ns for h in points} == {h.start_ns for h in points[:1]}
    voice = by_type["voice"]
    assert (voice.count, voice.sum) == (2, 103.0)
    assert voice.bucket_counts[0] == 1 and voice.bucket_counts[CALL_DURATION_BOUNDS.index(120.0)] == 1
    assert by_type["video"].bucket_counts[-1] == 1  # 2000 s is beyond the last bound
    assert registry[voice.series].bounds == CALL_DURATION_BOUNDS


def test_pseudonymisation_replaces_numbers_and_addresses_consistently() -> None:
    registry = SeriesRegistry()
    batch = decode_cdr_csv(DATA, "data")
    one = map_cdr(batch, registry, source="f", source_digest="x", received_ns=1, pseudonym_key=b"k1")
    two = map_cdr(batch, registry, source="f", source_digest="x", received_ns=1, pseudonym_key=b"k1")
    other = map_cdr(batch, registry, source="f", source_digest="x", received_ns=1, pseudonym_key=b"k2")
    msisdn = _logs(one)[0]["attributes"]["cdr.msisdn"]
    assert msisdn != "31611111111" and msisdn == _logs(two)[0]["attributes"]["cdr.msisdn"]
    assert msisdn != _logs(other)[0]["attributes"]["cdr.msisdn"]
    assert _logs(one)[0]["attributes"]["cdr.ip_address"] != "81.2.3.4"


def test_a_file_pseudonymised_once_maps_like_each_chunk_pseudonymised() -> None:
    """The CLI and the upload pseudonymise a whole file, then map chunks without a key."""
    for body, kind in ((DATA, "data"), (VOICE, "voice")):
        batch = decode_cdr_csv(body, kind)  # type: ignore[arg-type]
        whole = pseudonymise_cdr(batch, b"k1")
        for start in range(3):
            chunk, done = (
                CdrBatch(b.kind, b.table.slice(start, 1), b.line_numbers.slice(start, 1), [])
                for b in (batch, whole)
            )
            keyed = map_cdr(
                chunk, SeriesRegistry(), source="f", source_digest="x", received_ns=1, pseudonym_key=b"k1"
            )
            plain = map_cdr(done, SeriesRegistry(), source="f", source_digest="x", received_ns=1)
            assert _logs(keyed) == _logs(plain)
            assert plain.log_chunk is not None and keyed.log_chunk is not None
            assert plain.log_chunk.schema == keyed.log_chunk.schema
            assert _logs(plain)[0]["attributes"]["cdr.msisdn"] != batch.table.column("msisdn")[start].as_py()
