"""Real processes for end-to-end tests: our collector binary and the receiver, on free loopback ports."""

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
COLLECTOR_BINARY = REPO / "otelcol" / "build" / "otelcol-telemetry"
LOCAL_CONFIG = REPO / "otelcol" / "config.local.yaml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http_ok(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode} before {url} answered")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer 200 within {timeout}s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Collector:
    otlp_endpoint: str
    sink_dir: Path
    process: subprocess.Popen[bytes]


@contextlib.contextmanager
def run_collector(workdir: Path, config: Path = LOCAL_CONFIG, extra_env: dict[str, str] | None = None) -> Iterator[Collector]:
    if not COLLECTOR_BINARY.exists():
        raise RuntimeError(f"{COLLECTOR_BINARY} is missing: run otelcol/build.sh first (.ci/run does)")
    otlp, health, metrics = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "OTELCOL_OTLP_ENDPOINT": f"127.0.0.1:{otlp}",
        "OTELCOL_HEALTH_ENDPOINT": f"127.0.0.1:{health}",
        "OTELCOL_METRICS_PORT": str(metrics),
        "OTELCOL_SINK_DIR": str(workdir / "sink"),
        "OTELCOL_STORAGE_DIR": str(workdir / "storage"),
        "OTELCOL_DEBUG_VERBOSITY": "basic",
        **(extra_env or {}),
    }
    (workdir / "sink").mkdir(parents=True, exist_ok=True)
    log = (workdir / "collector.log").open("wb")
    process = subprocess.Popen([str(COLLECTOR_BINARY), "--config", str(config)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_http_ok(f"http://127.0.0.1:{health}/", process)
        yield Collector(otlp_endpoint=f"127.0.0.1:{otlp}", sink_dir=workdir / "sink", process=process)
    finally:
        stop(process)
        log.close()


@dataclass
class Receiver:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path


@contextlib.contextmanager
def run_receiver(workdir: Path, otlp_endpoint: str, *extra_args: str, env: dict[str, str] | None = None) -> Iterator[Receiver]:
    port = free_port()
    log_path = workdir / f"receiver-{port}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "receiver", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--otlp-endpoint", otlp_endpoint, *extra_args],
        cwd=REPO, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        wait_http_ok(f"http://127.0.0.1:{port}/healthz", process)
        yield Receiver(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    finally:
        stop(process)
        log.close()
