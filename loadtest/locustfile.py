"""Locust scenarios against a running receiver (``make run`` or ``python -m receiver.devstack``).

    locust -f loadtest/locustfile.py --headless -u 200 -r 50 -t 60s --host http://127.0.0.1:8080 CpeFleet
    locust -f loadtest/locustfile.py --headless -u 4 -r 4 -t 60s --host http://127.0.0.1:8080 CdrUploader

CpeFleet: CWMP/USP devices from a 10-million id space sending Bulk Data reports of 50-1000 parameters,
CSV (per-row and per-column) and JSON (NameValuePair and ObjectHierarchy), a third of them gzipped,
each device waiting its report interval (scaled down by LOAD_TIME_SCALE for a load test). CdrUploader:
CSV files of data and voice records. Sparkplug edge nodes: ``python -m loadtest.sparkplug_sim``."""

import gzip
import io
import os
import random

import orjson
from locust import FastHttpUser, between, task

_TEMPLATES = (
    ("Device.Ethernet.Interface.{}.Stats.BytesSent", "unsignedLong"),
    ("Device.Ethernet.Interface.{}.Stats.BytesReceived", "unsignedLong"),
    ("Device.WiFi.Radio.{}.Stats.Noise", "int"),
    ("Device.WiFi.AccessPoint.{}.AssociatedDevice.{}.SignalStrength", "int"),
    ("Device.WiFi.Radio.{}.Enable", "boolean"),
    ("Device.Hosts.Host.{}.Active", "boolean"),
    ("Device.DeviceInfo.ProcessStatus.Process.{}.CPUTime", "unsignedInt"),
    ("Device.IP.Interface.{}.Stats.PacketsSent", "unsignedLong"),
)
TIME_SCALE = float(os.environ.get("LOAD_TIME_SCALE", "0.001"))  # 15-minute intervals -> ~1 s


def _parameters(rng: random.Random, count: int) -> list[tuple[str, str, str]]:
    out = []
    for index in range(count):
        template, type_ = _TEMPLATES[index % len(_TEMPLATES)]
        instance = str(1 + index // len(_TEMPLATES))
        name = template.format(*([instance] * template.count("{}")))
        value = rng.choice(["true", "false"]) if type_ == "boolean" else str(rng.randint(-95, 2**31))
        out.append((name, value, type_))
    return out


def _body(fmt: str, params: list[tuple[str, str, str]], timestamp: int) -> tuple[bytes, str]:
    if fmt == "ParameterPerRow":
        rows = "".join(f"{timestamp},{n},{v},{t}\n" for n, v, t in params)
        return ("ReportTimestamp,ParameterName,ParameterValue,ParameterType\n" + rows).encode(), "text/csv"
    if fmt == "ParameterPerColumn":
        header = "ReportTimestamp," + ",".join(n for n, _, _ in params)
        return (f"{header}\n{timestamp}," + ",".join(v for _, v, _ in params) + "\n").encode(), "text/csv"
    report: dict[str, object] = {"CollectionTime": timestamp}
    for name, value, type_ in params:
        report[name] = value == "true" if type_ == "boolean" else int(value)
    return orjson.dumps({"Report": [report]}), "application/json"


class CpeFleet(FastHttpUser):
    wait_time = between(900 * TIME_SCALE, 900 * TIME_SCALE * 1.2)

    def on_start(self) -> None:
        self.rng = random.Random()
        self.serial = f"SN{self.rng.randrange(10_000_000):08d}"
        self.format = self.rng.choice(
            ["ParameterPerRow", "ParameterPerRow", "ParameterPerColumn", "NameValuePair"]
        )
        self.params = _parameters(self.rng, self.rng.choice([50, 200, 500, 1000]))
        self.gzip = self.rng.random() < 1 / 3

    @task
    def report(self) -> None:
        body, media = _body(self.format, self.params, 1_700_000_000 + self.rng.randrange(86_400))
        headers = {"Content-Type": f"{media}; charset=UTF-8", "BBF-Report-Format": f'"{self.format}"'}
        if self.gzip:
            body = gzip.compress(body, 1)
            headers["Content-Encoding"] = "gzip"
        with self.client.post(
            f"/bulkdata?oui=00256D&pc=LoadGateway&sn={self.serial}",
            data=body,
            headers=headers,
            name=f"bulkdata {self.format}",
            catch_response=True,
        ) as response:
            if response.status_code != 204:
                response.failure(f"{response.status_code}: {response.text[:120]}")


class CdrUploader(FastHttpUser):
    wait_time = between(1, 2)

    def on_start(self) -> None:
        self.rng = random.Random()

    def _file(self, kind: str, rows: int) -> bytes:
        out = io.StringIO()
        if kind == "data":
            out.write("msisdn,tower_id,up_bytes,down_bytes,data_type,ip_address,website_url,event_datetime\n")
            for _ in range(rows):
                out.write(
                    f"3167{self.rng.randrange(10**7):07d},{self.rng.randint(1, 2000)},"
                    f"{self.rng.randint(100_000, 1_000_000)},{self.rng.randint(100_000, 1_000_000)},"
                    f"{self.rng.choice(['video', 'audio', 'image', 'text', 'application'])},"
                    f"81.{self.rng.randrange(256)}.{self.rng.randrange(256)}.{self.rng.randrange(256)},"
                    f"https://example.com/{self.rng.randrange(1000)},"
                    f"2024-03-01 12:{self.rng.randrange(60):02d}:00\n"
                )
        else:
            out.write("msisdn,tower_id,call_type,dest_nr,call_duration_sec,start_time\n")
            for _ in range(rows):
                out.write(
                    f"3167{self.rng.randrange(10**7):07d},{self.rng.randint(1, 2000)},"
                    f"{self.rng.choice(['voice', 'video'])},3161{self.rng.randrange(10**7):07d},"
                    f"{self.rng.randint(1, 1800)},2024-03-01 12:{self.rng.randrange(60):02d}:00\n"
                )
        return gzip.compress(out.getvalue().encode(), 1)

    @task
    def upload(self) -> None:
        kind = self.rng.choice(["data", "voice"])
        with self.client.post(
            f"/cdr/{kind}",
            data=self._file(kind, 10_000),
            name=f"cdr {kind}",
            headers={"Content-Type": "text/csv", "Content-Encoding": "gzip"},
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}: {response.text[:120]}")
