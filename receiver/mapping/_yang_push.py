"""YANG-push notifications -> one log record per edit, plus a gauge per numeric leaf.

- Every edit becomes a log record (body ``yang.edit``; ``yang.update`` for a periodic
  ``push-update``) at the event time, carrying target, operation, edit id and position, patch id,
  sequence, subscription and event ids, and the value as JSON text: the change itself, strings
  included, is never lost, and ordering per device can be rebuilt from those attributes.
- Numeric leaves in the value (a leaf is a scalar at a path) become gauges named by the schema
  path without list keys, in RFC 7951's qualified form (a module prefix only where the module
  changes): ``/ietf-interfaces:interfaces/interface[name='eth0']/mtu`` -> metric
  ``ietf-interfaces:interfaces/interface/mtu`` with point attribute ``interface.name=eth0``.
  Booleans are 0/1 gauges; strings that are decimal numbers count as numbers, because RFC 7951
  §6.1 sends int64, uint64 and decimal64 (counter64 statistics) as JSON strings.
- Without the schema we cannot tell which leaves of a list entry are its keys: the leaves named
  in ``key_leaves`` (``name``, ``id``, ...) are taken as keys; an entry with none of them is told
  apart by its position. Key values are attributes (as text), never gauges.
- Over the series limit a leaf stays only in the edit's ``yang.value`` and the record counts it
  in ``yang.unmapped_leaves``.
"""

import re
from collections.abc import Collection
from typing import Any

import orjson

from ..decode._yang_push import YangEdit, YangPushNotification, parse_target
from ..signals import (
    Attributes,
    AttrValue,
    LogEntry,
    MappedReport,
    MetricColumns,
    MetricSeries,
    SeriesRegistry,
)

SERVICE_YANG_PUSH = "yang-push"
EDIT_LOG_BODY = "yang.edit"
UPDATE_LOG_BODY = "yang.update"
DEFAULT_KEY_LEAVES: tuple[str, ...] = ("name", "id", "index", "key")
# RFC 7951 §6.1 text forms of int64/uint64 and decimal64: plain decimals only, no exponent.
_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?\Z")
_NO_VALUE = frozenset({"delete", "remove", "move"})


def yang_push_resource(device_id: str) -> Attributes:
    return (("device.id", device_id), ("service.name", SERVICE_YANG_PUSH))


def map_yang_push(
    notification: YangPushNotification,
    registry: SeriesRegistry,
    *,
    received_ns: int,
    key_leaves: Collection[str] = DEFAULT_KEY_LEAVES,
    numeric_strings: bool = True,
) -> MappedReport:
    report = MappedReport(resource=yang_push_resource(notification.device_id))
    time_ns = received_ns if notification.event_time_ns is None else notification.event_time_ns
    walker = _LeafWalker(registry, report.metrics, time_ns, frozenset(key_leaves), numeric_strings)
    common = _common_attributes(notification)
    body = EDIT_LOG_BODY if notification.kind == "push-change-update" else UPDATE_LOG_BODY
    for index, edit in enumerate(notification.edits):
        attributes: dict[str, AttrValue] = {
            **common,
            "yang.edit_id": edit.edit_id,
            "yang.edit_index": index,
            "yang.operation": edit.operation,
            "yang.target": edit.target,
        }
        if edit.point is not None:
            attributes["yang.point"] = edit.point
        if edit.where is not None:
            attributes["yang.where"] = edit.where
        if edit.value is not None:
            attributes["yang.value"] = orjson.dumps(edit.value).decode()
            if edit.operation not in _NO_VALUE:
                unmapped = walker.walk_edit(edit)
                if unmapped:
                    attributes["yang.unmapped_leaves"] = unmapped
        report.logs.append(
            LogEntry(time_ns=time_ns, observed_ns=received_ns, body=body, attributes=attributes)
        )
    return report


def _common_attributes(notification: YangPushNotification) -> dict[str, AttrValue]:
    attributes: dict[str, AttrValue] = {"yang.notification": notification.kind}
    optional: tuple[tuple[str, AttrValue | None], ...] = (
        ("yang.patch_id", notification.patch_id),
        ("yang.sequence", notification.sequence),
        ("yang.subscription_id", notification.subscription_id),
        ("yang.event_id", notification.event_id),
        ("yang.correlation_id", notification.correlation_id),
    )
    for key, value in optional:
        if value is not None:
            attributes[key] = value
    if notification.incomplete:
        attributes["yang.incomplete"] = True
    return attributes


def _qualify(member: str, module: str) -> tuple[str, str]:
    """RFC 7951 §4: a name carries its module prefix only where the module differs from its
    parent's; the same leaf then has one name whether reached via a target or a full tree."""
    prefix, colon, local = member.rpartition(":")
    if not colon:
        return member, module
    if prefix == module:
        return local, module
    return member, prefix


class _LeafWalker:
    __slots__ = ("key_leaves", "metrics", "numeric_strings", "registry", "time_ns", "unmapped")

    def __init__(
        self,
        registry: SeriesRegistry,
        metrics: MetricColumns,
        time_ns: int,
        key_leaves: frozenset[str],
        numeric_strings: bool,
    ) -> None:
        self.registry = registry
        self.metrics = metrics
        self.time_ns = time_ns
        self.key_leaves = key_leaves
        self.numeric_strings = numeric_strings
        self.unmapped = 0

    def walk_edit(self, edit: YangEdit) -> int:
        """Emit the edit's numeric leaves; return how many the series limit turned away."""
        self.unmapped = 0
        segments = parse_target(edit.target)
        value = edit.value
        # RFC 8072: the value holds the target node itself ({"module:node": ...}). Some senders
        # (3GPP NRM via NCMP) send the target's children instead: then walk from the target.
        holds_target = (
            bool(segments)
            and isinstance(value, dict)
            and len(value) == 1
            and next(iter(value)).rpartition(":")[2] == segments[-1][0].rpartition(":")[2]
        )
        path: list[str] = []
        module = ""
        attributes: dict[str, AttrValue] = {}
        for position, (node, keys) in enumerate(segments):
            local = node.rpartition(":")[2]
            for key, key_value in keys:
                attributes[f"{local}.{key}"] = key_value
            if holds_target and position == len(segments) - 1:
                break  # the value names this node itself
            name, module = _qualify(node, module)
            path.append(name)
        self._walk(value, path, module, attributes)
        return self.unmapped

    def _walk(self, node: Any, path: list[str], module: str, attributes: dict[str, AttrValue]) -> None:
        if isinstance(node, dict):
            for member, child in node.items():
                name, child_module = _qualify(member, module)
                self._walk(child, [*path, name], child_module, attributes)
        elif isinstance(node, list):
            list_name = path[-1].rpartition(":")[2] if path else ""
            for position, item in enumerate(node):
                if item is None:
                    continue  # [null]: a leaf of type empty, present
                entry = dict(attributes)
                if isinstance(item, dict):
                    keys = [key for key in item if key in self.key_leaves and _is_scalar(item[key])]
                    for key in keys:
                        entry[f"{list_name}.{key}"] = _text(item[key])
                    if not keys:
                        entry[f"{list_name}.position"] = position
                    for member, child in item.items():
                        if member not in keys:
                            name, child_module = _qualify(member, module)
                            self._walk(child, [*path, name], child_module, entry)
                else:  # a leaf-list entry
                    entry[f"{list_name}.position"] = position
                    self._walk(item, path, module, entry)
        else:
            self._leaf(node, path, attributes)

    def _leaf(self, value: Any, path: list[str], attributes: dict[str, AttrValue]) -> None:
        number: int | float
        if isinstance(value, bool):
            number = int(value)
        elif isinstance(value, int | float):
            number = value
        elif self.numeric_strings and isinstance(value, str) and _DECIMAL.match(value):
            number = float(value) if "." in value else int(value)
        else:
            return  # text and null: kept in the edit's log record
        if not path:
            return
        series = MetricSeries("/".join(path), "", "gauge", False, tuple(sorted(attributes.items())))
        series_id = self.registry.intern(series)
        if series_id is None:
            self.unmapped += 1
            return
        self.metrics.append(series_id, self.time_ns, number)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)
