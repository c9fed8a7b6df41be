"""Log chunks (columnar log records, e.g. CDR) in spool records: written as part of the batch's log
table and replayed to the same OTLP requests."""

import asyncio
from pathlib import Path

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from receiver.batch import Batcher, SealedBatch
from receiver.config import BatchConfig, SpoolConfig
from receiver.decode._cdr import decode_cdr_csv
from receiver.export import encode_logs
from receiver.export._otlp_logs_fast import encode_logs_fast
from receiver.mapping._cdr import map_cdr
from receiver.signals import LogEntry, MappedReport, MetricSeries, SeriesRegistry
from receiver.spool import Spool, decode_payload, encode_record

VOICE = (
    b"msisdn,tower_id,call_type,dest_nr,call_duration_sec,start_time\n"
    b"31611111111,7,voice,31699999999,3,2024-03-01 12:00:00\n"
    b"31622222222,7,video,,100,2024-03-01 12:01:00\n"
)


def _reports(registry: SeriesRegistry) -> list[MappedReport]:
    cdr = map_cdr(decode_cdr_csv(VOICE, "voice"), registry, source="v.csv", source_digest="d", received_ns=7)
    lifecycle = MappedReport(resource=(("device.id", "A"),))
    lifecycle.logs = [LogEntry(1, 2, "lwm2m.registered", {"lwm2m.lifetime": 300, "ok": True})]
    return [cdr, lifecycle]


def _records(payloads: list[bytes]) -> list[ExportLogsServiceRequest]:
    return [ExportLogsServiceRequest.FromString(payload) for payload in payloads]


async def test_record_round_trip_keeps_log_chunk_columns() -> None:
    registry = SeriesRegistry()
    sealed: list[SealedBatch] = []
    batcher = Batcher(BatchConfig(max_points=10**6, max_age_s=60), sealed.append)
    for report in _reports(registry):
        batcher.add(report)
    batcher.flush()
    [batch] = sealed
    fresh = SeriesRegistry()
    record = encode_record(batch, registry)
    decoded = decode_payload(record[12:], fresh)  # after the frame: magic, length, crc32
    assert decoded.logs.equals(batch.logs)
    assert "attributes.cdr.msisdn" in decoded.logs.column_names
    again = decoded.sealed(asyncio.get_running_loop().create_future())
    expected = _records(encode_logs(batch, 1 << 20))
    assert _records(encode_logs_fast(again, 1 << 20)) == expected
    assert _records(encode_logs(again, 1 << 20)) == expected


class _Exporter:
    def __init__(self) -> None:
        self.batches: list[SealedBatch] = []

    def submit(self, batch: SealedBatch) -> None:
        self.batches.append(batch)


async def test_restart_replays_cdr_log_records_to_the_same_requests(tmp_path: Path) -> None:
    registry, exporter = SeriesRegistry(), _Exporter()
    spool = Spool(SpoolConfig(directory=str(tmp_path), commit_window_s=0.001), registry, exporter.submit)
    await spool.start()
    batcher = Batcher(BatchConfig(max_points=10**6, max_age_s=60), spool.append)
    for report in _reports(registry):
        batcher.add(report)
    batcher.flush()
    for _ in range(100):
        if exporter.batches:
            break
        await asyncio.sleep(0.01)
    [before] = exporter.batches
    expected = _records(encode_logs(before, 1 << 20))
    await spool.stop()  # never acknowledged by the collector

    fresh, replayed = SeriesRegistry(), _Exporter()
    fresh.intern(MetricSeries("other", "", "gauge", False, ()))  # ids differ in the new process
    again = Spool(SpoolConfig(directory=str(tmp_path), commit_window_s=0.001), fresh, replayed.submit)
    await again.start()
    for _ in range(100):
        if replayed.batches:
            break
        await asyncio.sleep(0.01)
    [after] = replayed.batches
    assert again.stats.replayed == 1
    assert _records(encode_logs_fast(after, 1 << 20)) == expected
    [cdr] = [rl for rl in expected[0].resource_logs if rl.resource.attributes[0].key == "cdr.source"]
    records = cdr.scope_logs[0].log_records
    assert [record.body.string_value for record in records] == ["cdr.voice"] * 2
    for batch in replayed.batches:
        batch.done.set_result(None)
    await again.stop()
