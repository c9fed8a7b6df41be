"""JSON Bulk Data reports: ObjectHierarchy and NameValuePair, one or many reports per body."""

from typing import Any

import orjson

from ._bulkdata_model import BulkValue, ParameterTable
from ._errors import DecodeError
from ._timestamps import parse_timestamp_ns

_COLLECTION_TIME = "CollectionTime"


def decode_bulkdata_json(body: bytes) -> ParameterTable:
    """Both JSON formats flatten the same way (nested objects join their keys with dots), so one
    decoder serves both and a mislabelled report is still read correctly."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"malformed JSON: {exc}") from exc
    reports = _reports_of(document)
    table = ParameterTable()
    for index, report in enumerate(reports):
        if not isinstance(report, dict):
            raise DecodeError(f"Report[{index}] must be an object, got {type(report).__name__}")
        time_ns = _collection_time(report, index)
        before = len(table)
        for key, value in report.items():
            if key != _COLLECTION_TIME:
                _flatten(table, key, value, time_ns)
        if len(table) > before:
            table.reports += 1
    if not table.names:
        raise DecodeError("JSON report carries no parameters")
    return table


def _reports_of(document: Any) -> list[Any]:
    if isinstance(document, dict) and "Report" in document:
        reports = document["Report"]
        if not isinstance(reports, list):
            raise DecodeError('"Report" must be an array of reports')
        return reports
    if isinstance(document, dict):
        return [document]  # a bare report object, as some agents send it
    if isinstance(document, list):
        return document
    raise DecodeError('JSON report must be an object {"Report": [...]}')


def _collection_time(report: dict[str, Any], index: int) -> int | None:
    raw = report.get(_COLLECTION_TIME)
    if raw is None:
        return None
    if not isinstance(raw, int | float | str) or isinstance(raw, bool):
        raise DecodeError(f"Report[{index}].CollectionTime must be a number or ISO-8601 string")
    try:
        return parse_timestamp_ns(raw)
    except DecodeError as exc:
        raise DecodeError(f"Report[{index}].CollectionTime: {exc.reason}") from exc


def _flatten(table: ParameterTable, path: str, value: Any, time_ns: int | None) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _flatten(table, f"{path}.{key}", child, time_ns)
    elif isinstance(value, list):
        # Not in the annex, but seen: multi-instance objects as arrays. Instances count from 1.
        for position, child in enumerate(value, start=1):
            _flatten(table, f"{path}.{position}", child, time_ns)
    elif value is None:
        return  # a null carries no measurement
    elif isinstance(value, str | int | float | bool):
        scalar: BulkValue = value
        table.append(path, scalar, None, time_ns)
    else:  # pragma: no cover - orjson yields only JSON types
        raise DecodeError(f"unsupported JSON value at {path}")
