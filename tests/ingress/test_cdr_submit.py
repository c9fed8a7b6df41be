"""submit_in_chunks (HTTP upload and ingest-cdr): a large file is pseudonymised in a worker thread
while the event loop goes on serving others, with the same records, in the same order, and the same
errors as when it is done inline."""

import asyncio
import threading
from collections.abc import Callable

import pytest

from receiver import cdr_submit
from receiver.cdr_submit import submit_in_chunks
from receiver.decode._cdr import CdrBatch, decode_cdr_csv
from receiver.mapping._cdr import pseudonymise_cdr
from receiver.signals import LOG_ATTRIBUTE_PREFIX, MappedReport, SeriesRegistry

DATA = b"msisdn,tower_id,up_bytes,down_bytes,data_type,ip_address,website_url,event_datetime\n" + b"".join(
    b"316%08d,7,100,200,video,81.2.3.%d,https://a.example/x,2024-03-01 12:00:%02d\n" % (i, i, i)
    for i in range(5)
)


class _Batcher:
    def __init__(self) -> None:
        self.reports: list[MappedReport] = []

    def add(self, report: MappedReport) -> "asyncio.Future[None]":
        self.reports.append(report)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def _column(reports: list[MappedReport], name: str) -> list[object]:
    values: list[object] = []
    for report in reports:
        assert report.log_chunk is not None
        values += report.log_chunk.column(LOG_ATTRIBUTE_PREFIX + name).to_pylist()
    return values


async def _submit(
    batch: CdrBatch, key: bytes | None, batcher: "_Batcher | None" = None
) -> list[MappedReport]:
    batcher = batcher or _Batcher()
    await submit_in_chunks(
        batch,
        batcher,  # type: ignore[arg-type]
        SeriesRegistry(),
        source="f",
        digest="d",
        chunk_rows=2,
        key=key,
        wait_for_capacity_s=1.0,
    )
    return batcher.reports


def _watch(monkeypatch: pytest.MonkeyPatch, before: Callable[[], None]) -> list[int]:
    """Calls ``before`` in ``pseudonymise_cdr``; returns the ids of the threads it ran in."""
    threads: list[int] = []

    def watched(batch: CdrBatch, key: bytes) -> CdrBatch:
        threads.append(threading.get_ident())
        before()
        return pseudonymise_cdr(batch, key)

    monkeypatch.setattr(cdr_submit, "pseudonymise_cdr", watched)
    return threads


async def test_a_large_file_is_pseudonymised_while_the_event_loop_runs_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cdr_submit, "PSEUDONYMISE_IN_THREAD_ROWS", 5)
    loop_ran = threading.Event()
    # Pseudonymising waits for the event loop to run another task: inline, that would never happen.
    threads = _watch(monkeypatch, lambda: loop_ran.wait(5) or pytest.fail("the event loop was blocked"))
    batch = decode_cdr_csv(DATA, "data")

    async def another_request() -> None:
        loop_ran.set()

    other = asyncio.create_task(another_request())
    reports = await _submit(batch, b"k1")
    await other
    assert threads != [threading.get_ident()]
    expected = pseudonymise_cdr(batch, b"k1").table
    assert len(reports) == 3  # chunks of 2 rows, in order
    assert _column(reports, "cdr.msisdn") == expected.column("msisdn").to_pylist()
    assert _column(reports, "cdr.ip_address") == expected.column("ip_address").to_pylist()
    assert _column(reports, "cdr.msisdn")[0] != "31600000000"


async def test_a_small_file_is_pseudonymised_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    threads = _watch(monkeypatch, lambda: None)
    reports = await _submit(decode_cdr_csv(DATA, "data"), b"k1")
    assert threads == [threading.get_ident()]
    assert len(_column(reports, "cdr.msisdn")) == 5


@pytest.mark.parametrize("in_thread_from", [5, 1_000])
async def test_a_pseudonymisation_error_reaches_the_caller_either_way(
    monkeypatch: pytest.MonkeyPatch, in_thread_from: int
) -> None:
    monkeypatch.setattr(cdr_submit, "PSEUDONYMISE_IN_THREAD_ROWS", in_thread_from)
    with pytest.raises(ValueError, match="key must not be empty"):
        await _submit(decode_cdr_csv(DATA, "data"), b"")


async def test_other_tasks_run_between_the_chunks_of_a_file() -> None:
    ticks = 0
    ticks_at_add: list[int] = []

    async def other_request() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    class _Watching(_Batcher):
        def add(self, report: MappedReport) -> "asyncio.Future[None]":
            ticks_at_add.append(ticks)
            return super().add(report)

    batch = decode_cdr_csv(DATA, "data")
    other = asyncio.create_task(other_request())
    await asyncio.sleep(0)
    try:
        await _submit(batch, None, _Watching())
    finally:
        other.cancel()
    assert len(ticks_at_add) == 3  # 5 rows in chunks of 2
    assert ticks_at_add[0] < ticks_at_add[1] < ticks_at_add[2]  # the other task ran in between
