"""USP Record bytes -> ``UspBulkData`` (TR-369 "USP Record Encapsulation", "End to End Message
Exchange"). Pure: no I/O, no clock, no state; one Record in, one report or one exception out."""

from typing import Final

from google.protobuf import unknown_fields
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

from ._errors import UspDecodeError, UspNotBulkData, clip
from ._model import UspBulkData
from ._msg import decode_push_event
from ._pb import usp_record_pb2 as pb

_CONNECT_RECORDS: Final = frozenset({"websocket_connect", "mqtt_connect", "stomp_connect", "uds_connect"})
# The highest record_type field number our schema knows (uds_connect, added in USP 1.3).
_LAST_KNOWN_RECORD_FIELD: Final = 13
_SAR = pb.SessionContextRecord.PayloadSARState


def decode_usp_bulkdata(record_bytes: bytes) -> UspBulkData:
    """Decode one USP Record carrying a ``Device.BulkData.Profile.{i}.Push!`` Notify Event.

    Raises ``UspNotBulkData`` for a valid Record that carries something else (Connect records,
    other Messages and Events) and ``UspDecodeError`` for anything malformed or unsupported; no
    other exception type escapes.
    """
    try:
        return _decode(record_bytes)
    except (UspDecodeError, UspNotBulkData):
        raise
    except Exception as exc:  # a bug here must still look like a decode failure to the caller
        raise UspDecodeError(
            f"unexpected {type(exc).__name__} while decoding a USP Record: {exc}", kind="internal"
        ) from exc


def _decode(record_bytes: bytes) -> UspBulkData:
    record = pb.Record()
    try:
        record.ParseFromString(record_bytes)
    except Exception as exc:  # protobuf DecodeError; TypeError for a str or None argument
        raise UspDecodeError(f"not a USP Record: {exc}", kind="malformed_record") from exc
    record_type = record.WhichOneof("record_type")
    if record_type is None:
        _raise_without_record_type(record)
    if not record.from_id:
        raise UspDecodeError("USP Record without from_id (Required)", kind="missing_from_id")
    if record_type in _CONNECT_RECORDS:
        raise UspNotBulkData(f"{record_type} Record from {clip(record.from_id)}", kind="connect_record")
    if record_type == "disconnect":
        raise UspNotBulkData(
            f"DisconnectRecord from {clip(record.from_id)}: {clip(record.disconnect.reason)}",
            kind="disconnect_record",
        )
    session_id: int | None
    if record_type == "no_session_context":
        session_id = None
        payload = record.no_session_context.payload
        if not payload:
            raise UspDecodeError(
                "no_session_context Record without a payload (R-E2E.26)", kind="empty_payload"
            )
    else:
        session_id = record.session_context.session_id
        payload = _session_payload(record.session_context)
    # "Payload Security": TLS12 means the payload is TLS records of an E2E session we never set up
    # (R-E2E.41); decrypting them needs a TLS state machine per Agent. The MQTT connection's own
    # TLS protects the Record instead (R-E2E.28, "Securing MTPs"). Known gap: a mac_signature is
    # not verified (R-E2E.30 requires that whenever one is present); we rely on the broker's TLS
    # and topic ACLs to vouch for from_id, and ignore the field rather than drop the report.
    if record.payload_security != pb.Record.PLAINTEXT:
        raise UspDecodeError(
            f"USP Record payload_security {_enum_name(pb.Record.PayloadSecurity, record.payload_security)}"
            " is not supported: only PLAINTEXT payloads can be read",
            kind="payload_security",
        )
    event = decode_push_event(payload)
    return UspBulkData(
        endpoint_id=record.from_id,
        to_id=record.to_id,
        msg_id=event.msg_id,
        subscription_id=event.subscription_id,
        profile_path=event.profile_path,
        send_resp=event.send_resp,
        reports_json=event.data.encode("utf-8"),
        session_id=session_id,
    )


def _session_payload(session: pb.SessionContextRecord) -> bytes:
    """The Message bytes of a session_context Record that holds a whole Message.

    "Segmented Message Exchange": payload_sar_state BEGIN/INPROCESS/COMPLETE means the Message is
    split across several Records, to be buffered by sequence_id and joined once COMPLETE arrives.
    That needs per-Agent session state (and retransmit requests for gaps), which this stateless
    decoder does not keep. Within one Record the payload datagrams are concatenated in order
    ("SessionContextRecord fields": a sequence of datagrams that together contain the Message; the
    spec expects one datagram for PLAINTEXT, joining several costs nothing and tolerates more).
    """
    if not session.payload:
        # Legal: R-E2E.2 was deprecated because payload-less Records restart a Session Context or
        # carry a retransmit_id request.
        raise UspNotBulkData(
            f"session_context Record (session {session.session_id}) without payload", kind="no_payload"
        )
    for field in ("payload_sar_state", "payloadrec_sar_state"):
        state = getattr(session, field)
        if state == _SAR.NONE:
            continue
        where = "earlier Records carried the rest" if state == _SAR.COMPLETE else "more Records follow"
        raise UspDecodeError(
            f"USP Message segmented across Records ({field} {_enum_name(_SAR, state)}: {where}); "
            "reassembly across Records is not supported",
            kind="sar_unsupported",
        )
    return b"".join(session.payload)


def _raise_without_record_type(record: pb.Record) -> None:
    # R-ENC.3/R-ENC.4: a Record without its oneof is discarded. But a record_type added after USP
    # 1.4 also parses as "none set", with the newcomer among the unknown fields; that one is not
    # garbage, just not for us.
    unknown = unknown_fields.UnknownFieldSet(record)
    numbers: set[int] = {unknown[i].field_number for i in range(len(unknown))}
    newer = sorted(n for n in numbers if n > _LAST_KNOWN_RECORD_FIELD)
    if newer and record.from_id:
        raise UspNotBulkData(
            f"USP Record from {clip(record.from_id)} with an unknown record_type (field {newer[0]})",
            kind="unknown_record_type",
        )
    raise UspDecodeError("USP Record without a record_type (R-ENC.3)", kind="missing_record_type")


def _enum_name(enum: EnumTypeWrapper, value: int) -> str:
    # Unknown enum values stay plain ints in proto3 (R-ENC.2 makes them a failure, which this is).
    try:
        return f"{enum.Name(value)} ({value})"
    except ValueError:
        return f"unknown value {value}"
