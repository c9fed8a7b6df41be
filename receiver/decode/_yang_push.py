"""YANG-push notifications (RFC 8641) in JSON (RFC 7951) -> one typed notification per body.

Accepted shapes:

- RFC 8040 §6.4 / RFC 8639 envelope ``{"ietf-restconf:notification": {"eventTime": ...,
  "ietf-yang-push:push-change-update": {"id": ..., "datastore-changes": {"yang-patch": {...}}}}}``
  or ``push-update`` with ``datastore-contents``. Sequencing per
  draft-ietf-netconf-notif-sequencing (``...:sysName``, ``...:sequence-number``) is kept.
- Seed 004's NCMP CM AVC event: ``{"eventId", "eventCorrelationId", "eventTime", "eventSource",
  "eventTarget", "eventType", "eventSchema", "eventSchemaVersion", "event": {"push-change-update":
  {"datastore-changes": {"ietf-yang-patch:yang-patch": {"patch-id", "edit": [...]}}}}}``, and its
  later CloudEvents form whose ``data`` holds the same ``push-change-update`` (header fields
  ``id``/``time``/``correlationid`` when structured).
- A bare ``{"ietf-yang-push:push-change-update": ...}`` (no envelope, no event time).

The edits follow RFC 8072 (yang-patch): edit-id, operation, target, optional point/where/value. A
``push-update`` becomes one ``replace`` edit per top-level member of its contents, so mapping has
one shape to walk.

Device identity (``device_id``), first found: a cm handle id in the payload (``cmHandleId``), the
notification's ``sysName``/``hostname``, the caller's ``default_device_id`` (e.g. the Kafka key,
which seed 004 sets to the cm handle so one handle's events stay ordered on one partition, or the
authenticated sender), then the ``ManagedElement`` key in the edit targets.
"""

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote

import orjson

from ._errors import DecodeError
from ._timestamps import parse_timestamp_ns

YangPushKind = Literal["push-update", "push-change-update"]
YangOperation = Literal["create", "delete", "insert", "merge", "move", "replace", "remove"]
OPERATIONS: frozenset[str] = frozenset({"create", "delete", "insert", "merge", "move", "replace", "remove"})
_NEEDS_VALUE = frozenset({"create", "insert", "merge", "replace"})  # RFC 8072 §2.5 "value" when-rule
_WHERE = frozenset({"before", "after", "first", "last"})

_ENVELOPES = ("ietf-restconf:notification", "ietf-notification:notification")
_CM_HANDLE_FIELDS = ("cmHandleId", "cmhandleId", "cmHandle", "cm-handle-id")
_MANAGED_ELEMENTS = frozenset({"ManagedElement", "managed-element", "managedElement"})


@dataclass(frozen=True, slots=True)
class YangEdit:
    edit_id: str
    operation: YangOperation
    target: str
    value: Any = None  # the RFC 7951 JSON value (anydata); None for delete/remove/move
    point: str | None = None
    where: str | None = None


@dataclass(frozen=True, slots=True)
class YangPushNotification:
    """One notification. Ordering per device: ``event_time_ns``, then ``sequence`` when the sender
    numbers its notifications, then ``patch_id`` and the order of ``edits`` (RFC 8072 applies
    edits in order)."""

    kind: YangPushKind
    device_id: str
    edits: tuple[YangEdit, ...]
    event_time_ns: int | None = None
    subscription_id: int | str | None = None
    patch_id: str | None = None
    sequence: int | None = None
    event_id: str | None = None
    correlation_id: str | None = None
    managed_element_id: str | None = None
    incomplete: bool = False  # RFC 8641 incomplete-update: some changes were lost


class YangPushDecodeError(DecodeError):
    pass


@dataclass(slots=True)
class _Header:
    """Envelope facts gathered before the push body is read."""

    event_time: Any = None
    sequence: Any = None
    device_id: str | None = None
    event_id: str | None = None
    correlation_id: str | None = None


def decode_yang_push(body: bytes, *, default_device_id: str | None = None) -> YangPushNotification:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise YangPushDecodeError(f"malformed JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise YangPushDecodeError("a YANG-push notification must be a JSON object")
    header = _Header(device_id=_cm_handle(document))
    kind, content = _find_push(document, header)
    if not isinstance(content, dict):
        raise YangPushDecodeError(f"{kind} must be an object")

    if kind == "push-change-update":
        patch_id, edits = _change_edits(content)
    else:
        patch_id, edits = None, _update_edits(content)
    event_time_ns = _time(header.event_time)
    subscription_id = _subscription_id(content.get("id"))
    sequence = _sequence(header.sequence)
    managed_element = _managed_element(edits)
    device_id = header.device_id or default_device_id or managed_element
    if not device_id:
        raise YangPushDecodeError(
            "no device identity: expected cmHandleId, sysName, a ManagedElement key in the edit"
            " targets, or one given by the transport"
        )
    return YangPushNotification(
        kind=kind,
        device_id=device_id,
        edits=edits,
        event_time_ns=event_time_ns,
        subscription_id=subscription_id,
        patch_id=patch_id,
        sequence=sequence,
        event_id=header.event_id,
        correlation_id=header.correlation_id,
        managed_element_id=managed_element,
        incomplete="incomplete-update" in content,  # an "empty" leaf: [null] in JSON
    )


def _find_push(document: dict[str, Any], header: _Header) -> tuple[YangPushKind, Any]:
    for envelope in _ENVELOPES:
        if envelope in document:
            notification = document[envelope]
            if not isinstance(notification, dict):
                raise YangPushDecodeError(f"{envelope} must be an object")
            header.event_time = notification.get("eventTime")
            for key, value in notification.items():
                local = key.rpartition(":")[2]
                if local == "sequence-number":
                    header.sequence = value
                elif local in ("sysName", "hostname") and isinstance(value, str) and value:
                    header.device_id = header.device_id or value
            found = _push_member(notification)
            if found is None:
                raise YangPushDecodeError(
                    f"{envelope} carries no ietf-yang-push:push-update or push-change-update"
                )
            return found
    event = document.get("event")
    if isinstance(event, dict) and (found := _push_member(event)) is not None:  # seed 004 AVC event
        header.event_time = document.get("eventTime")
        header.event_id = _optional_text(document, "eventId")
        header.correlation_id = _optional_text(document, "eventCorrelationId")
        header.device_id = header.device_id or _cm_handle(event)
        return found
    data = document.get("data")
    if isinstance(data, dict) and (found := _push_member(data)) is not None:  # AVC 1.0.0 CloudEvent
        header.event_time = document.get("time") or document.get("eventTime")
        header.event_id = _optional_text(document, "id") or _optional_text(document, "eventId")
        header.correlation_id = _optional_text(document, "correlationid")
        header.device_id = header.device_id or _cm_handle(data)
        return found
    found = _push_member(document)
    if found is not None:
        return found
    raise YangPushDecodeError(
        "unknown event schema: expected an ietf-restconf:notification with a YANG-push update, an"
        " NCMP AVC event (event.push-change-update) or its CloudEvent (data.push-change-update)"
    )


def _push_member(container: dict[str, Any]) -> tuple[YangPushKind, Any] | None:
    for key, value in container.items():
        local = key.rpartition(":")[2]
        if local == "push-change-update":
            return "push-change-update", value
        if local == "push-update":
            return "push-update", value
    return None


def _change_edits(content: dict[str, Any]) -> tuple[str, tuple[YangEdit, ...]]:
    changes = content.get("datastore-changes")
    if not isinstance(changes, dict):
        raise YangPushDecodeError("push-change-update needs a datastore-changes object")
    patch = changes.get("yang-patch", changes.get("ietf-yang-patch:yang-patch"))
    if not isinstance(patch, dict):
        raise YangPushDecodeError("datastore-changes needs a yang-patch object")
    patch_id = patch.get("patch-id")
    if not isinstance(patch_id, str) or not patch_id:
        raise YangPushDecodeError("yang-patch needs a patch-id string (RFC 8072)")
    raw_edits = patch.get("edit", [])
    if not isinstance(raw_edits, list):
        raise YangPushDecodeError(f"patch {patch_id}: edit must be a list")
    edits: list[YangEdit] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_edits):
        edit = _edit(raw, f"patch {patch_id} edit {index}")
        if edit.edit_id in seen:
            raise YangPushDecodeError(f"patch {patch_id} edit {index}: edit-id {edit.edit_id!r} repeats")
        seen.add(edit.edit_id)
        edits.append(edit)
    return patch_id, tuple(edits)


def _edit(raw: Any, where_text: str) -> YangEdit:
    if not isinstance(raw, dict):
        raise YangPushDecodeError(f"{where_text}: must be an object")
    edit_id = raw.get("edit-id")
    if not isinstance(edit_id, str) or not edit_id:
        raise YangPushDecodeError(f"{where_text}: needs an edit-id string")
    operation = raw.get("operation")
    if operation not in OPERATIONS:
        raise YangPushDecodeError(
            f"{where_text} ({edit_id}): operation {operation!r} is not one of {', '.join(sorted(OPERATIONS))}"
        )
    target = raw.get("target")
    if not isinstance(target, str) or not target:
        raise YangPushDecodeError(f"{where_text} ({edit_id}): needs a target string")
    value = raw.get("value")
    if operation in _NEEDS_VALUE and value is None:
        raise YangPushDecodeError(f"{where_text} ({edit_id}): operation {operation} needs a value")
    point = raw.get("point")
    if point is not None and not isinstance(point, str):
        raise YangPushDecodeError(f"{where_text} ({edit_id}): point must be a string")
    where = raw.get("where")
    if where is not None and where not in _WHERE:
        raise YangPushDecodeError(f"{where_text} ({edit_id}): where {where!r} is not before/after/first/last")
    return YangEdit(edit_id, operation, target, value, point, where)


def _update_edits(content: dict[str, Any]) -> tuple[YangEdit, ...]:
    contents = content.get("datastore-contents")
    if contents is None:
        return ()  # RFC 8641 allows an empty push-update (nothing selected)
    if not isinstance(contents, dict):
        raise YangPushDecodeError("datastore-contents must be an object")
    return tuple(
        YangEdit(edit_id=key, operation="replace", target="/" + key, value={key: value})
        for key, value in contents.items()
    )


def _managed_element(edits: tuple[YangEdit, ...]) -> str | None:
    """The one ManagedElement key the targets name (3GPP NRM), or None."""
    found: str | None = None
    for edit in edits:
        for node, keys in parse_target(edit.target):
            if node.rpartition(":")[2] in _MANAGED_ELEMENTS and keys:
                value = keys[0][1]
                if found is not None and value != found:
                    raise YangPushDecodeError(
                        f"edits span managed elements {found!r} and {value!r}: send one notification"
                        " per element or name the cm handle"
                    )
                found = value
                break
    return found


def parse_target(target: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """A data path -> [(node, [(key, value)])], in both spellings the field uses:

    - instance-identifier / XPath: ``/ietf-interfaces:interfaces/interface[name='eth0']/mtu``,
      CPS paths ``[@id='1']``, leaf-list ``[.='x']`` (key "value") and positions ``[2]``;
    - RESTCONF (RFC 8040 §3.5.3): ``/ietf-interfaces:interfaces/interface=eth0/mtu``, keys
      percent-encoded and positional, so they come back under the key name "key" (``a,b`` as is).
    """
    segments: list[tuple[str, list[tuple[str, str]]]] = []
    length = len(target)
    position = 0
    while position < length:
        if target[position] == "/":
            position += 1
            continue
        start = position
        while position < length and target[position] not in "/[":
            position += 1
        node = target[start:position]
        keys: list[tuple[str, str]] = []
        if "=" in node:  # RESTCONF list entry
            node, _, raw_keys = node.partition("=")
            keys.append(("key", ",".join(unquote(part) for part in raw_keys.split(","))))
        while position < length and target[position] == "[":
            position, key, value = _predicate(target, position + 1)
            keys.append((key, value))
        if node:
            segments.append((node, keys))
    return segments


def _predicate(target: str, position: int) -> tuple[int, str, str]:
    """Read ``name='value']`` (or a bare ``2]``) from ``position``; quotes may hold / and ]."""
    length = len(target)
    start = position
    while position < length and target[position] not in "=]":
        position += 1
    name = target[start:position].strip()
    if position >= length:
        raise YangPushDecodeError(f"target {target!r}: unterminated predicate")
    if target[position] == "]":  # positional predicate [n]
        return position + 1, "position", name
    position += 1
    while position < length and target[position] == " ":
        position += 1
    if position < length and target[position] in "'\"":
        quote = target[position]
        end = target.find(quote, position + 1)
        if end < 0:
            raise YangPushDecodeError(f"target {target!r}: unterminated quote")
        value = target[position + 1 : end]
        position = target.find("]", end)
    else:
        end = target.find("]", position)
        value = target[position:end].strip() if end >= 0 else ""
        position = end
    if position < 0:
        raise YangPushDecodeError(f"target {target!r}: unterminated predicate")
    name = name.lstrip("@").rpartition(":")[2]
    return position + 1, "value" if name == "." else name, value


def _cm_handle(container: dict[str, Any]) -> str | None:
    for field in _CM_HANDLE_FIELDS:
        value = container.get(field)
        if isinstance(value, str) and value:
            return value
    return None


def _optional_text(container: dict[str, Any], key: str) -> str | None:
    value = container.get(key)
    return value if isinstance(value, str) and value else None


def _time(raw: Any) -> int | None:
    if raw is None:
        return None
    if not isinstance(raw, str | int | float) or isinstance(raw, bool):
        raise YangPushDecodeError(f"eventTime must be an RFC 3339 date-and-time, got {raw!r}")
    try:
        return parse_timestamp_ns(raw)
    except DecodeError as exc:
        raise YangPushDecodeError(f"eventTime: {exc.reason}") from exc


def _subscription_id(raw: Any) -> int | str | None:
    if raw is None or (isinstance(raw, int) and not isinstance(raw, bool)) or isinstance(raw, str):
        return raw
    raise YangPushDecodeError(f"subscription id must be a number, got {raw!r}")


def _sequence(raw: Any) -> int | None:
    # RFC 7951 §6.1: a uint64/int64 arrives as a JSON string.
    if raw is None:
        return None
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        return raw
    if isinstance(raw, str) and raw.isascii() and raw.isdigit():
        return int(raw)
    raise YangPushDecodeError(f"sequence-number must be an unsigned integer, got {raw!r}")
