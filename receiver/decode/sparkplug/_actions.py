"""What ``HostSessions`` asks its caller to do: emit metrics, record lifecycle events, send rebirths."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeAlias

from ._model import DecodedMetric
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


Action: TypeAlias = EmitMetrics | EmitLifecycle | SendRebirth
