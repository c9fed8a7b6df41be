"""The one exception the Sparkplug decoders raise for bad input."""

from .._errors import DecodeError


class SparkplugDecodeError(DecodeError):
    """A Sparkplug topic, payload or STATE message is malformed; ``reason`` says how.

    Low-level failures (protobuf ``DecodeError``, ``ValueError``, ``struct.error``) are chained as
    the cause so callers only ever need to catch this type (or ``DecodeError``).
    """
