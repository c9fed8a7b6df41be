"""Payloads a Host Application sends to edge nodes."""

from __future__ import annotations

from ._model import DataType
from ._pb import sparkplug_b_pb2 as pb

REBIRTH_METRIC = "Node Control/Rebirth"


def encode_rebirth_ncmd(now_ms: int) -> bytes:
    """The NCMD payload of a Rebirth Request.

    tck-id-operational-behavior-data-commands-ncmd-rebirth-name/-value: one metric named
    'Node Control/Rebirth' with boolean true, by name and never by alias (NBIRTH must not alias it,
    so every host can ask without knowing the node's aliases). tck-id-payloads-ncmd-timestamp: a
    payload timestamp; tck-id-payloads-ncmd-seq: no sequence number.
    """
    payload = pb.Payload(timestamp=now_ms)
    payload.metrics.add(name=REBIRTH_METRIC, timestamp=now_ms, datatype=DataType.Boolean, boolean_value=True)
    return payload.SerializeToString()
