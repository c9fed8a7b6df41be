"""What the decoder returns for one USP Record carrying a bulk data Push! Event."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class UspBulkData:
    """One ``Device.BulkData.Profile.{i}.Push!`` Event (TR-369 Annex A, "USPEventNotif Bulk Data
    Collection") and the addressing needed to attribute it and, if asked, answer it.

    ``reports_json`` is the Event's ``Data`` argument as UTF-8 bytes, for
    ``receiver.decode.decode_bulkdata``. The annex says the encoding (JSON or CSV) and the report
    format are not in the Event: the Controller has to know the Profile's ``EncodingType`` and
    ``ReportFormat``. JSON is what Agents send in practice (OB-USP-Agent only supports JSON).
    """

    endpoint_id: str  # Record.from_id: the Agent that sent the report
    to_id: str  # Record.to_id: the Controller it was addressed to (R-E2E.1 is the caller's check)
    msg_id: str  # Header.msg_id: a NotifyResp must echo it (R-MSG.9)
    subscription_id: str  # Notify.subscription_id: a NotifyResp must echo it (R-NOT.10)
    profile_path: str  # Event.obj_path, always with its trailing dot: "Device.BulkData.Profile.1."
    send_resp: bool  # Notify.send_resp: the Agent retries until it gets a NotifyResp (R-NOT.1, R-NOT.8)
    reports_json: bytes  # the Data argument: {"Report": [...]}
    session_id: int | None  # SessionContextRecord.session_id; None for a no_session_context Record
