"""CPE authentication for HTTP reports: Basic (RFC 7617) and Digest (RFC 7616) against a
:class:`CredentialStore`, device identity from a verified TLS client certificate, and the rule that
an authenticated device may only report as itself.

No I/O here: the caller passes the method, request target and ``Authorization`` header, and turns an
:class:`AuthError` into a response (``status``, ``headers``, ``reason`` as the body). Every refusal
is an ``AuthError``; malformed input never raises anything else.

Policy
------
* No store: HTTP authentication is off; any ``Authorization`` header is ignored. With
  ``require=True`` a verified client certificate is then the only way in (403 without one).
* ``require=False``: requests without ``Authorization`` pass anonymously (user None), but a header
  that is sent is checked: wrong credentials are refused, never silently downgraded.
* A verified client certificate (``tls_identity``) wins over any header.

Digest
------
Challenges offer ``qop="auth"`` and, by default, ``algorithm=MD5`` then ``algorithm=SHA-256`` (one
challenge each, same nonce). MD5 comes first on purpose: many CPE stacks only read the first
challenge and only speak MD5 (TR-069); RFC 7616 clients that know SHA-256 can still pick it. The
``-sess`` variants are accepted when a client sends them (they derive from the same stored HA1).
Requests without ``qop`` (RFC 2069 style) and ``qop=auth-int`` are refused; so is ``userhash``.

Nonces are stateless: ``base64url(timestamp_ms[8] || random[8] || HMAC-SHA256(key, ts||random)[:16])``
with ``key = HMAC(nonce_secret, "digest-nonce" || realm)``, so replicas sharing ``nonce_secret``
(and roughly synchronised wall clocks: ``clock`` must be ``time.time``, not a monotonic clock)
accept each other's nonces without shared state. A nonce is good for ``nonce_ttl_s``; after that, or
if it is not ours (e.g. the secret was rotated), a *correct* response is answered with a fresh
challenge carrying ``stale=true`` so the CPE retries without treating it as a bad password.

Replay: ``nc`` is not tracked (that would need state shared between replicas). A captured request
can be replayed, with the same URI and method, until its nonce expires; keep ``nonce_ttl_s`` short
(minutes) and use TLS where reports are sensitive. ``qop=auth`` never protected the body anyway.

The Digest ``uri`` directive must name the same request target as the request line. The comparison
is done on the percent-decoded forms (and an absolute URI is reduced to its path and query) because
CPEs send unescaped spaces that the lenient HTTP parser escapes before we see them. Path-only
``uri`` values (an old browser bug) are refused: the query carries the device identity.

Client certificates (mTLS)
--------------------------
uvicorn (0.54) does not put TLS information in the ASGI scope: none of its HTTP protocols sets the
ASGI TLS extension (``scope["extensions"]["tls"]``, asgiref specs/tls.rst). The SSL object is only
reachable from the protocol, as ``transport.get_extra_info("ssl_object")``. :func:`tls_scope_extension`
builds the extension from it; wire it in a subclass of the HTTP protocol::

    class TlsScopeHttpProtocol(LenientHttpToolsProtocol):
        def connection_made(self, transport):
            super().connection_made(transport)
            ssl_object = transport.get_extra_info("ssl_object")
            self._tls = None if ssl_object is None else tls_scope_extension(ssl_object)

        def on_message_begin(self):
            super().on_message_begin()
            if self._tls is not None:
                self.scope["extensions"] = {**self.scope.get("extensions", {}), "tls": self._tls}

and run uvicorn with ``ssl_ca_certs=<device CA bundle>``, ``ssl_cert_reqs=ssl.CERT_OPTIONAL`` (so
devices without certificates can still use Basic/Digest) or ``CERT_REQUIRED``. Then
:func:`identity_from_client_cert` reads the subject CN. Python only fills ``getpeercert()`` for a
certificate that passed verification against ``ssl_ca_certs``, so an unverified certificate never
yields an identity.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import logging
import re
import secrets
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import unquote, urlsplit

from ._credentials import DIGEST_ALGORITHMS, CredentialStore, digest_hash, realm_problem

log = logging.getLogger(__name__)

AuthScheme = Literal["none", "basic", "digest", "tls"]
BindingMode = Literal["off", "serial", "device_id"]
BINDING_MODES: Final[tuple[BindingMode, ...]] = ("off", "serial", "device_id")
# Failure codes, stable for metrics labels (``reason`` is for humans).
AuthFailure = Literal[
    "missing", "malformed", "unsupported", "bad_credentials", "stale_nonce", "client_cert_required"
]

MAX_AUTHORIZATION_LENGTH: Final = 4096
MIN_NONCE_SECRET_BYTES: Final = 16
# Tolerated lead of another replica's clock over ours when it minted a nonce.
NONCE_CLOCK_SKEW_S: Final = 30.0
_NONCE_BODY_BYTES: Final = 16  # timestamp (8) + random (8)
_NONCE_MAC_BYTES: Final = 16
_NONCE_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")  # 32 bytes, base64url without padding

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_AUTH_PARAM = re.compile(rf'[ \t]*({_TOKEN})[ \t]*=[ \t]*(?:({_TOKEN})|"((?:[^"\\]|\\.)*)")[ \t]*')
_QUOTED_PAIR = re.compile(r"\\(.)")
_LIST_SEPARATOR = re.compile(r"[ \t]*(?:,[ \t]*)*")
_NC = re.compile(r"[0-9a-fA-F]{8}")
_HASH_LENGTH: Final = {"MD5": 32, "SHA-256": 64}
_REQUIRED_DIGEST_PARAMS: Final = ("realm", "nonce", "uri", "response", "qop", "nc", "cnonce")
_TLS_VERSIONS: Final = {"TLSv1": 0x0301, "TLSv1.1": 0x0302, "TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


@dataclass(frozen=True)
class AuthResult:
    """Who sent the request: ``user`` is None only for anonymous requests (auth not required)."""

    user: str | None
    scheme: AuthScheme


class AuthError(Exception):
    """Refuse the request with ``status`` (401, or 403 for a missing client certificate), ``headers``
    (``WWW-Authenticate`` with every challenge, comma-joined) and ``reason`` (one line, safe to
    send). ``challenges`` holds the challenges one by one, for callers that prefer one
    ``WWW-Authenticate`` header per challenge (friendlier to naive CPE parsers)."""

    def __init__(
        self,
        reason: str,
        *,
        code: AuthFailure,
        challenges: Sequence[str] = (),
        status: int = 401,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.code = code
        self.challenges = tuple(challenges)
        self.headers = {"WWW-Authenticate": ", ".join(self.challenges)} if self.challenges else {}


class _Refused(Exception):
    """Internal: a failure before the challenges are attached."""

    def __init__(self, code: AuthFailure, reason: str, *, user: str | None = None, stale: bool = False):
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.user = user
        self.stale = stale


class Authenticator:
    """Checks ``Authorization`` headers of CPE reports. Stateless apart from the store, so one
    instance serves all requests; ``authenticate`` may run in a worker thread (Basic costs a KDF
    run on a cache miss: ``await starlette.concurrency.run_in_threadpool(auth.authenticate, ...)``
    keeps the event loop free)."""

    def __init__(
        self,
        store: CredentialStore | None,
        *,
        realm: str,
        digest: bool,
        require: bool,
        nonce_secret: bytes,
        nonce_ttl_s: float,
        clock: Callable[[], float],
        basic: bool = True,
        digest_algorithms: Sequence[str] = DIGEST_ALGORITHMS,
    ) -> None:
        problems = []
        if p := realm_problem(realm):
            problems.append(f"realm: {p}")
        if digest and len(nonce_secret) < MIN_NONCE_SECRET_BYTES:
            problems.append(f"nonce_secret: at least {MIN_NONCE_SECRET_BYTES} bytes are needed for Digest")
        if nonce_ttl_s <= 0:
            problems.append(f"nonce_ttl_s: must be > 0 (got {nonce_ttl_s})")
        unknown = [a for a in digest_algorithms if a not in DIGEST_ALGORITHMS]
        if unknown or not digest_algorithms:
            problems.append(f"digest_algorithms: choose from {list(DIGEST_ALGORITHMS)} (got {unknown})")
        if store is not None and not (basic or digest):
            problems.append("with a credentials store, enable basic or digest")
        if problems:
            raise ValueError("; ".join(problems))
        self._store = store
        self._realm = realm
        self._digest = digest
        self._basic = basic
        self._require = require
        self._algorithms = tuple(dict.fromkeys(digest_algorithms))
        self._nonce_ttl_ms = int(nonce_ttl_s * 1000)
        self._clock = clock
        # Per-realm key: replicas sharing a secret but serving different realms reject each
        # other's nonces.
        self._nonce_key = hmac.digest(nonce_secret, b"digest-nonce\x00" + realm.encode(), "sha256")

    @staticmethod
    def binding_ok(user: str, device_id_parts: Mapping[str, str], mode: str) -> bool:
        """Same as the module-level :func:`binding_ok`."""
        return binding_ok(user, device_id_parts, mode)

    def authenticate(
        self, method: str, uri: str, authorization: str | None, *, tls_identity: str | None = None
    ) -> AuthResult:
        """Authenticate one request. ``uri`` is the request target as received (path and query,
        e.g. ``scope["raw_path"] + b"?" + scope["query_string"]`` decoded as latin-1);
        ``authorization`` the header value as Starlette gives it (latin-1 decoded);
        ``tls_identity`` the result of :func:`identity_from_client_cert`, if any."""
        if tls_identity is not None:
            return AuthResult(tls_identity, "tls")
        if self._store is None:
            if self._require:
                raise AuthError(
                    "a verified TLS client certificate is required", code="client_cert_required", status=403
                )
            return AuthResult(None, "none")
        try:
            return self._authenticate(self._store, method, uri, authorization)
        except _Refused as refused:
            # Names only: the header, password, HA1 and response never reach the log.
            log.debug(
                "authentication refused (%s) for user %r: %s", refused.code, refused.user, refused.reason
            )
            raise AuthError(
                refused.reason, code=refused.code, challenges=self.challenges(stale=refused.stale)
            ) from None

    def _authenticate(
        self, store: CredentialStore, method: str, uri: str, authorization: str | None
    ) -> AuthResult:
        if authorization is None or not authorization.strip():
            if self._require:
                raise _Refused("missing", "authentication required")
            return AuthResult(None, "none")
        if len(authorization) > MAX_AUTHORIZATION_LENGTH:
            raise _Refused("malformed", f"Authorization header longer than {MAX_AUTHORIZATION_LENGTH}")
        scheme, _, credentials = authorization.strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "basic" and self._basic:
            return self._check_basic(store, credentials.strip())
        if scheme == "digest" and self._digest:
            return self._check_digest(store, method, uri, credentials)
        offered = " or ".join(s for s, on in (("Digest", self._digest), ("Basic", self._basic)) if on)
        raise _Refused("unsupported", f"unsupported authentication scheme; use {offered}")

    def challenges(self, *, stale: bool = False) -> tuple[str, ...]:
        """The ``WWW-Authenticate`` challenges for a fresh 401 (most preferred first)."""
        out = []
        if self._digest:
            nonce = self._make_nonce()
            for algorithm in self._algorithms:
                out.append(
                    f'Digest realm="{self._realm}", qop="auth", algorithm={algorithm}, nonce="{nonce}"'
                    + (", stale=true" if stale else "")
                )
        if self._basic:
            out.append(f'Basic realm="{self._realm}", charset="UTF-8"')
        return tuple(out)

    # --- Basic ---------------------------------------------------------------------------------

    def _check_basic(self, store: CredentialStore, token: str) -> AuthResult:
        try:
            decoded = base64.b64decode(token, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise _Refused("malformed", "Basic credentials are not base64 of UTF-8 user:password") from None
        user, sep, password = decoded.partition(":")
        if not sep or not user:
            raise _Refused("malformed", "Basic credentials must be user:password")
        if not store.verify_basic(user, password):
            raise _Refused("bad_credentials", "invalid credentials", user=user)
        return AuthResult(user, "basic")

    # --- Digest --------------------------------------------------------------------------------

    def _check_digest(self, store: CredentialStore, method: str, uri: str, text: str) -> AuthResult:
        params = _parse_auth_params(text)
        user = _digest_username(params)
        missing = [name for name in _REQUIRED_DIGEST_PARAMS if name not in params]
        if missing:
            raise _Refused("malformed", f"Digest credentials lack {', '.join(missing)}", user=user)
        if params.get("userhash", "false").lower() == "true":
            raise _Refused("unsupported", "Digest userhash is not supported", user=user)
        if params["realm"] != self._realm:
            raise _Refused("bad_credentials", "Digest realm does not match the challenge", user=user)
        if params["qop"].lower() != "auth":
            raise _Refused("unsupported", 'Digest qop must be "auth"', user=user)
        if not _NC.fullmatch(params["nc"]) or not params["cnonce"]:
            raise _Refused("malformed", "Digest nc must be 8 hex digits and cnonce non-empty", user=user)
        algorithm = params.get("algorithm", "MD5").upper()
        base, sess = (algorithm[:-5], True) if algorithm.endswith("-SESS") else (algorithm, False)
        if base not in self._algorithms:
            raise _Refused(
                "unsupported", f"Digest algorithm must be one of {', '.join(self._algorithms)}", user=user
            )
        response = params["response"].lower()
        if len(response) != _HASH_LENGTH[base] or not all(c in "0123456789abcdef" for c in response):
            raise _Refused("malformed", f"Digest response must be {_HASH_LENGTH[base]} hex digits", user=user)
        if not _same_request_target(params["uri"], uri):
            raise _Refused("malformed", "Digest uri does not match the request target", user=user)

        stored = store.digest_ha1(user, self._realm, base)
        # Unknown users (or devices without Digest) are checked against a random HA1 so they take
        # the same path and time as a wrong password.
        ha1 = stored if stored is not None else secrets.token_hex(_HASH_LENGTH[base] // 2)
        nonce, nc, cnonce = params["nonce"], params["nc"], params["cnonce"]
        if sess:
            ha1 = digest_hash(base, f"{ha1}:{nonce}:{cnonce}")
        ha2 = digest_hash(base, f"{method}:{params['uri']}")
        expected = digest_hash(base, f"{ha1}:{nonce}:{nc}:{cnonce}:{params['qop']}:{ha2}")
        if stored is None or not hmac.compare_digest(expected.encode(), response.encode()):
            raise _Refused("bad_credentials", "invalid credentials", user=user)
        # The response proves the password; only now does the nonce's freshness matter (RFC 7616
        # §3.3: stale=true means "credentials fine, retry with the new nonce").
        if not self._nonce_fresh(nonce):
            raise _Refused(
                "stale_nonce", "Digest nonce expired, retry with the new one", user=user, stale=True
            )
        return AuthResult(user, "digest")

    def _make_nonce(self) -> str:
        body = int(self._clock() * 1000).to_bytes(8, "big", signed=True) + secrets.token_bytes(8)
        mac = hmac.digest(self._nonce_key, body, "sha256")[:_NONCE_MAC_BYTES]
        return base64.urlsafe_b64encode(body + mac).decode("ascii").rstrip("=")

    def _nonce_fresh(self, nonce: str) -> bool:
        if not _NONCE_PATTERN.fullmatch(nonce):
            return False
        raw = base64.urlsafe_b64decode(nonce + "=")
        body, mac = raw[:_NONCE_BODY_BYTES], raw[_NONCE_BODY_BYTES:]
        if not hmac.compare_digest(mac, hmac.digest(self._nonce_key, body, "sha256")[:_NONCE_MAC_BYTES]):
            return False
        age_ms = int(self._clock() * 1000) - int.from_bytes(body[:8], "big", signed=True)
        return -NONCE_CLOCK_SKEW_S * 1000 <= age_ms <= self._nonce_ttl_ms


def _parse_auth_params(text: str) -> dict[str, str]:
    """RFC 7235 auth-param list (``name=token`` or ``name="quoted string"``, comma separated).
    Names are lowercased; duplicates and junk are refused."""
    params: dict[str, str] = {}
    pos = _LIST_SEPARATOR.match(text).end()  # type: ignore[union-attr]  # matches the empty string
    while pos < len(text):
        match = _AUTH_PARAM.match(text, pos)
        if match is None:
            raise _Refused("malformed", "Digest credentials are not a list of name=value pairs")
        name = match.group(1).lower()
        value = match.group(2) if match.group(2) is not None else _QUOTED_PAIR.sub(r"\1", match.group(3))
        if name in params:
            raise _Refused("malformed", f"Digest parameter {name} appears twice")
        params[name] = value
        pos = match.end()
        if pos < len(text) and text[pos] != ",":
            raise _Refused("malformed", "Digest parameters must be separated by commas")
        pos = _LIST_SEPARATOR.match(text, pos).end()  # type: ignore[union-attr]
    return params


def _digest_username(params: Mapping[str, str]) -> str:
    if "username" in params and "username*" in params:
        raise _Refused("malformed", "Digest credentials carry both username and username*")
    if "username*" in params:
        # RFC 8187 ext-value: UTF-8'<lang>'<percent-encoded>
        charset, _, rest = params["username*"].partition("'")
        _, sep, encoded = rest.partition("'")
        if charset.lower() != "utf-8" or not sep:
            raise _Refused("malformed", "Digest username* must be UTF-8''<percent-encoded>")
        try:
            user = unquote(encoded, encoding="utf-8", errors="strict")
        except UnicodeDecodeError:
            raise _Refused("malformed", "Digest username* is not UTF-8") from None
    elif "username" in params:
        user = params["username"]
        # Header values reach us latin-1 decoded; CPEs with non-ASCII names send UTF-8 bytes.
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            user = user.encode("latin-1").decode("utf-8")
    else:
        raise _Refused("malformed", "Digest credentials lack username")
    if not user:
        raise _Refused("malformed", "Digest username is empty")
    return user


def _request_target(uri: str) -> str:
    if "://" in uri.split("?", 1)[0]:
        parts = urlsplit(uri)
        uri = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return unquote(uri, errors="surrogateescape")


def _same_request_target(directive: str, request: str) -> bool:
    return _request_target(directive) == _request_target(request)


# --- binding ---------------------------------------------------------------------------------


def binding_ok(user: str, device_id_parts: Mapping[str, str], mode: str) -> bool:
    """May ``user`` send a report claiming ``device_id_parts`` (the URL query's ``oui``, ``pc``,
    ``sn``, ``eid``)? Modes: ``off`` (anyone may report as anyone), ``serial`` (user is the serial
    number or the USP endpoint id), ``device_id`` (user is ``OUI-ProductClass-SerialNumber`` or the
    endpoint id). Comparisons are exact (case-sensitive), as the device id is built verbatim from
    the query. A report that claims no identity at all is allowed: its identity can only come from
    the authenticated user. ValueError for an unknown mode (a config error, caught at start-up)."""
    if mode not in BINDING_MODES:
        raise ValueError(f"binding mode must be one of {', '.join(BINDING_MODES)} (got {mode!r})")
    if mode == "off":
        return True
    ids = {key: value.strip() for key, value in device_id_parts.items() if value and value.strip()}
    if not ids.keys() & {"oui", "pc", "sn", "eid"}:
        return True
    if ids.get("eid") == user:
        return True
    if mode == "serial":
        return ids.get("sn") == user
    if all(key in ids for key in ("oui", "pc", "sn")):
        return f"{ids['oui']}-{ids['pc']}-{ids['sn']}" == user
    return False


# --- client certificates ---------------------------------------------------------------------

_RFC4514_SHORT_NAMES: Final = {
    "commonName": "CN",
    "countryName": "C",
    "localityName": "L",
    "stateOrProvinceName": "ST",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "streetAddress": "STREET",
    "domainComponent": "DC",
    "userId": "UID",
}
_COMMON_NAME_TYPES: Final = frozenset({"cn", "commonname", "2.5.4.3", "oid.2.5.4.3"})


def _rfc4514_escape(value: str) -> str:
    out = []
    for i, char in enumerate(value):
        if char in '"+,;<>\\=' or (char == "#" and i == 0) or (char == " " and i in (0, len(value) - 1)):
            out.append("\\" + char)
        elif char == "\x00":
            out.append("\\00")
        else:
            out.append(char)
    return "".join(out)


def rfc4514_from_peer_cert(cert: Mapping[str, Any]) -> str | None:
    """The subject of a ``getpeercert()`` dict as an RFC 4514 string (most specific RDN first), or
    None if it has no subject."""
    subject = cert.get("subject")
    if not subject:
        return None
    rdns = []
    for rdn in reversed(subject):
        rdns.append("+".join(f"{_RFC4514_SHORT_NAMES.get(k, k)}={_rfc4514_escape(v)}" for k, v in rdn))
    return ",".join(rdns)


def common_name_from_peer_cert(cert: Mapping[str, Any]) -> str | None:
    """The subject CN of a ``getpeercert()`` dict; None if absent or ambiguous (several CNs)."""
    names = [v for rdn in cert.get("subject", ()) for k, v in rdn if k == "commonName"]
    return names[0] if len(names) == 1 and names[0] else None


def _split_unescaped(text: str, separator: str) -> list[str]:
    parts, current, i = [], [], 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            current.append(text[i : i + 2])
            i += 2
            continue
        if char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    parts.append("".join(current))
    return parts


def _rfc4514_unescape(value: str) -> str | None:
    if value.startswith("#"):
        return None  # hex-encoded BER: not a plain string
    out, i = bytearray(), 0
    while i < len(value):
        char = value[i]
        if char != "\\":
            out += char.encode("utf-8")
            i += 1
        elif re.fullmatch(r"[0-9A-Fa-f]{2}", value[i + 1 : i + 3]):
            out.append(int(value[i + 1 : i + 3], 16))  # escaped byte of a UTF-8 sequence
            i += 3
        elif i + 1 < len(value):
            out += value[i + 1].encode("utf-8")
            i += 2
        else:
            return None
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        return None


def common_name_from_rfc4514(name: str) -> str | None:
    """The CN of an RFC 4514 distinguished name; None if absent, malformed or ambiguous."""
    found = []
    for rdn in _split_unescaped(name, ","):
        for attribute in _split_unescaped(rdn, "+"):
            kind, sep, value = attribute.partition("=")
            if not sep:
                return None
            if kind.strip().lower() in _COMMON_NAME_TYPES:
                found.append(_rfc4514_unescape(value.strip()))
    return found[0] if len(found) == 1 and found[0] else None


def tls_scope_extension(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> dict[str, object]:
    """The ASGI TLS extension (asgiref specs/tls.rst) for one connection, built from the
    transport's ``get_extra_info("ssl_object")``. Compute it once per connection."""
    der = ssl_object.getpeercert(binary_form=True)
    cert = ssl_object.getpeercert() if der else None
    # getpeercert() is empty unless the certificate was verified (CERT_OPTIONAL/REQUIRED + CA).
    verified = bool(cert)
    return {
        "server_cert": None,  # not needed; the spec allows None
        "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
        "client_cert_name": rfc4514_from_peer_cert(cert) if cert else None,
        "client_cert_error": None if verified or not der else "client certificate not verified",
        "tls_version": _TLS_VERSIONS.get(ssl_object.version() or ""),
        "cipher_suite": None,  # Python's ssl exposes only the OpenSSL cipher name
    }


def identity_from_client_cert(scope: Mapping[str, Any]) -> str | None:
    """The subject CN of the verified TLS client certificate of this request (ASGI TLS extension
    ``client_cert_name``), or None without a (verified, unambiguous) certificate."""
    extensions = scope.get("extensions")
    tls = extensions.get("tls") if isinstance(extensions, Mapping) else None
    if not isinstance(tls, Mapping) or tls.get("client_cert_error") is not None:
        return None
    name = tls.get("client_cert_name")
    return common_name_from_rfc4514(name) if isinstance(name, str) else None
