"""SparkplugMapper remembers each metric's engUnit from its birth, only while its node or device is
online: births replace, deaths forget, and a cap bounds the rest."""

import pytest

from receiver.decode.sparkplug import DataType, EdgeNodeKey, EmitLifecycle, EmitMetrics, LifecycleKind
from receiver.decode.sparkplug._model import DecodedMetric
from receiver.decode.sparkplug._topic import MessageType
from receiver.mapping import _sparkplug
from receiver.mapping._sparkplug import SparkplugMapper
from receiver.signals import SeriesRegistry

NODE = EdgeNodeKey("G", "N1")
T0 = 1_700_000_000_000


def _metric(name: str, unit: str | None = None) -> DecodedMetric:
    properties = {} if unit is None else {"engUnit": unit}
    return DecodedMetric(name, None, T0, DataType.Double, 1.5, properties=properties)


def _emit(
    mapper: SparkplugMapper,
    message_type: MessageType,
    *metrics: DecodedMetric,
    device: str | None = None,
    node: EdgeNodeKey = NODE,
) -> dict[str, str]:
    """Map the message; returns each point's unit by metric name."""
    report = mapper.map_metrics(
        EmitMetrics(node, device, metrics, message_type, T0, 0), received_ns=T0 * 1_000_000
    )
    return {mapper._registry[s].name: mapper._registry[s].unit for s in report.metrics.series}


def _death(mapper: SparkplugMapper, kind: LifecycleKind, device: str | None = None) -> None:
    mapper.map_lifecycle(EmitLifecycle(kind, NODE, device, T0, {}), received_ns=T0 * 1_000_000)


def test_data_takes_the_unit_its_birth_declared() -> None:
    mapper = SparkplugMapper(SeriesRegistry())
    _emit(mapper, MessageType.NBIRTH, _metric("t", "Cel"), _metric("v", "V"), _metric("n"))
    assert _emit(mapper, MessageType.NDATA, _metric("t"), _metric("v"), _metric("n")) == {
        "t": "Cel",
        "v": "V",
        "n": "",
    }
    _emit(mapper, MessageType.DBIRTH, _metric("t", "K"), device="d1")
    assert _emit(mapper, MessageType.DDATA, _metric("t"), device="d1") == {"t": "K"}
    assert mapper._unit_count == 3  # a metric without a unit costs nothing


def test_a_rebirth_replaces_the_units_of_its_scope() -> None:
    mapper = SparkplugMapper(SeriesRegistry())
    _emit(mapper, MessageType.NBIRTH, _metric("t", "Cel"), _metric("old", "V"))
    _emit(mapper, MessageType.DBIRTH, _metric("x", "m"), device="d1")
    # A new NBIRTH (e.g. answering a Rebirth) ends the device sessions too: they send DBIRTH again.
    _emit(mapper, MessageType.NBIRTH, _metric("t"), _metric("new", "A"))
    assert _emit(mapper, MessageType.NDATA, _metric("t"), _metric("new")) == {"t": "Cel", "new": "A"}
    assert mapper._units == {NODE: {None: {"t": "Cel", "new": "A"}}}
    assert mapper._unit_count == 2


def test_deaths_forget_units() -> None:
    mapper = SparkplugMapper(SeriesRegistry())
    _emit(mapper, MessageType.NBIRTH, _metric("t", "Cel"))
    _emit(mapper, MessageType.DBIRTH, _metric("x", "m"), device="d1")
    _emit(mapper, MessageType.DBIRTH, _metric("y", "s"), device="d2")
    _death(mapper, LifecycleKind.DDEATH, "d1")
    assert mapper._units == {NODE: {None: {"t": "Cel"}, "d2": {"y": "s"}}}
    _death(mapper, LifecycleKind.NDEATH)
    _death(mapper, LifecycleKind.DDEATH, "d2")  # follows the NDEATH: nothing left to forget
    assert mapper._units == {}
    assert mapper._unit_count == 0


def test_nodes_coming_and_going_leave_nothing_behind() -> None:
    mapper = SparkplugMapper(SeriesRegistry())
    for i in range(1000):
        node = EdgeNodeKey("G", f"N{i}")
        _emit(mapper, MessageType.NBIRTH, _metric("t", "Cel"), node=node)
        mapper.map_lifecycle(EmitLifecycle(LifecycleKind.NDEATH, node, None, T0, {}), received_ns=0)
    assert mapper._units == {} and mapper._unit_count == 0


def test_units_beyond_the_cap_are_forgotten_and_the_new_birth_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_sparkplug, "_MAX_UNITS", 3)
    mapper = SparkplugMapper(SeriesRegistry())
    _emit(mapper, MessageType.NBIRTH, _metric("a", "V"), _metric("b", "A"), node=EdgeNodeKey("G", "N1"))
    _emit(mapper, MessageType.NBIRTH, _metric("c", "W"), node=EdgeNodeKey("G", "N2"))
    assert mapper._unit_count == 3
    _emit(mapper, MessageType.NBIRTH, _metric("d", "Hz"), node=EdgeNodeKey("G", "N3"))
    assert mapper._units == {EdgeNodeKey("G", "N3"): {None: {"d": "Hz"}}}
    assert mapper._unit_count == 1


def test_series_the_registry_refuses_are_not_remembered() -> None:
    registry = SeriesRegistry(max_series=1)
    mapper = SparkplugMapper(registry)
    _emit(mapper, MessageType.NBIRTH, _metric("kept"))
    for n in range(50):  # a fleet inventing metric names once the registry is full
        assert _emit(mapper, MessageType.NDATA, _metric(f"new{n}")) == {}
    assert len(mapper._series) == 1
    assert _emit(mapper, MessageType.NDATA, _metric("kept")) == {"kept": ""}
