"""LwM2M semantics over MQTT (seed 001): ``lwm2m/{endpoint}/reg|update|dereg|resp/...`` with JSON.

Resource values may arrive as an object tree ``{"objects": {"3303": {"0": {"5700": 23.5}}}}``, as
``{"path": "/3303/0/5700", "value": 23.5}`` (path also taken from the topic after ``resp/``), or as
LwM2M SenML JSON ``[{"bn": "/3303/0/", "n": "5700", "v": 23.5}]``."""

from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from ._errors import DecodeError

Lwm2mKind = Literal["register", "update", "deregister", "response"]
_KINDS: dict[str, Lwm2mKind] = {
    "reg": "register",
    "register": "register",
    "update": "update",
    "upd": "update",
    "dereg": "deregister",
    "deregister": "deregister",
    "resp": "response",
}
Lwm2mValue = int | float | bool | str


@dataclass(frozen=True, slots=True)
class Lwm2mResource:
    object_id: int
    instance: int
    resource_id: int
    value: Lwm2mValue
    resource_instance: int | None = None


@dataclass(slots=True)
class Lwm2mMessage:
    endpoint: str
    kind: Lwm2mKind
    resources: list[Lwm2mResource] = field(default_factory=list)
    attributes: dict[str, Lwm2mValue] = field(default_factory=dict)  # lifetime, version, binding, ...
    time_ms: int | None = None


class Lwm2mDecodeError(DecodeError):
    pass


def decode_lwm2m(topic: str, payload: bytes) -> Lwm2mMessage:
    parts = topic.split("/")
    if len(parts) < 3 or parts[0] != "lwm2m" or not parts[1] or parts[2] not in _KINDS:
        raise Lwm2mDecodeError(
            f"not an LwM2M topic: {topic!r} (expected lwm2m/{{endpoint}}/reg|update|dereg|resp/...)"
        )
    message = Lwm2mMessage(endpoint=parts[1], kind=_KINDS[parts[2]])
    if not payload.strip():
        return message  # a bare deregistration or update carries nothing else
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise Lwm2mDecodeError(f"{topic}: malformed JSON: {exc}") from exc
    topic_path = "/".join(parts[3:]) if message.kind == "response" else ""
    if isinstance(document, list):
        _senml(document, message)
    elif isinstance(document, dict):
        _object(document, message, topic_path)
    else:
        raise Lwm2mDecodeError(f"{topic}: payload must be a JSON object or SenML array")
    return message


def _object(document: dict[str, Any], message: Lwm2mMessage, topic_path: str) -> None:
    endpoint = document.get("endpoint") or document.get("ep")
    if isinstance(endpoint, str) and endpoint and endpoint != message.endpoint:
        raise Lwm2mDecodeError(f"payload endpoint {endpoint!r} differs from the topic's {message.endpoint!r}")
    for key in ("lifetime", "version", "bindingMode", "binding", "smsNumber", "queueMode"):
        value = document.get(key)
        if isinstance(value, int | float | bool | str):
            message.attributes[key] = value
    if isinstance(document.get("timestamp"), int | float):
        message.time_ms = int(document["timestamp"])
    objects = document.get("objects")
    if isinstance(objects, dict):
        _tree(objects, message)
    elif objects is not None:
        raise Lwm2mDecodeError('"objects" must be an object {objectId: {instance: {resourceId: value}}}')
    path = document.get("path", topic_path)
    if "value" in document:
        if not isinstance(path, str) or not path:
            raise Lwm2mDecodeError('"value" needs a "path" (or a resp/{object}/{instance}/{resource} topic)')
        _add(message, path, document["value"])


def _tree(objects: dict[str, Any], message: Lwm2mMessage) -> None:
    for object_id, instances in objects.items():
        if not isinstance(instances, dict):
            raise Lwm2mDecodeError(f"object {object_id}: expected {{instance: {{resource: value}}}}")
        for instance, resources in instances.items():
            if not isinstance(resources, dict):
                raise Lwm2mDecodeError(f"object {object_id}/{instance}: expected {{resource: value}}")
            for resource_id, value in resources.items():
                _add(message, f"{object_id}/{instance}/{resource_id}", value)


def _senml(records: list[Any], message: Lwm2mMessage) -> None:
    base = ""
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise Lwm2mDecodeError(f"SenML record {index} must be an object")
        base = record.get("bn", base)
        for key in ("v", "vs", "vb"):
            if key in record:
                _add(message, f"{base}{record.get('n', '')}", record[key])
                break


def _add(message: Lwm2mMessage, path: str, value: Any) -> None:
    ids = [part for part in path.strip("/").split("/") if part]
    if len(ids) != 3 or not all(part.isdigit() for part in ids):
        raise Lwm2mDecodeError(f"resource path {path!r} must be /object/instance/resource with numbers")
    if value is None:
        return  # a null carries no measurement
    object_id, instance, resource_id = (int(part) for part in ids)
    if isinstance(value, dict):  # a multi-instance resource: {resourceInstance: value}
        for resource_instance, item in value.items():
            if not str(resource_instance).isdigit() or not isinstance(item, int | float | bool | str):
                raise Lwm2mDecodeError(
                    f"resource {path}: instance {resource_instance!r} must map a number to a scalar"
                )
            message.resources.append(
                Lwm2mResource(object_id, instance, resource_id, item, int(resource_instance))
            )
    elif isinstance(value, int | float | bool | str):
        message.resources.append(Lwm2mResource(object_id, instance, resource_id, value))
    else:
        raise Lwm2mDecodeError(f"resource {path}: value must be a scalar or {{instance: scalar}}")
