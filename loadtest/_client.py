"""A minimal keep-alive HTTP/1.1 load client for the benchmarks (our own async client, as the issue
allows): pre-built request bytes written to a pool of connections, the status read back.

Why not httpx or locust: on this 2-core machine the load generator shares the CPU with the receiver
and the collector, and httpx costs ~1 ms of client CPU per request, so the client, not the receiver,
set the "maximum" rate the latency figure is taken at. This client costs tens of microseconds per
request (uvloop, no per-request header objects). It understands only what our receiver sends back:
a status line, headers, and a Content-Length body (no chunked responses)."""

import asyncio
import collections
import contextlib
import gc
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import uvloop


def request_bytes(path: str, body: bytes, headers: dict[str, str], host: str = "127.0.0.1") -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Connection:
    """One keep-alive connection; one request at a time (HTTP/1.1 without pipelining)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> "Connection":
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def send(self, request: bytes) -> int:
        """Write one request and return the response status (the body is read and discarded)."""
        self._writer.write(request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if length:
            await self._reader.readexactly(length)
        return status

    def close(self) -> None:
        self._writer.close()


@dataclass
class Results:
    statuses: dict[int, int] = field(default_factory=dict)
    latencies_s: list[float] = field(default_factory=list)

    @property
    def ok(self) -> int:
        return self.statuses.get(204, 0)

    @property
    def failed(self) -> int:
        return sum(self.statuses.values()) - self.ok


async def _closed_loop(
    host: str, port: int, requests: list[bytes], count: int, concurrency: int, seconds: float
) -> Results:
    """``count`` requests (cycling through ``requests``) from ``concurrency`` connections, each
    sending its next request as soon as the last one is answered; stops early at ``seconds``."""
    results = Results()
    deadline = time.monotonic() + seconds
    numbers = iter(range(count))

    async def worker() -> None:
        connection = await Connection.open(host, port)
        try:
            for n in numbers:
                if time.monotonic() > deadline:
                    return
                started = time.perf_counter()
                status = await connection.send(requests[n % len(requests)])
                results.latencies_s.append(time.perf_counter() - started)
                results.statuses[status] = results.statuses.get(status, 0) + 1
        finally:
            connection.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results


async def _open_loop(host: str, port: int, request: bytes, rate: float, seconds: float) -> Results:
    """Requests started at a fixed ``rate`` whatever the answers do (latency without coordinated
    omission); an idle connection is reused, a new one opened when all are busy."""
    results = Results()
    idle: collections.deque[Connection] = collections.deque()
    opened: list[Connection] = []

    async def one() -> None:
        started = time.perf_counter()
        if idle:
            connection = idle.popleft()  # the longest idle: every connection stays warm
        else:
            connection = await Connection.open(host, port)
            opened.append(connection)
        try:
            status = await connection.send(request)
        except (asyncio.IncompleteReadError, ConnectionError):
            # The server closed an idle keep-alive connection (uvicorn: after 5 s): send again on a
            # fresh one, as an HTTP client does for a request the server never read.
            connection = await Connection.open(host, port)
            opened.append(connection)
            status = await connection.send(request)
        results.latencies_s.append(time.perf_counter() - started)
        results.statuses[status] = results.statuses.get(status, 0) + 1
        idle.append(connection)

    running: set[asyncio.Task[None]] = set()
    begin = time.perf_counter()
    for n in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, begin + n / rate - time.perf_counter()))
        task = asyncio.create_task(one())
        running.add(task)
        task.add_done_callback(running.discard)
    while running:
        await asyncio.gather(*running)
    for connection in opened:
        connection.close()
    return results


def closed_loop(url: str, requests: list[bytes], count: int, concurrency: int, seconds: float) -> Results:
    host, port = _host_port(url)
    with _no_collector_pauses():
        return uvloop.run(_closed_loop(host, port, requests, count, concurrency, seconds))


def open_loop(url: str, request: bytes, rate: float, seconds: float) -> Results:
    host, port = _host_port(url)
    with _no_collector_pauses():
        return uvloop.run(_open_loop(host, port, request, rate, seconds))


@contextlib.contextmanager
def _no_collector_pauses() -> Iterator[None]:
    """The load generator's own garbage-collector pauses (tens of ms here as its result lists grow)
    would be measured as the receiver's latency: collect once, then only reference counting while
    the load runs (it frees everything these loops make)."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _host_port(url: str) -> tuple[str, int]:
    host, _, port = url.removeprefix("http://").rstrip("/").rpartition(":")
    return host, int(port)
