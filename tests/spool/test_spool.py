"""The spool: durable before the answer, exported from memory or disk, deleted after the collector's
acknowledgement, replayed after a restart, tolerant of torn tails, bounded in size."""

import asyncio
import errno
import os
import threading
import time
from pathlib import Path

import pytest

from receiver.batch import Batcher, Overloaded, SealedBatch
from receiver.config import BatchConfig, SpoolConfig
from receiver.signals import MappedReport, MetricSeries, SeriesRegistry
from receiver.spool import Spool, SpoolError


class FakeExporter:
    """Collects what the spool hands to export; the test decides when the collector acknowledges."""

    def __init__(self) -> None:
        self.batches: list[SealedBatch] = []

    def submit(self, batch: SealedBatch) -> None:
        self.batches.append(batch)

    def ack_all(self) -> None:
        for batch in self.batches:
            if not batch.done.done():
                batch.done.set_result(None)


def _report(registry: SeriesRegistry, device: str, values: list[float]) -> MappedReport:
    sid = registry.intern(MetricSeries("Device.X.{i}.Y", "By", "sum", True, (("X", device),)))
    assert sid is not None
    report = MappedReport(resource=(("device.id", device),))
    for n, value in enumerate(values):
        report.metrics.append(sid, 1_000 + n, value)
    return report


def _points(batches: list[SealedBatch], registry: SeriesRegistry) -> list[tuple[object, ...]]:
    out = []
    for batch in batches:
        for row in batch.metrics.to_pylist():
            series = registry[row["series"]]
            out.append(
                (
                    dict(batch.resources[row["resource"]])["device.id"],
                    series.name,
                    series.attributes,
                    row["time_ns"],
                    row["double"],
                )
            )
    return sorted(out, key=repr)


async def _spool(tmp_path: Path, exporter: FakeExporter, registry: SeriesRegistry, **config: object) -> Spool:
    spool = Spool(
        SpoolConfig(**{"directory": str(tmp_path), "commit_window_s": 0.001, "export_linger_s": 0, **config}),
        registry,  # type: ignore[arg-type]
        exporter.submit,
    )
    await spool.start()
    return spool


async def _replayed_elsewhere(tmp_path: Path) -> tuple[Spool, FakeExporter, SeriesRegistry]:
    """The spool at ``tmp_path`` started again as another process would: its registry already holds a
    series, so replayed series get new ids."""
    fresh, replayed = SeriesRegistry(), FakeExporter()
    fresh.intern(MetricSeries("x", "", "gauge", False, ()))
    again = await _spool(tmp_path, replayed, fresh)
    await _settle()
    return again, replayed, fresh


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0.005)


async def test_answer_waits_for_fsync_then_exports_and_deletes_after_ack(tmp_path: Path) -> None:
    registry, exporter = SeriesRegistry(), FakeExporter()
    spool = await _spool(tmp_path, exporter, registry, segment_bytes=1)  # every record closes its segment
    batcher = Batcher(BatchConfig(max_points=2, max_age_s=60), spool.append, admission=spool.full_reason)
    done = batcher.add(_report(registry, "a", [1.5, 2.5]))
    await asyncio.wait_for(done, 2)  # durable: the sender may be answered now
    assert list(tmp_path.glob("segment-*.spool"))
    await _settle()
    assert len(exporter.batches) == 1 and spool.depth == 1
    exporter.ack_all()
    await _settle()
    batcher.add(_report(registry, "b", [3.5, 4.5]))  # rotates past the acknowledged segment
    await _settle()
    assert spool.stats.acked == 1
    remaining = sorted(p.name for p in tmp_path.glob("segment-*.spool"))
    assert "segment-000000000001.spool" not in remaining
    await spool.stop()


async def test_acknowledged_segments_are_deleted_off_the_event_loop_and_stop_waits_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deleted_by: dict[str, str] = {}
    unlink = Path.unlink

    def recording_unlink(path: Path, missing_ok: bool = False) -> None:
        time.sleep(0.05)  # a slow file system: the event loop must not wait for this
        deleted_by[path.name] = threading.current_thread().name
        unlink(path, missing_ok)

    registry, exporter = SeriesRegistry(), FakeExporter()
    spool = await _spool(tmp_path, exporter, registry, segment_bytes=1)
    monkeypatch.setattr(Path, "unlink", recording_unlink)
    batcher = Batcher(BatchConfig(max_points=2, max_age_s=60), spool.append)
    await asyncio.wait_for(batcher.add(_report(registry, "a", [1.5, 2.5])), 2)
    await _settle()
    exporter.ack_all()
    await _settle()
    batcher.add(_report(registry, "b", [3.5, 4.5]))  # rotates past the acknowledged segment
    await asyncio.sleep(0)
    await spool.stop()  # returns once the deletion finished
    assert deleted_by["segment-000000000001.spool"] != threading.main_thread().name
    assert deleted_by["segment-000000000001.acks"] != threading.main_thread().name
    assert not (tmp_path / "segment-000000000001.spool").exists()


async def test_a_quick_fsync_runs_on_the_event_loop_and_a_slow_disk_moves_it_to_a_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced_by: list[str] = []
    real_fsync = os.fsync
    slow = False

    def fsync(fd: int) -> None:
        synced_by.append(threading.current_thread().name)
        if slow:
            time.sleep(0.02)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    registry, exporter = SeriesRegistry(), FakeExporter()
    spool = await _spool(tmp_path, exporter, registry, fsync_inline_max_s=0.005)
    batcher = Batcher(BatchConfig(max_points=1, max_age_s=60), spool.append)
    main = threading.main_thread().name
    await asyncio.wait_for(batcher.add(_report(registry, "a", [1.5])), 2)
    assert synced_by == [main]
    slow = True
    for value in (2.5, 3.5):  # the slow syncs still run on the loop until the average shows them
        await asyncio.wait_for(batcher.add(_report(registry, "a", [value])), 2)
    assert synced_by == [main] * 3
    slow = False
    await asyncio.wait_for(batcher.add(_report(registry, "a", [4.5])), 2)
    assert synced_by[-1] != main  # a recent average above 5 ms: in a thread
    for value in range(12):  # quick again: the average decays and the loop takes it back
        await asyncio.wait_for(batcher.add(_report(registry, "a", [float(value)])), 2)
    assert synced_by[-1] == main
    await spool.stop()


async def test_restart_replays_unacknowledged_batches_with_their_series(tmp_path: Path) -> None:
    registry, exporter = SeriesRegistry(), FakeExporter()
    spool = await _spool(tmp_path, exporter, registry)
    batcher = Batcher(BatchConfig(max_points=2, max_age_s=60), spool.append)
    for device in ("a", "b", "c"):
        await asyncio.wait_for(batcher.add(_report(registry, device, [1.0, 2.0])), 2)
    await _settle()
    expected = _points(exporter.batches, registry)
    await spool.stop()  # the collector never acknowledged

    fresh_registry, replayed = SeriesRegistry(), FakeExporter()
    fresh_registry.intern(MetricSeries("other", "", "gauge", False, ()))  # ids differ in the new process
    again = await _spool(tmp_path, replayed, fresh_registry)
    await _settle()
    assert again.stats.replayed == 3
    assert _points(replayed.batches, fresh_registry) == expected
    replayed.ack_all()
    await _settle()
    assert again.depth == 0
    await again.stop()


async def test_torn_tail_is_skipped_with_the_good_records_replayed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    registry, exporter = SeriesRegistry(), FakeExporter()
    spool = await _spool(tmp_path, exporter, registry)
    batcher = Batcher(BatchConfig(max_points=2, max_age_s=60), spool.append)
    for device in ("a", "b"):
        await asyncio.wait_for(batcher.add(_report(registry, device, [1.0, 2.0])), 2)
    await spool.stop()
    [segment] = tmp_path.glob("segment-*.spool")
    data = segment.read_bytes()
    segment.write_bytes(data[:-7])  # a crash mid-write
    again = await _spool(tmp_path, FakeExporter(), SeriesRegistry())
    assert again.stats.replayed == 1 and again.stats.corrupt_tails == 1
    assert "skipped" in caplog.text
    await again.stop()


async def test_corrupt_record_is_detected_by_checksum(tmp_path: Path) -> None:
    registry, exporter = SeriesRegistry(), FakeExporter()
    spool = await _spool(tmp_path, exporter, registry)
    batcher = Batcher(BatchConfig(max_points=2, max_age_s=60), spool.append)
    await asyncio.wait_for(batcher.add(_report(registry, "a", [1.0, 2.0])), 2)
    await spool.stop()
    [segment] = tmp_path.glob("segment-*.spool")
    data = bytearray(segment.read_bytes())
    data[len(data) // 2] ^= 0xFF
    segment.write_bytes(bytes(data))
    again = await _spool(tmp_path, FakeExporter(), SeriesRegistry())
    assert again.stats.replayed == 0 and again.stats.corrupt_tails == 1
    await again.stop()


async def test_full_spool_refuses_new_reports(tmp_path: Path) -> None:
    registry, exporter = SeriesRegistry(), FakeExporter()
    spool = await _spool(tmp_path, exporter, registry, max_bytes=1)
    batcher = Batcher(BatchConfig(max_points=2, max_age_s=60), spool.append, admission=spool.full_reason)
    await asyncio.wait_for(batcher.add(_report(registry, "a", [1.0, 2.0])), 2)
    with pytest.raises(Overloaded, match=r"spool holds .* bytes not yet exported, limit 1"):
        batcher.add(_report(registry, "b", [1.0]))
    await spool.stop()


async def test_write_failure_fails_the_batch_and_recovers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry, exporter = SeriesRegistry(), FakeExporter()
    spool = await _spool(tmp_path, exporter, registry)
    batcher = Batcher(BatchConfig(max_points=2, max_age_s=60), spool.append)
    real_write = os.write

    def disk_full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", disk_full)
    with pytest.raises(SpoolError, match="spool unavailable: No space left on device"):
        await asyncio.wait_for(batcher.add(_report(registry, "a", [1.0, 2.0])), 2)
    monkeypatch.setattr(os, "write", real_write)
    await asyncio.wait_for(batcher.add(_report(registry, "b", [1.0, 2.0])), 2)
    assert spool.stats.write_errors == 1 and spool.stats.appended == 1
    await spool.stop()


async def test_second_process_on_the_same_directory_is_refused(tmp_path: Path) -> None:
    first = await _spool(tmp_path, FakeExporter(), SeriesRegistry())
    with pytest.raises(SpoolError, match="in use by another receiver"):
        await _spool(tmp_path, FakeExporter(), SeriesRegistry())
    await first.stop()


async def test_export_failure_is_retried_not_dropped(tmp_path: Path) -> None:
    registry, exporter = SeriesRegistry(), FakeExporter()
    spool = await _spool(tmp_path, exporter, registry)
    batcher = Batcher(BatchConfig(max_points=2, max_age_s=60), spool.append)
    await asyncio.wait_for(batcher.add(_report(registry, "a", [1.0, 2.0])), 2)
    await _settle()
    exporter.batches[0].done.set_exception(RuntimeError("collector down"))
    await asyncio.sleep(1.3)  # first retry after one second
    assert len(exporter.batches) == 2
    assert _points(exporter.batches[1:], registry) == _points(exporter.batches[:1], registry)
    await spool.stop()


async def test_acknowledged_records_are_not_replayed(tmp_path: Path) -> None:
    registry, exporter = SeriesRegistry(), FakeExporter()
    spool = await _spool(tmp_path, exporter, registry)
    batcher = Batcher(BatchConfig(max_points=2, max_age_s=60), spool.append)
    for device in ("a", "b", "c"):
        await asyncio.wait_for(batcher.add(_report(registry, device, [1.0, 2.0])), 2)
    await _settle()
    exporter.batches[0].done.set_result(None)  # only the first reached the collector
    await _settle()
    await spool.stop()
    replayed = FakeExporter()
    again = await _spool(tmp_path, replayed, SeriesRegistry())
    await _settle()
    assert again.stats.replayed == 2
    assert {dict(r)["device.id"] for b in replayed.batches for r in b.resources} == {"b", "c"}
    await again.stop()


async def test_histograms_survive_a_replay(tmp_path: Path) -> None:
    from receiver.signals import HistogramPoint

    registry, exporter = SeriesRegistry(), FakeExporter()
    spool = await _spool(tmp_path, exporter, registry)
    sid = registry.intern(MetricSeries("h", "s", "histogram", False, (), temporality="delta", bounds=(1.0,)))
    assert sid is not None
    report = MappedReport(
        resource=(("device.id", "t"),), histograms=[HistogramPoint(sid, 5, 1, 2, 3.0, (1, 1))]
    )
    batcher = Batcher(BatchConfig(max_points=1, max_age_s=60), spool.append)
    await asyncio.wait_for(batcher.add(report), 2)
    await spool.stop()
    again, replayed, fresh = await _replayed_elsewhere(tmp_path)
    [(rid, point)] = replayed.batches[0].histograms
    assert rid == 0
    series = fresh[point.series]
    assert (series.name, series.kind, series.temporality, series.bounds) == (
        "h",
        "histogram",
        "delta",
        (1.0,),
    )
    assert (point.count, point.sum, point.bucket_counts) == (2, 3.0, (1, 1))
    await again.stop()


async def test_histogram_chunks_survive_a_replay(tmp_path: Path) -> None:
    """A histogram chunk (the CDR mapper's columns) is written as points and replays as points."""
    import pyarrow as pa

    from receiver.batch import histogram_points
    from receiver.signals import HISTOGRAM_SCHEMA, HistogramPoint

    registry, exporter = SeriesRegistry(), FakeExporter()
    spool = await _spool(tmp_path, exporter, registry)
    sid = registry.intern(MetricSeries("h", "s", "histogram", False, (), temporality="delta", bounds=(1.0,)))
    assert sid is not None
    chunk = pa.Table.from_pylist(
        [
            {"series": sid, "time_ns": 5, "start_ns": 1, "count": 2, "sum": 3.0, "bucket_counts": [1, 1]},
            {
                "series": sid,
                "time_ns": 6,
                "start_ns": 2,
                "count": 2**64 - 1,
                "sum": 0.5,
                "bucket_counts": [0, 9],
            },
        ],
        schema=HISTOGRAM_SCHEMA,
    )
    report = MappedReport(resource=(("device.id", "t"),), histogram_chunk=chunk)
    batcher = Batcher(BatchConfig(max_points=2, max_age_s=60), spool.append)
    await asyncio.wait_for(batcher.add(report), 2)
    await spool.stop()
    again, replayed, fresh = await _replayed_elsewhere(tmp_path)
    [batch] = replayed.batches
    points = histogram_points(batch)
    assert [rid for rid, _ in points] == [0, 0]
    assert {point.series for _, point in points} == {fresh.intern(registry[sid])}
    assert [point for _, point in points] == [
        HistogramPoint(points[0][1].series, 5, 1, 2, 3.0, (1, 1)),
        HistogramPoint(points[0][1].series, 6, 2, 2**64 - 1, 0.5, (0, 9)),
    ]
    assert batch.point_count == 2
    await again.stop()


async def test_records_waiting_for_a_busy_exporter_leave_together_and_retry_together(tmp_path: Path) -> None:
    registry, exporter = SeriesRegistry(), FakeExporter()
    spool = Spool(
        SpoolConfig(directory=str(tmp_path), commit_window_s=0.001, export_linger_s=0),
        registry,
        exporter.submit,
        max_in_flight=1,
    )
    await spool.start()
    batcher = Batcher(BatchConfig(max_points=2, max_age_s=60), spool.append)
    await asyncio.wait_for(batcher.add(_report(registry, "a", [1.0, 2.0])), 2)
    await _settle()
    assert len(exporter.batches) == 1  # the only export slot is taken by a's record
    for device in ("b", "c", "d"):
        await asyncio.wait_for(batcher.add(_report(registry, device, [3.0, 4.0])), 2)
    await _settle()
    assert len(exporter.batches) == 1
    exporter.batches[0].done.set_result(None)
    await _settle()
    merged = exporter.batches[1]
    assert len(exporter.batches) == 2
    assert [dict(r)["device.id"] for r in merged.resources] == ["b", "c", "d"]
    assert merged.metrics.column("resource").to_pylist() == [0, 0, 1, 1, 2, 2]
    assert _points([merged], registry) == [
        (device, "Device.X.{i}.Y", (("X", device),), time_ns, value)
        for device in ("b", "c", "d")
        for time_ns, value in ((1_000, 3.0), (1_001, 4.0))
    ]
    merged.done.set_exception(SpoolError("collector down"))
    await asyncio.sleep(1.2)  # the retry pause
    retried = exporter.batches[2]
    assert [dict(r)["device.id"] for r in retried.resources] == ["b", "c", "d"]
    assert _points([retried], registry) == _points([merged], registry)
    retried.done.set_result(None)
    await _settle()
    assert spool.depth == 0
    await spool.stop()


async def test_durable_records_linger_to_leave_together(tmp_path: Path) -> None:
    registry, exporter = SeriesRegistry(), FakeExporter()
    spool = await _spool(tmp_path, exporter, registry, export_linger_s=0.3)
    batcher = Batcher(BatchConfig(max_points=2, max_age_s=60), spool.append)
    for device in ("a", "b"):
        await asyncio.wait_for(batcher.add(_report(registry, device, [1.0, 2.0])), 2)  # answered
    await _settle()
    assert exporter.batches == []  # durable, waiting for company
    await asyncio.sleep(0.4)
    [together] = exporter.batches
    assert [dict(r)["device.id"] for r in together.resources] == ["a", "b"]
    together.done.set_result(None)
    await _settle()
    assert spool.depth == 0
    await spool.stop()


async def test_bytes_on_disk_follows_writes_deletions_and_replay(tmp_path: Path) -> None:
    def on_disk() -> int:
        return sum(path.stat().st_size for path in tmp_path.glob("segment-*.spool"))

    registry, exporter = SeriesRegistry(), FakeExporter()
    spool = await _spool(tmp_path, exporter, registry, segment_bytes=1)  # every record closes its segment
    batcher = Batcher(BatchConfig(max_points=2, max_age_s=60), spool.append)
    for device in ("a", "b", "c"):
        await asyncio.wait_for(batcher.add(_report(registry, device, [1.0, 2.0])), 2)
    assert spool.bytes_on_disk == on_disk() > 0
    await _settle()
    exporter.batches[0].done.set_result(None)  # the first segment is acknowledged, then deleted
    batcher.add(_report(registry, "d", [3.0, 4.0]))
    await _settle()
    assert spool.stats.acked == 1
    assert spool.bytes_on_disk == on_disk()
    await spool.stop()

    again = await _spool(tmp_path, FakeExporter(), SeriesRegistry())
    assert again.stats.replayed == 3
    assert again.bytes_on_disk == on_disk() > 0
    await again.stop()


async def test_a_failed_merge_sends_the_records_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import receiver.spool._spool as spool_module

    real_merge = spool_module.merge_batches

    def merge(batches: list[SealedBatch], done: "asyncio.Future[None]") -> SealedBatch:
        if len(batches) > 1:
            raise RuntimeError("merge bug")
        return real_merge(batches, done)

    monkeypatch.setattr(spool_module, "merge_batches", merge)
    registry, exporter = SeriesRegistry(), FakeExporter()
    spool = await _spool(tmp_path, exporter, registry, export_linger_s=0.3)
    batcher = Batcher(BatchConfig(max_points=2, max_age_s=60), spool.append)
    for device in ("a", "b"):
        await asyncio.wait_for(batcher.add(_report(registry, device, [1.0, 2.0])), 2)
    await asyncio.sleep(0.4)
    assert [dict(b.resources[0])["device.id"] for b in exporter.batches] == ["a", "b"]
    exporter.ack_all()
    await _settle()
    assert spool.depth == 0
    await spool.stop()
