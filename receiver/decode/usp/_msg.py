"""USP Msg -> the bulk data Push! Event in it (TR-369 "Messages", "The Notify Message")."""

import re
from dataclasses import dataclass

from ._errors import UspDecodeError, UspNotBulkData, clip
from ._pb import usp_msg_pb2 as pb

# TR-181 Device:2 defines the Event Device.BulkData.Profile.{i}.Push! with one argument, Data
# (OB-USP-Agent's device_bulkdata.c sends exactly that). Event.obj_path is the Object Instance Path
# (section "Event Fields": e.g. "Device.LocalAgent."); we also accept it without the trailing dot.
_PUSH_EVENT = "Push!"
_PROFILE_PATH = re.compile(r"Device\.BulkData\.Profile\.([0-9]+)\.?")
_DATA_ARG = "Data"


@dataclass(frozen=True, slots=True)
class PushEvent:
    msg_id: str
    subscription_id: str
    send_resp: bool
    profile_path: str
    data: str


def decode_push_event(payload: bytes) -> PushEvent:
    msg = pb.Msg()
    try:
        msg.ParseFromString(payload)
    except Exception as exc:  # protobuf DecodeError, or anything upb raises on odd input
        raise UspDecodeError(f"the Record's payload is not a USP Msg: {exc}", kind="malformed_msg") from exc
    # R-MSG.6/R-MSG.8: header and msg_id are Required. We need msg_id to answer (R-MSG.9).
    if not msg.HasField("header") or not msg.header.msg_id:
        raise UspDecodeError("USP Msg without a header msg_id (R-MSG.6, R-MSG.8)", kind="missing_header")
    if not msg.HasField("body"):
        raise UspDecodeError("USP Msg without a body (R-MSG.7)", kind="missing_body")
    # R-MSG.10: header.msg_type is informational; the body says what the Message is.
    body = msg.body
    body_type = body.WhichOneof("msg_body")
    req_type = body.request.WhichOneof("req_type") if body_type == "request" else None
    if req_type != "notify":
        what = f"{body_type} {req_type}" if body_type == "request" else str(body_type)
        raise UspNotBulkData(
            f"USP Msg {clip(msg.header.msg_id)} is a {what}, not a Notify", kind="not_notify"
        )
    notify = body.request.notify
    notification = notify.WhichOneof("notification")
    if notification != "event":
        raise UspNotBulkData(
            f"USP Notify {clip(msg.header.msg_id)} is a {notification} notification, not an Event",
            kind="not_event",
        )
    event = notify.event
    match = _PROFILE_PATH.fullmatch(event.obj_path)
    if event.event_name != _PUSH_EVENT or match is None:
        raise UspNotBulkData(
            f"USP Event {clip(event.obj_path + event.event_name)} is not Device.BulkData.Profile.{{i}}.Push!",
            kind="not_push_event",
        )
    data = event.params.get(_DATA_ARG)
    if data is None:
        args = clip(", ".join(sorted(event.params))) if event.params else "none"
        raise UspDecodeError(
            f"{clip(event.obj_path)} Push! Event without a Data argument (arguments: {args})",
            kind="missing_data",
        )
    if not data or data.isspace():  # isspace, not strip: Data can be megabytes
        raise UspDecodeError(
            f"{clip(event.obj_path)} Push! Event with an empty Data argument", kind="missing_data"
        )
    return PushEvent(
        msg_id=msg.header.msg_id,
        subscription_id=notify.subscription_id,
        send_resp=notify.send_resp,
        profile_path=f"Device.BulkData.Profile.{match.group(1)}.",
        data=data,
    )
