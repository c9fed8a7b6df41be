"""TEST DOUBLE of an Azure Data Explorer (Kusto) cluster's ingestion endpoint, for tests only.

It is not an emulator: it answers exactly the calls that the collector's `azuredataexplorer`
exporter (contrib v0.152.0, azure-kusto-go azkustoingest/azkustodata v1.2.2, azidentity v1.13.1 +
MSAL Go v1.7.1) makes with `ingestion_type: managed` and `managed_identity_id: system`, records
them, and keeps every ingested row per table so that a test can assert what would have landed in ADX.

Two loopback listeners:

* the **cluster**, HTTPS (the Kusto SDK refuses to send a token over http), on port 443 by default
  because the cluster URI must carry no port (`https://127.0.0.1`):
  - `GET  /v1/rest/auth/metadata`            -> the public cloud's `AzureAD` block (what a real
    cluster answers); the SDK derives the token resource from `KustoServiceResourceId`.
  - `POST /v1/rest/ingest/{db}/{table}?streamFormat=Json[&mappingName=...]` -> streaming ingest:
    the body (NDJSON or multi-JSON) is decoded into rows; 200 when the bearer token is the one this
    double minted and the database is the expected one, else a Kusto-shaped error. The body's real
    encoding is recorded next to its `Content-Encoding` label (`Call.body_encoding`): the exporter
    v0.152.0 labels plain NDJSON as gzip, which a lenient double accepts and a strict one
    (`strict_content_encoding=True`) refuses, as a server that trusts the header would.
  - `POST /v1/rest/mgmt` with `.get ingestion resources` (empty table: no queued fallback here) or
    `.get kusto identity token`; other commands are answered 400 and logged as unexpected.
* the **identity endpoint**, plain HTTP like App Service's local one (`IDENTITY_ENDPOINT`):
  - `GET /msi/token?api-version=2019-08-01&resource=...` with header `X-IDENTITY-HEADER` -> a token.
  - It doubles as an **egress tripwire**: give the collector `HTTP(S)_PROXY` pointing here and any
    request bound for a non-loopback host (the instance metadata address 169.254.169.254, an Entra
    login endpoint, ...) arrives here as a proxy request, is refused and recorded as `egress`.

Every request is recorded as a `Call`; anything not understood is logged at WARNING and recorded with
kind `unexpected`, so a failing test can print the whole conversation (`describe_calls`).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import secrets
import ssl
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

LOG = logging.getLogger("kusto_ingest_double")

PUBLIC_CLOUD_AZURE_AD: dict[str, Any] = {
    "LoginEndpoint": "https://login.microsoftonline.com",
    "LoginMfaRequired": False,
    "KustoClientAppId": "db662dc1-0cfe-4e1c-a843-19a68e65be58",
    "KustoClientRedirectUri": "https://microsoft/kustoclient",
    "KustoServiceResourceId": "https://kusto.kusto.windows.net",
    "FirstPartyAuthorityUrl": "https://login.microsoftonline.com/f8cdef31-a31e-4b4a-93e4-5f571e91255a",
}
APP_SERVICE_API_VERSION = "2019-08-01"
IDENTITY_PATH = "/msi/token"
GZIP_MAGIC = b"\x1f\x8b"
MAX_BODY = 64 * 1024 * 1024

Row = dict[str, Any]


@dataclass(frozen=True)
class Call:
    """One HTTP request the double received, in arrival order."""

    seq: int
    listener: str  # "cluster" | "identity"
    kind: str  # auth-metadata | identity-token | streaming-ingest | mgmt | egress | unexpected
    method: str
    target: str  # the request target as sent (an absolute URI for proxy requests)
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    status: int
    note: str = ""
    rows: int = 0
    body_encoding: str = ""  # what the body really was: gzip | identity | "identity, labelled gzip"

    def brief(self) -> str:
        extra = f" rows={self.rows}" if self.rows else ""
        extra += f" body={self.body_encoding}" if self.body_encoding else ""
        note = f" ({self.note})" if self.note else ""
        head = f"#{self.seq} {self.listener:8} {self.kind:16} {self.method} {self.target}"
        return f"{head} -> {self.status or 'no response'}{extra}{note}"


@dataclass
class _Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    kind: str = "unexpected"
    note: str = ""
    rows: list[Row] = field(default_factory=list)
    table: str = ""
    body_encoding: str = ""
    row_count: int = 0  # rows ingested (also when count_only keeps none)


def _json(status: int, payload: Any, **kwargs: Any) -> _Reply:
    return _Reply(status, json.dumps(payload).encode(), **kwargs)


def kusto_error(status: int, code: str, message: str, kind: str, permanent: bool = True) -> _Reply:
    """An error body shaped like Kusto's. Note: azure-kusto-go v1.2.2's StreamIngest re-wraps HTTP errors as
    text, so `@permanent` is lost and the managed client retries and falls back to queued anyway."""
    body = {
        "error": {
            "code": code,
            "message": message,
            "@type": "Kusto.DataNode.Exceptions.TestDoubleException",
            "@message": message,
            "@permanent": permanent,
        }
    }
    return _json(status, body, kind=kind, note=message)


def _v1_table(columns: list[tuple[str, str]], rows: list[list[Any]]) -> dict[str, Any]:
    """A v1 REST response with one table (the SDK treats a single table as the primary result)."""
    return {
        "Tables": [
            {
                "TableName": "Table_0",
                "Columns": [{"ColumnName": n, "DataType": t, "ColumnType": t.lower()} for n, t in columns],
                "Rows": rows,
            }
        ]
    }


def parse_json_rows(text: str) -> list[Row]:
    """NDJSON (`streamFormat=Json`) or concatenated / array multi-JSON (`MultiJson`) -> rows."""
    decoder = json.JSONDecoder()
    rows: list[Row] = []
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= end:
            return rows
        value, pos = decoder.raw_decode(text, pos)
        items = value if isinstance(value, list) else [value]
        for item in items:
            if not isinstance(item, dict):
                raise ValueError(f"a JSON record must be an object, got {type(item).__name__}")
            rows.append(item)


class KustoIngestDouble:
    """Start with `with KustoIngestDouble(tls) as double:`; see the module docstring for what it answers."""

    def __init__(
        self,
        tls: ssl.SSLContext,
        *,
        database: str,
        host: str = "127.0.0.1",
        cluster_port: int = 443,
        identity_port: int = 0,
        azure_ad: dict[str, Any] | None = None,
        strict_content_encoding: bool = False,
        count_only: bool = False,
    ) -> None:
        self.database = database
        self.strict_content_encoding = strict_content_encoding
        # Benchmarks: count the NDJSON rows of each body instead of decoding and keeping them, so
        # the double costs little and holds no rows (rows() stays empty; row_count() counts).
        self.count_only = count_only
        self._row_counts: dict[str, int] = {}
        self.host = host
        self.azure_ad = dict(azure_ad or PUBLIC_CLOUD_AZURE_AD)
        self.identity_header = "double-identity-" + secrets.token_hex(8)
        self.token = "double-token-" + secrets.token_urlsafe(24)
        self._tls = tls
        self._ports = (cluster_port, identity_port)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._calls: list[Call] = []
        self._rows: dict[str, list[Row]] = {}
        self._servers: list[ThreadingHTTPServer] = []
        self._threads: list[threading.Thread] = []

    # ----------------------------------------------------------------------------------- lifecycle
    def __enter__(self) -> KustoIngestDouble:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Bind both listeners; raises OSError (EADDRINUSE, EACCES) if the cluster port cannot be bound."""
        try:
            self._serve("cluster", self._ports[0], self._tls)
            self._serve("identity", self._ports[1], None)
        except BaseException:
            self.close()
            raise
        LOG.info("cluster %s, identity %s", self.cluster_uri, self.identity_endpoint)

    def _serve(self, listener: str, port: int, tls: ssl.SSLContext | None) -> None:
        handler = type(f"{listener.title()}Handler", (_Handler,), {"double": self, "listener": listener})
        server = ThreadingHTTPServer((self.host, port), handler)
        server.daemon_threads = True
        if tls is not None:
            # The handshake happens on the first read, in the request's own thread.
            server.socket = tls.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        self._servers.append(server)
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name=f"kusto-double-{listener}"
        )
        thread.daemon = True
        thread.start()
        self._threads.append(thread)

    def close(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()

    # ------------------------------------------------------------------------------------ addresses
    @property
    def cluster_port(self) -> int:
        return int(self._servers[0].server_address[1])

    @property
    def cluster_uri(self) -> str:
        port = self.cluster_port
        return f"https://{self.host}" + ("" if port == 443 else f":{port}")

    @property
    def identity_endpoint(self) -> str:
        return f"http://{self.host}:{self._servers[1].server_address[1]}{IDENTITY_PATH}"

    @property
    def egress_proxy(self) -> str:
        """Use as HTTP_PROXY/HTTPS_PROXY: non-loopback requests then land here (Go never proxies loopback)."""
        return f"http://{self.host}:{self._servers[1].server_address[1]}"

    @property
    def kusto_resource(self) -> str:
        return str(self.azure_ad["KustoServiceResourceId"])

    # ------------------------------------------------------------------------------------- records
    def calls(self, kind: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if kind is None or c.kind == kind]

    def rows(self, table: str) -> list[Row]:
        with self._lock:
            return list(self._rows.get(table, []))

    def row_count(self, table: str) -> int:
        with self._lock:
            return self._row_counts.get(table, 0)

    def describe_calls(self) -> str:
        return "\n".join(c.brief() for c in self.calls()) or "(no request reached the double)"

    def wait_for_rows(
        self, table: str, predicate: Callable[[list[Row]], bool], timeout: float, what: str = ""
    ) -> list[Row]:
        """Rows of `table` once `predicate(rows)` holds; TimeoutError with the conversation otherwise."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                rows = list(self._rows.get(table, []))
                if predicate(rows):
                    return rows
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"{table}: {what or 'expected rows'} not ingested within {timeout}s "
                        f"({len(rows)} rows so far). Requests the double saw:\n{self._describe_locked()}"
                    )
                self._changed.wait(min(remaining, 0.5))

    def _describe_locked(self) -> str:
        return "\n".join(c.brief() for c in self._calls) or "(no request reached the double)"

    def record_call(
        self, listener: str, method: str, target: str, headers: dict[str, str], reply: _Reply
    ) -> Call:
        parts = urlsplit(target)
        with self._changed:
            call = Call(
                seq=len(self._calls) + 1,
                listener=listener,
                kind=reply.kind,
                method=method,
                target=target,
                path=parts.path,
                query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                headers=headers,
                status=reply.status,
                note=reply.note,
                rows=reply.row_count,
                body_encoding=reply.body_encoding,
            )
            self._calls.append(call)
            if reply.rows:
                self._rows.setdefault(reply.table, []).extend(reply.rows)
            if reply.row_count:
                self._row_counts[reply.table] = self._row_counts.get(reply.table, 0) + reply.row_count
            self._changed.notify_all()
        level = (
            logging.WARNING if reply.kind in ("unexpected", "egress") or reply.status >= 400 else logging.INFO
        )
        LOG.log(level, "%s", call.brief())
        return call

    # ------------------------------------------------------------------------------------- answers
    def answer(self, listener: str, method: str, target: str, headers: dict[str, str], body: bytes) -> _Reply:
        if method == "CONNECT" or "://" in target.split("?", 1)[0]:
            return _Reply(
                403, b"egress refused by the test double\n", "text/plain", "egress", "proxy request"
            )
        parts = urlsplit(target)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if listener == "identity":
            if method == "GET" and parts.path == IDENTITY_PATH:
                return self._identity_token(query, headers)
        elif method == "GET" and parts.path == "/v1/rest/auth/metadata":
            return _json(200, {"AzureAD": self.azure_ad}, kind="auth-metadata")
        elif method == "POST" and parts.path.startswith("/v1/rest/ingest/"):
            return self._streaming_ingest(parts.path, query, headers, body)
        elif method == "POST" and parts.path == "/v1/rest/mgmt":
            return self._mgmt(headers, body)
        return _Reply(404, b"not served by the test double\n", "text/plain", "unexpected", "unknown route")

    def _identity_token(self, query: dict[str, str], headers: dict[str, str]) -> _Reply:
        # App Service managed-identity protocol (MSAL Go apps/managedidentity createAppServiceAuthRequest).
        if headers.get("x-identity-header") != self.identity_header:
            return _json(401, {"error": "bad X-IDENTITY-HEADER"}, kind="identity-token", note="bad header")
        if query.get("api-version") != APP_SERVICE_API_VERSION or not query.get("resource"):
            return _json(400, {"error": "bad query"}, kind="identity-token", note="bad query")
        token = {
            "access_token": self.token,
            "expires_on": str(int(time.time()) + 3600),
            "resource": query["resource"],
            "token_type": "Bearer",
            "client_id": "00000000-0000-0000-0000-000000000000",
        }
        return _json(200, token, kind="identity-token")

    def _authorized(self, headers: dict[str, str]) -> bool:
        return headers.get("authorization") == f"Bearer {self.token}"

    def _streaming_ingest(
        self, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> _Reply:
        kind = "streaming-ingest"
        segments = path.removeprefix("/v1/rest/ingest/").split("/")
        if len(segments) != 2 or not all(segments):
            return kusto_error(400, "BadRequest_InvalidPath", f"bad ingest path {path}", kind)
        database, table = segments
        if not self._authorized(headers):
            return kusto_error(401, "Unauthorized", "missing or wrong bearer token", kind)
        if database != self.database:
            return kusto_error(404, "BadRequest_EntityNotFound", f"database '{database}' not found", kind)
        stream_format = query.get("streamFormat", "")
        if stream_format.lower() not in ("json", "multijson"):
            return kusto_error(
                400, "BadRequest_Format", f"the double only decodes JSON, not {stream_format}", kind
            )
        label = headers.get("content-encoding", "").strip().lower()
        actual = "gzip" if body[:2] == GZIP_MAGIC else "identity"
        body_encoding = actual if label in (actual, "") else f"{actual}, labelled {label}"
        if label and label != actual and self.strict_content_encoding:
            error = kusto_error(
                400, "BadRequest_Payload", f"Content-Encoding {label} but body is {actual}", kind
            )
            error.body_encoding = body_encoding
            return error
        try:
            text = _decode_content(body, actual)
            rows = [] if self.count_only else parse_json_rows(text.decode("utf-8"))
        except (OSError, EOFError, zlib.error, UnicodeDecodeError, ValueError) as exc:
            return kusto_error(400, "BadRequest_Payload", f"undecodable body: {exc}", kind)
        # count_only: NDJSON (what the exporter sends) has one row per line
        count = text.rstrip().count(b"\n") + 1 if self.count_only and text.strip() else len(rows)
        reply = _json(200, _v1_table([("ConsumedRecordsCount", "Int64")], [[count]]), kind=kind)
        reply.rows, reply.row_count, reply.table, reply.note = rows, count, table, f"{database}.{table}"
        reply.body_encoding = body_encoding
        return reply

    def _mgmt(self, headers: dict[str, str], body: bytes) -> _Reply:
        kind = "mgmt"
        if not self._authorized(headers):
            return kusto_error(401, "Unauthorized", "missing or wrong bearer token", kind)
        try:
            command = str(
                json.loads(_decode_content(body, headers.get("content-encoding", "")))["csl"]
            ).strip()
        except (ValueError, KeyError, TypeError, OSError) as exc:
            return kusto_error(400, "BadRequest_Syntax", f"bad mgmt body: {exc}", "unexpected")
        if command.startswith(".get ingestion resources"):
            # Empty: no storage to upload to, so the SDK's queued path (fallback) cannot succeed here.
            table = _v1_table([("ResourceTypeName", "String"), ("StorageRoot", "String")], [])
            return _json(200, table, kind=kind, note=command)
        if command.startswith(".get kusto identity token"):
            table = _v1_table([("AuthorizationContext", "String")], [["double-authorization-context"]])
            return _json(200, table, kind=kind, note=command)
        return kusto_error(
            400, "BadRequest_Unsupported", f"not served by the test double: {command}", "unexpected"
        )


def _decode_content(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding in ("", "identity"):
        return body
    raise ValueError(f"unknown Content-Encoding {encoding!r}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the Go client expects
    double: KustoIngestDouble
    listener: str

    def log_message(self, format: str, *args: Any) -> None:
        LOG.debug("%s: " + format, self.listener, *args)

    def handle(self) -> None:
        try:
            super().handle()
        except ssl.SSLError as exc:  # e.g. the client does not trust the test CA
            reply = _Reply(0, kind="unexpected", note=f"TLS failed: {exc}")
            self.double.record_call(self.listener, "-", "-", {}, reply)
        except ConnectionError as exc:  # a peer dropping a kept-alive connection is not a request
            LOG.debug("%s: connection dropped: %s", self.listener, exc)

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            # The Go SDK posts streaming-ingest bodies without a length: chunked transfer encoding.
            chunks: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline(1024).split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    raise ValueError("body too large for the test double")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("body too large for the test double")
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            body = self._body()
            reply = self.double.answer(self.listener, self.command, self.path, headers, body)
        except (ValueError, OSError) as exc:
            reply = _Reply(400, f"{exc}\n".encode(), "text/plain", "unexpected", f"unreadable request: {exc}")
            self.close_connection = True
        self.double.record_call(self.listener, self.command, self.path, headers, reply)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        if reply.kind == "egress":
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(reply.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_CONNECT = _handle
