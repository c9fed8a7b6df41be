"""Timestamps as devices send them: Unix epoch (s or ms) or ISO-8601 (``Z``, offsets, or ``UTC``)."""

from datetime import UTC, datetime

from ._errors import DecodeError

# Epoch values above this are milliseconds: 1e11 s is the year 5138, 1e11 ms is 1973.
_MILLISECONDS_THRESHOLD = 1e11
_NS_PER_S = 1_000_000_000


_MAX_NS = 2**63 - 1  # OTLP carries fixed64 nanoseconds; Arrow columns are int64 (year 2262)


def parse_timestamp_ns(raw: str | int | float) -> int:
    """Return epoch nanoseconds; raise DecodeError with a reason for anything unreadable."""
    ns = _parse(raw)
    if not 0 <= ns <= _MAX_NS:
        raise DecodeError(f"timestamp out of range: {raw!r}")
    return ns


def _parse(raw: str | int | float) -> int:
    if isinstance(raw, bool):
        raise DecodeError(f"timestamp must be a number or ISO-8601 string, got {raw!r}")
    if isinstance(raw, int | float):
        return _epoch_to_ns(float(raw), raw)
    text = raw.strip()
    if not text:
        raise DecodeError("empty timestamp")
    try:
        return _epoch_to_ns(float(text), text)
    except ValueError:
        pass
    return _iso_to_ns(text)


def _epoch_to_ns(seconds_or_ms: float, raw: object) -> int:
    if seconds_or_ms != seconds_or_ms or seconds_or_ms < 0:  # NaN or negative
        raise DecodeError(f"timestamp out of range: {raw!r}")
    if seconds_or_ms > _MILLISECONDS_THRESHOLD:
        seconds_or_ms /= 1000.0
    if seconds_or_ms > 1e10:
        raise DecodeError(f"timestamp out of range: {raw!r}")
    return round(seconds_or_ms * 1e6) * 1000


def _iso_to_ns(text: str) -> int:
    normalised = text
    upper = text.upper()
    # Some CPEs write "2024-01-02T03:04:05 UTC" or "...UTC" instead of "Z".
    if upper.endswith("UTC"):
        normalised = text[:-3].rstrip() + "+00:00"
    elif upper.endswith("Z"):
        normalised = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(normalised)
    except ValueError as exc:
        raise DecodeError(f"unreadable timestamp {text!r}: expected Unix epoch or ISO-8601") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # a zone-less time from a CPE is UTC (TR-106 dateTime)
    delta = parsed - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * _NS_PER_S + delta.microseconds * 1000
