"""Local stack for trying the product: our collector (file sink + debug) and one receiver.

    python -m receiver.devstack [--run-dir var] [--port 8080] [--otlp-port 4317]

Both run until Ctrl-C; what the collector receives lands in RUN_DIR/sink/otlp.jsonl."""

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COLLECTOR = REPO / "otelcol" / "build" / "otelcol-telemetry"
CONFIG = REPO / "otelcol" / "config.local.yaml"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m receiver.devstack", description=__doc__)
    parser.add_argument("--run-dir", default="var", help="sink, collector storage and logs go here")
    parser.add_argument("--port", type=int, default=8080, help="receiver HTTP port")
    parser.add_argument("--otlp-port", type=int, default=4317, help="collector OTLP/gRPC port")
    parser.add_argument("--health-port", type=int, default=13133)
    args = parser.parse_args()
    if not COLLECTOR.exists():
        print(f"{COLLECTOR} is missing: run otelcol/build.sh (make setup does)", file=sys.stderr)
        return 2
    run_dir = Path(args.run_dir).resolve()
    (run_dir / "sink").mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "OTELCOL_OTLP_ENDPOINT": f"127.0.0.1:{args.otlp_port}",
        "OTELCOL_HEALTH_ENDPOINT": f"127.0.0.1:{args.health_port}",
        "OTELCOL_SINK_DIR": str(run_dir / "sink"),
        "OTELCOL_STORAGE_DIR": str(run_dir / "otelcol-storage"),
    }
    with (run_dir / "collector.log").open("ab") as collector_log:
        collector = subprocess.Popen([str(COLLECTOR), "--config", str(CONFIG)], env=env,
                                     stdout=collector_log, stderr=subprocess.STDOUT)
        receiver = None
        try:
            _wait(f"http://127.0.0.1:{args.health_port}/", collector)
            receiver = subprocess.Popen([sys.executable, "-m", "receiver", "serve", "--host", "127.0.0.1",
                                         "--port", str(args.port), "--otlp-endpoint", f"127.0.0.1:{args.otlp_port}"])
            _wait(f"http://127.0.0.1:{args.port}/healthz", receiver)
            print(f"\nreceiver:  http://127.0.0.1:{args.port}/bulkdata?oui=00256D&pc=Gateway&sn=SN1")
            print(f"collector: OTLP 127.0.0.1:{args.otlp_port}, log {run_dir / 'collector.log'}")
            print(f"sink:      {run_dir / 'sink' / 'otlp.jsonl'}\nCtrl-C stops both.\n", flush=True)
            signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
            while collector.poll() is None and receiver.poll() is None:
                time.sleep(0.5)
            return 1
        except KeyboardInterrupt:
            return 0
        finally:
            for process in (receiver, collector):  # receiver first: it drains into the collector
                if process is not None and process.poll() is None:
                    process.send_signal(signal.SIGINT)
                    try:
                        process.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        process.kill()


def _wait(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{process.args[0]} exited early with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up within {timeout}s")


if __name__ == "__main__":
    sys.exit(main())
