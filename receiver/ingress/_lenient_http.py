"""uvicorn's httptools protocol, tolerant of one CPE habit: unescaped spaces in the request target
(``POST /bulk?pc=Home Gateway&sn=1 HTTP/1.1``), which strict parsers reject with a bare 400.

Before the parser sees a request line we escape the spaces inside its target. The line is the
first thing after a completed message; a request pipelined in the same TCP read as the previous
one is passed on as it is (CPEs send one report per connection or wait for each answer)."""

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ._auth import tls_scope_extension

_MAX_REQUEST_LINE = 16 * 1024


def escape_request_target(line: bytes) -> bytes:
    parts = line.split(b" ")
    if len(parts) <= 3 or not parts[-1].startswith(b"HTTP/"):
        return line
    return parts[0] + b" " + b"%20".join(parts[1:-1]) + b" " + parts[-1]


class LenientHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending_line = b""
        self._at_request_line = True
        self._tls: dict[str, object] | None = None

    def data_received(self, data: bytes) -> None:
        if self._at_request_line:
            data = self._pending_line + data
            end = data.find(b"\r\n")
            if end < 0 and len(data) < _MAX_REQUEST_LINE:
                self._pending_line = data  # wait for the whole line
                return
            self._pending_line = b""
            self._at_request_line = False
            if end >= 0:
                data = escape_request_target(data[:end]) + data[end:]
        super().data_received(data)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # uvicorn sets no ASGI TLS extension: give the app the verified client certificate (mTLS).
        ssl_object = transport.get_extra_info("ssl_object")
        self._tls = None if ssl_object is None else tls_scope_extension(ssl_object)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._tls is not None:
            self.scope["extensions"] = {**self.scope.get("extensions", {}), "tls": self._tls}  # type: ignore[dict-item]

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._at_request_line = True
