"""CPE authentication: Basic and Digest against real clients (httpx, curl) and against RFC 7616
formulas computed here independently, malformed headers, nonce expiry, binding, client
certificates (mTLS through a real uvicorn), and no secrets in logs."""

import base64
import contextlib
import hashlib
import logging
import re
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
import uvicorn
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from receiver.ingress._auth import (
    Authenticator,
    AuthError,
    AuthResult,
    binding_ok,
    common_name_from_peer_cert,
    common_name_from_rfc4514,
    identity_from_client_cert,
    rfc4514_from_peer_cert,
    tls_scope_extension,
)
from receiver.ingress._credentials import CredentialStore, compute_ha1, new_device_credential
from receiver.ingress._lenient_http import LenientHttpToolsProtocol

REALM = "telemetry"
PASSWORD = "s3cret pässword"
SECRET = b"n" * 32
TTL = 300.0
TARGET = "/bulkdata?oui=00D09E&pc=IGD&sn=SN0001"


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def store() -> CredentialStore:
    return CredentialStore(
        {
            "SN0001": new_device_credential("SN0001", PASSWORD, digest_realms=[REALM]),
            "00D09E-IGD-SN0002": new_device_credential("00D09E-IGD-SN0002", "basic-only"),
            "Mufasa": new_device_credential(
                "Mufasa", "Circle of Life", digest_realms=["http-auth@example.org"]
            ),
            "Jäsøn Doe": new_device_credential("Jäsøn Doe", "pw", digest_realms=[REALM]),
        }
    )


def make_auth(
    store: CredentialStore | None, clock: Callable[[], float] | None = None, **overrides: Any
) -> Authenticator:
    options: dict[str, Any] = {
        "realm": REALM,
        "digest": True,
        "require": True,
        "nonce_secret": SECRET,
        "nonce_ttl_s": TTL,
        "clock": clock or FakeClock(),
    }
    return Authenticator(store, **(options | overrides))


# --- an independent RFC 7616 client ----------------------------------------------------------


def _h(algorithm: str, text: str) -> str:
    name = "md5" if algorithm.upper().startswith("MD5") else "sha256"
    return hashlib.new(name, text.encode()).hexdigest()


def client_response(
    *,
    user: str,
    password: str,
    realm: str,
    method: str,
    uri: str,
    nonce: str,
    nc: str = "00000001",
    cnonce: str = "0a4f113b",
    algorithm: str = "MD5",
) -> str:
    ha1 = _h(algorithm, f"{user}:{realm}:{password}")
    if algorithm.upper().endswith("-SESS"):
        ha1 = _h(algorithm, f"{ha1}:{nonce}:{cnonce}")
    ha2 = _h(algorithm, f"{method}:{uri}")
    return _h(algorithm, f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")


def digest_header(
    nonce: str,
    *,
    user: str = "SN0001",
    password: str = PASSWORD,
    realm: str = REALM,
    method: str = "POST",
    uri: str = TARGET,
    algorithm: str = "MD5",
    **replace: str | None,
) -> str:
    params: dict[str, str | None] = {
        "username": f'"{user}"',
        "realm": f'"{realm}"',
        "nonce": f'"{nonce}"',
        "uri": f'"{uri}"',
        "algorithm": algorithm,
        "qop": "auth",
        "nc": "00000001",
        "cnonce": '"0a4f113b"',
        "response": '"'
        + client_response(
            user=user,
            password=password,
            realm=realm,
            method=method,
            uri=uri,
            nonce=nonce,
            algorithm=algorithm,
        )
        + '"',
    }
    params |= replace
    return "Digest " + ", ".join(f"{k}={v}" for k, v in params.items() if v is not None)


def nonce_of(error: AuthError) -> str:
    match = re.search(r'nonce="([^"]+)"', error.headers["WWW-Authenticate"])
    assert match is not None
    return match.group(1)


def fresh_nonce(auth: Authenticator) -> str:
    with pytest.raises(AuthError) as info:
        auth.authenticate("POST", TARGET, None)
    return nonce_of(info.value)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# --- interop with real clients ---------------------------------------------------------------


def auth_app(auth: Authenticator, *, separate_headers: bool = True) -> Starlette:
    """What the ingress will do: authenticate, answer 401 with the challenges, else echo the user."""

    async def endpoint(request: Request) -> Response:
        query = request.scope["query_string"].decode("latin-1")
        target = request.scope["raw_path"].decode("latin-1") + (f"?{query}" if query else "")
        try:
            result = auth.authenticate(
                request.method,
                target,
                request.headers.get("authorization"),
                tls_identity=identity_from_client_cert(request.scope),
            )
        except AuthError as exc:
            response = PlainTextResponse(exc.reason, status_code=exc.status)
            if separate_headers:
                for challenge in exc.challenges:
                    response.raw_headers.append((b"www-authenticate", challenge.encode()))
            else:
                response.headers.update(exc.headers)
            return response
        return PlainTextResponse(f"{result.user} {result.scheme}")

    return Starlette(routes=[Route("/bulkdata", endpoint, methods=["POST", "PUT"])])


async def _post(app: Starlette, target: str, auth: httpx.Auth) -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://cpe.test"
    ) as client:
        return await client.post(target, content=b"x", auth=auth)


@pytest.mark.parametrize("algorithms", [("MD5",), ("SHA-256",), ("MD5", "SHA-256"), ("SHA-256", "MD5")])
@pytest.mark.parametrize("separate_headers", [True, False])
async def test_httpx_digest_client_is_accepted(
    store: CredentialStore, algorithms: tuple[str, ...], separate_headers: bool
) -> None:
    app = auth_app(
        make_auth(store, digest_algorithms=algorithms, clock=time.time), separate_headers=separate_headers
    )
    # A space in the query: httpx escapes it, and the digest covers the escaped form.
    response = await _post(
        app, "/bulkdata?oui=00D09E&pc=Home Gateway&sn=SN0001", httpx.DigestAuth("SN0001", PASSWORD)
    )
    assert (response.status_code, response.text) == (200, "SN0001 digest")
    sent = response.request.headers["authorization"]
    assert f"algorithm={algorithms[0] if separate_headers else algorithms[-1]}" in sent


async def test_httpx_digest_wrong_password_gets_a_new_challenge(store: CredentialStore) -> None:
    app = auth_app(make_auth(store, clock=time.time))
    response = await _post(app, TARGET, httpx.DigestAuth("SN0001", "wrong"))
    assert response.status_code == 401
    assert response.text == "invalid credentials"
    challenges = response.headers.get_list("www-authenticate")
    assert [c.split()[0] for c in challenges] == ["Digest", "Digest", "Basic"]
    assert "stale" not in response.headers["www-authenticate"]


@pytest.mark.parametrize(
    ("user", "password", "status", "body"),
    [
        ("SN0001", PASSWORD, 200, "SN0001 basic"),
        ("00D09E-IGD-SN0002", "basic-only", 200, "00D09E-IGD-SN0002 basic"),
        ("SN0001", "wrong", 401, "invalid credentials"),
        ("nobody", PASSWORD, 401, "invalid credentials"),  # same answer: no user enumeration
    ],
)
async def test_httpx_basic(store: CredentialStore, user: str, password: str, status: int, body: str) -> None:
    response = await _post(auth_app(make_auth(store)), TARGET, httpx.BasicAuth(user, password))
    assert (response.status_code, response.text) == (status, body)


@contextlib.contextmanager
def serve(app: Starlette, **config: Any) -> Iterator[int]:
    """A real uvicorn on a free port, in a thread."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="none", **config
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.mark.parametrize("algorithms", [("MD5", "SHA-256"), ("SHA-256",)])
def test_curl_digest_against_uvicorn(store: CredentialStore, algorithms: tuple[str, ...]) -> None:
    app = auth_app(make_auth(store, digest_algorithms=algorithms, clock=time.time))
    with serve(app, http=LenientHttpToolsProtocol) as port:
        url = f"http://127.0.0.1:{port}{TARGET}"
        for password, expected in ((PASSWORD, "200 SN0001 digest"), ("wrong", "401 invalid credentials")):
            result = subprocess.run(
                [
                    "curl",
                    "-sS",
                    "--digest",
                    "-u",
                    f"SN0001:{password}",
                    "--data",
                    "x",
                    "-w",
                    " %{http_code}",
                    url,
                ],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            )
            body, _, code = result.stdout.rpartition(" ")
            assert f"{code} {body}" == expected


# --- Digest against the RFC and by hand ------------------------------------------------------


@pytest.mark.parametrize(
    ("algorithm", "response"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_rfc7616_example_response_is_recognised_as_correct(
    store: CredentialStore, algorithm: str, response: str
) -> None:
    """RFC 7616 section 3.9.1. The nonce is not one of ours, so a *correct* response earns
    stale=true (credentials fine, retry with our nonce); a wrong one is simply refused."""
    auth = make_auth(store, realm="http-auth@example.org")
    header = (
        'Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", '
        f'algorithm={algorithm}, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, '
        'cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, '
        f'response="{response}", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
    )
    with pytest.raises(AuthError) as info:
        auth.authenticate("GET", "/dir/index.html", header)
    assert info.value.code == "stale_nonce"
    assert "stale=true" in info.value.headers["WWW-Authenticate"]
    with pytest.raises(AuthError) as info:
        auth.authenticate("GET", "/dir/index.html", header.replace(response, "0" * len(response)))
    assert info.value.code == "bad_credentials"
    assert "stale" not in info.value.headers["WWW-Authenticate"]


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256", "MD5-sess", "SHA-256-sess", "md5", "sha-256"])
def test_hand_computed_digest(store: CredentialStore, algorithm: str) -> None:
    auth = make_auth(store)
    nonce = fresh_nonce(auth)
    assert auth.authenticate("POST", TARGET, digest_header(nonce, algorithm=algorithm)) == AuthResult(
        "SN0001", "digest"
    )


def test_digest_defaults_to_md5_without_algorithm(store: CredentialStore) -> None:
    auth = make_auth(store)
    nonce = fresh_nonce(auth)
    header = digest_header(nonce).replace("algorithm=MD5, ", "")
    assert "algorithm" not in header
    assert auth.authenticate("POST", TARGET, header).user == "SN0001"


def test_digest_refuses_algorithm_not_offered(store: CredentialStore) -> None:
    auth = make_auth(store, digest_algorithms=("SHA-256",))
    nonce = fresh_nonce(auth)
    with pytest.raises(AuthError) as info:
        auth.authenticate("POST", TARGET, digest_header(nonce, algorithm="MD5"))
    assert info.value.code == "unsupported"


def test_digest_username_forms(store: CredentialStore) -> None:
    auth = make_auth(store)
    nonce = fresh_nonce(auth)
    # RFC 8187 username*, as RFC 7616 section 3.4.4 allows for non-ASCII names.
    ext = digest_header(nonce, user="Jäsøn Doe", password="pw", username=None)
    ext = ext.replace("Digest ", "Digest username*=UTF-8''J%C3%A4s%C3%B8n%20Doe, ", 1)
    assert auth.authenticate("POST", TARGET, ext).user == "Jäsøn Doe"
    # A raw UTF-8 quoted username, as Starlette hands it over (header bytes decoded as latin-1).
    raw = digest_header(nonce, user="Jäsøn Doe", password="pw").encode().decode("latin-1")
    assert auth.authenticate("POST", TARGET, raw).user == "Jäsøn Doe"


def test_digest_uri_matching_tolerates_cpe_spelling(store: CredentialStore) -> None:
    auth = make_auth(store)
    nonce = fresh_nonce(auth)
    signed = "/bulkdata?pc=Home Gateway&sn=SN0001"  # what the CPE put in its request line
    received = "/bulkdata?pc=Home%20Gateway&sn=SN0001"  # after the lenient parser escaped it
    assert auth.authenticate("POST", received, digest_header(nonce, uri=signed)).user == "SN0001"
    absolute = "http://receiver.example:8080" + TARGET
    assert auth.authenticate("POST", TARGET, digest_header(nonce, uri=absolute)).user == "SN0001"


def test_digest_method_is_part_of_the_response(store: CredentialStore) -> None:
    auth = make_auth(store)
    nonce = fresh_nonce(auth)
    with pytest.raises(AuthError) as info:
        auth.authenticate("PUT", TARGET, digest_header(nonce, method="POST"))
    assert info.value.code == "bad_credentials"


@pytest.mark.parametrize(
    ("user", "password"), [("SN0001", "wrong"), ("nobody", PASSWORD), ("00D09E-IGD-SN0002", "basic-only")]
)
def test_digest_bad_credentials(store: CredentialStore, user: str, password: str) -> None:
    auth = make_auth(store)
    nonce = fresh_nonce(auth)
    with pytest.raises(AuthError) as info:
        auth.authenticate("POST", TARGET, digest_header(nonce, user=user, password=password))
    assert (info.value.status, info.value.code, info.value.reason) == (
        401,
        "bad_credentials",
        "invalid credentials",
    )


# --- nonces ----------------------------------------------------------------------------------


def test_expired_nonce_gets_stale_true_and_the_new_nonce_works(store: CredentialStore) -> None:
    clock = FakeClock()
    auth = make_auth(store, clock=clock)
    nonce = fresh_nonce(auth)
    clock.now += TTL - 1
    assert auth.authenticate("POST", TARGET, digest_header(nonce)).user == "SN0001"
    clock.now += 2
    with pytest.raises(AuthError) as info:
        auth.authenticate("POST", TARGET, digest_header(nonce))
    error = info.value
    assert (error.status, error.code) == (401, "stale_nonce")
    digest_challenges = [c for c in error.challenges if c.startswith("Digest")]
    assert digest_challenges and all(c.endswith("stale=true") for c in digest_challenges)
    new_nonce = nonce_of(error)
    assert new_nonce != nonce
    assert auth.authenticate("POST", TARGET, digest_header(new_nonce)).user == "SN0001"


def test_expired_nonce_with_wrong_password_is_not_stale(store: CredentialStore) -> None:
    clock = FakeClock()
    auth = make_auth(store, clock=clock)
    nonce = fresh_nonce(auth)
    clock.now += TTL + 1
    with pytest.raises(AuthError) as info:
        auth.authenticate("POST", TARGET, digest_header(nonce, password="wrong"))
    assert info.value.code == "bad_credentials"
    assert "stale" not in info.value.headers["WWW-Authenticate"]


def test_replicas_sharing_the_secret_accept_each_others_nonces(store: CredentialStore) -> None:
    clock = FakeClock()
    replica_a, replica_b = make_auth(store, clock=clock), make_auth(store, clock=clock)
    other_secret = make_auth(store, clock=clock, nonce_secret=b"o" * 32)
    nonce = fresh_nonce(replica_a)
    assert replica_b.authenticate("POST", TARGET, digest_header(nonce)).user == "SN0001"
    with pytest.raises(AuthError) as info:
        other_secret.authenticate("POST", TARGET, digest_header(nonce))
    assert info.value.code == "stale_nonce"


def test_nonce_from_a_clock_far_ahead_is_refused(store: CredentialStore) -> None:
    ahead, clock = FakeClock(), FakeClock()
    ahead.now += 10
    assert (
        make_auth(store, clock=clock)
        .authenticate("POST", TARGET, digest_header(fresh_nonce(make_auth(store, clock=ahead))))
        .user
    )
    ahead.now += 3600
    with pytest.raises(AuthError) as info:
        make_auth(store, clock=clock).authenticate(
            "POST", TARGET, digest_header(fresh_nonce(make_auth(store, clock=ahead)))
        )
    assert info.value.code == "stale_nonce"


def test_tampered_nonce_is_refused_even_with_a_correct_response(store: CredentialStore) -> None:
    auth = make_auth(store)
    nonce = fresh_nonce(auth)
    # Move the timestamp forward; the client recomputes its response over the tampered nonce.
    raw = bytearray(base64.urlsafe_b64decode(nonce + "="))
    raw[5] ^= 0x01
    tampered = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    for bad in (tampered, "short", nonce[:-1] + "*"):
        with pytest.raises(AuthError) as info:
            auth.authenticate("POST", TARGET, digest_header(bad))
        assert info.value.code == "stale_nonce"


# --- malformed input -------------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


MALFORMED: list[tuple[str, str, str]] = [
    # (id, header; "{nonce}" is replaced by a fresh nonce, expected code)
    ("empty", "", "missing"),
    ("blank", "   ", "missing"),
    ("bearer", "Bearer abc", "unsupported"),
    ("scheme-only-basic", "Basic", "malformed"),
    ("basic-not-base64", "Basic !!!not-base64", "malformed"),
    ("basic-no-colon", "Basic " + _b64(b"SN0001"), "malformed"),
    ("basic-empty-user", "Basic " + _b64(b":pw"), "malformed"),
    ("basic-not-utf8", "Basic " + _b64(b"\xff\xfe:pw"), "malformed"),
    ("basic-too-long", "Basic " + "A" * 5000, "malformed"),
    ("digest-empty", "Digest", "malformed"),
    ("digest-only-username", 'Digest username="SN0001"', "malformed"),
    ("digest-no-comma", 'Digest username="SN0001" realm="telemetry"', "malformed"),
    ("digest-unterminated", 'Digest username="SN0001', "malformed"),
    ("digest-no-name", "Digest =x", "malformed"),
    ("digest-garbage", "Digest ,,,;;;", "malformed"),
    ("digest-duplicate", digest_header("{nonce}").replace("Digest ", "Digest nc=00000002, "), "malformed"),
    ("digest-both-usernames", digest_header("{nonce}") + ", username*=UTF-8''SN0001", "malformed"),
    (
        "digest-bad-ext-username",
        digest_header("{nonce}", username=None) + ", username*=latin1''x",
        "malformed",
    ),
    ("digest-empty-username", digest_header("{nonce}", username='""'), "malformed"),
    ("digest-no-qop", digest_header("{nonce}", qop=None), "malformed"),
    ("digest-auth-int", digest_header("{nonce}", qop="auth-int"), "unsupported"),
    ("digest-bad-nc", digest_header("{nonce}", nc="1"), "malformed"),
    ("digest-empty-cnonce", digest_header("{nonce}", cnonce='""'), "malformed"),
    ("digest-unknown-algorithm", digest_header("{nonce}", algorithm="SHA-512"), "unsupported"),
    ("digest-response-not-hex", digest_header("{nonce}", response='"' + "z" * 32 + '"'), "malformed"),
    ("digest-response-short", digest_header("{nonce}", response='"abc"'), "malformed"),
    ("digest-other-uri", digest_header("{nonce}", uri="/bulkdata?oui=00D09E&pc=IGD&sn=OTHER"), "malformed"),
    ("digest-path-only-uri", digest_header("{nonce}", uri="/bulkdata"), "malformed"),
    ("digest-other-realm", digest_header("{nonce}", realm="elsewhere"), "bad_credentials"),
    ("digest-userhash", digest_header("{nonce}") + ", userhash=true", "unsupported"),
]


@pytest.mark.parametrize(
    ("header", "code"), [(h, c) for _, h, c in MALFORMED], ids=[i for i, _, _ in MALFORMED]
)
def test_malformed_headers_get_401_with_a_reason(store: CredentialStore, header: str, code: str) -> None:
    auth = make_auth(store)
    header = header.replace("{nonce}", fresh_nonce(auth))
    with pytest.raises(AuthError) as info:
        auth.authenticate("POST", TARGET, header)
    error = info.value
    assert (error.status, error.code) == (401, code)
    assert error.reason and "\n" not in error.reason
    assert error.headers["WWW-Authenticate"].startswith("Digest ")


_FUZZ_AUTH: Authenticator | None = None


def _fuzz_auth() -> Authenticator:
    # Module-level (hypothesis does not mix with function-scoped fixtures); Basic-only users keep
    # the KDF cost of accidental valid Basic tokens low.
    global _FUZZ_AUTH
    if _FUZZ_AUTH is None:
        store = CredentialStore({"u": new_device_credential("u", "p", digest_realms=[REALM])})
        _FUZZ_AUTH = make_auth(store)
    return _FUZZ_AUTH


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["Digest ", "digest ", "Basic ", "", "Digest username=", 'Digest username="u", realm=']),
    st.text(alphabet=st.characters(max_codepoint=0x2FF), max_size=200),
)
def test_arbitrary_headers_only_ever_raise_auth_error(prefix: str, tail: str) -> None:
    try:
        _fuzz_auth().authenticate("POST", TARGET, prefix + tail)
    except AuthError as error:
        assert error.status == 401 and error.reason


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                ["username", "realm", "nonce", "uri", "response", "qop", "nc", "cnonce", "algorithm", "x"]
            ),
            st.text(max_size=40),
        ),
        max_size=10,
    )
)
def test_arbitrary_digest_parameters_only_ever_raise_auth_error(params: list[tuple[str, str]]) -> None:
    header = "Digest " + ", ".join(f'{k}="{v.replace(chr(92), "").replace(chr(34), "")}"' for k, v in params)
    with pytest.raises(AuthError):
        _fuzz_auth().authenticate("POST", TARGET, header)


# --- policy ----------------------------------------------------------------------------------


def test_optional_auth_lets_anonymous_through_but_checks_sent_credentials(store: CredentialStore) -> None:
    auth = make_auth(store, require=False)
    assert auth.authenticate("POST", TARGET, None) == AuthResult(None, "none")
    assert auth.authenticate("POST", TARGET, basic("SN0001", PASSWORD)) == AuthResult("SN0001", "basic")
    with pytest.raises(AuthError) as info:
        auth.authenticate("POST", TARGET, basic("SN0001", "wrong"))
    assert info.value.code == "bad_credentials"


def test_required_auth_without_header_gets_challenges(store: CredentialStore) -> None:
    with pytest.raises(AuthError) as info:
        make_auth(store).authenticate("POST", TARGET, None)
    error = info.value
    assert (error.status, error.code, error.reason) == (401, "missing", "authentication required")
    md5, sha256, basic_challenge = error.challenges
    assert md5.startswith('Digest realm="telemetry", qop="auth", algorithm=MD5, nonce="')
    assert sha256.startswith('Digest realm="telemetry", qop="auth", algorithm=SHA-256, nonce="')
    assert nonce_of(error) in sha256  # one nonce for both: naive parsers mixing them still work
    assert basic_challenge == 'Basic realm="telemetry", charset="UTF-8"'
    assert error.headers == {"WWW-Authenticate": ", ".join(error.challenges)}


def test_scheme_switches(store: CredentialStore) -> None:
    basic_only = make_auth(store, digest=False)
    with pytest.raises(AuthError) as info:
        basic_only.authenticate("POST", TARGET, None)
    assert info.value.challenges == ('Basic realm="telemetry", charset="UTF-8"',)
    with pytest.raises(AuthError) as info:
        basic_only.authenticate("POST", TARGET, 'Digest username="SN0001"')
    assert (info.value.code, info.value.reason) == (
        "unsupported",
        "unsupported authentication scheme; use Basic",
    )

    digest_only = make_auth(store, basic=False)
    with pytest.raises(AuthError) as info:
        digest_only.authenticate("POST", TARGET, basic("SN0001", PASSWORD))
    assert info.value.code == "unsupported"
    assert all(c.startswith("Digest ") for c in info.value.challenges)


def test_without_a_store_auth_is_off_or_client_certificates_only() -> None:
    off = make_auth(None, require=False, digest=False)
    assert off.authenticate("POST", TARGET, basic("anyone", "anything")) == AuthResult(None, "none")
    mtls_only = make_auth(None, require=True, digest=False)
    with pytest.raises(AuthError) as info:
        mtls_only.authenticate("POST", TARGET, basic("SN0001", PASSWORD))
    assert (info.value.status, info.value.code, info.value.headers) == (403, "client_cert_required", {})
    assert mtls_only.authenticate("POST", TARGET, None, tls_identity="SN0001") == AuthResult("SN0001", "tls")


def test_client_certificate_identity_wins_over_headers(store: CredentialStore) -> None:
    auth = make_auth(store)
    assert auth.authenticate("POST", TARGET, basic("x", "y"), tls_identity="SN0001") == AuthResult(
        "SN0001", "tls"
    )


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"nonce_secret": b"short"}, "nonce_secret"),
        ({"realm": 'a"b'}, "realm"),
        ({"realm": ""}, "realm"),
        ({"nonce_ttl_s": 0}, "nonce_ttl_s"),
        ({"digest_algorithms": ("SHA-512",)}, "digest_algorithms"),
        ({"digest_algorithms": ()}, "digest_algorithms"),
        ({"digest": False, "basic": False}, "enable basic or digest"),
    ],
)
def test_constructor_validates_settings(
    store: CredentialStore, overrides: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        make_auth(store, **overrides)


def test_short_secret_is_fine_without_digest(store: CredentialStore) -> None:
    make_auth(store, digest=False, nonce_secret=b"")


# --- binding ---------------------------------------------------------------------------------

CWMP = {"oui": "00D09E", "pc": "IGD", "sn": "SN0001"}
USP = {"eid": "os::00D09E-SN0001"}


@pytest.mark.parametrize(
    ("user", "parts", "mode", "ok"),
    [
        ("anyone", CWMP, "off", True),
        ("SN0001", CWMP, "serial", True),
        ("SN0002", CWMP, "serial", False),
        ("00D09E-IGD-SN0001", CWMP, "serial", False),
        ("00D09E-IGD-SN0001", CWMP, "device_id", True),
        ("SN0001", CWMP, "device_id", False),
        ("00D09E-IGD-SN0002", CWMP, "device_id", False),
        ("00d09e-IGD-SN0001", CWMP, "device_id", False),  # exact: the device id is built verbatim
        ("os::00D09E-SN0001", USP, "serial", True),
        ("os::00D09E-SN0001", USP, "device_id", True),
        ("SN0001", USP, "serial", False),
        ("os::00D09E-SN0001", CWMP | USP, "device_id", True),
        ("00D09E-IGD-SN0001", CWMP | USP, "device_id", True),
        ("00D09E-IGD-SN0001", {"oui": "00D09E", "sn": "SN0001"}, "device_id", False),  # incomplete
        ("SN0001", {"sn": " SN0001 "}, "serial", True),  # the resource strips values too
        ("SN0001", {}, "device_id", True),  # no claimed identity: it comes from the user
        ("SN0001", {"foo": "bar"}, "serial", True),
    ],
)
def test_binding(user: str, parts: Mapping[str, str], mode: str, ok: bool) -> None:
    assert binding_ok(user, parts, mode) is ok
    assert Authenticator.binding_ok(user, parts, mode) is ok


def test_binding_refuses_unknown_mode() -> None:
    with pytest.raises(ValueError, match="binding mode"):
        binding_ok("SN0001", CWMP, "strict")


# --- client certificates ---------------------------------------------------------------------


def _scope(tls: Mapping[str, Any] | None) -> dict[str, Any]:
    return {"type": "http", "extensions": {} if tls is None else {"tls": tls}}


@pytest.mark.parametrize(
    ("tls", "identity"),
    [
        (None, None),
        ({"client_cert_name": None, "client_cert_error": None}, None),
        ({"client_cert_name": "CN=SN0001,O=ACME,C=US", "client_cert_error": None}, "SN0001"),
        ({"client_cert_name": "CN=SN0001,O=ACME", "client_cert_error": "certificate expired"}, None),
        ({"client_cert_name": "CN=SN0001+CN=SN0002,O=ACME"}, None),  # ambiguous
        ({"client_cert_name": "O=ACME,C=US"}, None),
        ({"client_cert_name": "CN=,O=ACME"}, None),
        ({"client_cert_name": "2.5.4.3=SN0001,O=ACME"}, "SN0001"),
        ({"client_cert_name": r"CN=Smith\, J\2C\20Jr\C3\A4,O=ACME"}, "Smith, J, Jrä"),
        ({"client_cert_name": "CN=#04024869,O=ACME"}, None),  # hex BER form: not a plain string
        ({"client_cert_name": "garbage"}, None),
        ({"client_cert_name": 42}, None),
    ],
)
def test_identity_from_client_cert(tls: Mapping[str, Any] | None, identity: str | None) -> None:
    assert identity_from_client_cert(_scope(tls)) == identity


def test_identity_from_scope_without_extensions() -> None:
    assert identity_from_client_cert({"type": "http"}) is None
    assert identity_from_client_cert({"type": "http", "extensions": None}) is None


PEER_CERT = {
    "subject": (
        (("countryName", "US"),),
        (("organizationName", "ACME, Inc."),),
        (("commonName", "SN0001"),),
    ),
}


def test_peer_cert_dict_helpers() -> None:
    assert rfc4514_from_peer_cert(PEER_CERT) == r"CN=SN0001,O=ACME\, Inc.,C=US"
    assert common_name_from_peer_cert(PEER_CERT) == "SN0001"
    assert common_name_from_rfc4514(rfc4514_from_peer_cert(PEER_CERT) or "") == "SN0001"
    two = {"subject": ((("commonName", "a"),), (("commonName", "b"),))}
    assert common_name_from_peer_cert(two) is None
    assert rfc4514_from_peer_cert({}) is None


class FakeSslObject:
    def __init__(self, cert: dict[str, Any], der: bytes | None) -> None:
        self._cert, self._der = cert, der

    def getpeercert(self, binary_form: bool = False) -> Any:
        return self._der if binary_form else self._cert

    def version(self) -> str:
        return "TLSv1.3"


def test_tls_scope_extension_from_an_ssl_object() -> None:
    der = ssl.PEM_cert_to_DER_cert(trustme.CA().cert_pem.bytes().decode())
    ext = tls_scope_extension(FakeSslObject(PEER_CERT, der))  # type: ignore[arg-type]
    assert ext["client_cert_name"] == r"CN=SN0001,O=ACME\, Inc.,C=US"
    assert ext["client_cert_error"] is None
    assert ext["tls_version"] == 0x0304
    assert ext["client_cert_chain"] == [ssl.DER_cert_to_PEM_cert(der)]
    assert identity_from_client_cert(_scope(ext)) == "SN0001"
    # A certificate Python did not verify (empty dict) never becomes an identity.
    unverified = tls_scope_extension(FakeSslObject({}, der))  # type: ignore[arg-type]
    assert unverified["client_cert_error"] and identity_from_client_cert(_scope(unverified)) is None
    none = tls_scope_extension(FakeSslObject({}, None))  # type: ignore[arg-type]
    assert none["client_cert_chain"] == [] and none["client_cert_error"] is None
    assert identity_from_client_cert(_scope(none)) is None


# The receiver's own protocol sets the ASGI TLS extension (uvicorn sets none itself).
TlsScopeHttpProtocol = LenientHttpToolsProtocol


def test_mtls_through_uvicorn(store: CredentialStore, tmp_path: Path) -> None:
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1")
    device_cert = ca.issue_cert("sn0001.cpe.example", common_name="SN0001")
    stranger_cert = trustme.CA().issue_cert("sn0001.cpe.example", common_name="SN0001")
    server_pem, ca_pem = tmp_path / "server.pem", tmp_path / "ca.pem"
    server_cert.private_key_and_cert_chain_pem.write_to_path(str(server_pem))
    ca.cert_pem.write_to_path(str(ca_pem))

    def client(cert: trustme.LeafCert | None) -> httpx.Client:
        context = ssl.create_default_context()
        ca.configure_trust(context)
        if cert is not None:
            cert.configure_cert(context)
        return httpx.Client(verify=context)

    app = auth_app(make_auth(store))
    with serve(
        app,
        http=TlsScopeHttpProtocol,
        ssl_certfile=str(server_pem),
        ssl_ca_certs=str(ca_pem),
        ssl_cert_reqs=ssl.CERT_OPTIONAL,
    ) as port:
        url = f"https://127.0.0.1:{port}{TARGET}"
        with client(device_cert) as c:
            response = c.post(url, content=b"x")
        assert (response.status_code, response.text) == (200, "SN0001 tls")
        with client(None) as c:  # no certificate: falls back to HTTP authentication
            assert c.post(url, content=b"x").status_code == 401
            response = c.post(url, content=b"x", auth=httpx.DigestAuth("SN0001", PASSWORD))
        assert (response.status_code, response.text) == (200, "SN0001 digest")
        with client(stranger_cert) as c, pytest.raises(httpx.HTTPError):
            c.post(url, content=b"x")  # a certificate from another CA fails the handshake


# --- secrets stay out of logs ----------------------------------------------------------------


def test_secrets_never_reach_logs_or_errors(store: CredentialStore, caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    auth = make_auth(store, clock=clock)
    ha1s = [compute_ha1("SN0001", REALM, PASSWORD, alg) for alg in ("MD5", "SHA-256")]
    secrets = [PASSWORD, "wrong-but-secret", *ha1s, _b64(f"SN0001:{PASSWORD}".encode())]
    errors: list[AuthError] = []
    with caplog.at_level(logging.DEBUG, logger="receiver"):
        nonce = fresh_nonce(auth)
        for header in (
            basic("SN0001", "wrong-but-secret"),
            basic("nobody", PASSWORD),
            "Basic " + _b64(f"SN0001{PASSWORD}".encode()),  # no colon
            digest_header(nonce, password="wrong-but-secret"),
            digest_header(nonce, uri="/elsewhere"),
            digest_header(nonce, qop="auth-int"),
        ):
            with pytest.raises(AuthError) as info:
                auth.authenticate("POST", TARGET, header)
            errors.append(info.value)
        clock.now += TTL * 2
        with pytest.raises(AuthError) as info:
            auth.authenticate("POST", TARGET, digest_header(nonce))
        errors.append(info.value)
        auth.authenticate("POST", TARGET, basic("SN0001", PASSWORD))
    assert len(caplog.records) >= len(errors)  # failures are logged (at DEBUG), just not their secrets
    logged = caplog.text + "".join(repr(r.args) for r in caplog.records)
    shown = " ".join(f"{e} {e.reason} {e.headers} {e!r}" for e in errors)
    for secret in secrets:
        assert secret not in logged
        assert secret not in shown
    assert PASSWORD not in repr(store.__dict__)
