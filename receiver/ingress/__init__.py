"""ingress: transports only (HTTP routes; MQTT sessions later)."""

from ._body import decode_content, read_limited
from ._bulkdata_http import BulkDataEndpoint
from ._cdr_http import CdrUploadEndpoint
from ._device_json import DeviceJsonEndpoint
from ._guard import RequestGuard
from ._lenient_http import LenientHttpToolsProtocol, escape_request_target
from ._mqtt import MqttSession, MqttSettings
from ._mqtt_inputs import MqttInputs
from ._query import parse_query, split_target
from ._usp_mqtt import UspBulkDataInput

__all__ = [
    "BulkDataEndpoint",
    "CdrUploadEndpoint",
    "DeviceJsonEndpoint",
    "LenientHttpToolsProtocol",
    "MqttInputs",
    "MqttSession",
    "MqttSettings",
    "RequestGuard",
    "UspBulkDataInput",
    "decode_content",
    "escape_request_target",
    "parse_query",
    "read_limited",
    "split_target",
]
