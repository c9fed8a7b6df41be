"""CPE authentication through the real receiver process: credentials made with the CLI, Basic and
Digest (httpx's own Digest implementation), device binding, the per-device rate limit, and no secret
in the logs."""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ._stack import Collector, Receiver, run_receiver

PASSWORD = "s3cret-Pa55word"
REPORT = b"ReportTimestamp,Device.DeviceInfo.UpTime\n1700000000,5\n"
HEADERS = {"content-type": "text/csv"}


@pytest.fixture(scope="module")
def secured(collector: Collector, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    work = tmp_path_factory.mktemp("auth")
    credentials = work / "credentials.json"
    for device in ("00256D-Gateway-SNAUTH1", "00256D-Gateway-SNAUTH2"):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "receiver",
                "credentials",
                "add",
                "--file",
                str(credentials),
                "--digest",
                device,
            ],
            input=PASSWORD.encode(),
            check=True,
            capture_output=True,
        )
    assert PASSWORD not in credentials.read_text()
    env = {
        "RECEIVER_AUTH__CREDENTIALS_FILE": str(credentials),
        "RECEIVER_AUTH__DIGEST": "true",
        "RECEIVER_AUTH__RATE_PER_S": "0.5",
        "RECEIVER_AUTH__BURST": "3",
    }
    with run_receiver(work, collector.otlp_endpoint, env=env) as receiver:
        yield receiver


def _url(receiver: Receiver, serial: str) -> str:
    return f"{receiver.url}/bulkdata?oui=00256D&pc=Gateway&sn={serial}"


def test_basic_and_digest_devices_report_as_themselves(secured: Receiver) -> None:
    basic = httpx.post(
        _url(secured, "SNAUTH1"),
        content=REPORT,
        headers=HEADERS,
        auth=httpx.BasicAuth("00256D-Gateway-SNAUTH1", PASSWORD),
        timeout=30,
    )
    assert basic.status_code == 204, basic.text
    digest = httpx.post(
        _url(secured, "SNAUTH2"),
        content=REPORT,
        headers=HEADERS,
        auth=httpx.DigestAuth("00256D-Gateway-SNAUTH2", PASSWORD),
        timeout=30,
    )
    assert digest.status_code == 204, digest.text


def test_missing_or_wrong_credentials_get_401_with_challenges(secured: Receiver) -> None:
    missing = httpx.post(_url(secured, "SNAUTH1"), content=REPORT, headers=HEADERS, timeout=30)
    assert missing.status_code == 401
    challenges = missing.headers.get_list("www-authenticate")
    assert any(c.startswith("Digest ") and "algorithm=MD5" in c for c in challenges)
    assert any(c.startswith("Basic ") for c in challenges)
    wrong = httpx.post(
        _url(secured, "SNAUTH1"),
        content=REPORT,
        headers=HEADERS,
        auth=httpx.BasicAuth("00256D-Gateway-SNAUTH1", "nope"),
        timeout=30,
    )
    assert wrong.status_code == 401 and "invalid credentials" in wrong.text


def test_a_device_may_not_report_as_another(secured: Receiver) -> None:
    response = httpx.post(
        _url(secured, "SNAUTH2"),
        content=REPORT,
        headers=HEADERS,
        auth=httpx.BasicAuth("00256D-Gateway-SNAUTH1", PASSWORD),
        timeout=30,
    )
    assert response.status_code == 403
    assert "may not report for this device" in response.text


def test_per_device_rate_limit_answers_429_with_retry_after(secured: Receiver) -> None:
    auth = httpx.BasicAuth("00256D-Gateway-SNAUTH2", PASSWORD)
    statuses = [
        httpx.post(_url(secured, "SNAUTH2"), content=REPORT, headers=HEADERS, auth=auth, timeout=30)
        for _ in range(6)
    ]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited, [r.status_code for r in statuses]
    assert int(limited[0].headers["retry-after"]) >= 1


def test_secrets_never_reach_the_log(secured: Receiver, tmp_path: Path) -> None:
    httpx.post(
        _url(secured, "SNAUTH1"),
        content=REPORT,
        headers=HEADERS,
        auth=httpx.BasicAuth("00256D-Gateway-SNAUTH1", PASSWORD + "x"),
        timeout=30,
    )
    log = secured.log_path.read_text()
    assert PASSWORD not in log


def test_cdr_and_senml_routes_are_guarded_too(secured: Receiver) -> None:
    cdr = httpx.post(
        f"{secured.url}/cdr/voice",
        content=b"msisdn,tower_id,call_type,dest_nr,call_duration_sec,start_time\n",
        headers=HEADERS,
        timeout=30,
    )
    assert cdr.status_code == 401
    senml = httpx.post(
        f"{secured.url}/senml?device=00256D-Gateway-SNAUTH2",
        content=b'[{"n":"t","v":1}]',
        headers={"content-type": "application/senml+json"},
        auth=httpx.BasicAuth("00256D-Gateway-SNAUTH1", PASSWORD),
        timeout=30,
    )
    assert senml.status_code == 403
