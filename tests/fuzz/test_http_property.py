"""Property: whatever body and headers a client sends, the HTTP ingress answers with a deliberate status
(2xx, 400, 404, 413, 415 or 503) and a reason, never a 5xx from a crash."""

import socket
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from receiver.app import create_app
from receiver.config import BatchConfig, ExportConfig, LimitsConfig, ReceiverConfig, SpoolConfig

ALLOWED = {204, 400, 404, 413, 415, 503}


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    config = ReceiverConfig(
        limits=LimitsConfig(max_body_bytes=16 * 1024, max_decompressed_bytes=64 * 1024, max_parameters=500),
        batch=BatchConfig(max_age_s=0.005),
        export=ExportConfig(endpoint=f"127.0.0.1:{_dead_port()}", retry_deadline_s=0.05, timeout_s=0.05),
        spool=SpoolConfig(enabled=False),
    )
    with TestClient(create_app(config)) as test_client:
        yield test_client


_HEADER_BODY = st.sampled_from(
    [
        b"ReportTimestamp,ParameterName,ParameterValue,ParameterType\n1700000000,Device.DeviceInfo.UpTime,5,unsignedInt\n",
        b'{"Report":[{"CollectionTime":1700000000,"Device.WiFi.Radio.1.Stats.Noise":-90}]}',
        b"ReportTimestamp,Device.DeviceInfo.UpTime\n1700000000,3\n",
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.one_of(
        st.binary(max_size=2048), _HEADER_BODY.flatmap(lambda b: st.binary(max_size=64).map(lambda x: b + x))
    ),
    content_type=st.sampled_from(
        [
            None,
            "text/csv",
            "application/json",
            'text/csv; charset="latin-1"',
            "x/y",
            "",
            "text/csv; charset=nope",
        ]
    ),
    report_format=st.sampled_from(
        [None, "ParameterPerRow", '"ParameterPerColumn"', "NameValuePair", "bogus", ""]
    ),
    encoding=st.sampled_from([None, "gzip", "deflate", "compress", "br", "identity", "gzip, deflate"]),
    query=st.sampled_from(
        ["?oui=A&pc=B&sn=C", "&oui=A&pc=B&sn=C", "?eid=x", "", "?oui=A", "?oui=%ZZ&pc=%&sn=\u00e9"]
    ),
)
def test_any_request_gets_a_deliberate_answer(
    client: TestClient,
    body: bytes,
    content_type: str | None,
    report_format: str | None,
    encoding: str | None,
    query: str,
) -> None:
    headers = {
        k: v
        for k, v in (
            ("content-type", content_type),
            ("bbf-report-format", report_format),
            ("content-encoding", encoding),
        )
        if v is not None
    }
    response = client.post("/bulkdata" + query, content=body, headers=headers)
    assert response.status_code in ALLOWED, (response.status_code, response.text)
    if response.status_code >= 400:
        assert response.text.strip(), "every refusal carries a reason"
