"""The receiver's MQTT inputs on one broker session: a Sparkplug B 3.0 Host Application, LwM2M over
MQTT, and USP bulk data Records. Routes each message to its decoder and mapping, hands the reports to
the batcher, and owns the host's STATE birth and death."""

import asyncio
import functools
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from gmqtt import Message

from ..batch import Batcher, Overloaded
from ..config import MqttConfig
from ..decode import DecodeError
from ..decode._lwm2m import decode_lwm2m
from ..decode.sparkplug import (
    Action,
    EmitLifecycle,
    EmitMetrics,
    EmitValues,
    HostSessions,
    SparkplugSessionConfig,
    decode_state,
    encode_rebirth_ncmd,
    encode_state,
    state_topic,
)
from ..mapping._lwm2m import map_lwm2m
from ..mapping._sparkplug import SparkplugMapper
from ..signals import MappedReport, ResourcePoints, SeriesRegistry
from ..telemetry import ReceiverMetrics
from ._mqtt import Later, MqttSession, MqttSettings

log = logging.getLogger(__name__)
PASSWORD_ENV = "RECEIVER_MQTT_PASSWORD"
_TICK_S = 0.1


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """A message to publish once the data of the message it answers is acknowledged (e.g. a USP
    NotifyResp). ``properties``: MQTT 5 PUBLISH properties by gmqtt's names, dropped on 3.1.1."""

    topic: str
    payload: bytes
    properties: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class Decoded:
    reports: list[MappedReport]
    reply: Reply | None = None  # published (QoS 1) only once every report is acknowledged


# Extra inputs (USP bulk data) plug in here: topic prefix ->
# (topic, payload, received_ns, MQTT 5 Response Topic or None) -> reports and perhaps a reply.
ExtraDecoder = Callable[[str, bytes, int, str | None], Decoded]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class MqttInputs:
    def __init__(
        self,
        config: MqttConfig,
        registry: SeriesRegistry,
        batcher: Batcher,
        metrics: ReceiverMetrics,
        extra: Mapping[str, ExtraDecoder] | None = None,
    ) -> None:
        assert config.broker is not None
        self._config = config
        self._batcher = batcher
        self._metrics = metrics
        self._registry = registry
        self._extra = extra or {}
        self._batch_age_s = config.batch_max_age_s
        self.sessions = HostSessions(
            SparkplugSessionConfig(
                reorder_timeout_ms=config.reorder_timeout_ms,
                rebirth_min_interval_ms=config.rebirth_min_interval_ms,
            ),
            shapes=config.learn_shapes,
        )
        self._sparkplug = SparkplugMapper(registry)
        self._state_topic = state_topic(config.host_id)
        # The birth must carry the timestamp of the Will in the CONNECT that preceded it.
        self._will_ms = _now_ms()
        groups = config.sparkplug_groups or ("+",)
        subscriptions = [(self._state_topic, 1)]
        subscriptions += [("spBv1.0/#", 1)] if "+" in groups else [(f"spBv1.0/{g}/#", 1) for g in groups]
        subscriptions += [(t, 1) for t in (*config.lwm2m_topics, *config.usp_topics)]
        self.session = MqttSession(
            config.broker,
            MqttSettings(
                client_id=config.client_id or config.host_id,
                subscriptions=tuple(subscriptions),
                will=Message(self._state_topic, encode_state(False, self._will_ms), qos=1, retain=True),
            ),
            self._handle,
            username=config.username,
            password=_password(config),
            ca_file=config.ca_file,
            max_queued=config.max_queued_messages,
            on_connected=self._birth,
            on_disconnected=self._lost,
            sync_handler=self._handle_now,
        )
        self._ticker: asyncio.Task[None] | None = None
        self.rebirths_sent = 0
        self.replies_sent = 0
        self.replies_failed = 0  # the publish raised (e.g. disconnected): the sender asks again

    async def start(self) -> None:
        await self.session.start()
        self._ticker = asyncio.create_task(self._tick(), name="sparkplug-reorder-timer")

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        # A clean disconnect publishes the death certificate first, with the time of disconnecting.
        await self.session.stop(
            before_disconnect=lambda: self.session.publish(
                self._state_topic, encode_state(False, _now_ms()), qos=1, retain=True
            )
        )

    def _birth(self) -> None:
        self.session.publish(self._state_topic, encode_state(True, self._will_ms), qos=1, retain=True)

    def _lost(self) -> None:
        self._submit_actions(self.sessions.on_host_disconnected(_now_ms()))

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(_TICK_S)
            actions = self.sessions.tick(_now_ms())
            if actions:
                self._submit_actions(actions)

    def _handle_now(self, topic: str, payload: bytes) -> "Awaitable[None] | Later | None":
        """``_handle`` without a coroutine for the common case, a DATA message of a known shape."""
        values = self.sessions.read_data(topic, payload)
        if values is None:
            return Later(self._handle(topic, payload))
        points = self._sparkplug.map_values(values, received_ns=time.time_ns())
        try:
            return self._batcher.add_points(points, self._batch_age_s)
        except Overloaded:
            return Later(self._add_points_later(points))

    async def _add_points_later(self, points: ResourcePoints) -> "Awaitable[None]":
        """Once the batcher has room again (reads stay paused upstream meanwhile)."""
        while True:
            await asyncio.sleep(0.05)
            try:
                return self._batcher.add_points(points, self._batch_age_s)
            except Overloaded:
                pass

    async def _handle(
        self, topic: str, payload: bytes, response_topic: str | None = None
    ) -> "Awaitable[None] | None":
        received_ns = time.time_ns()
        if topic.startswith("spBv1.0/"):
            if topic == self._state_topic:
                if not decode_state(payload).online:
                    self._birth()  # our own offline STATE was delivered (e.g. a stale Will): we are online
                return None
            if topic.startswith("spBv1.0/STATE/"):
                return None  # other host applications
            values = self.sessions.read_data(topic, payload)
            if values is not None:  # the common case, without per-metric or per-report objects
                points = self._sparkplug.map_values(values, received_ns=received_ns)
                try:
                    return self._batcher.add_points(points, self._batch_age_s)
                except Overloaded:
                    return await self._add_points_later(points)
            return await self._admit(
                self._reports(self.sessions.on_message(topic, payload, _now_ms()), received_ns)
            )
        if topic.startswith("lwm2m/"):
            report = map_lwm2m(decode_lwm2m(topic, payload), self._registry, received_ns=received_ns)
            return await self._admit([report])
        for prefix, decoder in self._extra.items():
            if topic.startswith(prefix):
                decoded = decoder(topic, payload, received_ns, response_topic)
                waiter = await self._admit(decoded.reports)
                if decoded.reply is None:
                    return waiter
                if waiter is None:  # no data to lose
                    self._publish_reply(decoded.reply)
                    return None
                # A callback on the data's own future, not a task awaiting it: it runs whatever the
                # session does with the waiter (nothing, for QoS 0).
                acknowledged = asyncio.ensure_future(waiter)
                acknowledged.add_done_callback(functools.partial(self._reply_if_acknowledged, decoded.reply))
                return acknowledged
        raise DecodeError(f"no input for topic {topic!r}")

    def _reply_if_acknowledged(self, reply: Reply, acknowledged: "asyncio.Future[None]") -> None:
        if not acknowledged.cancelled() and acknowledged.exception() is None:
            self._publish_reply(reply)

    def _publish_reply(self, reply: Reply) -> None:
        try:
            self.session.publish(reply.topic, reply.payload, qos=1, properties=reply.properties)
        except Exception as exc:
            self.replies_failed += 1
            log.debug("reply on %s not published: %s", reply.topic, exc)
        else:
            self.replies_sent += 1

    def _reports(self, actions: list[Action], received_ns: int) -> list[MappedReport]:
        reports = []
        for action in actions:
            if isinstance(action, EmitMetrics):
                reports.append(self._sparkplug.map_metrics(action, received_ns=received_ns))
            elif isinstance(action, EmitValues):  # read_data's; on_message does not emit them
                reports.append(self._sparkplug.map_metrics(action.to_metrics(), received_ns=received_ns))
            elif isinstance(action, EmitLifecycle):
                reports.append(self._sparkplug.map_lifecycle(action, received_ns=received_ns))
            else:
                self.session.publish(action.topic, encode_rebirth_ncmd(_now_ms()), qos=0)
                self.rebirths_sent += 1
        return reports

    def _submit_actions(self, actions: list[Action]) -> None:
        """Timer and disconnect events: not tied to a message, so nothing waits on them."""
        for report in self._reports(actions, time.time_ns()):
            try:
                self._batcher.add(report)
            except Overloaded:
                self._metrics.points_dropped.labels("overload_lifecycle").inc(report.point_count)

    async def _admit(self, reports: list[MappedReport]) -> "Awaitable[None] | None":
        """Hand reports to the batcher in order, waiting (reads paused upstream) while it is full."""
        acks = []
        for report in reports:
            while True:
                try:
                    acks.append(self._batcher.add(report))
                    break
                except Overloaded:
                    await asyncio.sleep(0.05)
        if not acks:
            return None
        # Reports of one message nearly always share a batch: wait on its future itself rather
        # than a gather task per message (measured: that task was ~12% of the Sparkplug path).
        distinct = list(dict.fromkeys(acks))
        return distinct[0] if len(distinct) == 1 else _all_acknowledged(distinct)


async def _all_acknowledged(acks: list["asyncio.Future[None]"]) -> None:
    await asyncio.gather(*acks)


def _password(config: MqttConfig) -> str | None:
    if config.password_file:
        return Path(config.password_file).read_text().strip()
    return os.environ.get(PASSWORD_ENV)
