"""CDR files end to end: HTTP upload with bad rows listed, and the resumable CLI killed with SIGKILL
mid-file and run again (no loss, no duplicates)."""

import gzip
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import orjson

from loadtest.gen_cdr import write_cdr
from receiver.devstack import REPO

from ._sink import read_sink, wait_for
from ._stack import Collector, Receiver


def _records(sink: Path, source: str) -> Counter[str]:
    _, logs = read_sink(sink)
    return Counter(
        str(e.attributes.get("cdr.record_id")) for e in logs if e.resource.get("cdr.source") == source
    )


def test_upload_accepts_good_rows_and_lists_bad_ones(receiver: Receiver, collector: Collector) -> None:
    body = (
        b"msisdn,tower_id,call_type,dest_nr,call_duration_sec,start_time\n"
        b"31611111111,7,voice,31699999999,30,2024-03-01 12:00:00\n"
        b"31622222222,x,voice,31699999998,100,2024-03-01 12:01:00\n"
        b"31633333333,7,video,31699999997,45,2024-03-01 12:02:00\n"
    )
    response = httpx.post(
        f"{receiver.url}/cdr/voice?source=upload-1",
        content=gzip.compress(body),
        headers={"content-type": "text/csv", "content-encoding": "gzip"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    listing = orjson.loads(response.content)
    assert listing["accepted"] == 2 and listing["rejected_count"] == 1
    assert listing["rejected"][0]["line"] == 3 and "tower_id" in listing["rejected"][0]["reason"]
    points, _ = wait_for(
        collector.sink_dir,
        lambda p, lg: sum(1 for e in lg if e.resource.get("cdr.source") == "upload-1") >= 2,
    )
    records = _records(collector.sink_dir, "upload-1")
    assert (
        sorted(records) == [key for key in sorted(records) if key.endswith((":2", ":4"))]
        and len(records) == 2
    )
    durations = [p for p in points if p.name.startswith("cdr.voice.call_duration")]
    assert durations, "the call duration histogram reaches the collector"


def test_cli_killed_mid_file_resumes_without_loss_or_duplicates(collector: Collector, tmp_path: Path) -> None:
    rows = 60_000
    source = tmp_path / "voice-big.csv"
    with source.open("w") as out:
        write_cdr(out, "voice", rows, seed=3)
    checkpoint = tmp_path / "checkpoint.json"
    command = [
        sys.executable,
        "-m",
        "receiver",
        "ingest-cdr",
        "--otlp-endpoint",
        collector.otlp_endpoint,
        "--checkpoint",
        str(checkpoint),
        "--chunk-rows",
        "5000",
        str(source),
    ]
    first = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not checkpoint.exists():
        time.sleep(0.02)
    assert checkpoint.exists(), "no chunk was acknowledged in time"
    first.send_signal(signal.SIGKILL)
    first.wait()
    done_before = max(
        entry["acked_through_line"] for entry in orjson.loads(checkpoint.read_bytes())["files"].values()
    )
    assert 1 < done_before < rows + 1, done_before
    again = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=180)
    assert again.returncode == 0, again.stdout + again.stderr
    rerun = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert "already sent, skipped" in rerun.stdout
    deadline = time.monotonic() + 60
    records = _records(collector.sink_dir, source.name)
    while len(records) < rows and time.monotonic() < deadline:
        time.sleep(0.5)
        records = _records(collector.sink_dir, source.name)
    duplicates = sum(n - 1 for n in records.values() if n > 1)
    print(
        f"\nCDR CLI kill -9: {rows} records, checkpoint at line {done_before} when killed, "
        f"delivered {len(records)} distinct, duplicates {duplicates}"
    )
    assert len(records) == rows
    assert duplicates == 0
