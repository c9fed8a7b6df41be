"""Sparkplug 3.0 topics: ``spBv1.0/{group}/{type}/{edge_node}[/{device}]`` and ``spBv1.0/STATE/{host}``."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from ._errors import SparkplugDecodeError

NAMESPACE = "spBv1.0"
# MQTT wildcards; '/' cannot occur inside an id because it separates topic levels.
_RESERVED = frozenset("+#")


class MessageType(StrEnum):
    NBIRTH = "NBIRTH"
    NDATA = "NDATA"
    NDEATH = "NDEATH"
    NCMD = "NCMD"
    DBIRTH = "DBIRTH"
    DDATA = "DDATA"
    DDEATH = "DDEATH"
    DCMD = "DCMD"
    STATE = "STATE"

    @property
    def is_device(self) -> bool:
        return self.value[0] == "D"


_EDGE_TYPES = {t.value: t for t in MessageType if t is not MessageType.STATE}


class EdgeNodeKey(NamedTuple):
    """The Edge Node Descriptor: group and edge node id together are unique in an infrastructure.

    A NamedTuple, not a dataclass: it is a dict key looked up per DATA message, and a tuple hashes
    and compares in C (a dataclass's ``__hash__``/``__eq__`` are Python calls)."""

    group_id: str
    edge_node_id: str

    def __str__(self) -> str:
        return f"{self.group_id}/{self.edge_node_id}"


@dataclass(frozen=True, slots=True)
class SparkplugTopic:
    """An edge node or device topic; ``device_id`` is set exactly for the D* message types."""

    message_type: MessageType
    group_id: str
    edge_node_id: str
    device_id: str | None = None

    @property
    def node(self) -> EdgeNodeKey:
        return EdgeNodeKey(self.group_id, self.edge_node_id)

    def __str__(self) -> str:
        base = f"{NAMESPACE}/{self.group_id}/{self.message_type}/{self.edge_node_id}"
        return base if self.device_id is None else f"{base}/{self.device_id}"


@dataclass(frozen=True, slots=True)
class StateTopic:
    """A Host Application STATE topic."""

    host_id: str

    def __str__(self) -> str:
        return f"{NAMESPACE}/{MessageType.STATE}/{self.host_id}"


def parse_topic(topic: str) -> SparkplugTopic | StateTopic:
    """Parse a Sparkplug B topic; anything else raises ``SparkplugDecodeError``."""
    parts = topic.split("/")
    if parts[0] != NAMESPACE:
        raise SparkplugDecodeError(f"topic {topic!r} is not in the {NAMESPACE} namespace")
    if len(parts) == 3 and parts[1] == MessageType.STATE:
        _check_id(topic, "host id", parts[2])
        return StateTopic(parts[2])
    if len(parts) not in (4, 5):
        raise SparkplugDecodeError(f"topic {topic!r} is not {NAMESPACE}/group/type/edge_node[/device]")
    message_type = _EDGE_TYPES.get(parts[2])
    if message_type is None:
        raise SparkplugDecodeError(f"topic {topic!r} has unknown message type {parts[2]!r}")
    _check_id(topic, "group id", parts[1])
    _check_id(topic, "edge node id", parts[3])
    if message_type.is_device:
        if len(parts) != 5:
            raise SparkplugDecodeError(f"topic {topic!r}: {message_type} needs a device id")
        _check_id(topic, "device id", parts[4])
        return SparkplugTopic(message_type, parts[1], parts[3], parts[4])
    if len(parts) != 4:
        raise SparkplugDecodeError(f"topic {topic!r}: {message_type} cannot have a device id")
    return SparkplugTopic(message_type, parts[1], parts[3])


def ncmd_topic(node: EdgeNodeKey) -> str:
    """Where a Host Application publishes commands (Rebirth requests) for an edge node."""
    return str(SparkplugTopic(MessageType.NCMD, node.group_id, node.edge_node_id))


def id_problem(value: str) -> str | None:
    """Why ``value`` cannot be a Sparkplug group, edge node, device or host id (None if it can)."""
    if not value:
        return "is empty"
    if "/" in value:
        return "contains '/'"
    if not _RESERVED.isdisjoint(value):
        return "contains an MQTT wildcard (+ or #)"
    return None


def _check_id(topic: str, what: str, value: str) -> None:
    problem = id_problem(value)
    if problem is not None:
        raise SparkplugDecodeError(f"topic {topic!r}: {what} {value!r} {problem}")
