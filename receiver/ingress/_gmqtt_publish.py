"""A synchronous PUBLISH path for gmqtt.

gmqtt hands every PUBLISH to ``on_message``; for QoS 1 acknowledgements it must be a coroutine
function, so gmqtt wraps each message in a Task: ~6 us per message, as much as the rest of the
Sparkplug path (measured). This replaces the client's PUBLISH handler with one that parses the
packet as gmqtt does and calls ``deliver(topic, payload, mid, response_topic)``
synchronously, in arrival order; ``mid`` is None for QoS 0. The caller sends the PUBACK itself with
``send_puback``. Of the MQTT 5 properties only the Response Topic is kept (None when absent): USP
answers go there (TR-369 R-MQTT.26). Properties are parsed only when a packet has some, which
Sparkplug packets do not.

Each connection's packet splitter is replaced too (``_split``): gmqtt makes a Package object and
goes through three calls, a debug log call and two clock reads per packet (~2 us, measured); ours
hands PUBLISH bodies straight to the handler and every other packet to gmqtt as before.

It relies on gmqtt internals (``_package_handler`` and its PUBLISH handler, property parser, topic
aliases and ``_send_puback``; ``_create_connection`` and the protocol's ``_read_packet``), checked at
install time: when they are missing, ``install`` returns None (or keeps gmqtt's splitter) and the
caller keeps gmqtt's documented ``on_message`` path.
"""

import logging
import time
from collections.abc import Callable
from typing import Any

from gmqtt import Client
from gmqtt.mqtt.constants import MQTTCommands, MQTTv50
from gmqtt.mqtt.package import Package

log = logging.getLogger(__name__)
_PUBLISH = 0x30  # packet type in the high nibble

Deliver = Callable[[str, bytes, int | None, str | None], None]
SendPuback = Callable[[int, int], None]
_NEEDED = (
    "_handle_publish_packet",
    "_handler_cache",
    "_parse_properties",
    "_server_topics_aliases",
    "_send_puback",
    "_connection_state",
)


def install(client: Client, deliver: Deliver) -> SendPuback | None:
    """Route the client's QoS 0 and 1 PUBLISH packets to ``deliver``; returns how to send a PUBACK
    (mid, reason code), or None when this gmqtt version does not have what we rely on."""
    handler: Any = getattr(client, "_package_handler", None)
    if handler is None or not all(hasattr(handler, name) for name in _NEEDED):
        return None
    original = handler._handle_publish_packet

    def handle_publish(cmd: int, raw: bytes) -> None:
        qos = (cmd & 0x06) >> 1
        if qos == 2:  # not subscribed at QoS 2; gmqtt's own path keeps the exchange correct
            original(cmd, raw)
            return
        topic_end = 2 + ((raw[0] << 8) | raw[1])
        if qos:
            mid: int | None = (raw[topic_end] << 8) | raw[topic_end + 1]
            at = topic_end + 2
        else:
            mid = None
            at = topic_end
        raw_topic = raw[2:topic_end]
        response_topic: str | None = None
        if handler._connection_state.protocol_version >= MQTTv50:
            if raw[at] == 0:  # no properties: the usual case
                at += 1
            else:
                properties, rest = handler._parse_properties(raw[at:])
                if properties is None or rest is None:
                    original(cmd, raw)  # gmqtt logs and drops an unparseable packet
                    return
                alias = properties.get("topic_alias")
                if alias:
                    if raw_topic:
                        handler._server_topics_aliases[alias[0]] = raw_topic
                    else:
                        raw_topic = handler._server_topics_aliases.get(alias[0], b"")
                response = properties.get("response_topic")
                if response:
                    response_topic = response[0]
                at = len(raw) - len(rest)
        try:
            topic = raw_topic.decode("utf-8")
        except UnicodeDecodeError:
            topic = ""
        if not topic:  # no topic, an unknown alias or not UTF-8: gmqtt's own handling
            original(cmd, raw)
            return
        deliver(topic, raw[at:], mid, response_topic)

    handler._handle_publish_packet = handle_publish
    handler._handler_cache.pop(MQTTCommands.PUBLISH, None)
    create_connection = getattr(client, "_create_connection", None)
    if create_connection is not None:

        async def create_with_splitter(*args: Any, **kwargs: Any) -> Any:
            connection = await create_connection(*args, **kwargs)
            protocol = getattr(connection, "_protocol", None)
            if protocol is not None and hasattr(protocol, "_read_packet"):
                protocol._read_packet = _splitter(connection, handler, protocol._read_packet, handle_publish)
            return connection

        client._create_connection = create_with_splitter

    def send_puback(mid: int, reason_code: int) -> None:
        handler._send_puback(mid, reason_code=reason_code)

    return send_puback


def _splitter(
    connection: Any, handler: Any, original: Callable[[bytes], int], publish: Callable[[int, bytes], None]
) -> Callable[[bytes], int]:
    """``MQTTProtocol._read_packet`` for ``connection``: splits ``data`` into packets, returns how many
    bytes it consumed (-1: a malformed length, the connection is reset)."""

    def split(data: bytes) -> int:
        if handler.current_connection is not connection:
            return original(data)  # a superseded connection: gmqtt drops its packets
        at, end = 0, len(data)
        while end - at >= 2:
            cmd = data[at]
            size = shift = 0
            body_at = at + 1
            while True:  # remaining length: 1 to 4 bytes of 7 bits
                if body_at >= end:
                    return _touched(connection, handler, at)
                byte = data[body_at]
                body_at += 1
                size |= (byte & 0x7F) << shift
                if byte < 0x80:
                    break
                shift += 7
                if shift > 21:
                    return -1
            if body_at + size > end:
                break
            body = data[body_at : body_at + size]
            at = body_at + size
            if cmd & 0xF0 == _PUBLISH:
                try:
                    publish(cmd, body)
                except Exception:  # as gmqtt's handler: one bad packet does not end the session
                    log.exception("PUBLISH packet not handled")
            else:
                connection.put_package(Package(cmd, body))
                if handler.current_connection is not connection:  # e.g. after a DISCONNECT
                    rest = original(data[at:])
                    return rest if rest < 0 else at + rest
        return _touched(connection, handler, at)

    return split


def _touched(connection: Any, handler: Any, parsed: int) -> int:
    # What gmqtt records per packet (keep-alive bookkeeping), once per read.
    connection._last_data_in = handler._last_msg_in = time.monotonic()
    return parsed
