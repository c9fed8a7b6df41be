"""MQTT inputs through a real Mosquitto broker, the real receiver process and our collector binary:
the Sparkplug B host's STATE and commands, edge node traffic point by point, LwM2M messages."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import orjson
import pytest
from gmqtt import Client

from loadtest.sparkplug_sim import EdgeNode
from receiver.devstack import Broker, run_mosquitto

from ._sink import LogRow, Point, wait_for
from ._stack import Collector, Receiver, run_receiver

HOST_ID = "e2e-host"
USP_CONTROLLER_ID = "self::e2e-controller"


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    with run_mosquitto(tmp_path_factory.mktemp("broker")) as running:
        yield running


@pytest.fixture(scope="module")
def mqtt_receiver(
    broker: Broker, collector: Collector, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Receiver]:
    env = {
        "RECEIVER_MQTT__HOST_ID": HOST_ID,
        "RECEIVER_MQTT__REORDER_TIMEOUT_MS": "300",
        "RECEIVER_MQTT__REBIRTH_MIN_INTERVAL_MS": "0",
        "RECEIVER_MQTT__USP_CONTROLLER_ID": USP_CONTROLLER_ID,
    }
    with run_receiver(
        tmp_path_factory.mktemp("mqtt-receiver"),
        collector.otlp_endpoint,
        "--mqtt-broker",
        broker.url,
        env=env,
    ) as running:
        yield running


@pytest.fixture
async def edge(broker: Broker, mqtt_receiver: Receiver) -> AsyncIterator[EdgeNode]:
    node = EdgeNode(f"G{uuid.uuid4().hex[:6]}", "N1", ["d1"], metrics_per_device=3)
    await node.connect(broker.url)
    yield node
    if node.client is not None and node.client.is_connected:
        await node.client.disconnect()


async def _subscribe(broker: Broker, topic: str) -> tuple[Client, "asyncio.Queue[tuple[str, bytes, int]]"]:
    received: asyncio.Queue[tuple[str, bytes, int]] = asyncio.Queue()
    client = Client(f"probe-{uuid.uuid4().hex[:8]}")
    client.on_message = lambda c, t, p, q, props: received.put_nowait((t, p, props.get("retain", 0))) or 0
    await client.connect(broker.host, broker.port)
    client.subscribe(topic, qos=1)
    return client, received


async def _until(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.05)


def _sink(
    collector: Collector, device_id: str, points: int, logs: int = 0
) -> tuple[list[Point], list[LogRow]]:
    def mine(p: list[Point], lg: list[LogRow]) -> tuple[list[Point], list[LogRow]]:
        return [x for x in p if x.resource.get("device.id") == device_id], [
            x for x in lg if x.resource.get("device.id") == device_id
        ]

    found = wait_for(
        collector.sink_dir, lambda p, lg: len(mine(p, lg)[0]) >= points and len(mine(p, lg)[1]) >= logs
    )
    return mine(*found)


async def test_host_publishes_retained_online_state_with_its_will_timestamp(
    broker: Broker, mqtt_receiver: Receiver
) -> None:
    client, received = await _subscribe(broker, f"spBv1.0/STATE/{HOST_ID}")
    topic, payload, retain = await asyncio.wait_for(received.get(), 10)
    state = orjson.loads(payload)
    assert topic == f"spBv1.0/STATE/{HOST_ID}" and retain
    assert state["online"] is True and isinstance(state["timestamp"], int)
    # An offline STATE on our own topic (a stale Will) makes the host republish online at once.
    client.publish(
        f"spBv1.0/STATE/{HOST_ID}", orjson.dumps({"online": False, "timestamp": 1}), qos=1, retain=True
    )
    for _ in range(5):
        _, again, _ = await asyncio.wait_for(received.get(), 10)
        if orjson.loads(again)["online"]:
            assert orjson.loads(again)["timestamp"] == state["timestamp"]
            break
    else:
        pytest.fail("host did not republish its online STATE")
    await client.disconnect()


async def test_edge_node_metrics_arrive_point_by_point(edge: EdgeNode, collector: Collector) -> None:
    edge.birth()
    await asyncio.sleep(0.2)
    edge.publish_ddata("d1", [21.5, 22.5, 23.5], qos=1)
    edge.publish_ddata("d1", [31.5, 32.5, 33.5], qos=1)
    points, logs = _sink(collector, f"{edge.group}/N1/d1", 9, 1)
    resource = {
        "device.id": f"{edge.group}/N1/d1",
        "sparkplug.group_id": edge.group,
        "sparkplug.edge_node_id": "N1",
        "sparkplug.device_id": "d1",
        "service.name": "sparkplug",
    }
    assert all(p.resource == resource for p in points)
    assert all((p.kind, p.unit) == ("gauge", "Cel") for p in points)
    values = sorted((p.name, p.value) for p in points)
    assert values == sorted(
        [(f"Sensors/Value{i}", 0.0) for i in range(3)]
        + [(f"Sensors/Value{i}", v) for i, v in enumerate([21.5, 22.5, 23.5])]
        + [(f"Sensors/Value{i}", v) for i, v in enumerate([31.5, 32.5, 33.5])]
    )
    assert "sparkplug.dbirth" in {entry.body for entry in logs}


async def test_sequence_gap_leads_to_a_rebirth_command(edge: EdgeNode) -> None:
    edge.birth()
    await asyncio.sleep(0.2)
    edge.publish_ddata("d1", [1.0, 2.0, 3.0], seq=edge.seq + 5)  # a gap that never fills
    await _until(lambda: edge.rebirths_received >= 1)
    assert edge.births >= 2  # the simulator answered with a new NBIRTH/DBIRTH


async def test_data_with_unknown_alias_leads_to_a_rebirth(edge: EdgeNode) -> None:
    edge.birth()
    await asyncio.sleep(0.2)
    assert edge.client is not None
    from receiver.decode.sparkplug import DataType
    from receiver.decode.sparkplug._pb import sparkplug_b_pb2 as pb

    payload = pb.Payload(timestamp=1, seq=edge.seq)
    payload.metrics.add(alias=999, datatype=DataType.Double, double_value=1.0)
    edge.seq = (edge.seq + 1) % 256
    edge.client.publish(edge.topic("DDATA", "d1"), payload.SerializeToString(), qos=1)
    await _until(lambda: edge.rebirths_received >= 1)


async def test_ndeath_marks_node_offline_and_metrics_stale(edge: EdgeNode, collector: Collector) -> None:
    edge.birth()
    await asyncio.sleep(0.2)
    await edge.disconnect_with_ndeath()
    _, logs = _sink(collector, f"{edge.group}/N1", 0, 2)
    bodies = {entry.body for entry in logs}
    assert {"sparkplug.nbirth", "sparkplug.ndeath"} <= bodies
    _, device_logs = _sink(collector, f"{edge.group}/N1/d1", 0, 2)
    assert "sparkplug.stale" in {entry.body for entry in device_logs} | bodies


async def test_lwm2m_registration_and_sensor_values(
    broker: Broker, mqtt_receiver: Receiver, collector: Collector
) -> None:
    endpoint = f"ep-{uuid.uuid4().hex[:6]}"
    client = Client(f"lwm2m-{endpoint}")
    await client.connect(broker.host, broker.port)
    client.publish(
        f"lwm2m/{endpoint}/reg",
        orjson.dumps(
            {
                "endpoint": endpoint,
                "lifetime": 3600,
                "version": "1.2",
                "bindingMode": "UQ",
                "objects": {"3": {"0": {"0": "IoT Testing Corp", "9": 85}}, "3303": {"0": {"5700": 23.5}}},
            }
        ),
        qos=1,
    )
    client.publish(f"lwm2m/{endpoint}/resp/3303/0/5700", orjson.dumps({"value": 24.0}), qos=1)
    points, logs = _sink(collector, endpoint, 3, 1)
    await client.disconnect()
    got = sorted((p.name, p.unit, p.value, p.attributes["lwm2m.object_id"]) for p in points)
    assert got == [
        ("LwM2M.Device.BatteryLevel", "%", 85, "3"),
        ("LwM2M.Temperature.SensorValue", "Cel", 23.5, "3303"),
        ("LwM2M.Temperature.SensorValue", "Cel", 24.0, "3303"),
    ]
    registration = next(entry for entry in logs if entry.body == "lwm2m.register")
    assert registration.attributes["lwm2m.lifetime"] == 3600
    assert registration.attributes["/3/0/0"] == "IoT Testing Corp"
    assert all(p.resource["service.name"] == "lwm2m" for p in points)


async def test_usp_bulk_data_record_maps_like_http_bulk_data(
    broker: Broker, mqtt_receiver: Receiver, collector: Collector
) -> None:
    from loadtest.usp_agent import build_push_record

    eid = f"os::00256D:{uuid.uuid4().hex[:8]}"
    record = build_push_record(
        eid,
        USP_CONTROLLER_ID,  # the Controller this receiver is configured as (R-E2E.1)
        {
            "Report": [
                {
                    "CollectionTime": 1700000000,
                    "Device.WiFi.Radio.2.Stats.Noise": -92,
                    "Device.DeviceInfo.SoftwareVersion": "7.2.1",
                }
            ]
        },
    )
    client = Client(f"usp-{uuid.uuid4().hex[:6]}")
    await client.connect(broker.host, broker.port)
    client.publish("usp/bulkdata/agent", record, qos=1)
    points, logs = _sink(collector, eid, 1, 1)
    await client.disconnect()
    [point] = points
    assert (point.name, point.value, point.unit, point.attributes) == (
        "Device.WiFi.Radio.{i}.Stats.Noise",
        -92,
        "dBm",
        {"Radio": "2"},
    )
    assert point.time_ns == 1700000000 * 10**9
    assert point.resource == {"device.id": eid, "usp.endpoint_id": eid, "service.name": "usp-bulkdata"}
    assert logs[0].attributes == {"Device.DeviceInfo.SoftwareVersion": "7.2.1"}


async def test_usp_notify_with_send_resp_is_answered_on_the_agents_response_topic(
    broker: Broker, mqtt_receiver: Receiver, collector: Collector
) -> None:
    from loadtest.usp_agent import build_push_record
    from receiver.decode.usp._pb import usp_msg_pb2 as msg_pb
    from receiver.decode.usp._pb import usp_record_pb2 as record_pb

    eid = f"os::00256D-{uuid.uuid4().hex[:8]}"
    reply_to = f"usp/agent/{eid}/e2e"
    agent, answers = await _subscribe(broker, reply_to)
    report = {"Report": [{"CollectionTime": 1700000000, "Device.WiFi.Radio.1.Stats.Noise": -88}]}
    record = build_push_record(
        eid, USP_CONTROLLER_ID, report, msg_id="e2e-push", subscription_id="e2e-sub", send_resp=True
    )
    agent.publish("usp/bulkdata/agent", record, qos=1, response_topic=reply_to)
    topic, payload, _ = await asyncio.wait_for(answers.get(), 10)
    await agent.disconnect()
    answer = record_pb.Record.FromString(payload)
    msg = msg_pb.Msg.FromString(answer.no_session_context.payload)
    assert (topic, answer.from_id, answer.to_id) == (reply_to, USP_CONTROLLER_ID, eid)
    assert (msg.header.msg_id, msg.body.response.notify_resp.subscription_id) == ("e2e-push", "e2e-sub")
    [point] = _sink(collector, eid, 1)[0]
    assert point.value == -88
