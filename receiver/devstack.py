"""Local stack: our collector (file sink + debug) and one receiver, as real processes on loopback.

    python -m receiver.devstack [--run-dir var] [--port 8080] [--otlp-port 4317]

Both run until Ctrl-C; what the collector receives lands in RUN_DIR/sink/otlp.jsonl. The same
helpers start the stack for the end-to-end tests and the benchmarks."""

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COLLECTOR_BINARY = REPO / "otelcol" / "build" / "otelcol-telemetry"
LOCAL_CONFIG = REPO / "otelcol" / "config.local.yaml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http_ok(url: str, process: "subprocess.Popen[bytes]", timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer 200 within {timeout}s")


def stop(process: "subprocess.Popen[bytes]", timeout: float = 20.0) -> None:
    """SIGINT first (the receiver drains into the collector), SIGKILL if it does not exit in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Collector:
    otlp_endpoint: str
    sink_dir: Path
    metrics_port: int
    process: "subprocess.Popen[bytes]"
    otap_endpoint: str  # our ``otap`` receiver: OTel-Arrow streams and OTLP on one port


@dataclass
class Receiver:
    url: str
    process: "subprocess.Popen[bytes]"
    log_path: Path


@contextlib.contextmanager
def run_collector(
    workdir: Path,
    config: Path = LOCAL_CONFIG,
    extra_env: dict[str, str] | None = None,
    otlp_port: int | None = None,
    health_port: int | None = None,
    otap_port: int | None = None,
) -> Iterator[Collector]:
    if not COLLECTOR_BINARY.exists():
        raise RuntimeError(f"{COLLECTOR_BINARY} is missing: run otelcol/build.sh first (make setup does)")
    otlp, health = otlp_port or free_port(), health_port or free_port()
    metrics, otap = free_port(), otap_port or free_port()
    sink = workdir / "sink"
    sink.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "OTELCOL_OTLP_ENDPOINT": f"127.0.0.1:{otlp}",
        "OTELCOL_OTAP_ENDPOINT": f"127.0.0.1:{otap}",
        "OTELCOL_HEALTH_ENDPOINT": f"127.0.0.1:{health}",
        "OTELCOL_METRICS_PORT": str(metrics),
        "OTELCOL_SINK_DIR": str(sink),
        "OTELCOL_STORAGE_DIR": str(workdir / "otelcol-storage"),
        **(extra_env or {}),
    }
    with (workdir / "collector.log").open("ab") as log:
        process = subprocess.Popen(
            [str(COLLECTOR_BINARY), "--config", str(config)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            wait_http_ok(f"http://127.0.0.1:{health}/", process)
            yield Collector(f"127.0.0.1:{otlp}", sink, metrics, process, f"127.0.0.1:{otap}")
        finally:
            stop(process)


@contextlib.contextmanager
def run_receiver(
    workdir: Path,
    otlp_endpoint: str,
    *extra_args: str,
    env: dict[str, str] | None = None,
    port: int | None = None,
    inherit_output: bool = False,
) -> Iterator[Receiver]:
    port = port or free_port()
    log_path = workdir / f"receiver-{port}.log"
    with log_path.open("ab") as log:
        output = None if inherit_output else log
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "receiver",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--otlp-endpoint",
                otlp_endpoint,
                *extra_args,
            ],
            cwd=REPO,
            env={**os.environ, "RECEIVER_SPOOL__DIRECTORY": str(workdir / f"spool-{port}"), **(env or {})},
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
        )
        try:
            wait_http_ok(f"http://127.0.0.1:{port}/healthz", process)
            yield Receiver(f"http://127.0.0.1:{port}", process, log_path)
        finally:
            stop(process)


@dataclass
class Broker:
    host: str
    port: int
    process: "subprocess.Popen[bytes]"

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


@contextlib.contextmanager
def run_mosquitto(workdir: Path, port: int | None = None, extra_config: str = "") -> Iterator[Broker]:
    """A real Mosquitto broker (Debian package) on a loopback port, no persistence; anonymous unless
    ``extra_config`` (e.g. TLS files, a password file) says otherwise."""
    binary = next((p for p in ("/usr/sbin/mosquitto", "/usr/bin/mosquitto") if Path(p).exists()), None)
    if binary is None:
        raise RuntimeError("mosquitto is not installed: apt-get install mosquitto (.ci/run does)")
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / f"mosquitto-{port}.conf"
    anonymous = "false" if "password_file" in extra_config else "true"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous {anonymous}\npersistence false\n"
        f"max_queued_messages 100000\n{extra_config}"
    )
    with (workdir / f"mosquitto-{port}.log").open("ab") as log:
        process = subprocess.Popen([binary, "-c", str(config)], stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 10
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"mosquitto exited with {process.returncode}; see {log.name}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise TimeoutError("mosquitto did not listen within 10s") from None
                    time.sleep(0.05)
            yield Broker("127.0.0.1", port, process)
        finally:
            stop(process)


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m receiver.devstack",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--run-dir", default="var", help="sink, collector storage and logs go here")
    parser.add_argument("--port", type=int, default=8080, help="receiver HTTP port")
    parser.add_argument("--otlp-port", type=int, default=4317, help="collector OTLP/gRPC port")
    parser.add_argument("--health-port", type=int, default=13133)
    args = parser.parse_args()
    run_dir = Path(args.run_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: signal.raise_signal(signal.SIGINT))
    try:
        with (
            run_collector(run_dir, otlp_port=args.otlp_port, health_port=args.health_port) as collector,
            run_receiver(run_dir, collector.otlp_endpoint, port=args.port, inherit_output=True) as receiver,
        ):
            print(f"\nreceiver:  {receiver.url}/bulkdata?oui=00256D&pc=Gateway&sn=SN1  (POST/PUT reports)")
            print(f"collector: OTLP/gRPC {collector.otlp_endpoint}, log {run_dir / 'collector.log'}")
            print(f"sink:      {collector.sink_dir / 'otlp.jsonl'}\nCtrl-C stops both.\n", flush=True)
            while collector.process.poll() is None and receiver.process.poll() is None:
                time.sleep(0.5)
            print("a process exited; stopping", file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        return 0
    except (RuntimeError, TimeoutError) as exc:
        print(f"devstack: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
