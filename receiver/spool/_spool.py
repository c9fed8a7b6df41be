"""The spool: accepted batches are on disk (group commit, fsync) before their senders get a 2xx, and
stay there until the collector acknowledged them; a restart replays what is left.

Segments are append-only files ``segment-<n>.spool``; a segment is deleted once it is closed and every
record in it was acknowledged. Records flow to export from memory while export keeps up, and are read
back from disk when it does not (and on replay), so memory stays bounded whatever the backlog."""

import asyncio
import collections
import contextlib
import fcntl
import functools
import itertools
import logging
import os
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ..batch import SealedBatch, merge_batches
from ..config import SpoolConfig
from ..signals import NotDelivered, SeriesRegistry
from ._record import FRAME, MAGIC, CorruptRecord, RecordEncoder, decode_payload

log = logging.getLogger(__name__)
_RETRY_DELAY_S = 1.0
_MERGE_MAX_RECORDS = 64  # records sent in one export when export is behind
_OFFSET = struct.Struct("<Q")


class SpoolError(NotDelivered):
    """The spool could not make data durable (disk full, unwritable): the sender should retry."""


@dataclass
class _Segment:
    number: int
    path: Path
    size: int = 0
    unacked: int = 0
    closed: bool = False
    acks: IO[bytes] | None = None  # offsets of acknowledged records: a replay skips them

    @property
    def acks_path(self) -> Path:
        return self.path.with_suffix(".acks")


@dataclass
class _Entry:
    segment: _Segment
    offset: int
    length: int
    batch: SealedBatch | None  # None: read it back from disk
    points: int = 0  # 0 when not known (replayed records)
    attempts: int = 0
    created: float = field(default_factory=time.monotonic)


@dataclass
class SpoolStats:
    appended: int = 0
    acked: int = 0
    replayed: int = 0
    corrupt_tails: int = 0
    write_errors: int = 0


class Spool:
    def __init__(
        self,
        config: SpoolConfig,
        registry: SeriesRegistry,
        submit: Callable[[SealedBatch], None],
        *,
        max_in_flight: int = 8,
        merge_points: int = 65_536,
    ) -> None:
        self._config = config
        self._registry = registry
        self._encoder = RecordEncoder(registry)
        self._submit = submit
        self._dir = Path(config.directory)
        self._segments: dict[int, _Segment] = {}
        self._current: _Segment | None = None
        self._fd = -1
        self._pending_commit: list[asyncio.Future[None]] = []
        self._committer: asyncio.Task[None] | None = None
        self._to_export: collections.deque[_Entry] = collections.deque()
        self._in_memory = 0
        self._in_flight = 0
        self._max_in_flight = max_in_flight
        self._linger_timer: asyncio.TimerHandle | None = None
        self._merge_points = merge_points
        self._wake = asyncio.Event()
        self._feeder: asyncio.Task[None] | None = None
        self._closed = False
        self._last_number = 0
        self._deleting: set[asyncio.Future[None]] = set()
        self._fsync_s = 0.0  # recent fsync duration (moving average): where the next one runs
        self._lock: IO[str]
        self.stats = SpoolStats()
        self._bytes = 0

    # -- capacity ---------------------------------------------------------------------------
    @property
    def bytes_on_disk(self) -> int:
        return self._bytes  # the sum of the segments' sizes, kept as they change (read per report)

    @property
    def depth(self) -> int:
        """Records accepted and not yet acknowledged by the collector."""
        return sum(segment.unacked for segment in self._segments.values())

    def oldest_age_s(self) -> float:
        return time.monotonic() - self._to_export[0].created if self._to_export else 0.0

    def full_reason(self) -> str | None:
        if self.bytes_on_disk >= self._config.max_bytes:
            return f"spool holds {self.bytes_on_disk} bytes not yet exported, limit {self._config.max_bytes}"
        return None

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        # Two processes appending to one spool would replay and delete each other's data.
        self._lock = (self._dir / "spool.lock").open("a")
        try:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise SpoolError(f"spool directory {self._dir} is in use by another receiver process") from None
        for path in sorted(self._dir.glob("segment-*.spool")):
            self._replay(path)
        self._open_segment()
        self._feeder = asyncio.create_task(self._feed(), name="spool-feeder")
        self._wake.set()

    async def stop(self) -> None:
        """Commit what is written; unexported records stay on disk for the next start."""
        if self._closed:
            return
        self._closed = True
        if self._linger_timer is not None:
            self._linger_timer.cancel()
            self._linger_timer = None
        if self._committer is not None:
            await self._committer
        await self._commit()
        if self._feeder is not None:
            self._feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._feeder
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        for segment in self._segments.values():
            if segment.acks is not None:
                segment.acks.close()
                segment.acks = None
        if self._deleting:
            await asyncio.gather(*self._deleting)
        self._lock.close()

    # -- write path -------------------------------------------------------------------------
    def append(self, batch: SealedBatch) -> None:
        """Write ``batch``; its ``done`` settles when the write is durable (or failed)."""
        try:
            record = self._encoder.encode(batch)
            segment = self._writable_segment()
            offset = segment.size
            written = os.write(self._fd, record)
            if written != len(record):
                raise OSError(f"short write ({written} of {len(record)} bytes)")
        except OSError as exc:
            self.stats.write_errors += 1
            log.error("spool write failed in %s: %s; answering 503 until it recovers", self._dir, exc)
            self._reopen_after_error()
            batch.done.set_exception(SpoolError(f"spool unavailable: {exc.strerror or exc}"))
            batch.done.exception()
            return
        segment.size += len(record)
        self._bytes += len(record)
        segment.unacked += 1
        self.stats.appended += 1
        keep = self._in_memory < self._config.memory_batches
        self._in_memory += keep
        self._to_export.append(
            _Entry(segment, offset, len(record), batch if keep else None, points=batch.point_count)
        )
        self._pending_commit.append(batch.done)
        if self._committer is None:
            self._committer = asyncio.ensure_future(self._commit_loop())

    async def _commit_loop(self) -> None:
        """Group commit without a fixed delay: the first record is synced at once, and the records
        written while an fsync runs share the next one (an fsync costs ~0.2 ms here, so waiting a
        window only adds latency). ``commit_window_s`` > 0 adds that wait before the first sync."""
        try:
            if self._config.commit_window_s > 0:
                await asyncio.sleep(self._config.commit_window_s)
            while self._pending_commit:
                await self._commit()
        finally:
            self._committer = None

    async def _commit(self) -> None:
        """One fsync for every record written since the last one."""
        waiting, self._pending_commit = self._pending_commit, []
        if not waiting:
            return
        error: OSError | None = None
        if self._config.fsync and self._fd >= 0:
            try:
                if self._fsync_s < self._config.fsync_inline_max_s:
                    took = _timed_fsync(self._fd)
                else:
                    took = await asyncio.to_thread(_timed_fsync, self._fd)
                self._fsync_s += (took - self._fsync_s) * 0.2
            except OSError as exc:
                error = exc
        for done in waiting:
            if done.done():
                continue
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(SpoolError(f"spool unavailable: {error.strerror or error}"))
                done.exception()
        self._wake.set()

    def _writable_segment(self) -> _Segment:
        if self._current is None or self._fd < 0:
            self._open_segment()
        assert self._current is not None
        if self._current.size >= self._config.segment_bytes:
            self._close_current()
            self._open_segment()
        return self._current

    def _open_segment(self) -> None:
        # Numbers only grow: a deleted segment's number is never reused (replay order is by number).
        number = self._last_number = max(self._last_number, *self._segments, 0) + 1
        path = self._dir / f"segment-{number:012d}.spool"
        # An ack file left by a crash between deleting a segment and its acks (or by an adoption)
        # must not apply to the new segment: its offsets would be skipped on replay.
        with contextlib.suppress(FileNotFoundError):
            path.with_suffix(".acks").unlink()
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._current = self._segments[number] = _Segment(number, path)

    def _close_current(self) -> None:
        if self._current is not None:
            self._current.closed = True
            self._maybe_delete(self._current)
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _reopen_after_error(self) -> None:
        """After a failed write the segment's tail may be torn: start a fresh one next time."""
        with contextlib.suppress(OSError):
            self._close_current()
        self._current = None

    # -- export path ------------------------------------------------------------------------
    async def _feed(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._in_flight < self._max_in_flight:
                linger = self._linger_left()
                if linger > 0:
                    if self._linger_timer is None:
                        self._linger_timer = asyncio.get_running_loop().call_later(linger, self._lingered)
                    break
                entries = self._take_durable()
                if not entries:
                    break
                self._export(entries)

    def _linger_left(self) -> float:
        """Seconds the durable records should still wait for more to leave with them. Their senders
        have their answer already; an export costs ~1 ms of CPU whatever its size (encoding set-up,
        the gRPC call), so fewer, fuller exports leave the CPU to ingress."""
        if self._config.export_linger_s <= 0 or self._closed:
            return 0.0
        points = records = 0
        for entry in itertools.islice(self._to_export, _MERGE_MAX_RECORDS):
            if entry.batch is not None and not entry.batch.done.done():
                break
            points += entry.points
            records += 1
        if records == 0 or records >= _MERGE_MAX_RECORDS or points >= self._merge_points:
            return 0.0
        return self._to_export[0].created + self._config.export_linger_s - time.monotonic()

    def _lingered(self) -> None:
        self._linger_timer = None
        self._wake.set()

    def _take_durable(self) -> list[_Entry]:
        """The next durable records, in order. When export is behind, several wait here: they go in
        one request (fewer, larger exports), up to ``merge_points`` points."""
        taken: list[_Entry] = []
        points = 0
        while self._to_export and len(taken) < _MERGE_MAX_RECORDS:
            entry = self._to_export[0]
            if entry.batch is not None and not entry.batch.done.done():
                break  # not durable yet: export only what the spool holds
            if taken and points + entry.points > self._merge_points:
                break
            taken.append(self._to_export.popleft())
            points += entry.points
        return taken

    def _export(self, entries: list[_Entry]) -> None:
        loop = asyncio.get_running_loop()
        sent: list[_Entry] = []
        batches: list[SealedBatch] = []
        for entry in entries:
            batch = entry.batch
            if batch is None:
                batch = self._read(entry)
                if batch is None:
                    self._ack(entry)  # unreadable: logged in _read, nothing left to send
                    continue
            else:
                self._in_memory -= 1
                entry.batch = None  # a retry reads it back from disk
            sent.append(entry)
            batches.append(batch)
        if not batches:
            return
        # A fresh future per attempt: the senders already had their answer when the record was durable.
        try:
            attempts = [(merge_batches(batches, loop.create_future()), sent)]
        except Exception:  # a bug merging must not stop the feeder: send the records one by one
            log.exception("spool: could not merge %d records for export; sending them apart", len(sent))
            attempts = [
                (merge_batches([batch], loop.create_future()), [entry])
                for entry, batch in zip(sent, batches, strict=True)
            ]
        for attempt, entries_in_it in attempts:
            self._in_flight += 1
            attempt.done.add_done_callback(functools.partial(self._exported, entries_in_it))
            self._submit(attempt)

    def _exported(self, entries: list[_Entry], result: "asyncio.Future[None]") -> None:
        self._in_flight -= 1
        if result.cancelled() or result.exception() is not None:
            attempts = max(entry.attempts for entry in entries) + 1
            for entry in entries:
                entry.attempts = attempts
            # Durable data is never dropped: retry from disk after a pause.
            asyncio.get_running_loop().call_later(
                min(30.0, _RETRY_DELAY_S * attempts), self._requeue, entries
            )
        else:
            for entry in entries:
                self._ack(entry)
        self._wake.set()

    def _requeue(self, entries: list[_Entry]) -> None:
        if not self._closed:
            self._to_export.extendleft(reversed(entries))
            self._wake.set()

    def _ack(self, entry: _Entry) -> None:
        segment = entry.segment
        segment.unacked -= 1
        self.stats.acked += 1
        if not self._maybe_delete(segment):
            # Best effort, no fsync: a lost ack only means a duplicate after a crash, never a loss.
            with contextlib.suppress(OSError):
                if segment.acks is None:
                    segment.acks = segment.acks_path.open("ab", buffering=0)
                segment.acks.write(_OFFSET.pack(entry.offset))

    def _maybe_delete(self, segment: _Segment) -> bool:
        if not (segment.closed and segment.unacked <= 0):
            return False
        if segment.acks is not None:
            segment.acks.close()
            segment.acks = None
        self._delete_files((segment.path, segment.acks_path))
        if self._segments.pop(segment.number, None) is not None:
            self._bytes -= segment.size
        return True

    def _delete_files(self, paths: tuple[Path, ...]) -> None:
        """Unlinking a full segment held the event loop up to ~30 ms here (the p99 latency of
        reports, measured), so a thread does it, in order: the segment, then its acks. A crash in
        between leaves an acks file without its segment, as before: harmless, and removed if its
        number is used again."""
        deleting = asyncio.get_running_loop().run_in_executor(None, _unlink, paths)
        self._deleting.add(deleting)
        deleting.add_done_callback(self._deleting.discard)

    def _read(self, entry: _Entry) -> SealedBatch | None:
        try:
            with entry.segment.path.open("rb") as file:
                file.seek(entry.offset)
                data = file.read(entry.length)
            payload = _check(data, entry.segment.path, entry.offset)
            record = decode_payload(payload, self._registry)
        except (OSError, CorruptRecord) as exc:
            log.error("spool record at %s:%d unreadable, skipped: %s", entry.segment.path, entry.offset, exc)
            return None
        return record.sealed(asyncio.get_running_loop().create_future())

    # -- replay -----------------------------------------------------------------------------
    def _replay(self, path: Path) -> None:
        try:
            number = int(path.stem.split("-", 1)[1])
            data = path.read_bytes()
        except (ValueError, OSError) as exc:
            log.error("spool: cannot read %s: %s; left in place", path, exc)
            return
        segment = _Segment(number, path, size=len(data), closed=True)
        acked = _acked_offsets(segment.acks_path)
        offset = 0
        while offset < len(data):
            try:
                payload = _check(data[offset:], path, offset)
            except CorruptRecord as exc:
                self.stats.corrupt_tails += 1
                log.warning("spool: %s from byte %d skipped: %s", path, offset, exc)
                break
            length = FRAME.size + len(payload)
            if offset not in acked:
                segment.unacked += 1
                self._to_export.append(_Entry(segment, offset, length, None))
                self.stats.replayed += 1
            offset += length
        self._segments[number] = segment
        self._bytes += segment.size
        if segment.unacked:
            log.info("spool: replaying %d records from %s", segment.unacked, path.name)
        self._maybe_delete(segment)


def _timed_fsync(fd: int) -> float:
    started = time.perf_counter()
    os.fsync(fd)
    return time.perf_counter() - started


def _unlink(paths: tuple[Path, ...]) -> None:
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:  # the space is counted free already; the next start retries
            log.error("spool: could not delete %s: %s", path, exc)


def _acked_offsets(path: Path) -> set[int]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return set()
    usable = len(data) - len(data) % _OFFSET.size  # a torn last entry is ignored
    return {offset for (offset,) in _OFFSET.iter_unpack(data[:usable])}


def _check(data: bytes, path: Path, offset: int) -> bytes:
    if len(data) < FRAME.size:
        raise CorruptRecord(f"torn record header ({len(data)} bytes)")
    magic, length, crc = FRAME.unpack_from(data, 0)
    if magic != MAGIC:
        raise CorruptRecord("bad magic")
    payload = data[FRAME.size : FRAME.size + length]
    if len(payload) < length:
        raise CorruptRecord(f"torn record ({len(payload)} of {length} bytes)")
    if zlib.crc32(payload) != crc:
        raise CorruptRecord("checksum mismatch")
    return bytes(payload)
