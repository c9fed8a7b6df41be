"""HostSessions: the intent of the Sparkplug TCK host-application assertions that need no broker.

Each test names the numbered requirement(s) it checks. Payloads are built with the generated
protobuf classes; the session is driven with explicit ``now_ms`` values.
"""

from collections.abc import Sequence

import pytest
from sparkplug_builders import T0, M, double, encode, nbirth, nbirth_payload, ndeath

from receiver.decode.sparkplug import (
    Action,
    DataType,
    EdgeNodeKey,
    EmitLifecycle,
    EmitMetrics,
    HostSessions,
    LifecycleKind,
    MessageType,
    SendRebirth,
    SparkplugDecodeError,
    SparkplugSessionConfig,
)

D = DataType
K = LifecycleKind
NODE = EdgeNodeKey("G1", "E1")
NB = "spBv1.0/G1/NBIRTH/E1"
ND = "spBv1.0/G1/NDATA/E1"
NX = "spBv1.0/G1/NDEATH/E1"
DB = "spBv1.0/G1/DBIRTH/E1/D1"
DD = "spBv1.0/G1/DDATA/E1/D1"
DX = "spBv1.0/G1/DDEATH/E1/D1"
NOW = 10_000_000


def kinds(actions: Sequence[Action]) -> list[str]:
    out = []
    for action in actions:
        if isinstance(action, EmitLifecycle):
            out.append(str(action.kind))
        elif isinstance(action, EmitMetrics):
            out.append(f"metrics:{action.message_type}")
        else:
            out.append("SEND_REBIRTH")
    return out


def emitted(actions: Sequence[Action]) -> list[tuple[str, object]]:
    return [(m.name, m.value) for a in actions if isinstance(a, EmitMetrics) for m in a.metrics]


def lifecycle(actions: Sequence[Action], kind: LifecycleKind) -> list[EmitLifecycle]:
    return [a for a in actions if isinstance(a, EmitLifecycle) and a.kind is kind]


def rebirths(actions: Sequence[Action]) -> list[SendRebirth]:
    return [a for a in actions if isinstance(a, SendRebirth)]


def ndata(seq: int, value: float, alias: int = 10) -> bytes:
    return encode(double(None, value, alias, typed=False), seq=seq)


def born(config: SparkplugSessionConfig | None = None, seq: int = 0, bd_seq: int = 3) -> HostSessions:
    """A session with node E1 born (alias 10 = 'Temp', Double) and device D1 born (alias 20 = 'Level')."""
    sessions = HostSessions(config)
    sessions.on_message(NB, nbirth(seq, bd_seq, double("Temp", 1.0, 10)), NOW)
    sessions.on_message(DB, encode(M("Level", 20, D.Int16, "int_value", 5), seq=(seq + 1) % 256), NOW)
    return sessions


def test_nbirth_brings_the_node_online_and_emits_every_metric() -> None:
    # tck-id-topics-nbirth-metric-reqs, tck-id-topics-nbirth-bdseq-included, tck-id-payloads-nbirth-seq
    sessions = HostSessions()
    actions = sessions.on_message(NB, nbirth(0, 7, double("Temp", 21.5, 10)), NOW)
    assert kinds(actions) == ["nbirth", "metrics:NBIRTH"]
    (birth,) = lifecycle(actions, K.NBIRTH)
    assert (birth.node, birth.timestamp_ms, birth.attrs["bdSeq"], birth.attrs["seq"]) == (NODE, T0, 7, 0)
    assert emitted(actions) == [("bdSeq", 7), ("Node Control/Rebirth", False), ("Temp", 21.5)]
    assert sessions.is_online(NODE)


def test_ndata_in_order_resolves_aliases_from_the_nbirth() -> None:
    # tck-id-payloads-alias-birth-requirement, tck-id-payloads-alias-data-cmd-requirement
    sessions = born()
    actions = sessions.on_message(ND, ndata(2, 22.0), NOW + 1)
    assert kinds(actions) == ["metrics:NDATA"]
    (emit,) = actions
    assert isinstance(emit, EmitMetrics)
    assert (emit.node, emit.device_id, emit.seq, emit.timestamp_ms) == (NODE, None, 2, T0)
    assert emitted(actions) == [("Temp", 22.0)]


def test_dbirth_aliases_join_the_node_table_for_that_device() -> None:
    # tck-id-payloads-alias-uniqueness: one alias space per edge node, each alias owned by one scope
    sessions = born()
    assert sessions.is_online(NODE, "D1")
    actions = sessions.on_message(DD, encode(M(None, 20, None, "int_value", 0xFFFF), seq=2), NOW)
    assert emitted(actions) == [("Level", -1)]  # Int16 from the DBIRTH, sign-extended
    (emit,) = actions
    assert isinstance(emit, EmitMetrics) and emit.device_id == "D1"


def test_alias_of_the_node_used_in_ddata_is_unknown() -> None:
    sessions = born()
    actions = sessions.on_message(DD, encode(M(None, 10, None, "double_value", 1.0), seq=2), NOW)
    assert kinds(actions) == ["unknown_alias", "SEND_REBIRTH", "rebirth_requested"]


def test_dbirth_reusing_a_node_alias_is_reported_and_keeps_the_first_owner() -> None:
    # tck-id-payloads-alias-uniqueness
    sessions = born()
    actions = sessions.on_message(
        "spBv1.0/G1/DBIRTH/E1/D2", encode(M("Other", 10, D.Boolean, "boolean_value", True), seq=2), NOW
    )
    (conflict,) = lifecycle(actions, K.ALIAS_CONFLICT)
    assert conflict.attrs["aliases"] == (10,)
    assert emitted(sessions.on_message(ND, ndata(3, 5.0), NOW)) == [("Temp", 5.0)]


def test_reordered_messages_within_the_timeout_are_processed_in_seq_order() -> None:
    # tck-id-operational-behavior-host-reordering-param, -start, -success
    sessions = born(SparkplugSessionConfig(reorder_timeout_ms=2000))
    assert sessions.on_message(ND, ndata(3, 3.0), NOW) == []  # seq 2 missing: buffered, timer starts
    assert sessions.next_deadline_ms() == NOW + 2000
    assert sessions.tick(NOW + 1999) == []
    actions = sessions.on_message(ND, ndata(2, 2.0), NOW + 500)
    assert emitted(actions) == [("Temp", 2.0), ("Temp", 3.0)]
    assert sessions.next_deadline_ms() is None  # timer terminated
    assert rebirths(sessions.tick(NOW + 10_000)) == []
    assert emitted(sessions.on_message(ND, ndata(4, 4.0), NOW + 600)) == [("Temp", 4.0)]


def test_gap_not_filled_before_the_timeout_requests_a_rebirth() -> None:
    # tck-id-operational-behavior-host-reordering-rebirth
    sessions = born(SparkplugSessionConfig(reorder_timeout_ms=2000))
    sessions.on_message(ND, ndata(4, 4.0), NOW)
    sessions.on_message(ND, ndata(3, 3.0), NOW + 100)  # seq 2 never comes
    actions = sessions.tick(NOW + 2000)
    assert kinds(actions) == [
        "seq_gap",
        "SEND_REBIRTH",
        "rebirth_requested",
        "metrics:NDATA",
        "metrics:NDATA",
    ]
    (request,) = rebirths(actions)
    assert (request.node, request.reason, request.topic) == (NODE, "seq_gap", "spBv1.0/G1/NCMD/E1")
    assert lifecycle(actions, K.SEQ_GAP)[0].attrs == {"expected": 2, "buffered": 2}
    assert emitted(actions) == [("Temp", 3.0), ("Temp", 4.0)]  # what did arrive is kept, in order
    assert emitted(sessions.on_message(ND, ndata(5, 5.0), NOW + 2001)) == [("Temp", 5.0)]


def test_zero_reorder_timeout_requests_a_rebirth_at_once() -> None:
    # tck-id-operational-behavior-host-reordering-param: "In these cases this timeout could be zero"
    sessions = born(SparkplugSessionConfig(reorder_timeout_ms=0))
    actions = sessions.on_message(ND, ndata(5, 5.0), NOW)
    assert kinds(actions) == ["seq_gap", "SEND_REBIRTH", "rebirth_requested", "metrics:NDATA"]


def test_seq_wraps_from_255_to_0() -> None:
    # tck-id-payloads-sequence-num-incrementing, tck-id-topics-ndata-seq-num
    sessions = born(seq=253)  # NBIRTH 253, DBIRTH 254
    assert emitted(sessions.on_message(ND, ndata(255, 1.0), NOW)) == [("Temp", 1.0)]
    assert emitted(sessions.on_message(ND, ndata(0, 2.0), NOW)) == [("Temp", 2.0)]
    assert emitted(sessions.on_message(ND, ndata(1, 3.0), NOW)) == [("Temp", 3.0)]
    assert sessions.next_deadline_ms() is None


def test_reordering_across_the_wrap() -> None:
    sessions = born(seq=253)
    assert sessions.on_message(ND, ndata(0, 0.0), NOW) == []
    assert emitted(sessions.on_message(ND, ndata(255, 255.0), NOW)) == [("Temp", 255.0), ("Temp", 0.0)]


def test_message_with_a_seq_already_passed_is_dropped_as_late() -> None:
    sessions = born()
    sessions.on_message(ND, ndata(2, 2.0), NOW)
    actions = sessions.on_message(ND, ndata(2, 2.0), NOW)  # duplicate delivery
    (late,) = lifecycle(actions, K.LATE_MESSAGE)
    assert late.attrs == {"seq": 2, "expected": 3}
    assert emitted(actions) == []


def test_ndeath_with_matching_bdseq_marks_node_and_devices_offline_and_stale() -> None:
    # tck-id-operational-behavior-edge-node-termination-host-action-ndeath-node-offline,
    # -ndeath-node-tags-stale, -ndeath-devices-offline, -ndeath-devices-tags-stale: host time
    sessions = born(bd_seq=3)
    actions = sessions.on_message(NX, ndeath(3), NOW + 5)
    assert kinds(actions) == ["ndeath", "stale", "ddeath", "stale"]
    node_death, node_stale, device_death, device_stale = actions
    assert isinstance(node_death, EmitLifecycle) and node_death.timestamp_ms == NOW + 5
    assert isinstance(node_stale, EmitLifecycle)
    assert node_stale.attrs["metrics"] == ("bdSeq", "Node Control/Rebirth", "Temp")
    assert isinstance(device_death, EmitLifecycle) and device_death.device_id == "D1"
    assert isinstance(device_stale, EmitLifecycle)
    assert (device_stale.device_id, device_stale.attrs["metrics"], device_stale.timestamp_ms) == (
        "D1",
        ("Level",),
        NOW + 5,
    )
    assert not sessions.is_online(NODE)


def test_ndeath_with_another_bdseq_is_a_stale_will_and_is_ignored() -> None:
    # tck-id-payloads-ndeath-bdseq, tck-id-topics-nbirth-bdseq-matching (operational behaviour:
    # "NDEATH messages arriving after a new/next NBIRTH")
    sessions = born(bd_seq=4)
    actions = sessions.on_message(NX, ndeath(3), NOW)
    (ignored,) = actions
    assert isinstance(ignored, EmitLifecycle) and ignored.kind is K.NDEATH_IGNORED
    assert ignored.attrs == {"reason": "bdseq_mismatch", "bdSeq": 3, "current_bdSeq": 4}
    assert sessions.is_online(NODE, "D1")
    assert emitted(sessions.on_message(ND, ndata(2, 9.0), NOW)) == [("Temp", 9.0)]


def test_duplicate_ndeath_after_an_intentional_disconnect_is_ignored() -> None:
    # Edge Node Session Termination: the Will delivered after a published NDEATH "MUST be ignored"
    sessions = born(bd_seq=3)
    sessions.on_message(NX, ndeath(3), NOW)
    (ignored,) = sessions.on_message(NX, ndeath(3), NOW + 1)
    assert isinstance(ignored, EmitLifecycle) and ignored.attrs["reason"] == "no_session"


def test_ddeath_marks_the_device_stale_with_the_payload_timestamp() -> None:
    # tck-id-operational-behavior-edge-node-termination-host-action-ddeath-devices-offline, -tags-stale
    sessions = born()
    actions = sessions.on_message(DX, encode(seq=2, timestamp=T0 + 42), NOW)
    assert kinds(actions) == ["ddeath", "stale"]
    death, stale = actions
    assert isinstance(death, EmitLifecycle) and isinstance(stale, EmitLifecycle)
    assert (death.device_id, death.timestamp_ms) == ("D1", T0 + 42)
    assert (stale.attrs["metrics"], stale.timestamp_ms) == (("Level",), T0 + 42)
    assert sessions.is_online(NODE) and not sessions.is_online(NODE, "D1")
    # its aliases are released with it: a new DBIRTH may bind alias 20 again without conflict
    rebirth = sessions.on_message(DB, encode(M("Level", 20, D.Int16, "int_value", 1), seq=3), NOW)
    assert lifecycle(rebirth, K.ALIAS_CONFLICT) == []


def test_unknown_alias_requests_a_rebirth() -> None:
    # Host Application Receive Data: "an alias value that was not included in the ... NBIRTH or DBIRTH"
    sessions = born()
    actions = sessions.on_message(
        ND, encode(double(None, 1.0, 10, typed=False), double(None, 2.0, 99), seq=2), NOW
    )
    assert kinds(actions) == ["unknown_alias", "SEND_REBIRTH", "rebirth_requested", "metrics:NDATA"]
    assert lifecycle(actions, K.UNKNOWN_ALIAS)[0].attrs == {"aliases": (99,)}
    assert emitted(actions) == [("Temp", 1.0)]


def test_unknown_alias_rebirth_can_be_disabled() -> None:
    sessions = born(SparkplugSessionConfig(rebirth_on_unknown_alias=False))
    actions = sessions.on_message(ND, ndata(2, 1.0, alias=99), NOW)
    assert kinds(actions) == ["unknown_alias"]


def test_data_before_any_birth_requests_a_rebirth_after_the_reorder_timeout() -> None:
    # Host Application Receive Data: "Receiving any DBIRTH, NDATA, DDATA, or DDEATH before ... NBIRTH"
    sessions = HostSessions(SparkplugSessionConfig(reorder_timeout_ms=1000))
    assert sessions.on_message(ND, ndata(17, 1.0), NOW) == []
    assert sessions.tick(NOW + 999) == []
    actions = sessions.tick(NOW + 1000)
    assert kinds(actions) == ["data_before_birth", "SEND_REBIRTH", "rebirth_requested"]
    assert rebirths(actions)[0].reason == "data_before_birth"


def test_dbirth_overtaking_its_nbirth_is_processed_after_it_without_a_rebirth() -> None:
    # tck-id-payloads-dbirth-order: births are sent in order, but may arrive out of order
    sessions = HostSessions()
    assert sessions.on_message(DB, encode(M("Level", 20, D.Int16, "int_value", 5), seq=1), NOW) == []
    actions = sessions.on_message(NB, nbirth(0, 1, double("Temp", 1.0, 10)), NOW + 10)
    assert kinds(actions) == ["nbirth", "metrics:NBIRTH", "dbirth", "metrics:DBIRTH"]
    assert sessions.tick(NOW + 60_000) == []


def test_data_before_birth_rebirth_can_be_disabled() -> None:
    sessions = HostSessions(SparkplugSessionConfig(reorder_timeout_ms=0, rebirth_on_data_before_birth=False))
    assert kinds(sessions.on_message(ND, ndata(1, 1.0), NOW)) == ["data_before_birth"]


def test_ddata_before_its_dbirth_requests_a_rebirth() -> None:
    # Host Application Receive Data: "a metric in a DDATA message that was not included in the ... DBIRTH"
    sessions = HostSessions()
    sessions.on_message(NB, nbirth(0, 1), NOW)
    actions = sessions.on_message(
        "spBv1.0/G1/DDATA/E1/D9", encode(M("x", None, D.Int32, "int_value", 1), seq=1), NOW
    )
    assert kinds(actions) == ["data_before_birth", "SEND_REBIRTH", "rebirth_requested"]
    assert lifecycle(actions, K.DATA_BEFORE_BIRTH)[0].device_id == "D9"


def test_rebirth_requests_are_throttled_per_node() -> None:
    sessions = born(SparkplugSessionConfig(rebirth_min_interval_ms=5000))
    assert len(rebirths(sessions.on_message(ND, ndata(2, 1.0, alias=99), NOW))) == 1
    assert rebirths(sessions.on_message(ND, ndata(3, 1.0, alias=99), NOW + 4999)) == []
    assert sessions.rebirths_throttled == 1
    assert len(rebirths(sessions.on_message(ND, ndata(4, 1.0, alias=99), NOW + 5000))) == 1
    # another node has its own budget
    other = "spBv1.0/G1/NDATA/E2"
    assert (
        len(rebirths(sessions.on_message(other, ndata(1, 1.0), NOW + 5000) + sessions.tick(NOW + 8000))) == 1
    )


def test_new_nbirth_resets_aliases_and_leaves_old_devices_stale_until_their_dbirth() -> None:
    # tck-id-operational-behavior-data-commands-rebirth-action-2/-3 (the answer to a rebirth),
    # topics chapter NBIRTH: devices "still have STALE metric quality until ... the new DBIRTH"
    sessions = born(bd_seq=3)
    actions = sessions.on_message(NB, nbirth(0, 3, double("Temp", 1.0, 11)), NOW)
    assert kinds(actions) == ["stale", "nbirth", "metrics:NBIRTH"]
    stale = actions[0]
    assert isinstance(stale, EmitLifecycle) and (stale.device_id, stale.attrs["metrics"]) == (
        "D1",
        ("Level",),
    )
    assert not sessions.is_online(NODE, "D1")
    assert (
        kinds(sessions.on_message(ND, ndata(1, 2.0, alias=10), NOW))[0] == "unknown_alias"
    )  # old alias gone
    assert emitted(sessions.on_message(ND, ndata(2, 3.0, alias=11), NOW)) == [("Temp", 3.0)]


def test_buffered_messages_of_the_old_session_are_processed_before_a_new_nbirth() -> None:
    sessions = born()
    sessions.on_message(ND, ndata(3, 3.0), NOW)  # seq 2 missing
    actions = sessions.on_message(NB, nbirth(0, 3, double("Temp", 1.0, 10)), NOW + 1)
    assert emitted(actions)[0] == ("Temp", 3.0)
    assert sessions.next_deadline_ms() is None


def test_malformed_payload_is_reported_and_counts_as_a_lost_message() -> None:
    sessions = born(SparkplugSessionConfig(reorder_timeout_ms=100))
    actions = sessions.on_message(ND, b"\xff\xff\xff", NOW)
    (bad,) = actions
    assert isinstance(bad, EmitLifecycle) and bad.kind is K.MALFORMED
    assert bad.attrs["message_type"] == "NDATA" and bad.attrs["reason"]
    sessions.on_message(ND, ndata(3, 3.0), NOW)
    assert rebirths(sessions.tick(NOW + 100))[0].reason == "seq_gap"


def test_decode_error_inside_an_ordered_message_consumes_its_seq() -> None:
    sessions = born()
    actions = sessions.on_message(ND, encode(M("x", None, D.Int32, "string_value", "1"), seq=2), NOW)
    assert kinds(actions) == ["malformed"]
    assert emitted(sessions.on_message(ND, ndata(3, 3.0), NOW)) == [("Temp", 3.0)]


def test_nbirth_without_seq_is_malformed_and_asks_for_a_rebirth() -> None:
    # tck-id-payloads-nbirth-seq
    sessions = HostSessions()
    actions = sessions.on_message(NB, encode(M("bdSeq", None, D.Int64, "long_value", 0)), NOW)
    assert kinds(actions) == ["malformed", "SEND_REBIRTH", "rebirth_requested"]
    assert not sessions.is_online(NODE)


def test_host_disconnect_marks_everything_stale() -> None:
    # Host Application Session Establishment step 4: metrics become STALE when the host loses the server
    sessions = born()
    actions = sessions.on_host_disconnected(NOW)
    assert kinds(actions) == ["ndeath", "stale", "ddeath", "stale"]
    assert all(isinstance(a, EmitLifecycle) and a.attrs["cause"] == "host_disconnected" for a in actions)
    assert not sessions.is_online(NODE)


def test_template_definitions_are_kept_per_node() -> None:
    # tck-id-payloads-template-definition-nbirth-only, -is-definition
    birth = nbirth_payload(0, 1)
    definition = M("MotorType", None, D.Template).add_to(birth).template_value
    definition.is_definition = True
    M("Speed", None, D.Float, "float_value", 0.0).add_to(definition)
    sessions = HostSessions()
    actions = sessions.on_message(NB, birth.SerializeToString(), NOW)
    assert "MotorType" not in [name for name, _ in emitted(actions)]
    assert dict(sessions.template_definitions(NODE)["MotorType"].members) == {"Speed": D.Float}


def test_state_and_command_topics_are_not_session_traffic() -> None:
    sessions = HostSessions()
    assert sessions.on_message("spBv1.0/STATE/host1", b'{"online":true,"timestamp":1}', NOW) == []
    assert sessions.on_message("spBv1.0/G1/NCMD/E1", b"\xff", NOW) == []
    assert sessions.on_message("spBv1.0/G1/DCMD/E1/D1", b"", NOW) == []


def test_invalid_topic_raises() -> None:
    with pytest.raises(SparkplugDecodeError):
        HostSessions().on_message("spBv1.0/G1/NDATA", b"", NOW)


def test_emit_metrics_carry_the_message_type() -> None:
    sessions = born()
    (emit,) = sessions.on_message(DD, encode(M(None, 20, None, "int_value", 1), seq=2), NOW)
    assert isinstance(emit, EmitMetrics) and emit.message_type is MessageType.DDATA


def test_config_validation_names_the_key_and_value() -> None:
    assert SparkplugSessionConfig().validate() == []
    problems = SparkplugSessionConfig(reorder_timeout_ms=-1, rebirth_min_interval_ms=-5).validate()
    assert problems == [
        "reorder_timeout_ms must be >= 0, got -1",
        "rebirth_min_interval_ms must be >= 0, got -5",
    ]
