"""CDR throughput from file to OTLP: the ingest-cdr CLI sending a generated file to our collector.

    python -m loadtest.bench_cdr [--rows 200000] [--kind voice]

Prints records/s per CPU-second of the CLI process (user+sys from resource usage of the child) and
wall records/s, and the same with pseudonymisation on, as a ratio against the plain run. The CLI's
start-up (interpreter, imports, channel; ~0.6 CPU-s) is measured by a run on a one-record file and
also shown subtracted ("net of start-up"): the steady-state rate the design target is about, which
the whole-process figure approaches only for files far larger than --rows 100000."""

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
        one_record = Path(tmp) / f"{args.kind}-one.csv"  # start-up, a channel and one request
        with source.open() as lines:
            one_record.write_text(lines.readline() + lines.readline())

        def ingest(path: Path, label: str, env: dict[str, str]) -> tuple[float, float]:
            checkpoint = Path(tmp) / f"checkpoint-{label}.json"
            return _run(
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
                    str(path),
                ],
                env={**os.environ, **env},
            )

        startup = min(ingest(one_record, f"one-{n}", {})[0] for n in range(3))
        rows = []
        for label, env in (("plain", {}), ("pseudonymised", {"RECEIVER_CDR_PSEUDONYM_KEY": "bench-key"})):
            cpu, wall = ingest(source, label, env)
            rows.append((label, args.rows / cpu, args.rows / max(cpu - startup, 1e-9), args.rows / wall))
    base, base_net = rows[0][1], rows[0][2]
    print(f"\nCDR {args.kind} file of {args.rows} records -> ingest-cdr -> collector")
    print(f"start-up (a one-record file): {startup:.2f} CPU-s")
    print(
        f"| {'run':<14} | {'records/s per CPU-s':>20} | {'net of start-up':>16} "
        f"| {'records/s wall':>15} | {'vs plain':>8} | {'net vs plain':>12} |"
    )
    for label, per_cpu, net, per_wall in rows:
        print(
            f"| {label:<14} | {per_cpu:>20,.0f} | {net:>16,.0f} | {per_wall:>15,.0f} "
            f"| {per_cpu / base:>7.2f}x | {net / base_net:>11.2f}x |"
        )


if __name__ == "__main__":
    main()
