"""STATE helpers and the Rebirth NCMD payload."""

import json

import pytest
from sparkplug_builders import Payload

from receiver.decode.sparkplug import (
    REBIRTH_METRIC,
    DataType,
    HostState,
    SparkplugDecodeError,
    decode_payload,
    decode_state,
    encode_rebirth_ncmd,
    encode_state,
    state_topic,
)


def test_state_topic() -> None:
    # tck-id-host-topic-phid-birth-topic, tck-id-host-topic-phid-death-topic
    assert state_topic("scada-1") == "spBv1.0/STATE/scada-1"
    for bad in ("", "a/b", "a+", "#"):
        with pytest.raises(ValueError):
            state_topic(bad)


def test_encode_state_is_the_3_0_json() -> None:
    # tck-id-host-topic-phid-birth-payload, tck-id-host-topic-phid-death-payload
    assert encode_state(True, 1_700_000_000_000) == b'{"online":true,"timestamp":1700000000000}'
    assert json.loads(encode_state(False, 5)) == {"online": False, "timestamp": 5}
    with pytest.raises(ValueError):
        encode_state(True, -1)


def test_decode_state_round_trips_and_tolerates_extra_keys() -> None:
    assert decode_state(encode_state(True, 42)) == HostState(online=True, timestamp_ms=42)
    assert decode_state(b'{"timestamp": 1.7e12, "online": false, "x": 1}') == HostState(
        False, 1_700_000_000_000
    )


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"ONLINE",  # the Sparkplug 2.x STATE payload
        b"\xff",
        b"[]",
        b'{"online": "true", "timestamp": 1}',
        b'{"online": true}',
        b'{"online": true, "timestamp": true}',
        b'{"online": true, "timestamp": -1}',
        b'{"online": true, "timestamp": 1.5}',
    ],
)
def test_decode_state_rejects_anything_else(data: bytes) -> None:
    with pytest.raises(SparkplugDecodeError):
        decode_state(data)


def test_rebirth_ncmd_payload() -> None:
    # tck-id-operational-behavior-data-commands-ncmd-rebirth-name, -ncmd-rebirth-value,
    # tck-id-operational-behavior-data-commands-rebirth-name-aliases (by name, no alias),
    # tck-id-payloads-ncmd-timestamp, tck-id-payloads-ncmd-seq (no seq)
    data = encode_rebirth_ncmd(1_700_000_000_123)
    message = Payload()
    message.ParseFromString(data)
    assert message.timestamp == 1_700_000_000_123
    assert not message.HasField("seq")
    (metric,) = message.metrics
    assert (metric.name, metric.datatype, metric.boolean_value) == (REBIRTH_METRIC, DataType.Boolean, True)
    assert not metric.HasField("alias")
    (decoded,) = decode_payload(data).metrics
    assert (decoded.name, decoded.value) == ("Node Control/Rebirth", True)
