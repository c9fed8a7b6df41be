"""parse_topic: the Sparkplug 3.0 topic namespace (topics chapter)."""

import pytest

from receiver.decode import DecodeError
from receiver.decode.sparkplug import (
    EdgeNodeKey,
    MessageType,
    SparkplugDecodeError,
    SparkplugTopic,
    StateTopic,
    ncmd_topic,
    parse_topic,
)

VALID = [
    # tck-id-topic-structure, tck-id-topics-nbirth-topic ... tck-id-topics-dcmd-topic
    (
        "spBv1.0/Sparkplug B Devices/NBIRTH/Raspberry Pi",
        SparkplugTopic(MessageType.NBIRTH, "Sparkplug B Devices", "Raspberry Pi"),
    ),
    ("spBv1.0/G/NDATA/E", SparkplugTopic(MessageType.NDATA, "G", "E")),
    ("spBv1.0/G/NDEATH/E", SparkplugTopic(MessageType.NDEATH, "G", "E")),
    ("spBv1.0/G/NCMD/E", SparkplugTopic(MessageType.NCMD, "G", "E")),
    ("spBv1.0/G/DBIRTH/E/Pibrella", SparkplugTopic(MessageType.DBIRTH, "G", "E", "Pibrella")),
    ("spBv1.0/G/DDATA/E/D", SparkplugTopic(MessageType.DDATA, "G", "E", "D")),
    ("spBv1.0/G/DDEATH/E/D", SparkplugTopic(MessageType.DDEATH, "G", "E", "D")),
    ("spBv1.0/G/DCMD/E/D", SparkplugTopic(MessageType.DCMD, "G", "E", "D")),
    ("spBv1.0/Grüppe/NDATA/Knoten-é", SparkplugTopic(MessageType.NDATA, "Grüppe", "Knoten-é")),  # any UTF-8
    # tck-id-host-topic-phid-birth-topic
    ("spBv1.0/STATE/scada-host-1", StateTopic("scada-host-1")),
]


@pytest.mark.parametrize(("topic", "expected"), VALID, ids=[t for t, _ in VALID])
def test_valid_topics_parse_and_print_back(topic: str, expected: SparkplugTopic | StateTopic) -> None:
    parsed = parse_topic(topic)
    assert parsed == expected
    assert str(parsed) == topic


INVALID = [
    "",
    "spAv1.0/G/NDATA/E",  # Sparkplug A namespace (tck-id-topic-structure-namespace-a)
    "spBv1.0",
    "spBv1.0/G/NDATA",
    "spBv1.0/G/NDATA/E/D",  # tck-id-topic-structure-namespace-device-id-non-associated-message-types
    "spBv1.0/G/DDATA/E",  # tck-id-topic-structure-namespace-device-id-associated-message-types
    "spBv1.0/G/DDATA/E/D/extra",
    "spBv1.0/G/NDUMMY/E",
    "spBv1.0/G/ndata/E",  # case sensitive
    "spBv1.0//NDATA/E",
    "spBv1.0/G/NDATA/",
    "spBv1.0/G+/NDATA/E",  # tck-id-topic-structure-namespace-valid-group-id
    "spBv1.0/G/NDATA/E#",  # tck-id-topic-structure-namespace-valid-edge-node-id
    "spBv1.0/G/DDATA/E/+",  # tck-id-topic-structure-namespace-valid-device-id
    "spBv1.0/STATE/",
    "spBv1.0/STATE/a/b",
    "STATE/host",  # the Sparkplug 2.x STATE topic
]


@pytest.mark.parametrize("topic", INVALID)
def test_invalid_topics_raise_sparkplug_decode_error(topic: str) -> None:
    with pytest.raises(SparkplugDecodeError) as caught:
        parse_topic(topic)
    assert isinstance(caught.value, DecodeError)
    assert caught.value.reason


def test_node_key_and_ncmd_topic() -> None:
    topic = parse_topic("spBv1.0/G/DDATA/E/D")
    assert isinstance(topic, SparkplugTopic)
    assert topic.node == EdgeNodeKey("G", "E")
    assert str(topic.node) == "G/E"
    assert ncmd_topic(topic.node) == "spBv1.0/G/NCMD/E"  # tck-id-topics-ncmd-topic


def test_message_type_knows_device_types() -> None:
    assert [t for t in MessageType if t.is_device] == [
        MessageType.DBIRTH,
        MessageType.DDATA,
        MessageType.DDEATH,
        MessageType.DCMD,
    ]
