"""What a USP Agent publishes for a bulk data profile with Protocol "USPEventNotif": a USP Record
with a Notify ``Device.BulkData.Profile.{i}.Push!`` Event whose ``Data`` argument is the JSON
report (TR-369 Annex A). For the MQTT end-to-end tests and load tests; no I/O here.

    record = build_push_record("os::012345-CPE0001", "self::receiver", {"Report": [{...}]})
"""

import itertools
from collections.abc import Mapping
from typing import Final

import orjson

from receiver.decode.usp import USP_VERSION
from receiver.decode.usp._pb import usp_msg_pb2 as msg_pb
from receiver.decode.usp._pb import usp_record_pb2 as record_pb

SUBSCRIPTION_ID: Final = "bulkdata"
_MSG_IDS = itertools.count(1)


def build_push_record(
    endpoint_id: str,
    controller_id: str,
    report: Mapping[str, object] | str | bytes,
    profile: int = 1,
    msg_id: str | None = None,
    *,
    subscription_id: str = SUBSCRIPTION_ID,
    send_resp: bool = False,
) -> bytes:
    """One serialized no_session_context Record from ``endpoint_id`` to ``controller_id``.

    ``report`` is the ``{"Report": [...]}`` object, or already-encoded JSON (load tests reuse one
    body). ``msg_id`` defaults to a per-process counter ("push-1", "push-2", ...): the spec only asks
    for an ID that is locally unique to the sending Agent (R-MSG.8).
    """
    if isinstance(report, bytes):
        data = report.decode("utf-8")
    elif isinstance(report, str):
        data = report
    else:
        data = orjson.dumps(report).decode("utf-8")
    event = msg_pb.Notify.Event(
        obj_path=f"Device.BulkData.Profile.{profile}.", event_name="Push!", params={"Data": data}
    )
    msg = msg_pb.Msg(
        header=msg_pb.Header(msg_id=msg_id or f"push-{next(_MSG_IDS)}", msg_type=msg_pb.Header.NOTIFY),
        body=msg_pb.Body(
            request=msg_pb.Request(
                notify=msg_pb.Notify(subscription_id=subscription_id, send_resp=send_resp, event=event)
            )
        ),
    )
    record = record_pb.Record(
        version=USP_VERSION,
        to_id=controller_id,
        from_id=endpoint_id,
        payload_security=record_pb.Record.PLAINTEXT,
        no_session_context=record_pb.NoSessionContextRecord(payload=msg.SerializeToString()),
    )
    return record.SerializeToString()
