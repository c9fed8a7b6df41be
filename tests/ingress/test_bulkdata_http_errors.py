"""Every bad request gets a clear status and a reason in the body, and never a crash.

No collector listens here: requests that pass validation end in 503 (not delivered, send again),
which is itself the behaviour under test for an unreachable collector."""

import gzip
import socket
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from receiver.app import create_app
from receiver.config import BatchConfig, ExportConfig, LimitsConfig, ReceiverConfig, SpoolConfig

IDENTITY = "?oui=00256D&pc=Gateway&sn=SN1"
CSV = "text/csv; charset=UTF-8"
ROW_HEADER = "ReportTimestamp,ParameterName,ParameterValue,ParameterType\n"


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    config = ReceiverConfig(
        limits=LimitsConfig(
            max_body_bytes=64 * 1024,
            max_decompressed_bytes=256 * 1024,
            max_parameters=100,
            max_name_length=80,
        ),
        batch=BatchConfig(max_age_s=0.01),
        export=ExportConfig(
            endpoint=f"127.0.0.1:{_dead_port()}", retry_deadline_s=0.5, retry_initial_s=0.05, timeout_s=0.2
        ),
        spool=SpoolConfig(enabled=False),  # answers wait for the (absent) collector
    )
    with TestClient(create_app(config)) as test_client:
        yield test_client


def _post(client: TestClient, body: bytes | str, *, path: str = "/bulkdata" + IDENTITY, **headers: str):  # type: ignore[no-untyped-def]
    content = body.encode() if isinstance(body, str) else body
    return client.post(path, content=content, headers={k.replace("_", "-"): v for k, v in headers.items()})


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/bulkdata", "missing device identity"),
        ("/bulkdata?oui=00256D&sn=SN1", "lacks pc"),
        ("/bulkdata?foo=bar", "missing device identity"),
    ],
)
def test_report_without_identity_is_400(client: TestClient, path: str, reason: str) -> None:
    response = _post(
        client, ROW_HEADER + "1,Device.DeviceInfo.UpTime,1,unsignedInt\n", path=path, content_type=CSV
    )
    assert response.status_code == 400
    assert reason in response.text


@pytest.mark.parametrize(
    ("body", "headers", "status", "reason"),
    [
        ("<xml/>", {"content_type": "application/xml"}, 415, "unsupported Content-Type 'application/xml'"),
        (ROW_HEADER, {"content_type": CSV, "bbf_report_format": "XMLish"}, 415, "unknown BBF-Report-Format"),
        ("{not json", {"content_type": "application/json"}, 400, "malformed JSON"),
        ('{"Report": 5}', {"content_type": "application/json"}, 400, '"Report" must be an array'),
        (
            '{"Report": [{"CollectionTime": "yesterday", "Device.X": 1}]}',
            {"content_type": "application/json"},
            400,
            "unreadable timestamp",
        ),
        ("", {"content_type": CSV}, 400, "empty CSV report"),
        (
            "Foo,Bar\n1,2\n",
            {"content_type": CSV, "bbf_report_format": "ParameterPerRow"},
            400,
            "must have ParameterName and ParameterValue",
        ),
        (
            ROW_HEADER + "1364529149,Device.X\n",
            {"content_type": CSV},
            400,
            "line 2: expected 4 fields, got 2",
        ),
        (ROW_HEADER + "soon,Device.X,1,int\n", {"content_type": CSV}, 400, "line 2: unreadable timestamp"),
        ("ReportTimestamp,A,B\n1364529149,1\n", {"content_type": CSV}, 400, "line 2: expected 3 fields"),
        (b"ReportTimestamp,A\n1,\xff\xfe\n", {"content_type": CSV}, 400, "not valid utf-8"),
        (
            ROW_HEADER + "5023-11-14T22:13:20Z,Device.X,1,int\n",
            {"content_type": CSV},
            400,
            "timestamp out of range",
        ),
        (ROW_HEADER, {"content_type": CSV}, 400, "no parameter rows"),
        ("x", {"content_type": CSV, "content_encoding": "br"}, 415, "unsupported Content-Encoding 'br'"),
        (
            b"\x1f\x8bnot-really-gzip",
            {"content_type": CSV, "content_encoding": "gzip"},
            400,
            "corrupt gzip body",
        ),
        (
            gzip.compress(b"ReportTimestamp,A\n1,2\n")[:-6],
            {"content_type": CSV, "content_encoding": "gzip"},
            400,
            "truncated gzip",
        ),
        (
            '{"Report": [{"CollectionTime": 1, "' + "D" * 81 + '": 1}]}',
            {"content_type": "application/json"},
            413,
            "exceeds the limit of 80",
        ),
    ],
    ids=lambda value: value if isinstance(value, int) else None,
)
def test_malformed_report_gets_status_and_reason(
    client: TestClient, body: str | bytes, headers: dict[str, str], status: int, reason: str
) -> None:
    response = _post(client, body, **headers)
    assert response.status_code == status, response.text
    assert reason in response.text


def test_too_many_parameters_is_413(client: TestClient) -> None:
    rows = "".join(f"1364529149,Device.X.{i}.Y,{i},int\n" for i in range(101))
    response = _post(client, ROW_HEADER + rows, content_type=CSV)
    assert response.status_code == 413
    assert "101 parameters, the limit is 100" in response.text


def test_body_over_limit_is_413_by_content_length(client: TestClient) -> None:
    response = _post(client, "x" * (64 * 1024 + 1), content_type=CSV)
    assert response.status_code == 413
    assert "exceeds the limit of 65536 bytes" in response.text


def test_chunked_body_over_limit_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(80):
            yield b"x" * 1024

    response = client.post("/bulkdata" + IDENTITY, content=chunks(), headers={"content-type": CSV})
    assert response.status_code == 413


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_decompression_bomb_is_413_before_inflating_it_all(client: TestClient, coding: str) -> None:
    payload = b"0" * (50 * 1024 * 1024)
    body = gzip.compress(payload, 9) if coding == "gzip" else zlib.compress(payload, 9)
    assert len(body) < 64 * 1024
    response = _post(client, body, content_type=CSV, content_encoding=coding)
    assert response.status_code == 413
    assert "decompressed body exceeds" in response.text


def test_unknown_path_is_404_and_get_is_405(client: TestClient) -> None:
    assert _post(client, "x", path="/elsewhere" + IDENTITY, content_type=CSV).status_code == 404
    assert client.get("/bulkdata" + IDENTITY).status_code == 405


def test_valid_report_with_collector_down_is_503_with_retry_after(client: TestClient) -> None:
    response = _post(
        client, ROW_HEADER + "1364529149,Device.DeviceInfo.UpTime,5,unsignedInt\n", content_type=CSV
    )
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert "not delivered, send again" in response.text


def test_metrics_endpoint_counts_requests_by_status(client: TestClient) -> None:
    _post(client, "{", content_type="application/json")
    text = client.get("/metrics").text
    assert 'receiver_requests_total{input="bulkdata",status="400"}' in text


def test_with_the_spool_a_report_is_accepted_while_the_collector_is_down(tmp_path: Path) -> None:
    config = ReceiverConfig(
        batch=BatchConfig(max_age_s=0.01),
        export=ExportConfig(endpoint=f"127.0.0.1:{_dead_port()}", retry_deadline_s=0.2, timeout_s=0.1),
        spool=SpoolConfig(directory=str(tmp_path)),
    )
    with TestClient(create_app(config)) as spooled:
        response = _post(
            spooled, ROW_HEADER + "1364529149,Device.DeviceInfo.UpTime,5,unsignedInt\n", content_type=CSV
        )
        assert response.status_code == 204
        metrics = spooled.get("/metrics").text
        assert "receiver_spool_depth_batches 1.0" in metrics
        assert "receiver_spool_appended_batches_total 1.0" in metrics
    assert list(tmp_path.glob("segment-*.spool"))  # still there for the next start
