"""CDR throughput from file to OTLP: the ingest-cdr CLI sending a generated file to our collector.

    python -m loadtest.bench_cdr [--rows 1000000] [--kind voice] [--repeat 3]

Prints records/s per CPU-second of the CLI process (user+sys from resource usage of the child) and
wall records/s, plain and with pseudonymisation on. Whole process is the honest figure: the file is
large (1 M rows by default) so that the CLI's start-up (interpreter, imports, channel; ~0.4 CPU-s),
measured by a run on a one-record file, is a small part of it; the figure net of start-up is shown
too (the steady state). Plain and pseudonymised runs alternate ``--repeat`` times, since other work
on a shared machine moves single runs by tens of percent: every run is listed, then the medians."""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from loadtest.bench_bulkdata import BENCH_CONFIG
from loadtest.gen_cdr import write_cdr
from receiver.devstack import REPO, run_collector

_LABELS = ("plain", "pseudonymised")


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
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--kind", choices=["data", "voice"], default="voice")
    parser.add_argument("--repeat", type=int, default=3, help="alternating plain/pseudonymised rounds")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, run_collector(Path(tmp), BENCH_CONFIG) as collector:
        source = Path(tmp) / f"{args.kind}.csv"
        with source.open("w") as out:
            write_cdr(out, args.kind, args.rows, seed=5)
        one_record = Path(tmp) / f"{args.kind}-one.csv"  # start-up, a channel and one request
        with source.open() as lines:
            one_record.write_text(lines.readline() + lines.readline())
        runs = 0

        def ingest(path: Path, env: dict[str, str]) -> tuple[float, float]:
            nonlocal runs
            runs += 1  # a fresh checkpoint each run: everything is sent every time
            checkpoint = Path(tmp) / f"checkpoint-{runs}.json"
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

        startup = min(ingest(one_record, {})[0] for _ in range(3))
        results: dict[str, list[tuple[float, float]]] = {label: [] for label in _LABELS}
        for _ in range(args.repeat):
            for label, env in zip(_LABELS, ({}, {"RECEIVER_CDR_PSEUDONYM_KEY": "bench-key"}), strict=True):
                results[label].append(ingest(source, env))

    print(f"\nCDR {args.kind} file of {args.rows} records -> ingest-cdr -> collector, {args.repeat} rounds")
    print(f"start-up (a one-record file, best of 3): {startup:.2f} CPU-s")
    print(f"| {'run':<20} | {'records/s per CPU-s':>20} | {'net of start-up':>16} | {'records/s wall':>15} |")
    medians: dict[str, float] = {}
    for label in _LABELS:
        per_cpu = [args.rows / cpu for cpu, _ in results[label]]
        net = [args.rows / max(cpu - startup, 1e-9) for cpu, _ in results[label]]
        wall = [args.rows / seconds for _, seconds in results[label]]
        for row in zip(per_cpu, net, wall, strict=True):
            print(f"| {label:<20} | {row[0]:>20,.0f} | {row[1]:>16,.0f} | {row[2]:>15,.0f} |")
        medians[label] = statistics.median(per_cpu)
        print(
            f"| {label + ' median':<20} | {medians[label]:>20,.0f} | {statistics.median(net):>16,.0f} "
            f"| {statistics.median(wall):>15,.0f} |"
        )
    print(
        f"pseudonymised vs plain (medians, whole process): {medians['pseudonymised'] / medians['plain']:.2f}x"
    )


if __name__ == "__main__":
    main()
