"""What ``HostSessions`` asks its caller to do: emit metrics, record lifecycle events, send rebirths."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeAlias

from ._model import DecodedMetric
from ._shape import Shape, ShapeValue
from ._topic import EdgeNodeKey, MessageType, ncmd_topic

AttrValue: TypeAlias = str | int | bool | tuple[str, ...] | tuple[int, ...] | None


class LifecycleKind(StrEnum):
    NBIRTH = "nbirth"  # edge node online (attrs: seq, bdSeq)
    NDEATH = "ndeath"  # edge node offline (attrs: cause = "ndeath" | "host_disconnected", bdSeq)
    DBIRTH = "dbirth"  # device online (attrs: seq)
    DDEATH = "ddeath"  # device offline (attrs: cause = "ddeath" | "ndeath" | "host_disconnected")
    STALE = "stale"  # the listed metrics (attrs: metrics) are no longer current
    REBIRTH_REQUESTED = "rebirth_requested"  # attrs: reason; always paired with a SendRebirth
    NDEATH_IGNORED = "ndeath_ignored"  # attrs: reason = "bdseq_mismatch" | "no_session", bdSeq
    SEQ_GAP = "seq_gap"  # reorder timeout expired (attrs: expected, buffered)
    LATE_MESSAGE = "late_message"  # seq already passed: a duplicate or too late (attrs: seq, expected)
    DATA_BEFORE_BIRTH = "data_before_birth"  # attrs: messages (node) or message_type (device)
    UNKNOWN_ALIAS = "unknown_alias"  # attrs: aliases
    ALIAS_CONFLICT = "alias_conflict"  # a birth reused an alias (attrs: aliases)
    MALFORMED = "malformed"  # attrs: reason, message_type


@dataclass(frozen=True, slots=True)
class EmitMetrics:
    """Metric values to pass on; births carry every metric, DATA messages the changed ones."""

    node: EdgeNodeKey
    device_id: str | None
    metrics: tuple[DecodedMetric, ...]
    message_type: MessageType
    timestamp_ms: int | None
    seq: int | None


class EmitValues:
    """The metrics of an in-order DATA message that matched a known ``Shape`` (``HostSessions`` with
    ``shapes=True``): the same metrics ``EmitMetrics`` would carry, as columns. Metric ``i`` is
    ``shape.names[i]`` with ``shape.datatypes[i]`` and ``values[i]``; no properties, not null, not
    historical, not transient. ``metric_timestamps_ms`` is None when every metric has the payload's
    timestamp (or none), else each metric's own (None: absent).

    A plain slots class, not a frozen dataclass: one is built per message on the hot path."""

    __slots__ = (
        "device_id",
        "message_type",
        "metric_timestamps_ms",
        "node",
        "seq",
        "shape",
        "timestamp_ms",
        "values",
    )

    def __init__(
        self,
        node: EdgeNodeKey,
        device_id: str | None,
        message_type: MessageType,
        shape: Shape,
        seq: int,
        timestamp_ms: int | None,
        values: tuple[ShapeValue, ...],
        metric_timestamps_ms: tuple[int | None, ...] | None,
    ) -> None:
        self.node = node
        self.device_id = device_id
        self.message_type = message_type
        self.shape = shape
        self.seq = seq
        self.timestamp_ms = timestamp_ms
        self.values = values
        self.metric_timestamps_ms = metric_timestamps_ms

    def to_metrics(self) -> EmitMetrics:
        """The same data as the exact decoder's ``EmitMetrics``."""
        shape, stamps = self.shape, self.metric_timestamps_ms
        metrics = tuple(
            DecodedMetric(
                name,
                alias,
                stamps[index] if stamps is not None else self.timestamp_ms if shape.stamped[index] else None,
                datatype,
                value,
            )
            for index, (name, alias, datatype, value) in enumerate(
                zip(shape.names, shape.aliases, shape.datatypes, self.values, strict=True)
            )
        )
        return EmitMetrics(self.node, self.device_id, metrics, self.message_type, self.timestamp_ms, self.seq)


@dataclass(frozen=True, slots=True)
class EmitLifecycle:
    """A session event; ``timestamp_ms`` follows the spec (host time for NDEATH, payload time for DDEATH)."""

    kind: LifecycleKind
    node: EdgeNodeKey
    device_id: str | None
    timestamp_ms: int
    attrs: Mapping[str, AttrValue]


@dataclass(frozen=True, slots=True)
class SendRebirth:
    """Publish ``encode_rebirth_ncmd(now_ms)`` on ``topic`` (QoS 0, not retained)."""

    node: EdgeNodeKey
    reason: str

    @property
    def group_id(self) -> str:
        return self.node.group_id

    @property
    def edge_node_id(self) -> str:
        return self.node.edge_node_id

    @property
    def topic(self) -> str:
        return ncmd_topic(self.node)


Action: TypeAlias = EmitMetrics | EmitValues | EmitLifecycle | SendRebirth
