"""Build Sparkplug B payloads for tests with the generated protobuf classes (no hand-made wire bytes)."""

from __future__ import annotations

from dataclasses import dataclass

from receiver.decode.sparkplug import DataType
from receiver.decode.sparkplug._pb import sparkplug_b_pb2 as pb

Payload = pb.Payload
Metric = pb.Payload.Metric

T0 = 1_700_000_000_000  # a payload timestamp (epoch ms)


@dataclass(frozen=True)
class M:
    """One metric to put in a payload; ``value`` goes to the oneof field named by ``field``."""

    name: str | None = None
    alias: int | None = None
    datatype: DataType | None = None
    field: str | None = None
    value: object = None
    timestamp: int | None = T0

    def add_to(self, parent: pb.Payload | pb.Payload.Template) -> pb.Payload.Metric:
        """Append to a payload's metrics or a template's members."""
        metric = parent.metrics.add()
        if self.name is not None:
            metric.name = self.name
        if self.alias is not None:
            metric.alias = self.alias
        if self.datatype is not None:
            metric.datatype = self.datatype
        if self.timestamp is not None:
            metric.timestamp = self.timestamp
        if self.field is not None:
            setattr(metric, self.field, self.value)
        return metric


def payload(*metrics: M, seq: int | None = None, timestamp: int | None = T0) -> pb.Payload:
    message = pb.Payload()
    if timestamp is not None:
        message.timestamp = timestamp
    if seq is not None:
        message.seq = seq
    for metric in metrics:
        metric.add_to(message)
    return message


def encode(*metrics: M, seq: int | None = None, timestamp: int | None = T0) -> bytes:
    return payload(*metrics, seq=seq, timestamp=timestamp).SerializeToString()


def nbirth_payload(seq: int = 0, bd_seq: int = 0, *metrics: M) -> pb.Payload:
    """A conformant NBIRTH: bdSeq (tck-id-payloads-nbirth-bdseq) and 'Node Control/Rebirth', false
    and without alias (tck-id-payloads-nbirth-rebirth-req), then ``metrics``."""
    return payload(
        M("bdSeq", datatype=DataType.Int64, field="long_value", value=bd_seq),
        M("Node Control/Rebirth", datatype=DataType.Boolean, field="boolean_value", value=False),
        *metrics,
        seq=seq,
    )


def nbirth(seq: int = 0, bd_seq: int = 0, *metrics: M) -> bytes:
    return nbirth_payload(seq, bd_seq, *metrics).SerializeToString()


def ndeath(bd_seq: int) -> bytes:
    """An NDEATH (the Will): only bdSeq, no seq (tck-id-topics-ndeath-payload, -seq)."""
    return encode(M("bdSeq", datatype=DataType.Int64, field="long_value", value=bd_seq))


def double(name: str | None, value: float, alias: int | None = None, *, typed: bool = True) -> M:
    return M(name, alias, DataType.Double if typed else None, "double_value", value)
