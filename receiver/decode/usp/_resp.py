"""The NotifyResp Record a Controller sends back when a Push! Notify had ``send_resp`` set."""

from typing import Final

from ._model import UspBulkData
from ._pb import usp_msg_pb2 as msg_pb
from ._pb import usp_record_pb2 as record_pb

# The schema revision our .proto subset was checked against (usp-*-1-4.proto). Record.version is
# "Major.Minor" of the sender's USP ("Record Definition"); NotifyResp itself exists since 1.0.
USP_VERSION: Final = "1.4"


def encode_notify_resp(bulk: UspBulkData, *, controller_id: str, version: str = USP_VERSION) -> bytes:
    """A no_session_context Record with the NotifyResp for ``bulk`` from ``controller_id``.

    The Message echoes the Notify's msg_id (R-MSG.9) and subscription_id (R-NOT.10). Whether to send
    it is the caller's call: only when ``bulk.send_resp`` (R-NOT.8). For a report that came in a
    session_context Record (``bulk.session_id`` set) this still answers outside the session: a reply
    inside it needs the session's sequence_id/expected_id bookkeeping, which is per-Agent state.
    """
    msg = msg_pb.Msg(
        header=msg_pb.Header(msg_id=bulk.msg_id, msg_type=msg_pb.Header.NOTIFY_RESP),
        body=msg_pb.Body(
            response=msg_pb.Response(notify_resp=msg_pb.NotifyResp(subscription_id=bulk.subscription_id))
        ),
    )
    record = record_pb.Record(
        version=version,
        to_id=bulk.endpoint_id,
        from_id=controller_id,
        payload_security=record_pb.Record.PLAINTEXT,
        no_session_context=record_pb.NoSessionContextRecord(payload=msg.SerializeToString()),
    )
    return record.SerializeToString()
