"""The two exceptions the USP bulk data decoder raises; nothing else escapes it.

Both carry a human ``reason`` (from ``DecodeError``) and a ``kind`` from a small fixed set, so the
MQTT ingress can count them by kind without unbounded label values (the reason may quote an
Endpoint ID or a path). They are siblings, not parent and child: "well-formed, just not a bulk data
report" (ignore and count) must not be caught by an ``except UspDecodeError`` meant for garbage.
"""

from typing import Literal

from .._errors import DecodeError

UspErrorKind = Literal[
    "malformed_record",  # the bytes are not a USP Record (protobuf parse failed)
    "missing_record_type",  # no record_type oneof (R-ENC.3, R-ENC.4: discard)
    "missing_from_id",  # from_id is Required (Record Definition; R-MTP.4b)
    "payload_security",  # E2E-protected payload (TLS12), we only read PLAINTEXT
    "sar_unsupported",  # the Message is segmented across Records
    "empty_payload",  # a no_session_context Record without a payload (R-E2E.26)
    "malformed_msg",  # the payload is not a USP Msg
    "missing_header",  # no Header or no msg_id (R-MSG.6, R-MSG.8)
    "missing_body",  # no Body (R-MSG.7)
    "missing_data",  # a Push! Event without a usable Data argument
    "internal",  # an unexpected failure inside the decoder (a bug: the cause is chained)
]

NotBulkDataKind = Literal[
    "connect_record",  # WebSocket/MQTT/STOMP/UDS Connect Record (R-MTP.6)
    "disconnect_record",  # DisconnectRecord (R-MTP.7)
    "unknown_record_type",  # a record_type newer than our schema (only unknown fields present)
    "no_payload",  # a session_context Record without payload: session restart/retransmit request
    "not_notify",  # another Request, a Response or an Error
    "not_event",  # a Notify that is ValueChange, ObjectCreation, OperationComplete, ...
    "not_push_event",  # an Event other than Device.BulkData.Profile.{i}.Push!
]


class UspDecodeError(DecodeError):
    """The Record or the Message in it is malformed or uses a feature we do not support.

    Low-level failures (protobuf ``DecodeError``, ``TypeError`` for a non-bytes argument, ...) are
    chained as ``__cause__``.
    """

    def __init__(self, reason: str, *, kind: UspErrorKind) -> None:
        super().__init__(reason)
        self.kind: UspErrorKind = kind


class UspNotBulkData(DecodeError):
    """A valid USP Record that does not carry a bulk data report; the caller ignores and counts it."""

    def __init__(self, reason: str, *, kind: NotBulkDataKind) -> None:
        super().__init__(reason)
        self.kind: NotBulkDataKind = kind


def clip(text: str, limit: int = 80) -> str:
    """``repr`` of an untrusted string for a reason, cut short: reasons end up in logs."""
    return repr(text if len(text) <= limit else text[:limit] + "...")
