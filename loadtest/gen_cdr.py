"""Synthetic CDR files shaped like seed 003's generator:
``python -m loadtest.gen_cdr --kind data|voice --rows N --out FILE [--seed S] [--gzip] [--bad-rate R]``.

What the seed writes and we mirror: ``csv.DictWriter`` output (header line, CRLF line ends, no
quoting), MSISDNs/destination numbers from ``Faker.msisdn()`` (13 digits, leading zeros possible),
``ipv4_public()``, ``url()``, tower 1-2000, bytes 100 000-1 000 000, call duration 1-1800 s, and
times written by ``str(datetime)``: ``YYYY-MM-DD HH:MM:SS.ffffff`` (the fraction dropped when it is
zero), each block of 1000 records spread over the block's interval (``--rate`` records per simulated
second; the seed's production setting is 5).

Faker is slow (tens of microseconds a value), so it only fills pools once; rows then sample the pools
with one ``random.Random(seed)``, a chunk at a time, so memory stays bounded for any ``--rows`` and
the same seed writes the same bytes. ``--bad-rate`` replaces that fraction of rows with one malformed
row each (every kind the decoder must reject); their line numbers are what ``write_cdr`` returns."""

import argparse
import gzip
import random
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Literal, TextIO

from faker import Faker

Kind = Literal["data", "voice"]

DATA_COLUMNS = (
    "msisdn", "tower_id", "up_bytes", "down_bytes", "data_type", "ip_address", "website_url", "event_datetime"
)  # fmt: skip
VOICE_COLUMNS = ("msisdn", "tower_id", "call_type", "dest_nr", "call_duration_sec", "start_time")
DATA_TYPES = ("video", "audio", "image", "text", "application")
CALL_TYPES = ("voice", "video")
DEFAULT_START = datetime(2024, 1, 1, tzinfo=UTC)
DEFAULT_POOL_SIZE = 20_000  # distinct subscribers, numbers, IPs and URLs (the seed uses 50 000)
_BLOCK_ROWS = 1000  # the seed's LINE_COUNT: one file's records share one interval
_CHUNK_ROWS = 10_000  # rows formatted and written at a time
_NEWLINE = "\r\n"  # csv.DictWriter's default line terminator


class _Pools:
    def __init__(self, seed: int, size: int) -> None:
        fake = Faker()
        fake.seed_instance(seed)
        self.msisdns = [fake.msisdn() for _ in range(size)]
        self.dest_nrs = [fake.msisdn() for _ in range(size)]
        self.ips = [fake.ipv4_public() for _ in range(size)]
        self.urls = [fake.url() for _ in range(size)]


class _Clock:
    """Seed-style ``str(datetime)`` text; date-time prefixes are cached per second (cleared per block)."""

    def __init__(self, start: datetime, rate: float) -> None:
        self._start = start.timestamp()
        self._block_s = _BLOCK_ROWS / rate
        self._prefixes: dict[int, str] = {}

    def text(self, row: int, jitter: float) -> str:
        micros = round((self._start + (row // _BLOCK_ROWS + jitter) * self._block_s) * 1_000_000)
        second, fraction = divmod(micros, 1_000_000)
        prefix = self._prefixes.get(second)
        if prefix is None:
            if len(self._prefixes) > 4096:
                self._prefixes.clear()
            prefix = self._prefixes[second] = datetime.fromtimestamp(second, UTC).strftime(
                "%Y-%m-%d %H:%M:%S"
            )
        return f"{prefix}.{fraction:06d}" if fraction else prefix


def _data_rows(rng: random.Random, pools: _Pools, clock: _Clock, first: int, count: int) -> list[str]:
    msisdns = rng.choices(pools.msisdns, k=count)
    towers = rng.choices(range(1, 2001), k=count)
    ups = rng.choices(range(100_000, 1_000_001), k=count)
    downs = rng.choices(range(100_000, 1_000_001), k=count)
    types = rng.choices(DATA_TYPES, k=count)
    ips = rng.choices(pools.ips, k=count)
    urls = rng.choices(pools.urls, k=count)
    return [
        f"{msisdns[i]},{towers[i]},{ups[i]},{downs[i]},{types[i]},{ips[i]},{urls[i]},"
        f"{clock.text(first + i, rng.random())}"
        for i in range(count)
    ]


def _voice_rows(rng: random.Random, pools: _Pools, clock: _Clock, first: int, count: int) -> list[str]:
    msisdns = rng.choices(pools.msisdns, k=count)
    towers = rng.choices(range(1, 2001), k=count)
    types = rng.choices(CALL_TYPES, k=count)
    dests = rng.choices(pools.dest_nrs, k=count)
    durations = rng.choices(range(1, 1801), k=count)
    return [
        f"{msisdns[i]},{towers[i]},{types[i]},{dests[i]},{durations[i]},{clock.text(first + i, rng.random())}"
        for i in range(count)
    ]


def _replace_field(row: str, index: int, value: str) -> str:
    fields = row.split(",")
    fields[index] = value
    return ",".join(fields)


def _time_index(kind: Kind) -> int:
    return len(DATA_COLUMNS) - 1 if kind == "data" else len(VOICE_COLUMNS) - 1


# One malformed variant of a good row per decoder rule; picked at random for each bad row.
_BREAKERS: dict[str, Callable[[str, Kind], str]] = {
    "missing column": lambda row, kind: row.rsplit(",", 1)[0],
    "extra column": lambda row, kind: row + ",surplus",
    "non-integer tower": lambda row, kind: _replace_field(row, 1, "tower-7"),
    "tower zero": lambda row, kind: _replace_field(row, 1, "0"),
    "negative number": lambda row, kind: _replace_field(row, 2 if kind == "data" else 4, "-5"),
    "bad timestamp": lambda row, kind: _replace_field(row, _time_index(kind), "2024-13-45 25:61:00"),
    "empty msisdn": lambda row, kind: _replace_field(row, 0, ""),
    "bad category": lambda row, kind: (
        _replace_field(row, 4, "") if kind == "data" else _replace_field(row, 2, "fax")
    ),
}


def write_cdr(
    out: TextIO,
    kind: Kind,
    rows: int,
    *,
    seed: int = 3,
    bad_rate: float = 0.0,
    start: datetime = DEFAULT_START,
    rate: float = 5.0,
    pool_size: int = DEFAULT_POOL_SIZE,
) -> list[int]:
    """Write a header and ``rows`` records; return the 1-based line numbers of the malformed ones."""
    rng = random.Random(seed)
    pools = _Pools(seed, pool_size)
    clock = _Clock(start, rate)
    make = _data_rows if kind == "data" else _voice_rows
    breakers = list(_BREAKERS.values())
    bad_lines: list[int] = []
    out.write(",".join(DATA_COLUMNS if kind == "data" else VOICE_COLUMNS) + _NEWLINE)
    for first in range(0, rows, _CHUNK_ROWS):
        chunk = make(rng, pools, clock, first, min(_CHUNK_ROWS, rows - first))
        if bad_rate > 0:
            for i in range(len(chunk)):
                if rng.random() < bad_rate:
                    chunk[i] = rng.choice(breakers)(chunk[i], kind)
                    bad_lines.append(first + i + 2)  # line 1 is the header
        out.write(_NEWLINE.join(chunk) + _NEWLINE)
    return bad_lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.gen_cdr", description=__doc__.split("\n")[0])
    parser.add_argument("--kind", choices=["data", "voice"], required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--out", required=True, help="file to write ('-' for stdout)")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--gzip", action="store_true", help="gzip the output (level 1: fast)")
    parser.add_argument("--bad-rate", type=float, default=0.0, help="fraction of malformed rows")
    parser.add_argument("--start", default=DEFAULT_START.isoformat(), help="first event time (ISO-8601)")
    parser.add_argument("--rate", type=float, default=5.0, help="records per simulated second")
    parser.add_argument("--pool-size", type=int, default=DEFAULT_POOL_SIZE)
    args = parser.parse_args(argv)
    if args.rows < 0 or not 0 <= args.bad_rate <= 1 or args.rate <= 0 or args.pool_size < 1:
        parser.error("--rows >= 0, 0 <= --bad-rate <= 1, --rate > 0 and --pool-size >= 1 are required")
    start = datetime.fromisoformat(args.start)
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    began = time.monotonic()

    def write(out: TextIO) -> list[int]:
        return write_cdr(
            out, args.kind, args.rows, seed=args.seed, bad_rate=args.bad_rate, start=start, rate=args.rate,
            pool_size=args.pool_size,
        )  # fmt: skip

    if args.gzip:
        target = sys.stdout.buffer if args.out == "-" else args.out
        with gzip.open(target, "wt", encoding="utf-8", newline="", compresslevel=1) as zipped:
            bad = write(zipped)
    elif args.out == "-":
        bad = write(sys.stdout)
    else:
        with open(args.out, "w", encoding="utf-8", newline="", buffering=1 << 20) as plain:
            bad = write(plain)
    elapsed = time.monotonic() - began
    print(
        f"{args.rows} {args.kind} records ({len(bad)} malformed) in {elapsed:.1f}s "
        f"({args.rows / max(elapsed, 1e-9):,.0f} rows/s)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
