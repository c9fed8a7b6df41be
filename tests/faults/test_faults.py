"""Fault tests (real processes, loopback, bounded): kill the collector or the receiver with SIGKILL
mid-load, restart the broker under Sparkplug load, fill the spool's disk. Each counts what was sent,
what was answered 2xx and what arrived in the collector's sink: nothing answered 2xx may be lost."""

import asyncio
import contextlib
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from e2e._sink import read_sink

from loadtest.sparkplug_sim import EdgeNode
from receiver.devstack import free_port, run_collector, run_mosquitto, run_receiver

PARAMS = 20
pytestmark = pytest.mark.e2e


def _report(serial: str) -> bytes:
    rows = "".join(
        f"1700000000,Device.Ethernet.Interface.{i}.Stats.BytesSent,{i},unsignedLong\n"
        for i in range(1, PARAMS + 1)
    )
    return ("ReportTimestamp,ParameterName,ParameterValue,ParameterType\n" + rows).encode()


@dataclass
class Load:
    """Sequential CPE reports with unique serials, in a thread; records which were answered 204."""

    url: str
    count: int
    accepted: list[str] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    thread: threading.Thread | None = None
    new_connections: bool = False  # a connection per report, so SO_REUSEPORT spreads them

    def start(self) -> "Load":
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self) -> None:
        deadline = time.monotonic() + 60
        with httpx.Client(timeout=10) as client:
            for n in range(self.count):
                if time.monotonic() > deadline:
                    return
                serial = f"F{n:05d}"
                self.sent += 1
                try:
                    response = client.post(
                        f"{self.url}/bulkdata?oui=00256D&pc=Fault&sn={serial}",
                        content=_report(serial),
                        headers={
                            "content-type": "text/csv",
                            "bbf-report-format": "ParameterPerRow",
                            **({"connection": "close"} if self.new_connections else {}),
                        },
                    )
                except httpx.HTTPError as exc:
                    self.refused[type(exc).__name__] += 1
                    time.sleep(0.05)
                    continue
                if response.status_code == 204:
                    self.accepted.append(serial)
                else:
                    self.refused[str(response.status_code)] += 1
                time.sleep(0.005)

    def join(self) -> None:
        assert self.thread is not None
        self.thread.join(timeout=90)


def _delivered(sink: Path) -> Counter[str]:
    points, _ = read_sink(sink)
    return Counter(
        str(p.resource.get("tr069.serial_number"))
        for p in points
        if p.resource.get("tr069.product_class") == "Fault"
    )


def _wait_delivered(sink: Path, serials: list[str], timeout: float = 45) -> Counter[str]:
    deadline = time.monotonic() + timeout
    while True:
        delivered = _delivered(sink)
        if all(delivered[s] >= PARAMS for s in serials) or time.monotonic() > deadline:
            return delivered
        time.sleep(0.5)


def _figures(name: str, load: Load, delivered: Counter[str]) -> None:
    lost = [s for s in load.accepted if delivered[s] < PARAMS]
    duplicates = sum(max(0, n - PARAMS) for n in delivered.values()) // PARAMS
    print(
        f"\n{name}: reports sent {load.sent}, answered 204 {len(load.accepted)}, "
        f"refused {dict(load.refused)}, "
        f"delivered {sum(1 for s in load.accepted if delivered[s] >= PARAMS)}, lost {len(lost)}, "
        f"duplicated {duplicates}; points accepted {len(load.accepted) * PARAMS}, "
        f"points delivered {sum(delivered.values())}"
    )
    assert lost == [], f"accepted but lost: {lost[:10]}"


def _wait_until(predicate, timeout: float = 20) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.mark.parametrize("protocol", ["otlp", "otap"])
def test_collector_killed_mid_load_loses_nothing_accepted(tmp_path: Path, protocol: str) -> None:
    otlp, otap = free_port(), free_port()
    with (
        run_collector(tmp_path / "c1", otlp_port=otlp, otap_port=otap) as collector,
        run_receiver(
            tmp_path,
            collector.otap_endpoint if protocol == "otap" else collector.otlp_endpoint,
            env={"RECEIVER_EXPORT__PROTOCOL": protocol},
        ) as receiver,
    ):
        load = Load(receiver.url, 400).start()
        _wait_until(lambda: len(load.accepted) >= 100)
        collector.process.kill()  # SIGKILL: no flush, no goodbye
        collector.process.wait()
        first_sink = collector.sink_dir
        time.sleep(1.0)
        with run_collector(tmp_path / "c2", otlp_port=otlp, otap_port=otap) as restarted:
            load.join()
            delivered = _wait_delivered(first_sink, [], 0) + _wait_delivered(restarted.sink_dir, [], 0)
            deadline = time.monotonic() + 45
            while any(delivered[s] < PARAMS for s in load.accepted) and time.monotonic() < deadline:
                time.sleep(0.5)
                delivered = _delivered(first_sink) + _delivered(restarted.sink_dir)
    _figures(f"collector SIGKILL ({protocol})", load, delivered)
    assert len(load.accepted) >= 100


def test_receiver_killed_mid_load_loses_nothing_accepted(tmp_path: Path) -> None:
    port = free_port()
    spool = tmp_path / "spool"
    env = {"RECEIVER_SPOOL__DIRECTORY": str(spool)}
    with run_collector(tmp_path / "c") as collector:
        with run_receiver(tmp_path, collector.otlp_endpoint, env=env, port=port) as receiver:
            load = Load(receiver.url, 400).start()
            _wait_until(lambda: len(load.accepted) >= 100)
            receiver.process.send_signal(signal.SIGKILL)
            receiver.process.wait()
        time.sleep(0.5)
        with run_receiver(tmp_path, collector.otlp_endpoint, env=env, port=port):
            load.join()
            delivered = _wait_delivered(collector.sink_dir, load.accepted)
    _figures("receiver SIGKILL", load, delivered)
    assert len(load.accepted) >= 150  # the restarted receiver took the rest of the load


def test_broker_restart_reestablishes_sessions_and_requests_rebirth(tmp_path: Path) -> None:
    port = free_port()
    with run_collector(tmp_path / "c") as collector:
        broker_cm = run_mosquitto(tmp_path / "b1", port=port)
        broker = broker_cm.__enter__()
        with run_receiver(
            tmp_path,
            collector.otlp_endpoint,
            "--mqtt-broker",
            broker.url,
            env={"RECEIVER_MQTT__REORDER_TIMEOUT_MS": "200", "RECEIVER_MQTT__REBIRTH_MIN_INTERVAL_MS": "0"},
        ) as receiver:

            async def before() -> None:
                edge = EdgeNode("Restart", "N1", ["d1"], 2)
                await edge.connect(broker.url)
                edge.birth()
                for _ in range(50):
                    edge.publish_ddata("d1", [1.0, 2.0])
                await asyncio.sleep(0.2)
                assert edge.client is not None
                await edge.client.disconnect()

            asyncio.run(before())
            broker_cm.__exit__(None, None, None)  # the broker goes away under the receiver
            time.sleep(1.0)
            assert receiver.process.poll() is None
            with run_mosquitto(tmp_path / "b2", port=port):

                async def after() -> int:
                    edge = EdgeNode("Restart", "N1", ["d1"], 2, bd_seq=1)
                    await edge.connect(broker.url)
                    await asyncio.sleep(2.0)  # the receiver reconnects (1 s reconnect delay)
                    for _ in range(5):  # data without a new birth in this session
                        edge.publish_ddata("d1", [3.0, 4.0])
                        await asyncio.sleep(0.1)
                    deadline = time.monotonic() + 10
                    while edge.rebirths_received == 0 and time.monotonic() < deadline:
                        await asyncio.sleep(0.1)
                    assert edge.client is not None
                    await edge.client.disconnect()
                    return edge.rebirths_received

                rebirths = asyncio.run(after())
            assert receiver.process.poll() is None
            metrics = httpx.get(f"{receiver.url}/metrics").text
        print(f"\nbroker restart: rebirth requests received by the edge node after the restart: {rebirths}")
        assert rebirths >= 1
        assert "receiver_sparkplug_rebirths_sent_total" in metrics


@contextlib.contextmanager
def _tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_full_disk_gives_clear_503s_and_recovers_when_space_returns(tmp_path: Path) -> None:
    otlp = free_port()
    with _tmpfs(tmp_path / "small", "256k") as spool:
        env = {
            "RECEIVER_SPOOL__DIRECTORY": str(spool),
            "RECEIVER_SPOOL__SEGMENT_BYTES": "16384",
            "RECEIVER_EXPORT__RETRY_DEADLINE_S": "1",
        }
        with run_receiver(
            tmp_path, f"127.0.0.1:{otlp}", env=env
        ) as receiver:  # no collector yet: nothing drains
            statuses: Counter[int] = Counter()
            reasons = set()
            with httpx.Client(timeout=10) as client:
                for n in range(400):
                    response = client.post(
                        f"{receiver.url}/bulkdata?oui=00256D&pc=Fault&sn=D{n}",
                        content=_report("x"),
                        headers={"content-type": "text/csv"},
                    )
                    statuses[response.status_code] += 1
                    if response.status_code == 503:
                        reasons.add(response.text.strip())
                        assert response.headers["retry-after"]
                        if statuses[503] >= 3:
                            break
            assert statuses[204] > 0 and statuses[503] >= 3, statuses
            assert any("No space left on device" in r for r in reasons), reasons
            assert "spool write failed" in receiver.log_path.read_text()
            with run_collector(tmp_path / "c", otlp_port=otlp):
                deadline = time.monotonic() + 30
                recovered = False
                while time.monotonic() < deadline and not recovered:
                    time.sleep(0.5)
                    response = httpx.post(
                        f"{receiver.url}/bulkdata?oui=00256D&pc=Fault&sn=R",
                        content=_report("R"),
                        headers={"content-type": "text/csv"},
                        timeout=10,
                    )
                    recovered = response.status_code == 204
            print(
                f"\ndisk full: answers before recovery {dict(statuses)}; "
                f"recovered after the spool drained: {recovered}"
            )
            assert recovered


def test_two_workers_killed_then_one_worker_delivers_both_spools(tmp_path: Path) -> None:
    """server.workers: each process spools on its own; after all are SIGKILLed with the collector
    down, a one-process receiver on the same spool adopts both directories and delivers everything."""
    port, otlp = free_port(), free_port()
    spool = tmp_path / "spool"
    env = {"RECEIVER_SPOOL__DIRECTORY": str(spool), "RECEIVER_SERVER__WORKERS": "2"}
    with run_receiver(tmp_path, f"127.0.0.1:{otlp}", env=env, port=port) as receiver:  # no collector yet
        load = Load(receiver.url, 200, new_connections=True).start()
        load.join()
        workers = subprocess.run(
            ["pgrep", "-P", str(receiver.process.pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        assert len(workers) >= 2  # the two workers (and multiprocessing's resource tracker)
        for pid in [receiver.process.pid, *map(int, workers)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        receiver.process.wait()
    assert sorted(p.name for p in spool.iterdir()) == ["worker-0", "worker-1"]
    spooled = {p.parent.name for p in spool.glob("worker-*/segment-*.spool") if p.stat().st_size}
    assert spooled == {"worker-0", "worker-1"}  # the kernel spread the connections over both
    with (
        run_collector(tmp_path / "c", otlp_port=otlp) as collector,
        run_receiver(tmp_path, collector.otlp_endpoint, env={**env, "RECEIVER_SERVER__WORKERS": "1"}),
    ):
        delivered = _wait_delivered(collector.sink_dir, load.accepted)
    _figures("two workers SIGKILL, one restarted", load, delivered)
    assert len(load.accepted) == 200
    assert not list(spool.glob("worker-*/segment-*.spool"))  # adopted: moved, not copied
