"""ingress: transports only (HTTP routes; MQTT sessions later)."""

from ._body import decode_content, read_limited
from ._bulkdata_http import BulkDataEndpoint
from ._lenient_http import LenientHttpToolsProtocol, escape_request_target
from ._mqtt import MqttSession, MqttSettings
from ._mqtt_inputs import MqttInputs
from ._query import parse_query, split_target

__all__ = [
    "BulkDataEndpoint",
    "LenientHttpToolsProtocol",
    "MqttInputs",
    "MqttSession",
    "MqttSettings",
    "decode_content",
    "escape_request_target",
    "parse_query",
    "read_limited",
    "split_target",
]
