"""USP (TR-369) bulk data: a USP Record carrying a ``Device.BulkData.Profile.{i}.Push!`` Notify Event
(TR-369 Annex A, "USPEventNotif Bulk Data Collection"), e.g. published by an Agent over MQTT.

Pure: no I/O, no clock. ``decode_usp_bulkdata`` unwraps the Record and the Message and hands back
the report (the Event's ``Data`` argument) for ``receiver.decode.decode_bulkdata``. The protobuf
bindings are generated from ``usp_record.proto`` and ``usp_msg.proto`` (our wire-compatible subset of
the BBF schemas) into ``_pb/`` by ``python tools/gen_protos.py``.
"""

try:
    from ._pb import usp_msg_pb2 as _usp_msg_pb2  # noqa: F401  (fail early, with advice)
    from ._pb import usp_record_pb2 as _usp_record_pb2  # noqa: F401
except ModuleNotFoundError as _exc:
    if _exc.name is None or not _exc.name.startswith(f"{__name__}._pb"):
        raise
    raise ImportError(
        f"{__name__}: the generated protobuf bindings ({__name__}._pb) are missing; "
        "run `python tools/gen_protos.py` from the repository root (make protos does it too)"
    ) from _exc

from ._errors import NotBulkDataKind, UspDecodeError, UspErrorKind, UspNotBulkData
from ._model import UspBulkData
from ._record import decode_usp_bulkdata
from ._resp import USP_VERSION, encode_notify_resp

__all__ = [
    "USP_VERSION",
    "NotBulkDataKind",
    "UspBulkData",
    "UspDecodeError",
    "UspErrorKind",
    "UspNotBulkData",
    "decode_usp_bulkdata",
    "encode_notify_resp",
]
