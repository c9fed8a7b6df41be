"""CDR throughput from file to OTLP: the ingest-cdr CLI sending a generated file to our collector.

    python -m loadtest.bench_cdr [--rows 200000] [--kind voice]

Prints records/s per CPU-second of the CLI process (user+sys from resource usage of the child) and
wall records/s, and the same with pseudonymisation on, as a ratio against the plain run."""

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from loadtest.bench_bulkdata import BENCH_CONFIG
from loadtest.gen_cdr import write_cdr
from receiver.devstack import REPO, run_collector


def _run(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    subprocess.run(command, cwd=REPO, check=True, capture_output=True, env=env)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--kind", choices=["data", "voice"], default="voice")
    args = parser.parse_args()
    import os

    with tempfile.TemporaryDirectory() as tmp, run_collector(Path(tmp), BENCH_CONFIG) as collector:
        source = Path(tmp) / f"{args.kind}.csv"
        with source.open("w") as out:
            write_cdr(out, args.kind, args.rows, seed=5)
        rows = []
        for label, env in (("plain", {}), ("pseudonymised", {"RECEIVER_CDR_PSEUDONYM_KEY": "bench-key"})):
            checkpoint = Path(tmp) / f"checkpoint-{label}.json"
            cpu, wall = _run(
                [
                    sys.executable,
                    "-m",
                    "receiver",
                    "ingest-cdr",
                    "--otlp-endpoint",
                    collector.otlp_endpoint,
                    "--checkpoint",
                    str(checkpoint),
                    "--kind",
                    args.kind,
                    str(source),
                ],
                env={**os.environ, **env},
            )
            rows.append((label, args.rows / cpu, args.rows / wall))
    base = rows[0][1]
    print(f"\nCDR {args.kind} file of {args.rows} records -> ingest-cdr -> collector")
    print(f"| {'run':<14} | {'records/s per CPU-s':>20} | {'records/s wall':>15} | {'vs plain':>8} |")
    for label, per_cpu, per_wall in rows:
        print(f"| {label:<14} | {per_cpu:>20,.0f} | {per_wall:>15,.0f} | {per_cpu / base:>7.2f}x |")


if __name__ == "__main__":
    main()
