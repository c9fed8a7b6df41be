"""Where each receiver process keeps its spool when several serve one port.

Every process owns one directory, so appends, acks and deletes never race: with one process it is
``spool.directory`` itself, with N processes ``spool.directory/worker-<k>`` for k < N. When N
changes between runs, data can be left in a directory nobody owns any more (the top directory after
1 -> N, ``worker-k`` for k >= N after N -> fewer). Process 0 adopts it at start, before its own
replay: it takes the orphan's lock (a live process holding it means the directory is not an orphan)
and renames the orphan's segments and ack files into its own directory under fresh numbers, so its
replay sends them. A rename is atomic, so a crash mid-adoption leaves every segment in exactly one
place."""

import fcntl
import logging
import re
from pathlib import Path

log = logging.getLogger(__name__)
_SEGMENT = re.compile(r"segment-(\d+)\.spool$")
_WORKER = re.compile(r"worker-(\d+)$")
_NUMBERED = re.compile(r"segment-(\d+)\.(?:spool|acks)$")


def worker_directory(base: Path, index: int, workers: int) -> Path:
    return base if workers == 1 else base / f"worker-{index}"


def orphan_directories(base: Path, workers: int) -> list[Path]:
    """Spool directories under ``base`` that no process of a ``workers``-process receiver owns."""
    found: list[Path] = []
    if workers > 1 and any(base.glob("segment-*.spool")):
        found.append(base)
    if base.is_dir():
        for child in sorted(base.iterdir()):
            match = _WORKER.fullmatch(child.name)
            if match and child.is_dir() and (workers == 1 or int(match.group(1)) >= workers):
                found.append(child)
    return found


def adopt_orphans(base: Path, own: Path, workers: int) -> int:
    """Move the segments of orphaned spool directories into ``own``; returns how many moved."""
    own.mkdir(parents=True, exist_ok=True)
    moved = 0
    for orphan in orphan_directories(base, workers):
        if orphan == own:
            continue
        with (orphan / "spool.lock").open("a") as lock:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.warning("spool %s is in use by another process: not adopted", orphan)
                continue
            segments = sorted(
                (int(match.group(1)), path)
                for path in orphan.glob("segment-*.spool")
                if (match := _SEGMENT.fullmatch(path.name))
            )
            for _, path in segments:
                number = _next_number(own)
                target = own / f"segment-{number:012d}.spool"
                acks = path.with_suffix(".acks")
                if acks.exists():  # first: a crash after it leaves duplicates at worst, never a loss
                    acks.rename(target.with_suffix(".acks"))
                path.rename(target)
                moved += 1
        if segments:
            log.info("spool: adopted %d segment(s) from %s", len(segments), orphan)
    return moved


def _next_number(directory: Path) -> int:
    numbers = [int(m.group(1)) for p in directory.glob("segment-*.*") if (m := _NUMBERED.fullmatch(p.name))]
    return max(numbers, default=0) + 1
