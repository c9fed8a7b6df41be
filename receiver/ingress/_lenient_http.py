"""uvicorn's httptools protocol, tolerant of one CPE habit: unescaped spaces in the request target
(``POST /bulk?pc=Home Gateway&sn=1 HTTP/1.1``), which strict parsers reject with a bare 400.

Before the parser sees a request line we escape the spaces inside its target. The line is the
first thing after a completed message; a request pipelined in the same TCP read as the previous
one is passed on as it is (CPEs send one report per connection or wait for each answer)."""

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

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

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._at_request_line = True
