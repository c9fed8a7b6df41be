"""Sparkplug B 3.0 for a Host Application: topics, payload decoding, session state, STATE messages.

Pure: no MQTT I/O and no clock reads (callers pass ``now_ms``). The protobuf bindings are generated
from ``sparkplug_b.proto`` into ``_pb/`` by ``python tools/gen_protos.py``.
"""

try:
    from ._pb import sparkplug_b_pb2 as _sparkplug_b_pb2  # noqa: F401  (fail early, with advice)
except ModuleNotFoundError as _exc:
    if _exc.name is None or not _exc.name.startswith(f"{__name__}._pb"):
        raise
    raise ImportError(
        f"{__name__}: the generated protobuf bindings ({__name__}._pb) are missing; "
        "run `python tools/gen_protos.py` from the repository root (make protos does it too)"
    ) from _exc

from ._actions import Action, AttrValue, EmitLifecycle, EmitMetrics, EmitValues, LifecycleKind, SendRebirth
from ._arrays import ARRAY_TYPES, pack_array, unpack_array
from ._commands import REBIRTH_METRIC, encode_rebirth_ncmd
from ._errors import SparkplugDecodeError
from ._model import (
    FLOAT_TYPES,
    INTEGER_TYPES,
    AliasEntry,
    DataType,
    DecodedDataSet,
    DecodedMetric,
    DecodedPayload,
    MetricValue,
    PropertyScalar,
    ScalarValue,
    TemplateDefinition,
)
from ._payload import decode_payload
from ._session import HostSessions, SparkplugSessionConfig, default_sparkplug_session_config
from ._shape import Shape
from ._state import HostState, decode_state, encode_state, state_topic
from ._topic import NAMESPACE, EdgeNodeKey, MessageType, SparkplugTopic, StateTopic, ncmd_topic, parse_topic

__all__ = [
    "ARRAY_TYPES",
    "FLOAT_TYPES",
    "INTEGER_TYPES",
    "NAMESPACE",
    "REBIRTH_METRIC",
    "Action",
    "AliasEntry",
    "AttrValue",
    "DataType",
    "DecodedDataSet",
    "DecodedMetric",
    "DecodedPayload",
    "EdgeNodeKey",
    "EmitLifecycle",
    "EmitMetrics",
    "EmitValues",
    "HostSessions",
    "HostState",
    "LifecycleKind",
    "MessageType",
    "MetricValue",
    "PropertyScalar",
    "ScalarValue",
    "SendRebirth",
    "Shape",
    "SparkplugDecodeError",
    "SparkplugSessionConfig",
    "SparkplugTopic",
    "StateTopic",
    "TemplateDefinition",
    "decode_payload",
    "decode_state",
    "default_sparkplug_session_config",
    "encode_rebirth_ncmd",
    "encode_state",
    "ncmd_topic",
    "pack_array",
    "parse_topic",
    "state_topic",
    "unpack_array",
]
