"""USP over MQTT: a Push! Notify with send_resp set is answered with one NotifyResp on the Agent's
"reply to" topic, and only once its data is acknowledged (TR-369 R-NOT.8, MQTT binding R-MQTT.22-26).

A real Mosquitto and the receiver's MQTT inputs; the batcher's sink stands in for the collector and
the test settles each sealed batch itself. "Nothing was published" is observed with a QoS 0 probe
published through the receiver's own session after the fact: the broker forwards one connection's
messages in order, so an answer published before the probe reaches the Agent before it."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from _until import until
from gmqtt import Client
from gmqtt.mqtt.constants import MQTTv311

from loadtest.usp_agent import build_push_record
from receiver.batch import Batcher, SealedBatch
from receiver.config import BatchConfig, MqttConfig, ReceiverConfig
from receiver.decode.usp._pb import usp_msg_pb2 as msg_pb
from receiver.decode.usp._pb import usp_record_pb2 as record_pb
from receiver.devstack import Broker
from receiver.ingress import MqttInputs, UspBulkDataInput
from receiver.ingress._usp_mqtt import reply_topic
from receiver.mapping import BulkDataMapper, load_tr181_table
from receiver.signals import SeriesRegistry
from receiver.telemetry import ReceiverMetrics

CONTROLLER = "self::test-controller"
REPORT = {"Report": [{"CollectionTime": 1700000000, "Device.WiFi.Radio.1.Stats.Noise": -90}]}


@dataclass
class Receiver:
    inputs: MqttInputs
    usp: UspBulkDataInput
    sealed: list[SealedBatch] = field(default_factory=list)

    async def probe(self, agent: "Agent") -> None:
        """Returns once everything the receiver published so far has reached ``agent``."""
        tag = uuid.uuid4().hex
        self.inputs.session.publish(f"probe/{tag}", b"", qos=0)
        await until(lambda: any(topic == f"probe/{tag}" for topic, _, _ in agent.received))


@dataclass
class Agent:
    client: Client
    endpoint_id: str
    received: list[tuple[str, bytes, dict[str, Any]]] = field(default_factory=list)

    def answers(self) -> list[tuple[str, record_pb.Record, msg_pb.Msg, dict[str, Any]]]:
        found = []
        for topic, payload, properties in self.received:
            if topic.startswith("probe/"):
                continue
            record = record_pb.Record.FromString(payload)
            msg = msg_pb.Msg.FromString(record.no_session_context.payload)
            found.append((topic, record, msg, properties))
        return found

    def push(
        self,
        msg_id: str,
        *,
        send_resp: bool,
        topic: str = "usp/bulkdata/agent",
        to_id: str = CONTROLLER,
        **props: Any,
    ) -> None:
        record = build_push_record(
            self.endpoint_id, to_id, REPORT, msg_id=msg_id, subscription_id="sub-1", send_resp=send_resp
        )
        self.client.publish(topic, record, qos=1, **props)


@pytest.fixture
async def receiver(broker: Broker) -> AsyncIterator[Receiver]:
    config = MqttConfig(broker=broker.url, host_id=f"h{uuid.uuid4().hex[:8]}")
    registry = SeriesRegistry()
    sealed: list[SealedBatch] = []
    batcher = Batcher(BatchConfig(), sealed.append)
    usp = UspBulkDataInput(
        BulkDataMapper(load_tr181_table(), registry),
        controller_id=CONTROLLER,
        only_addressed_to_us=True,
        reply_topic_template="usp/agent/{endpoint_id}",
        own_topic="usp/bulkdata",
    )
    inputs = MqttInputs(config, registry, batcher, ReceiverMetrics(), extra={"usp/bulkdata": usp})
    await inputs.start()
    await asyncio.wait_for(inputs.session.connected.wait(), 10)
    try:
        yield Receiver(inputs, usp, sealed)
    finally:
        for batch in sealed:
            if not batch.done.done():
                batch.done.set_result(None)
        await inputs.stop()
        await batcher.stop()


@pytest.fixture
async def connect_agent(broker: Broker) -> AsyncIterator[Callable[..., Awaitable[Agent]]]:
    """Connects an Agent subscribed to "usp/agent/#" and the probes (MQTT 5 unless ``version``)."""
    agents: list[Agent] = []

    async def connect(version: int | None = None) -> Agent:
        endpoint_id = f"os::00256D-{uuid.uuid4().hex[:8]}"
        agent = Agent(Client(f"agent-{uuid.uuid4().hex[:8]}"), endpoint_id)

        def on_message(client: Client, topic: str, payload: bytes, qos: int, props: dict[str, Any]) -> int:
            agent.received.append((topic, payload, props))
            return 0

        agent.client.on_message = on_message
        agents.append(agent)
        if version is None:
            await agent.client.connect(broker.host, broker.port)
        else:
            await agent.client.connect(broker.host, broker.port, version=version)
        agent.client.subscribe("usp/agent/#", qos=1)
        agent.client.subscribe("probe/#", qos=0)
        await asyncio.sleep(0.1)  # SUBACK
        return agent

    yield connect
    for agent in agents:
        await agent.client.disconnect()


async def test_notify_with_send_resp_is_answered_once_and_only_after_its_data_is_acknowledged(
    receiver: Receiver, connect_agent: Callable[..., Awaitable[Agent]]
) -> None:
    agent = await connect_agent()
    reply_to = f"usp/agent/{agent.endpoint_id}/from-controller"
    agent.push("push-1", send_resp=True, response_topic=reply_to)
    await until(lambda: len(receiver.sealed) == 1)
    await receiver.probe(agent)
    assert agent.answers() == []  # the data reached the sink but nobody acknowledged it yet

    receiver.sealed[0].done.set_result(None)
    await until(lambda: len(agent.answers()) == 1)
    [(topic, record, msg, properties)] = agent.answers()
    assert topic == reply_to
    assert (record.from_id, record.to_id) == (CONTROLLER, agent.endpoint_id)
    assert record.WhichOneof("record_type") == "no_session_context"
    assert (msg.header.msg_id, msg.header.msg_type) == ("push-1", msg_pb.Header.NOTIFY_RESP)
    assert msg.body.response.notify_resp.subscription_id == "sub-1"
    # MQTT 5 properties of the binding: Content Type, usp-err-id and our own reply-to topic.
    assert properties["content_type"] == ["application/vnd.bbf.usp.msg"]
    assert properties["user_property"] == [("usp-err-id", f"{agent.endpoint_id}/push-1")]
    assert properties["response_topic"] == ["usp/bulkdata"]

    await receiver.probe(agent)
    assert len(agent.answers()) == 1  # exactly one
    assert receiver.inputs.replies_sent == 1


async def test_notify_without_send_resp_is_not_answered(
    receiver: Receiver, connect_agent: Callable[..., Awaitable[Agent]]
) -> None:
    agent = await connect_agent()
    reply_to = f"usp/agent/{agent.endpoint_id}"
    agent.push("quiet", send_resp=False, response_topic=reply_to)
    agent.push("loud", send_resp=True, response_topic=reply_to)
    await until(lambda: len(receiver.sealed) >= 1)
    await until(lambda: sum(b.point_count for b in receiver.sealed) == 2)
    for batch in receiver.sealed:
        batch.done.set_result(None)
    await until(lambda: len(agent.answers()) >= 1)
    await receiver.probe(agent)
    assert [msg.header.msg_id for _, _, msg, _ in agent.answers()] == ["loud"]


async def test_notify_whose_data_is_refused_is_not_answered(
    receiver: Receiver, connect_agent: Callable[..., Awaitable[Agent]]
) -> None:
    agent = await connect_agent()
    reply_to = f"usp/agent/{agent.endpoint_id}"
    agent.push("refused", send_resp=True, response_topic=reply_to)
    await until(lambda: len(receiver.sealed) == 1)
    receiver.sealed[0].done.set_exception(RuntimeError("the collector refused the batch"))
    agent.push("taken", send_resp=True, response_topic=reply_to)
    await until(lambda: len(receiver.sealed) == 2)
    receiver.sealed[1].done.set_result(None)
    await until(lambda: len(agent.answers()) >= 1)
    await receiver.probe(agent)
    assert [msg.header.msg_id for _, _, msg, _ in agent.answers()] == ["taken"]


async def test_mqtt311_agent_is_answered_on_the_reply_to_in_its_topic_name(
    receiver: Receiver, connect_agent: Callable[..., Awaitable[Agent]]
) -> None:
    agent = await connect_agent(MQTTv311)
    reply_to = f"usp/agent/{agent.endpoint_id}/in"
    agent.push("v311", send_resp=True, topic="usp/bulkdata/reply-to=" + reply_to.replace("/", "%2F"))
    await until(lambda: len(receiver.sealed) == 1)
    receiver.sealed[0].done.set_result(None)
    await until(lambda: len(agent.answers()) == 1)
    [(topic, _, msg, _)] = agent.answers()
    assert (topic, msg.header.msg_id) == (reply_to, "v311")


async def test_agent_naming_no_reply_topic_is_answered_on_the_configured_template(
    receiver: Receiver, connect_agent: Callable[..., Awaitable[Agent]]
) -> None:
    agent = await connect_agent(MQTTv311)
    agent.push("guess", send_resp=True)
    await until(lambda: len(receiver.sealed) == 1)
    receiver.sealed[0].done.set_result(None)
    await until(lambda: len(agent.answers()) == 1)
    [(topic, _, msg, _)] = agent.answers()
    assert (topic, msg.header.msg_id) == (f"usp/agent/{agent.endpoint_id}", "guess")


@pytest.mark.parametrize(
    ("topic", "response_topic", "template", "expected"),
    [
        # MQTT 5 Response Topic first, then a 3.1.1 "/reply-to=" suffix, then the template.
        ("usp/c/reply-to=a%2Fb", "usp/prop", "usp/t/{endpoint_id}", "usp/prop"),
        ("usp/c/reply-to=a%2Fb", None, "usp/t/{endpoint_id}", "a/b"),
        ("usp/c", None, "usp/t/{endpoint_id}", "usp/t/os::1-2"),
        ("usp/c", None, None, None),
        # The part after the last "/reply-to=" (R-MQTT.25).
        ("usp/reply-to=x/reply-to=y%2Fz", None, None, "y/z"),
        # What the Agent named is used or nothing is: no falling back to a guess.
        ("usp/c", "usp/+/wild", "usp/t/{endpoint_id}", None),
        ("usp/c/reply-to=", None, "usp/t/{endpoint_id}", None),
        ("usp/c", "spBv1.0/STATE/host", None, None),
        ("usp/c", "$SYS/x", None, None),
        ("usp/c", "a\0b", None, None),
    ],
)
def test_reply_topic_follows_the_mqtt_binding(
    topic: str, response_topic: str | None, template: str | None, expected: str | None
) -> None:
    assert reply_topic(topic, response_topic, "os::1-2", template) == expected


def test_usp_controller_id_defaults_to_the_host_id_and_is_validated() -> None:
    assert MqttConfig(host_id="rx1").usp_endpoint_id == "self::rx1"
    assert ReceiverConfig(mqtt=MqttConfig(usp_controller_id="oui:00256D:ctl-1")).validate() == []
    problems = ReceiverConfig(
        mqtt=MqttConfig(usp_controller_id="controller 1", usp_reply_topic="usp/{agent}/#")
    ).validate()
    assert any(p.startswith("mqtt.usp_controller_id 'controller 1' is not a USP Endpoint") for p in problems)
    assert any(p.startswith("mqtt.usp_reply_topic must be a topic name") for p in problems)
    derived = ReceiverConfig(mqtt=MqttConfig(host_id="host:1")).validate()
    assert any("the default mqtt.usp_controller_id 'self::host:1' (from mqtt.host_id)" in p for p in derived)
    # Without USP topics nothing needs a controller id.
    assert ReceiverConfig(mqtt=MqttConfig(host_id="host:1", usp_topics=())).validate() == []


async def test_a_record_addressed_to_another_controller_is_ignored(
    receiver: Receiver, connect_agent: Callable[..., Awaitable[Agent]], caplog: pytest.LogCaptureFixture
) -> None:
    agent = await connect_agent()
    reply_to = f"usp/agent/{agent.endpoint_id}"
    agent.push("elsewhere", send_resp=True, response_topic=reply_to, to_id="self::another-controller")
    agent.push("elsewhere-2", send_resp=True, response_topic=reply_to, to_id="self::another-controller")
    agent.push("ours", send_resp=True, response_topic=reply_to)
    await until(lambda: len(receiver.sealed) == 1)
    receiver.sealed[0].done.set_result(None)
    await until(lambda: len(agent.answers()) >= 1)
    await receiver.probe(agent)
    assert [msg.header.msg_id for _, _, msg, _ in agent.answers()] == ["ours"]
    assert sum(batch.point_count for batch in receiver.sealed) == 1  # only "ours" was ingested
    assert receiver.usp.not_addressed_to_us == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len([w for w in warnings if "self::another-controller" in w]) == 1  # once per id


def test_without_a_configured_id_every_record_is_taken_and_answered_as_the_controller_it_names() -> None:
    usp = UspBulkDataInput(
        BulkDataMapper(load_tr181_table(), SeriesRegistry()),
        controller_id="self::fallback",
        only_addressed_to_us=False,
        reply_topic_template="usp/agent/{endpoint_id}",
    )
    named = "oui:00256D:their-controller"
    for to_id, answered_as in ((named, named), ("", "self::fallback")):
        record = build_push_record(
            "os::00256D-a1", to_id, REPORT, msg_id="m", subscription_id="s", send_resp=True
        )
        decoded = usp("usp/bulkdata/agent", record, 1_700_000_000_000_000_000, None)
        assert sum(report.point_count for report in decoded.reports) == 1
        assert decoded.reply is not None
        assert record_pb.Record.FromString(decoded.reply.payload).from_id == answered_as
    assert usp.not_addressed_to_us == 0
