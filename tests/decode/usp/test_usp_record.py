"""USP Record -> bulk data report: records are built with the generated classes (and once by hand,
byte by byte, to pin the field numbers), decoded, and the Data argument fed to decode_bulkdata."""

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loadtest.usp_agent import build_push_record
from receiver.decode import DecodeError, ParameterColumns, ParameterTable, as_parameter_table, decode_bulkdata
from receiver.decode.usp import (
    UspBulkData,
    UspDecodeError,
    UspNotBulkData,
    decode_usp_bulkdata,
    encode_notify_resp,
)
from receiver.decode.usp._pb import usp_msg_pb2 as msg_pb
from receiver.decode.usp._pb import usp_record_pb2 as record_pb

AGENT = "os::012345-CPE0001"
CONTROLLER = "self::telemetry-receiver"

# TR-369 Annex A, "Using the NameValuePair Report Format" (verbatim numbers and names).
ANNEX_NVP = {
    "Report": [
        {
            "Device.MoCA.Interface.1.Stats.BroadPktSent": 25248,
            "Device.MoCA.Interface.1.Stats.BytesReceived": 200543250,
            "Device.MoCA.Interface.1.Stats.BytesSent": 25248,
            "Device.MoCA.Interface.1.Stats.MultiPktReceived": 200543250,
            "Device.MoCA.Interface.2.Stats.BroadPktSent": 93247,
            "Device.MoCA.Interface.2.Stats.BytesReceived": 900543250,
            "Device.MoCA.Interface.2.Stats.BytesSent": 93247,
            "Device.MoCA.Interface.2.Stats.MultiPktReceived": 900543250,
        }
    ]
}
# TR-369 Annex A, "JSON Encoded Report Example" (ObjectHierarchy with CollectionTime).
ANNEX_OBJECT_HIERARCHY = {
    "Report": [
        {
            "CollectionTime": 1364529149,
            "Device": {
                "MoCA": {
                    "Interface": {
                        "1": {
                            "Stats": {
                                "BroadPktSent": 25248,
                                "BytesReceived": 200543250,
                                "BytesSent": 25248,
                                "MultiPktReceived": 200543250,
                            }
                        },
                        "2": {
                            "Stats": {
                                "BroadPktSent": 93247,
                                "BytesReceived": 900543250,
                                "BytesSent": 93247,
                                "MultiPktReceived": 900543250,
                            }
                        },
                    }
                }
            },
        }
    ]
}
ANNEX_NAMES = list(ANNEX_NVP["Report"][0])
ANNEX_VALUES = list(ANNEX_NVP["Report"][0].values())

SAR = record_pb.SessionContextRecord


# --- builders ---------------------------------------------------------------------------------


def push_event(
    data: str | None = None, *, obj_path: str = "Device.BulkData.Profile.1.", event_name: str = "Push!"
) -> msg_pb.Notify.Event:
    params = {} if data is None else {"Data": data}
    return msg_pb.Notify.Event(obj_path=obj_path, event_name=event_name, params=params)


def notify_msg(
    notify: msg_pb.Notify | None = None, *, msg_id: str = "m-1", data: str | None = None
) -> msg_pb.Msg:
    if notify is None:
        notify = msg_pb.Notify(
            subscription_id="sub-bulk", send_resp=True, event=push_event(data or json.dumps(ANNEX_NVP))
        )
    return msg_pb.Msg(
        header=msg_pb.Header(msg_id=msg_id, msg_type=msg_pb.Header.NOTIFY),
        body=msg_pb.Body(request=msg_pb.Request(notify=notify)),
    )


def record(payload: bytes | msg_pb.Msg | None = None, **fields: Any) -> bytes:
    if isinstance(payload, msg_pb.Msg):
        payload = payload.SerializeToString()
    base: dict[str, Any] = {"version": "1.4", "to_id": CONTROLLER, "from_id": AGENT}
    if payload is not None:
        base["no_session_context"] = record_pb.NoSessionContextRecord(payload=payload)
    base.update(fields)
    return record_pb.Record(**base).SerializeToString()


def session_record(
    payloads: list[bytes], *, sar: int = SAR.NONE, rec_sar: int = SAR.NONE, session_id: int = 7
) -> bytes:
    session = record_pb.SessionContextRecord(
        session_id=session_id,
        sequence_id=1,
        expected_id=1,
        payload_sar_state=sar,  # type: ignore[arg-type]
        payloadrec_sar_state=rec_sar,  # type: ignore[arg-type]
        payload=payloads,
    )
    return record(session_context=session)


def table(bulk: UspBulkData) -> ParameterTable:
    decoded = decode_bulkdata(bulk.reports_json, content_type="application/json", report_format=None)
    return as_parameter_table(decoded) if isinstance(decoded, ParameterColumns) else decoded


# --- the report path ----------------------------------------------------------------------------


def test_no_session_context_push_event_carries_the_annex_name_value_pair_report() -> None:
    data = json.dumps(ANNEX_NVP)
    bulk = decode_usp_bulkdata(record(notify_msg(msg_id="42", data=data)))
    assert bulk == UspBulkData(
        endpoint_id=AGENT,
        to_id=CONTROLLER,
        msg_id="42",
        subscription_id="sub-bulk",
        profile_path="Device.BulkData.Profile.1.",
        send_resp=True,
        reports_json=data.encode(),
        session_id=None,
    )
    decoded = table(bulk)
    assert decoded.names == ANNEX_NAMES
    assert decoded.values == ANNEX_VALUES
    assert decoded.times_ns == [None] * 8
    assert decoded.reports == 1


def test_object_hierarchy_report_with_collection_time() -> None:
    bulk = decode_usp_bulkdata(record(notify_msg(data=json.dumps(ANNEX_OBJECT_HIERARCHY))))
    decoded = table(bulk)
    assert decoded.names == ANNEX_NAMES
    assert decoded.values == ANNEX_VALUES
    assert decoded.times_ns == [1364529149 * 10**9] * 8


def test_session_context_payload_datagrams_are_joined_in_order() -> None:
    payload = notify_msg(msg_id="s-1").SerializeToString()
    cut = len(payload) // 3
    bulk = decode_usp_bulkdata(session_record([payload[:cut], payload[cut:]], session_id=99))
    assert bulk.session_id == 99
    assert bulk.msg_id == "s-1"
    assert table(bulk).names == ANNEX_NAMES


def test_non_ascii_data_is_returned_as_utf8() -> None:
    report = {"Report": [{"Device.DeviceInfo.FriendlyName": "Wohnzimmer Küche ✓ 東京"}]}
    bulk = decode_usp_bulkdata(record(notify_msg(data=json.dumps(report, ensure_ascii=False))))
    assert table(bulk).values == ["Wohnzimmer Küche ✓ 東京"]


@pytest.mark.parametrize(
    ("obj_path", "expected"),
    [
        ("Device.BulkData.Profile.12.", "Device.BulkData.Profile.12."),
        ("Device.BulkData.Profile.3", "Device.BulkData.Profile.3."),
    ],
)
def test_profile_path_is_reported_with_its_trailing_dot(obj_path: str, expected: str) -> None:
    notify = msg_pb.Notify(event=push_event('{"Report":[]}', obj_path=obj_path))
    bulk = decode_usp_bulkdata(record(notify_msg(notify)))
    assert bulk.profile_path == expected
    assert (bulk.subscription_id, bulk.send_resp) == ("", False)


def test_load_test_agent_round_trips() -> None:
    raw = build_push_record(AGENT, CONTROLLER, ANNEX_NVP, profile=5, msg_id="lt-1")
    bulk = decode_usp_bulkdata(raw)
    assert (bulk.endpoint_id, bulk.to_id, bulk.msg_id) == (AGENT, CONTROLLER, "lt-1")
    assert bulk.profile_path == "Device.BulkData.Profile.5."
    assert table(bulk).names == ANNEX_NAMES
    assert decode_usp_bulkdata(build_push_record(AGENT, CONTROLLER, b'{"Report":[]}')).msg_id.startswith(
        "push-"
    )


def test_notify_resp_echoes_msg_id_and_subscription() -> None:
    bulk = decode_usp_bulkdata(record(notify_msg(msg_id="n-7")))
    rec = record_pb.Record()
    rec.ParseFromString(encode_notify_resp(bulk, controller_id=CONTROLLER))
    assert (rec.version, rec.to_id, rec.from_id) == ("1.4", AGENT, CONTROLLER)
    assert rec.WhichOneof("record_type") == "no_session_context"
    msg = msg_pb.Msg()
    msg.ParseFromString(rec.no_session_context.payload)
    assert msg.header.msg_id == "n-7"
    assert msg.header.msg_type == msg_pb.Header.NOTIFY_RESP
    assert msg.body.response.notify_resp.subscription_id == "sub-bulk"


# --- wire format pinned independently of the generated classes ---------------------------------


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _ld(field: int, value: bytes) -> bytes:  # a length-delimited field (wire type 2)
    return _varint(field << 3 | 2) + _varint(len(value)) + value


def _vi(field: int, value: int) -> bytes:  # a varint field (wire type 0)
    return _varint(field << 3) + _varint(value)


def test_hand_encoded_record_uses_the_usp_1_4_field_numbers() -> None:
    # Field numbers from BroadbandForum/usp specification/usp-{record,msg}-1-4.proto.
    data = json.dumps(ANNEX_NVP).encode()
    event = _ld(1, b"Device.BulkData.Profile.2.") + _ld(2, b"Push!") + _ld(3, _ld(1, b"Data") + _ld(2, data))
    notify = _ld(1, b"sub-9") + _vi(2, 1) + _ld(3, event)
    msg = _ld(1, _ld(1, b"wire-1") + _vi(2, 3)) + _ld(2, _ld(1, _ld(8, notify)))
    rec = _ld(1, b"1.3") + _ld(2, CONTROLLER.encode()) + _ld(3, AGENT.encode()) + _ld(7, _ld(2, msg))
    bulk = decode_usp_bulkdata(rec)
    assert bulk == UspBulkData(
        endpoint_id=AGENT,
        to_id=CONTROLLER,
        msg_id="wire-1",
        subscription_id="sub-9",
        profile_path="Device.BulkData.Profile.2.",
        send_resp=True,
        reports_json=data,
        session_id=None,
    )
    # session_context = 8: session_id 1, sequence_id 2, expected_id 3, repeated payload 7.
    session = _vi(1, 5) + _vi(2, 1) + _vi(3, 1) + _ld(7, msg[:10]) + _ld(7, msg[10:])
    assert decode_usp_bulkdata(_ld(3, AGENT.encode()) + _ld(8, session)).session_id == 5


# --- errors ------------------------------------------------------------------------------------

MSG = notify_msg()
PAYLOAD = MSG.SerializeToString()


def _msg_with(**changes: Any) -> msg_pb.Msg:
    msg = msg_pb.Msg()
    msg.CopyFrom(MSG)
    for name, value in changes.items():
        if value is None:
            msg.ClearField(name)
        else:
            getattr(msg, name).CopyFrom(value)
    return msg


ERRORS: dict[str, tuple[object, str, str]] = {
    "garbage": (b"\xff\xff\xff", "malformed_record", "not a USP Record"),
    "bad utf-8 in from_id": (_ld(3, b"\xc3\x28"), "malformed_record", "not a USP Record"),
    "not bytes": ("a str", "malformed_record", "not a USP Record"),
    "empty": (b"", "missing_record_type", "without a record_type"),
    "no from_id": (record(PAYLOAD, from_id=""), "missing_from_id", "from_id"),
    "tls12": (record(PAYLOAD, payload_security=record_pb.Record.TLS12), "payload_security", "TLS12 (1)"),
    "unknown security": (record(PAYLOAD, payload_security=5), "payload_security", "unknown value 5"),
    "sar begin": (
        session_record([PAYLOAD], sar=SAR.BEGIN, rec_sar=SAR.BEGIN),
        "sar_unsupported",
        "more Records follow",
    ),
    "sar in process": (session_record([PAYLOAD], sar=SAR.INPROCESS), "sar_unsupported", "INPROCESS"),
    "sar complete": (session_record([PAYLOAD], sar=SAR.COMPLETE), "sar_unsupported", "earlier Records"),
    "payloadrec sar only": (
        session_record([PAYLOAD], rec_sar=SAR.BEGIN),
        "sar_unsupported",
        "payloadrec_sar_state",
    ),
    "no payload": (record(b""), "empty_payload", "R-E2E.26"),
    "payload not a msg": (record(b"\xff\xff"), "malformed_msg", "not a USP Msg"),
    "no header": (record(_msg_with(header=None)), "missing_header", "msg_id"),
    "empty msg_id": (
        record(_msg_with(header=msg_pb.Header(msg_type=msg_pb.Header.NOTIFY))),
        "missing_header",
        "msg_id",
    ),
    "no body": (record(_msg_with(body=None)), "missing_body", "body"),
    "no data": (
        record(notify_msg(msg_pb.Notify(event=push_event(None)))),
        "missing_data",
        "without a Data argument",
    ),
    "empty data": (record(notify_msg(msg_pb.Notify(event=push_event(" \n")))), "missing_data", "empty Data"),
}


@pytest.mark.parametrize(("raw", "kind", "reason"), list(ERRORS.values()), ids=list(ERRORS))
def test_malformed_or_unsupported_records_raise_usp_decode_error(raw: bytes, kind: str, reason: str) -> None:
    with pytest.raises(UspDecodeError) as info:
        decode_usp_bulkdata(raw)
    assert info.value.kind == kind
    assert reason in info.value.reason
    assert isinstance(info.value, DecodeError)
    assert not isinstance(info.value, UspNotBulkData)


def test_missing_data_reason_lists_the_arguments_it_did_get() -> None:
    notify = msg_pb.Notify(
        event=msg_pb.Notify.Event(
            obj_path="Device.BulkData.Profile.1.", event_name="Push!", params={"data": "x"}
        )
    )
    with pytest.raises(UspDecodeError, match=r"arguments: 'data'"):
        decode_usp_bulkdata(record(notify_msg(notify)))


def _response(**resp: Any) -> msg_pb.Msg:
    return msg_pb.Msg(header=msg_pb.Header(msg_id="r"), body=msg_pb.Body(response=msg_pb.Response(**resp)))


NOT_BULK: dict[str, tuple[bytes, str, str]] = {
    "mqtt connect": (
        record(
            mqtt_connect=record_pb.MQTTConnectRecord(
                version=record_pb.MQTTConnectRecord.V5, subscribed_topic="t"
            )
        ),
        "connect_record",
        "mqtt_connect",
    ),
    "websocket connect": (
        record(websocket_connect=record_pb.WebSocketConnectRecord()),
        "connect_record",
        "websocket",
    ),
    "stomp connect": (record(stomp_connect=record_pb.STOMPConnectRecord()), "connect_record", "stomp"),
    "uds connect": (record(uds_connect=record_pb.UDSConnectRecord()), "connect_record", "uds"),
    "disconnect": (
        record(disconnect=record_pb.DisconnectRecord(reason="bye", reason_code=7105)),
        "disconnect_record",
        "'bye'",
    ),
    "future record type": (record() + _ld(14, b""), "unknown_record_type", "field 14"),
    "session restart": (session_record([]), "no_payload", "session 7"),
    "get request": (
        record(
            msg_pb.Msg(
                header=msg_pb.Header(msg_id="g"), body=msg_pb.Body(request=msg_pb.Request(get=msg_pb.Get()))
            )
        ),
        "not_notify",
        "request get",
    ),
    "notify response": (
        record(_response(notify_resp=msg_pb.NotifyResp(subscription_id="s"))),
        "not_notify",
        "response",
    ),
    "error": (
        record(
            msg_pb.Msg(header=msg_pb.Header(msg_id="e"), body=msg_pb.Body(error=msg_pb.Error(err_code=7004)))
        ),
        "not_notify",
        "error",
    ),
    "value change": (
        record(
            notify_msg(
                msg_pb.Notify(value_change=msg_pb.Notify.ValueChange(param_path="Device.X", param_value="1"))
            )
        ),
        "not_event",
        "value_change",
    ),
    "on board request": (
        record(notify_msg(msg_pb.Notify(on_board_req=msg_pb.Notify.OnBoardRequest(oui="012345")))),
        "not_event",
        "on_board_req",
    ),
    "boot event": (
        record(notify_msg(msg_pb.Notify(event=push_event("{}", obj_path="Device.", event_name="Boot!")))),
        "not_push_event",
        "'Device.Boot!'",
    ),
    "push on another object": (
        record(
            notify_msg(
                msg_pb.Notify(event=push_event("{}", obj_path="Device.BulkData.Profile.1.Parameter.1."))
            )
        ),
        "not_push_event",
        "Parameter",
    ),
    "other profile event": (
        record(notify_msg(msg_pb.Notify(event=push_event("{}", event_name="Pushed!")))),
        "not_push_event",
        "Pushed!",
    ),
}


@pytest.mark.parametrize(("raw", "kind", "reason"), list(NOT_BULK.values()), ids=list(NOT_BULK))
def test_other_valid_records_raise_usp_not_bulk_data(raw: bytes, kind: str, reason: str) -> None:
    with pytest.raises(UspNotBulkData) as info:
        decode_usp_bulkdata(raw)
    assert info.value.kind == kind
    assert reason in info.value.reason
    assert not isinstance(info.value, UspDecodeError)


def test_long_untrusted_strings_are_clipped_in_reasons() -> None:
    notify = msg_pb.Notify(event=push_event("{}", obj_path="Device." + "X" * 10_000, event_name="Boot!"))
    with pytest.raises(UspNotBulkData) as info:
        decode_usp_bulkdata(record(notify_msg(notify)))
    assert len(info.value.reason) < 200


def test_an_unexpected_failure_inside_is_wrapped(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(payload: bytes) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("receiver.decode.usp._record.decode_push_event", explode)
    with pytest.raises(UspDecodeError, match="unexpected RuntimeError") as info:
        decode_usp_bulkdata(VALID)
    assert info.value.kind == "internal"
    assert isinstance(info.value.__cause__, RuntimeError)


# --- nothing but DecodeError escapes ---------------------------------------------------------------

VALID = record(PAYLOAD)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_decode_errors(raw: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode_usp_bulkdata(raw)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(VALID) - 1), st.integers(1, 255))
def test_corrupted_valid_records_raise_only_decode_errors(index: int, xor: int) -> None:
    raw = bytearray(VALID)
    raw[index] ^= xor
    with contextlib.suppress(DecodeError):
        decode_usp_bulkdata(bytes(raw))
