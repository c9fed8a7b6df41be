"""Sparkplug B Host Application session state per edge node, as a pure state machine.

No I/O and no clock: the MQTT layer feeds ``on_message(topic, payload, now_ms)`` and calls
``tick(now_ms)`` (at ``next_deadline_ms()`` at the latest), then carries out the returned actions.

Per edge node we keep (operational behaviour chapter):

- the session: online from NBIRTH until an NDEATH whose bdSeq matches the NBIRTH's (an NDEATH with
  another bdSeq is an old Will delivered late and is ignored);
- the alias tables from NBIRTH and DBIRTHs. Aliases are unique across the node and its devices, so
  one owner map checks that, while lookups go to the table of the metric's own scope (the node or
  one device): an alias of another device's metric in a DDATA is as unknown as a never-declared one;
- ``seq`` ordering (0..255, wrapping): a message ahead of the expected seq is buffered and starts
  the Reorder Timeout; if the gap fills in time the buffer is processed in order, otherwise a
  Rebirth is requested and what did arrive is processed in seq order anyway, because a telemetry
  receiver prefers late data to lost data.

Messages for a node without a session (before its NBIRTH) are buffered for the same timeout too:
with clustered brokers a DBIRTH can overtake its NBIRTH, and asking for a rebirth at once would
loop. Rebirth requests are throttled per node so a broken node is not flooded.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ._actions import Action, AttrValue, EmitLifecycle, EmitMetrics, EmitValues, LifecycleKind, SendRebirth
from ._errors import SparkplugDecodeError
from ._model import AliasEntry, DataType, DecodedPayload, TemplateDefinition
from ._payload import decode_message, parse_payload
from ._pb import sparkplug_b_pb2 as pb
from ._shape import Shape, learn_shape
from ._topic import EdgeNodeKey, MessageType, SparkplugTopic, StateTopic, parse_topic

BD_SEQ_METRIC = "bdSeq"
_SEQ_MODULUS = 256
# Half the sequence space: a seq up to this far ahead of the expected one is "early", further is
# "late" (already passed, counting wrap-around).
_AHEAD_WINDOW = _SEQ_MODULUS // 2
# Payload shapes kept per scope (keyed by length): a few forms per device are normal (seq >= 128
# takes one more byte, integers change width); more means the device has no stable form.
_MAX_SHAPES = 8
_DATA_TYPES = frozenset({MessageType.NDATA, MessageType.DDATA})
_MAX_DATA_TOPICS = 65536


@dataclass(frozen=True, kw_only=True)
class SparkplugSessionConfig:
    reorder_timeout_ms: int = 2000
    rebirth_on_unknown_alias: bool = True
    rebirth_on_data_before_birth: bool = True
    rebirth_min_interval_ms: int = 5000

    def validate(self) -> list[str]:
        problems = []
        if self.reorder_timeout_ms < 0:
            problems.append(f"reorder_timeout_ms must be >= 0, got {self.reorder_timeout_ms}")
        if self.rebirth_min_interval_ms < 0:
            problems.append(f"rebirth_min_interval_ms must be >= 0, got {self.rebirth_min_interval_ms}")
        return problems


def default_sparkplug_session_config() -> SparkplugSessionConfig:
    return SparkplugSessionConfig()


class _Pending:
    __slots__ = ("message", "received_ms", "topic")

    def __init__(self, topic: SparkplugTopic, message: pb.Payload, received_ms: int) -> None:
        self.topic = topic
        self.message = message
        self.received_ms = received_ms


class _Device:
    __slots__ = ("aliases", "names", "shapes", "types")

    def __init__(self) -> None:
        self.aliases: dict[int, AliasEntry] = {}
        # Learned from this birth's DATA messages; a new birth makes a new _Device, so a shape never
        # outlives the alias table it was learned with.
        self.shapes: dict[int, Shape] = {}
        # Datatypes by name for DATA metrics that omit theirs; the DBIRTH's metric names (templates
        # flattened), which a DDEATH marks STALE.
        self.types: dict[str, DataType] = {}
        self.names: tuple[str, ...] = ()


class _Node:
    __slots__ = (
        "alias_owner",
        "aliases",
        "bd_seq",
        "devices",
        "expected_seq",
        "gap_started_ms",
        "last_rebirth_ms",
        "names",
        "online",
        "pending",
        "shapes",
        "template_definitions",
        "types",
    )

    def __init__(self) -> None:
        self.online = False
        self.bd_seq: int | None = None
        self.expected_seq = 0
        self.aliases: dict[int, AliasEntry] = {}
        self.types: dict[str, DataType] = {}
        self.names: tuple[str, ...] = ()
        # alias -> device id (None: the node itself); enforces uniqueness across the node.
        self.alias_owner: dict[int, str | None] = {}
        self.devices: dict[str, _Device] = {}
        self.template_definitions: dict[str, TemplateDefinition] = {}
        self.pending: dict[int, _Pending] = {}
        self.shapes: dict[int, Shape] = {}  # NDATA shapes, reset with the alias table
        self.gap_started_ms: int | None = None
        self.last_rebirth_ms: int | None = None

    def end_session(self) -> None:
        self.online = False
        self.aliases = {}
        self.types = {}
        self.names = ()
        self.alias_owner = {}
        self.devices = {}
        self.shapes = {}
        self.template_definitions = {}


@lru_cache(maxsize=65536)
def _parse_topic_cached(topic: str) -> SparkplugTopic | StateTopic:
    # A busy host sees the same few thousand topics over and over.
    return parse_topic(topic)


class HostSessions:
    """All edge node sessions seen by one Host Application.

    With ``shapes=True`` the sessions learn the payload shapes of DATA messages, and ``read_data``
    turns an in-order DATA message of a known shape into ``EmitValues`` (the data ``on_message``
    would emit as ``EmitMetrics``, as columns, ~10x cheaper to decode)."""

    def __init__(self, config: SparkplugSessionConfig | None = None, *, shapes: bool = False) -> None:
        self._config = config or default_sparkplug_session_config()
        self._shapes = shapes
        # DATA topic -> (node, device id, message type): the fast path's topic parsing.
        self._data_topics: dict[str, tuple[EdgeNodeKey, str | None, MessageType]] = {}
        self._nodes: dict[EdgeNodeKey, _Node] = {}
        self._timed: set[EdgeNodeKey] = set()
        self.rebirths_throttled = 0

    # -- entry points ---------------------------------------------------------------------------

    def on_message(self, topic: str, payload: bytes, now_ms: int) -> list[Action]:
        """Process one MQTT message. An invalid topic raises ``SparkplugDecodeError``; a malformed
        payload becomes a MALFORMED lifecycle action (and, being unreadable, a gap in ``seq``)."""
        parsed = _parse_topic_cached(topic)
        # STATE belongs to the MQTT host layer; commands are what hosts send, not what they track.
        if isinstance(parsed, StateTopic) or parsed.message_type in (MessageType.NCMD, MessageType.DCMD):
            return []
        key = parsed.node
        node = self._nodes.get(key)
        if node is None:
            node = self._nodes[key] = _Node()
        actions: list[Action] = []
        try:
            message = parse_payload(payload)
        except SparkplugDecodeError as exc:
            actions.append(self._malformed(key, parsed, now_ms, exc.reason))
            return actions
        if parsed.message_type is MessageType.NBIRTH:
            self._on_nbirth(key, node, parsed, message, now_ms, actions)
        elif parsed.message_type is MessageType.NDEATH:
            self._on_ndeath(key, node, message, now_ms, actions)
        else:
            self._on_sequenced(key, node, parsed, message, now_ms, actions, payload)
        return actions

    def tick(self, now_ms: int) -> list[Action]:
        """Expire Reorder Timeouts that have elapsed by ``now_ms``."""
        actions: list[Action] = []
        timeout = self._config.reorder_timeout_ms
        for key in sorted(self._timed, key=str):
            node = self._nodes[key]
            if node.gap_started_ms is not None and now_ms - node.gap_started_ms >= timeout:
                self._expire(key, node, now_ms, actions)
        return actions

    def next_deadline_ms(self) -> int | None:
        """When ``tick`` next has something to do, or None if no timer runs."""
        starts = [self._nodes[key].gap_started_ms for key in self._timed]
        running = [start for start in starts if start is not None]
        return min(running) + self._config.reorder_timeout_ms if running else None

    def on_host_disconnected(self, now_ms: int) -> list[Action]:
        """The host lost its MQTT connection: every known metric becomes STALE (operational behaviour
        chapter, Host Application session establishment, step 4), and every node needs a new birth."""
        actions: list[Action] = []
        for key, node in self._nodes.items():
            node.pending.clear()
            self._set_timer(key, node, None)
            if node.online:
                self._mark_offline(key, node, now_ms, "host_disconnected", actions)
        return actions

    def is_online(self, node: EdgeNodeKey, device_id: str | None = None) -> bool:
        state = self._nodes.get(node)
        if state is None or not state.online:
            return False
        return device_id is None or device_id in state.devices

    def template_definitions(self, node: EdgeNodeKey) -> dict[str, TemplateDefinition]:
        state = self._nodes.get(node)
        return dict(state.template_definitions) if state is not None else {}

    # -- shapes -------------------------------------------------------------------------------

    def read_data(self, topic: str, payload: bytes) -> EmitValues | None:
        """An in-order DATA message of a known shape, handled as ``on_message`` would (the session
        advances its seq); None, with nothing changed, for anything else: call ``on_message``."""
        route = self._data_topics.get(topic)
        if route is None:
            route = self._data_route(topic)
            if route is None:
                return None
        key, device_id, message_type = route
        node = self._nodes.get(key)
        if node is None or not node.online or node.pending:
            return None
        if device_id is None:
            shapes = node.shapes
        else:
            device = node.devices.get(device_id)
            if device is None:
                return None
            shapes = device.shapes
        shape = shapes.get(len(payload))
        if shape is None:
            return None
        read = shape.read(payload)
        if read is None or read[0] != node.expected_seq:
            return None
        seq, timestamp_ms, values, stamps = read
        node.expected_seq = (seq + 1) % _SEQ_MODULUS
        return EmitValues(key, device_id, message_type, shape, seq, timestamp_ms, values, stamps)

    def _data_route(self, topic: str) -> tuple[EdgeNodeKey, str | None, MessageType] | None:
        if not self._shapes:
            return None
        try:
            parsed = _parse_topic_cached(topic)
        except SparkplugDecodeError:
            return None  # on_message reports it
        if isinstance(parsed, StateTopic) or parsed.message_type not in _DATA_TYPES:
            return None
        if len(self._data_topics) >= _MAX_DATA_TOPICS:
            self._data_topics.clear()
        route = self._data_topics[topic] = (parsed.node, parsed.device_id, parsed.message_type)
        return route

    def _learn_shape(self, node: _Node, device_id: str | None, message: pb.Payload, payload: bytes) -> None:
        scope = node if device_id is None else node.devices.get(device_id)
        if scope is None:
            return
        shapes = scope.shapes
        shape = learn_shape(payload, message, scope.aliases)
        if shape is None:
            shapes.pop(len(payload), None)
            return
        if len(shapes) >= _MAX_SHAPES:
            shapes.clear()
        shapes[len(payload)] = shape

    # -- births and deaths ----------------------------------------------------------------------

    def _on_nbirth(
        self,
        key: EdgeNodeKey,
        node: _Node,
        topic: SparkplugTopic,
        message: pb.Payload,
        now_ms: int,
        actions: list[Action],
    ) -> None:
        seq = _seq(message)
        if seq is None:
            # tck-id-payloads-nbirth-seq: without a valid seq no session can be tracked.
            actions.append(self._malformed(key, topic, now_ms, "NBIRTH without a seq in 0..255"))
            self._request_rebirth(key, node, now_ms, "malformed_nbirth", actions)
            return
        try:
            decoded = decode_message(message)
        except SparkplugDecodeError as exc:
            actions.append(self._malformed(key, topic, now_ms, exc.reason))
            self._request_rebirth(key, node, now_ms, "malformed_nbirth", actions)
            return
        if node.online:
            # A new birth without a death (e.g. answering a rebirth request): whatever the old
            # session still had buffered belongs to it, and its devices stay STALE until they
            # send DBIRTH again (topics chapter, NBIRTH payload).
            self._flush_pending(key, node, now_ms, actions)
            for device_id, device in node.devices.items():
                actions.append(self._stale(key, device_id, device.names, now_ms, "nbirth"))
        node.end_session()
        node.online = True
        node.bd_seq = _bd_seq(decoded)
        node.expected_seq = (seq + 1) % _SEQ_MODULUS
        node.template_definitions = dict(decoded.template_definitions)
        node.types = _types_of(decoded)
        node.names = tuple(metric.name for metric in decoded.metrics)
        conflicts = self._register_aliases(node, None, node.aliases, decoded)
        attrs: dict[str, AttrValue] = {"seq": seq, "bdSeq": node.bd_seq}
        actions.append(
            self._lifecycle(LifecycleKind.NBIRTH, key, None, decoded.timestamp_ms or now_ms, attrs)
        )
        if conflicts:
            actions.append(
                self._lifecycle(LifecycleKind.ALIAS_CONFLICT, key, None, now_ms, {"aliases": conflicts})
            )
        actions.append(EmitMetrics(key, None, decoded.metrics, MessageType.NBIRTH, decoded.timestamp_ms, seq))
        self._resume_after_birth(key, node, now_ms, actions)

    def _resume_after_birth(self, key: EdgeNodeKey, node: _Node, now_ms: int, actions: list[Action]) -> None:
        """Messages buffered before the NBIRTH: those just after its seq belong to the new session."""
        late = [seq for seq in node.pending if _distance(seq, node.expected_seq) >= _AHEAD_WINDOW]
        for seq in late:
            del node.pending[seq]
        self._drain(key, node, now_ms, actions)

    def _on_ndeath(
        self,
        key: EdgeNodeKey,
        node: _Node,
        message: pb.Payload,
        now_ms: int,
        actions: list[Action],
    ) -> None:
        try:
            decoded = decode_message(message)
        except SparkplugDecodeError as exc:
            actions.append(
                self._lifecycle(LifecycleKind.MALFORMED, key, None, now_ms, _bad(exc.reason, "NDEATH"))
            )
            return
        bd_seq = _bd_seq(decoded)
        if not node.online:
            attrs: dict[str, AttrValue] = {"reason": "no_session", "bdSeq": bd_seq}
            actions.append(self._lifecycle(LifecycleKind.NDEATH_IGNORED, key, None, now_ms, attrs))
            return
        if node.bd_seq is not None and bd_seq is not None and bd_seq != node.bd_seq:
            # The Will of an earlier connection delivered after the current NBIRTH
            # (tck-id-payloads-ndeath-bdseq): the current session is alive.
            attrs = {"reason": "bdseq_mismatch", "bdSeq": bd_seq, "current_bdSeq": node.bd_seq}
            actions.append(self._lifecycle(LifecycleKind.NDEATH_IGNORED, key, None, now_ms, attrs))
            return
        # Data that arrived before the death but waited for a gap is still real data.
        self._flush_pending(key, node, now_ms, actions)
        self._mark_offline(key, node, now_ms, "ndeath", actions)

    def _mark_offline(
        self, key: EdgeNodeKey, node: _Node, now_ms: int, cause: str, actions: list[Action]
    ) -> None:
        # NDEATH is often published by the broker long after it was registered, so its own
        # timestamp means nothing: offline and STALE use the host's time
        # (tck-id-operational-behavior-edge-node-termination-host-action-ndeath-*).
        attrs: dict[str, AttrValue] = {"cause": cause, "bdSeq": node.bd_seq}
        actions.append(self._lifecycle(LifecycleKind.NDEATH, key, None, now_ms, attrs))
        actions.append(self._stale(key, None, node.names, now_ms, cause))
        for device_id, device in node.devices.items():
            actions.append(self._lifecycle(LifecycleKind.DDEATH, key, device_id, now_ms, {"cause": cause}))
            actions.append(self._stale(key, device_id, device.names, now_ms, cause))
        node.end_session()

    # -- sequenced messages (DBIRTH, NDATA, DDATA, DDEATH) --------------------------------------

    def _on_sequenced(
        self,
        key: EdgeNodeKey,
        node: _Node,
        topic: SparkplugTopic,
        message: pb.Payload,
        now_ms: int,
        actions: list[Action],
        payload: bytes,
    ) -> None:
        seq = _seq(message)
        if seq is None:
            actions.append(
                self._malformed(key, topic, now_ms, f"{topic.message_type} without a seq in 0..255")
            )
            return
        if node.online:
            distance = _distance(seq, node.expected_seq)
            if distance == 0:
                emitted = len(actions)
                self._apply(key, node, topic, message, now_ms, actions)
                if self._shapes and topic.message_type in _DATA_TYPES and _only_metrics(actions, emitted):
                    # Decoded cleanly (no unknown alias, not malformed): its form may repeat.
                    self._learn_shape(node, topic.device_id, message, payload)
                node.expected_seq = (seq + 1) % _SEQ_MODULUS
                self._drain(key, node, now_ms, actions)
                return
            if distance >= _AHEAD_WINDOW:
                attrs: dict[str, AttrValue] = {"seq": seq, "expected": node.expected_seq}
                actions.append(
                    self._lifecycle(LifecycleKind.LATE_MESSAGE, key, topic.device_id, now_ms, attrs)
                )
                return
        # Early (a gap before it), or no session yet: wait for the gap to fill or the NBIRTH to come
        # (tck-id-operational-behavior-host-reordering-start).
        node.pending.setdefault(seq, _Pending(topic, message, now_ms))
        if node.gap_started_ms is None:
            self._set_timer(key, node, now_ms)
        if self._config.reorder_timeout_ms <= 0:
            self._expire(key, node, now_ms, actions)

    def _drain(self, key: EdgeNodeKey, node: _Node, now_ms: int, actions: list[Action]) -> None:
        """Process buffered messages that are now in order; keep the timer only while a gap remains
        (tck-id-operational-behavior-host-reordering-success)."""
        while node.online:
            pending = node.pending.pop(node.expected_seq, None)
            if pending is None:
                break
            self._apply(key, node, pending.topic, pending.message, now_ms, actions)
            node.expected_seq = (node.expected_seq + 1) % _SEQ_MODULUS
        if not node.pending:
            self._set_timer(key, node, None)
        elif node.online:
            self._set_timer(key, node, min(p.received_ms for p in node.pending.values()))

    def _expire(self, key: EdgeNodeKey, node: _Node, now_ms: int, actions: list[Action]) -> None:
        if not node.online:
            count = len(node.pending)
            node.pending.clear()
            self._set_timer(key, node, None)
            actions.append(
                self._lifecycle(LifecycleKind.DATA_BEFORE_BIRTH, key, None, now_ms, {"messages": count})
            )
            if self._config.rebirth_on_data_before_birth:
                self._request_rebirth(key, node, now_ms, "data_before_birth", actions)
            return
        # tck-id-operational-behavior-host-reordering-rebirth: the missing seq never came.
        attrs: dict[str, AttrValue] = {"expected": node.expected_seq, "buffered": len(node.pending)}
        actions.append(self._lifecycle(LifecycleKind.SEQ_GAP, key, None, now_ms, attrs))
        self._request_rebirth(key, node, now_ms, "seq_gap", actions)
        self._flush_pending(key, node, now_ms, actions)

    def _flush_pending(self, key: EdgeNodeKey, node: _Node, now_ms: int, actions: list[Action]) -> None:
        """Process every buffered message in seq order, skipping the holes."""
        while node.pending and node.online:
            seq = min(node.pending, key=lambda s: _distance(s, node.expected_seq))
            pending = node.pending.pop(seq)
            self._apply(key, node, pending.topic, pending.message, now_ms, actions)
            node.expected_seq = (seq + 1) % _SEQ_MODULUS
        node.pending.clear()
        self._set_timer(key, node, None)

    def _apply(
        self,
        key: EdgeNodeKey,
        node: _Node,
        topic: SparkplugTopic,
        message: pb.Payload,
        now_ms: int,
        actions: list[Action],
    ) -> None:
        """Act on one in-order message of the current session."""
        device_id = topic.device_id
        if topic.message_type is MessageType.NDATA:
            self._on_data(key, node, None, node.aliases, node.types, topic, message, now_ms, actions)
            return
        assert device_id is not None  # D* topics always carry one (parse_topic checks)
        device = node.devices.get(device_id)
        if topic.message_type is MessageType.DBIRTH:
            self._on_dbirth(key, node, device_id, device, topic, message, now_ms, actions)
        elif topic.message_type is MessageType.DDEATH:
            self._on_ddeath(key, node, device_id, device, message, now_ms, actions)
        elif device is None:
            # DDATA before the device's DBIRTH (operational behaviour chapter, "Receive Data").
            attrs: dict[str, AttrValue] = {"message_type": str(topic.message_type)}
            actions.append(self._lifecycle(LifecycleKind.DATA_BEFORE_BIRTH, key, device_id, now_ms, attrs))
            if self._config.rebirth_on_data_before_birth:
                self._request_rebirth(key, node, now_ms, "data_before_birth", actions)
        else:
            self._on_data(key, node, device_id, device.aliases, device.types, topic, message, now_ms, actions)

    def _on_data(
        self,
        key: EdgeNodeKey,
        node: _Node,
        device_id: str | None,
        aliases: dict[int, AliasEntry],
        types: dict[str, DataType],
        topic: SparkplugTopic,
        message: pb.Payload,
        now_ms: int,
        actions: list[Action],
    ) -> None:
        try:
            decoded = decode_message(message, aliases, known_types=types)
        except SparkplugDecodeError as exc:
            actions.append(self._malformed(key, topic, now_ms, exc.reason))
            return
        if decoded.unknown_aliases:
            attrs: dict[str, AttrValue] = {"aliases": decoded.unknown_aliases}
            actions.append(self._lifecycle(LifecycleKind.UNKNOWN_ALIAS, key, device_id, now_ms, attrs))
            if self._config.rebirth_on_unknown_alias:
                self._request_rebirth(key, node, now_ms, "unknown_alias", actions)
        if decoded.metrics:
            actions.append(
                EmitMetrics(
                    key, device_id, decoded.metrics, topic.message_type, decoded.timestamp_ms, decoded.seq
                )
            )

    def _on_dbirth(
        self,
        key: EdgeNodeKey,
        node: _Node,
        device_id: str,
        device: _Device | None,
        topic: SparkplugTopic,
        message: pb.Payload,
        now_ms: int,
        actions: list[Action],
    ) -> None:
        try:
            decoded = decode_message(message)
        except SparkplugDecodeError as exc:
            actions.append(self._malformed(key, topic, now_ms, exc.reason))
            return
        if device is not None:
            self._release_aliases(node, device)
        device = node.devices[device_id] = _Device()
        device.types = _types_of(decoded)
        device.names = tuple(metric.name for metric in decoded.metrics)
        conflicts = self._register_aliases(node, device_id, device.aliases, decoded)
        attrs: dict[str, AttrValue] = {"seq": decoded.seq}
        actions.append(
            self._lifecycle(LifecycleKind.DBIRTH, key, device_id, decoded.timestamp_ms or now_ms, attrs)
        )
        if conflicts:
            actions.append(
                self._lifecycle(LifecycleKind.ALIAS_CONFLICT, key, device_id, now_ms, {"aliases": conflicts})
            )
        if decoded.unknown_aliases:
            # A birth that names a metric only by alias cannot be understood.
            unknown: dict[str, AttrValue] = {"aliases": decoded.unknown_aliases}
            actions.append(self._lifecycle(LifecycleKind.UNKNOWN_ALIAS, key, device_id, now_ms, unknown))
            if self._config.rebirth_on_unknown_alias:
                self._request_rebirth(key, node, now_ms, "unknown_alias", actions)
        actions.append(
            EmitMetrics(
                key, device_id, decoded.metrics, MessageType.DBIRTH, decoded.timestamp_ms, decoded.seq
            )
        )

    def _on_ddeath(
        self,
        key: EdgeNodeKey,
        node: _Node,
        device_id: str,
        device: _Device | None,
        message: pb.Payload,
        now_ms: int,
        actions: list[Action],
    ) -> None:
        # The edge node publishes DDEATH itself, so its timestamp is accurate and is the one to use
        # (tck-id-operational-behavior-edge-node-termination-host-action-ddeath-*).
        timestamp_ms = message.timestamp if message.HasField("timestamp") else now_ms
        actions.append(
            self._lifecycle(LifecycleKind.DDEATH, key, device_id, timestamp_ms, {"cause": "ddeath"})
        )
        if device is None:
            return
        self._release_aliases(node, device)
        del node.devices[device_id]
        actions.append(self._stale(key, device_id, device.names, timestamp_ms, "ddeath"))

    # -- helpers --------------------------------------------------------------------------------

    @staticmethod
    def _register_aliases(
        node: _Node,
        device_id: str | None,
        table: dict[int, AliasEntry],
        decoded: DecodedPayload,
    ) -> tuple[int, ...]:
        """Add a birth's aliases to its scope's table; returns aliases already taken
        (tck-id-payloads-alias-uniqueness), which keep their first owner."""
        conflicts = list(decoded.duplicate_aliases)
        for alias, entry in decoded.declared_aliases.items():
            if alias in node.alias_owner:
                conflicts.append(alias)
                continue
            node.alias_owner[alias] = device_id
            table[alias] = entry
        return tuple(conflicts)

    @staticmethod
    def _release_aliases(node: _Node, device: _Device) -> None:
        for alias in device.aliases:
            node.alias_owner.pop(alias, None)

    def _request_rebirth(
        self, key: EdgeNodeKey, node: _Node, now_ms: int, reason: str, actions: list[Action]
    ) -> None:
        last = node.last_rebirth_ms
        if last is not None and now_ms - last < self._config.rebirth_min_interval_ms:
            self.rebirths_throttled += 1
            return
        node.last_rebirth_ms = now_ms
        actions.append(SendRebirth(key, reason))
        actions.append(
            self._lifecycle(LifecycleKind.REBIRTH_REQUESTED, key, None, now_ms, {"reason": reason})
        )

    def _set_timer(self, key: EdgeNodeKey, node: _Node, started_ms: int | None) -> None:
        node.gap_started_ms = started_ms
        if started_ms is None:
            self._timed.discard(key)
        else:
            self._timed.add(key)

    @staticmethod
    def _lifecycle(
        kind: LifecycleKind,
        key: EdgeNodeKey,
        device_id: str | None,
        timestamp_ms: int,
        attrs: dict[str, AttrValue],
    ) -> EmitLifecycle:
        return EmitLifecycle(kind, key, device_id, timestamp_ms, attrs)

    def _stale(
        self,
        key: EdgeNodeKey,
        device_id: str | None,
        names: tuple[str, ...],
        timestamp_ms: int,
        cause: str,
    ) -> EmitLifecycle:
        return self._lifecycle(
            LifecycleKind.STALE, key, device_id, timestamp_ms, {"metrics": names, "cause": cause}
        )

    def _malformed(self, key: EdgeNodeKey, topic: SparkplugTopic, now_ms: int, reason: str) -> EmitLifecycle:
        attrs = _bad(reason, str(topic.message_type))
        return self._lifecycle(LifecycleKind.MALFORMED, key, topic.device_id, now_ms, attrs)


def _only_metrics(actions: list[Action], start: int) -> bool:
    return len(actions) == start + 1 and isinstance(actions[start], EmitMetrics)


def _bad(reason: str, message_type: str) -> dict[str, AttrValue]:
    return {"reason": reason, "message_type": message_type}


def _seq(message: pb.Payload) -> int | None:
    if not message.HasField("seq") or message.seq >= _SEQ_MODULUS:
        return None
    return message.seq


def _distance(seq: int, expected: int) -> int:
    """How far ``seq`` is ahead of ``expected`` modulo 256 (0 = it is the expected one)."""
    return (seq - expected) % _SEQ_MODULUS


def _bd_seq(decoded: DecodedPayload) -> int | None:
    for metric in decoded.metrics:
        if (
            metric.name == BD_SEQ_METRIC
            and isinstance(metric.value, int)
            and not isinstance(metric.value, bool)
        ):
            return metric.value
    return None


def _types_of(decoded: DecodedPayload) -> dict[str, DataType]:
    types = {entry.name: entry.datatype for entry in decoded.declared_aliases.values()}
    types.update((metric.name, metric.datatype) for metric in decoded.metrics)
    return types
