"""``python -m receiver ingest-cdr --otlp-endpoint HOST:PORT PATH...``: send CDR files (or directories
of them) to the collector, resumably.

A checkpoint file records, per file content (SHA-256), the last line the collector acknowledged; it is
replaced atomically (and fsynced) after every acknowledged chunk. A re-run skips what is done and a
run killed mid-file resumes after the last acknowledged chunk, so nothing is lost or sent twice
(except the chunk in flight at the kill when the collector had acknowledged it but the checkpoint
was not yet written; its records carry the same ``cdr.record_id`` and can be recognised)."""

import argparse
import asyncio
import ctypes
import ctypes.util
import gzip
import hashlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import pyarrow.compute as pc

from .batch import Batcher
from .cdr_submit import pseudonym_key, submit_in_chunks
from .config import BatchConfig, ConfigError, load_config
from .decode import DecodeError
from .decode._cdr import CdrBatch, CdrKind, decode_cdr_csv
from .export import OtlpGrpcExporter
from .mapping._cdr import pseudonymise_cdr
from .signals import NotDelivered, SeriesRegistry

_SUFFIXES = (".csv", ".csv.gz")


class Checkpoint:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.files: dict[str, dict[str, Any]] = orjson.loads(path.read_bytes()).get("files", {})
        except FileNotFoundError:
            self.files = {}

    def acked_through(self, digest: str) -> int:
        return int(self.files.get(digest, {}).get("acked_through_line", 0))

    def done(self, digest: str) -> bool:
        return bool(self.files.get(digest, {}).get("done"))

    def record(self, digest: str, path: Path, line: int, done: bool) -> None:
        self.files[digest] = {"path": str(path), "acked_through_line": line, "done": done}
        data = orjson.dumps({"files": self.files}, option=orjson.OPT_INDENT_2)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=self.path.parent, delete=False) as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp.name, self.path)


def keep_freed_memory() -> bool:
    """Let glibc keep freed memory for reuse instead of returning it to the kernel at once. By
    default every chunk's multi-megabyte buffers (encoded requests, numpy columns) came from fresh
    pages, about one page fault per ten records: measured at a third of the CLI's CPU in a VM. The
    CLI is a batch process that reaches its peak RSS anyway; it just stays there. False where the C
    library is not glibc (nothing changed)."""
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    threshold = mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD: blocks up to 32 MiB (glibc's most) from the heap
    trim = mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: keep up to 1 GiB free at the heap's top
    return bool(threshold and trim)


def _files(paths: Sequence[str]) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(_SUFFIXES))
        else:
            yield path


def _kind(path: Path, body: bytes, requested: str) -> CdrKind:
    if requested in ("data", "voice"):
        return requested  # type: ignore[return-value]
    header = body[:4096].split(b"\n", 1)[0].lower()
    if b"call_type" in header or b"call_duration" in header:
        return "voice"
    if b"up_bytes" in header or b"down_bytes" in header:
        return "data"
    raise DecodeError(f"{path}: cannot tell data from voice records by the header; pass --kind")


async def ingest(
    paths: Sequence[str],
    *,
    endpoint: str,
    checkpoint: Path,
    kind: str,
    chunk_rows: int,
    key: bytes | None,
    out: Any,
) -> int:
    from .config import ExportConfig

    registry = SeriesRegistry()
    exporter = OtlpGrpcExporter(ExportConfig(endpoint=endpoint, retry_deadline_s=60), registry)
    await exporter.start()
    batcher = Batcher(
        BatchConfig(max_points=chunk_rows * 2, max_age_s=0.05, max_pending_points=chunk_rows * 8),
        exporter.submit,
    )
    state = Checkpoint(checkpoint)
    failures = 0
    try:
        for path in _files(paths):
            raw = path.read_bytes()
            body = gzip.decompress(raw) if path.name.endswith(".gz") else raw
            digest = hashlib.sha256(body).hexdigest()[:16]
            if state.done(digest):
                print(f"{path}: already sent, skipped", file=out)
                continue
            try:
                batch = decode_cdr_csv(body, _kind(path, body, kind))
            except DecodeError as exc:
                print(f"{path}: refused: {exc.reason}", file=out)
                failures += 1
                continue
            for error in batch.errors:
                print(f"{path}:{error.line}: {error.reason}", file=out)
            done_through = state.acked_through(digest)
            lines = batch.line_numbers
            # Resume: only lines past the last acknowledged one (lines ascend: a new file needs no copy).
            todo = CdrBatch(kind=batch.kind, table=batch.table, line_numbers=lines, errors=[])
            if len(lines) and done_through >= int(lines[0].as_py()):
                keep = pc.greater(lines, done_through)
                todo = CdrBatch(
                    kind=batch.kind,
                    table=batch.table.filter(keep),
                    line_numbers=lines.filter(keep),
                    errors=[],
                )
            if key is not None:  # the whole file at once: each distinct value hashed once, not per chunk
                todo = pseudonymise_cdr(todo, key)
            sent = 0
            for start in range(0, todo.table.num_rows, chunk_rows):
                chunk = CdrBatch(
                    kind=todo.kind,
                    table=todo.table.slice(start, chunk_rows),
                    line_numbers=todo.line_numbers.slice(start, chunk_rows),
                    errors=[],
                )
                acks = await submit_in_chunks(
                    chunk,
                    batcher,
                    registry,
                    source=path.name,
                    digest=digest,
                    chunk_rows=chunk_rows,
                    key=None,
                    wait_for_capacity_s=300,
                )
                batcher.flush()
                await asyncio.gather(*acks)  # acknowledged by the collector: now it may be checkpointed
                last_line = int(chunk.line_numbers[-1].as_py())
                state.record(digest, path, last_line, done=False)
                sent += chunk.table.num_rows
            state.record(digest, path, state.acked_through(digest), done=True)
            print(
                f"{path}: {sent} records sent "
                f"({batch.table.num_rows - todo.table.num_rows} already sent before), "
                f"{len(batch.errors)} bad rows",
                file=out,
            )
    except NotDelivered as exc:
        print(f"stopped: {exc.reason}; run again to resume", file=out)
        failures += 1
    finally:
        await batcher.stop()
        await exporter.stop()
    return 1 if failures else 0


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m receiver ingest-cdr",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", help="CSV files (.csv, .csv.gz) or directories of them")
    parser.add_argument("--otlp-endpoint", required=True, help="collector OTLP/gRPC HOST:PORT")
    parser.add_argument("--kind", choices=["auto", "data", "voice"], default="auto")
    parser.add_argument(
        "--checkpoint", default="var/cdr-checkpoint.json", help="progress file (resume, skip done)"
    )
    # Per chunk: one request set, one checkpoint, one set of per-tower aggregates (a delta point per
    # tower and category): large chunks keep those few per record; the file is in memory anyway.
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--config", help="receiver YAML config (for cdr.pseudonym_key_file)")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config, overrides={"export.endpoint": args.otlp_endpoint})
    except ConfigError as exc:
        print(f"python -m receiver ingest-cdr: {exc}", file=sys.stderr)
        return 2
    keep_freed_memory()
    started = time.monotonic()
    code = asyncio.run(
        ingest(
            args.paths,
            endpoint=config.export.endpoint,
            checkpoint=Path(args.checkpoint),
            kind=args.kind,
            chunk_rows=args.chunk_rows,
            key=pseudonym_key(config.cdr.pseudonym_key_file),
            out=sys.stdout,
        )
    )
    print(f"done in {time.monotonic() - started:.1f}s", file=sys.stdout)
    return code
