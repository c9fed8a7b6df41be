"""Host Application STATE messages (Sparkplug 3.0): JSON ``{"online": bool, "timestamp": ms}``.

Pure helpers only; publishing the birth, registering the Will and re-asserting ``online`` when our
own offline STATE is delivered belong to the MQTT host layer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ._errors import SparkplugDecodeError
from ._topic import StateTopic, id_problem


@dataclass(frozen=True, slots=True)
class HostState:
    online: bool
    timestamp_ms: int


def state_topic(host_id: str) -> str:
    """``spBv1.0/STATE/{host_id}``; a host id that cannot be one topic level raises ValueError."""
    problem = id_problem(host_id)
    if problem is not None:
        raise ValueError(f"Sparkplug host id {host_id!r} {problem}")
    return str(StateTopic(host_id))


def encode_state(online: bool, timestamp_ms: int) -> bytes:
    """The STATE birth (online=True) or death/Will (online=False) payload.

    The birth must repeat the timestamp of the Will registered in the preceding CONNECT, so the
    caller passes it rather than this function reading a clock.
    """
    if isinstance(timestamp_ms, bool) or timestamp_ms < 0:
        raise ValueError(f"STATE timestamp must be a non-negative int of epoch ms, not {timestamp_ms!r}")
    return json.dumps(
        {"online": bool(online), "timestamp": int(timestamp_ms)}, separators=(",", ":")
    ).encode()


def decode_state(data: bytes) -> HostState:
    """Parse a STATE payload; anything but a JSON object with the two keys raises SparkplugDecodeError."""
    try:
        document = json.loads(data)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise SparkplugDecodeError(f"STATE payload is not UTF-8 JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise SparkplugDecodeError("STATE payload is not a JSON object")
    online = document.get("online")
    if not isinstance(online, bool):
        raise SparkplugDecodeError("STATE payload needs a boolean 'online'")
    timestamp = document.get("timestamp")
    # bool is an int subclass; an integral float (1.7e12) is accepted as JSON has one number type.
    if isinstance(timestamp, float) and timestamp.is_integer():
        timestamp = int(timestamp)
    if not isinstance(timestamp, int) or isinstance(timestamp, bool) or timestamp < 0:
        raise SparkplugDecodeError("STATE payload needs a non-negative integer 'timestamp' (epoch ms)")
    return HostState(online=online, timestamp_ms=timestamp)
