"""Errors raised by the pure decoders.

Every decoder turns low-level failures into a ``DecodeError`` subclass (cause chained) so that
ingress maps them to an HTTP status and a reason without knowing the format::

    DecodeError (400, malformed input)
     +-- UnsupportedFormat (415, unknown media type or report format)
     +-- TooLarge (413, a configured limit was exceeded)
"""


class DecodeError(Exception):
    status: int = 400

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnsupportedFormat(DecodeError):
    status = 415


class TooLarge(DecodeError):
    status = 413
