import asyncio

import pytest

from receiver.batch import Batcher, BatcherClosed, Overloaded, SealedBatch, merge_batches
from receiver.config import BatchConfig
from receiver.signals import HistogramPoint, LogEntry, MappedReport, ResourcePoints


def _report(device: str, points: int, logs: int = 0) -> MappedReport:
    report = MappedReport(resource=(("device.id", device),))
    for n in range(points):
        report.metrics.append(n % 3, 1_000 + n, n if n % 2 else n + 0.5)
    report.logs = [LogEntry(time_ns=5, observed_ns=6, body="b", attributes={"k": n}) for n in range(logs)]
    return report


async def test_seals_when_size_is_reached_and_keeps_columns_and_resources() -> None:
    sealed: list[SealedBatch] = []
    batcher = Batcher(BatchConfig(max_points=5, max_age_s=60), sealed.append)
    first = batcher.add(_report("a", 2, logs=1))
    second = batcher.add(_report("b", 3))
    assert first is second  # both reports share the batch and its acknowledgement
    assert len(sealed) == 1
    batch = sealed[0]
    assert batch.resources == [(("device.id", "a"),), (("device.id", "b"),)]
    assert batch.metrics.column("resource").to_pylist() == [0, 0, 1, 1, 1]
    assert batch.metrics.column("is_int").to_pylist() == [False, True, False, True, False]
    assert batch.metrics.column("double").to_pylist() == [0.5, 0.0, 0.5, 0.0, 2.5]
    assert batch.metrics.column("int").to_pylist() == [0, 1, 0, 1, 0]
    assert batch.logs.column("attributes_json").to_pylist() == [b'{"k":0}']
    assert batcher.pending_points == 6


async def test_seals_by_age() -> None:
    sealed: list[SealedBatch] = []
    batcher = Batcher(BatchConfig(max_points=1000, max_age_s=0.02), sealed.append)
    batcher.add(_report("a", 1))
    assert sealed == []
    await asyncio.sleep(0.1)
    assert len(sealed) == 1


def _points(points: int) -> ResourcePoints:
    report = _report("m", points)
    m = report.metrics
    return ResourcePoints(report.resource, m.series, m.times_ns, m.doubles, m.ints, m.is_int)


async def test_points_allowed_to_wait_longer_keep_the_batch_open_until_more_impatient_ones_arrive() -> None:
    sealed: list[SealedBatch] = []
    batcher = Batcher(BatchConfig(max_points=1000, max_age_s=0.02), sealed.append)
    loop = asyncio.get_running_loop()
    opened = loop.time()
    batcher.add_points(_points(2), max_age_s=0.3)
    await asyncio.sleep(0.1)  # past the HTTP age, within its own
    assert sealed == []
    batcher.add(_report("a", 1))  # an HTTP report may wait only 20 ms from the batch's opening
    await asyncio.sleep(0.01)
    assert sealed  # its deadline (opened + 20 ms) has passed: sealed at once
    assert loop.time() - opened < 0.3
    assert sealed[0].metrics.num_rows == 3

    batcher.add(_report("b", 1))
    batcher.add_points(_points(1), max_age_s=0.3)  # a more patient addition does not delay it
    await asyncio.sleep(0.1)
    assert len(sealed) == 2 and sealed[1].metrics.num_rows == 2


async def test_pending_points_are_bounded_and_released_on_acknowledgement() -> None:
    sealed: list[SealedBatch] = []
    batcher = Batcher(BatchConfig(max_points=4, max_age_s=60, max_pending_points=8), sealed.append)
    batcher.add(_report("a", 4))
    batcher.add(_report("b", 4))
    with pytest.raises(Overloaded, match="8 points pending export, limit 8"):
        batcher.add(_report("c", 1))
    sealed[0].done.set_result(None)
    await asyncio.sleep(0)
    assert batcher.pending_points == 4
    batcher.add(_report("c", 1))


async def test_failed_batch_releases_its_points_too() -> None:
    sealed: list[SealedBatch] = []
    batcher = Batcher(BatchConfig(max_points=2, max_age_s=60), sealed.append)
    done = batcher.add(_report("a", 2))
    sealed[0].done.set_exception(RuntimeError("collector gone"))
    with pytest.raises(RuntimeError):
        await done
    await asyncio.sleep(0)  # done-callbacks run on the next loop iteration
    assert batcher.pending_points == 0


async def test_empty_report_is_acknowledged_at_once_and_stop_flushes_then_refuses() -> None:
    sealed: list[SealedBatch] = []
    batcher = Batcher(BatchConfig(max_points=100, max_age_s=60), sealed.append)
    assert batcher.add(_report("a", 0)).done()
    batcher.add(_report("a", 1))
    await batcher.stop()
    await batcher.stop()
    assert len(sealed) == 1
    with pytest.raises(BatcherClosed):
        batcher.add(_report("a", 1))


async def test_merged_batches_keep_every_point_and_share_resources() -> None:
    sealed: list[SealedBatch] = []
    batcher = Batcher(BatchConfig(max_points=3, max_age_s=60), sealed.append)
    batcher.add(_report("a", 2, logs=1))  # sealed at 3 points
    batcher.add(_report("b", 1))
    histogram = MappedReport(
        resource=(("device.id", "a"),), histograms=[HistogramPoint(7, 9, 8, 2, 3.5, (1, 1))]
    )
    batcher.add(histogram)
    batcher.add(_report("c", 1))
    assert len(sealed) == 2
    merged = merge_batches(sealed, asyncio.get_running_loop().create_future())
    assert merged.resources == [(("device.id", "a"),), (("device.id", "b"),), (("device.id", "c"),)]

    def rows(batches: list[SealedBatch]) -> list[tuple[object, ...]]:
        return [
            (b.resources[row["resource"]], row["series"], row["time_ns"], row["double"], row["int"])
            for b in batches
            for row in b.metrics.to_pylist()
        ]

    assert rows([merged]) == rows(sealed)
    assert merged.logs.column("resource").to_pylist() == [0]
    assert merged.histograms == [(0, histogram.histograms[0])]  # resource "a" of the second batch
    assert merged.point_count == sum(b.point_count for b in sealed)


async def test_merged_batches_renumber_the_resources_of_histogram_chunks() -> None:
    import pyarrow as pa

    from receiver.batch import histogram_points
    from receiver.signals import HISTOGRAM_SCHEMA

    def chunk(series: int) -> pa.Table:
        row = {"series": series, "time_ns": 2, "start_ns": 1, "count": 1, "sum": 1.5, "bucket_counts": [1, 0]}
        return pa.Table.from_pylist([row], schema=HISTOGRAM_SCHEMA)

    sealed: list[SealedBatch] = []
    batcher = Batcher(BatchConfig(max_points=2, max_age_s=60), sealed.append)
    batcher.add(MappedReport(resource=(("device.id", "b"),), histogram_chunk=chunk(1)))
    batcher.add(MappedReport(resource=(("device.id", "a"),), histogram_chunk=chunk(2)))  # sealed: 2
    batcher.add(MappedReport(resource=(("device.id", "a"),), histogram_chunk=chunk(3)))
    batcher.flush()
    assert [b.point_count for b in sealed] == [2, 1]
    merged = merge_batches(sealed, asyncio.get_running_loop().create_future())
    assert merged.resources == [(("device.id", "b"),), (("device.id", "a"),)]
    assert [(rid, point.series) for rid, point in histogram_points(merged)] == [(0, 1), (1, 2), (1, 3)]
    assert merged.point_count == 3


async def test_merged_batches_with_different_log_attribute_columns() -> None:
    import pyarrow as pa

    from receiver.signals import log_chunk

    sealed: list[SealedBatch] = []
    batcher = Batcher(BatchConfig(max_points=1, max_age_s=60), sealed.append)
    first = MappedReport(resource=(("device.id", "a"),))
    first.log_chunk = log_chunk(pa.array([1]), 2, "cdr", {"cdr.kind": pa.array(["voice"])})
    second = MappedReport(resource=(("device.id", "b"),))
    second.log_chunk = log_chunk(pa.array([3]), 4, "cdr", {"cdr.bytes": pa.array([10])})
    batcher.add(first)
    batcher.add(second)
    merged = merge_batches(sealed, asyncio.get_running_loop().create_future())
    logs = merged.logs.to_pylist()
    assert [(row["resource"], row["time_ns"]) for row in logs] == [(0, 1), (1, 3)]
    assert [(row["attributes.cdr.kind"], row["attributes.cdr.bytes"]) for row in logs] == [
        ("voice", None),  # null: the record has no such attribute
        (None, 10),
    ]


async def test_a_time_beyond_int64_fails_its_report_and_leaves_the_batch_whole() -> None:
    sealed: list[SealedBatch] = []
    batcher = Batcher(BatchConfig(max_points=4, max_age_s=60), sealed.append)
    batcher.add(_report("a", 1))
    bad = _report("bad", 2)
    bad.metrics.times_ns[1] = 2**63  # e.g. a Sparkplug timestamp far in the future, in ns
    with pytest.raises(OverflowError):
        batcher.add(bad)
    with pytest.raises(OverflowError):
        batcher.add_points(
            ResourcePoints((("device.id", "bad"),), [1, 2], [5, 2**63], [0.5, 1.5], [0, 0], [0, 0])
        )
    batcher.add_points(ResourcePoints((("device.id", "b"),), [1, 2], [5, 6], [0.5, 1.5], [0, 0], [0, 0]))
    batcher.add(_report("c", 1))
    assert len(sealed) == 1 and batcher.pending_points == 4
    metrics = sealed[0].metrics
    assert metrics.column("time_ns").to_pylist() == [1_000, 5, 6, 1_000]
    assert metrics.column("resource").to_pylist() == [0, 1, 1, 2]
    assert sealed[0].resources == [(("device.id", d),) for d in "abc"]
    assert metrics.column("double").to_pylist() == [0.5, 0.5, 1.5, 0.5]


async def test_one_log_attribute_with_two_types_becomes_text_instead_of_failing_the_batch() -> None:
    import pyarrow as pa

    from receiver.signals import log_chunk

    sealed: list[SealedBatch] = []
    batcher = Batcher(BatchConfig(max_points=10, max_age_s=60), sealed.append)
    for device, value in (("a", pa.array([7])), ("b", pa.array(["seven"]))):
        report = MappedReport(resource=(("device.id", device),))
        report.log_chunk = log_chunk(pa.array([1]), 2, "event", {"code": value})
        batcher.add(report)
    batcher.flush()
    [batch] = sealed
    assert batch.logs.column("attributes.code").to_pylist() == ["7", "seven"]
    merged = merge_batches([batch, batch], asyncio.get_running_loop().create_future())
    assert merged.logs.column("attributes.code").to_pylist() == ["7", "seven", "7", "seven"]
