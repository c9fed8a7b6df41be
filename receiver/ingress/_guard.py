"""Who may report, as whom, how often: authentication (Basic, Digest, client certificate), the
binding of a device to its own identity, and the per-device rate limit, before a body is read."""

import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from ..config import AuthConfig
from ._auth import Authenticator, AuthError, binding_ok, identity_from_client_cert
from ._credentials import CredentialStore
from ._rate_limit import RateLimiter, retry_after_header

NONCE_SECRET_ENV = "RECEIVER_AUTH_NONCE_SECRET"


class RequestGuard:
    def __init__(self, config: AuthConfig) -> None:
        self._config = config
        self.store = CredentialStore.load(Path(config.credentials_file)) if config.credentials_file else None
        self._auth = Authenticator(
            self.store,
            realm=config.realm,
            digest=config.digest,
            require=config.require and self.store is not None,
            nonce_secret=_nonce_secret(config),
            nonce_ttl_s=config.nonce_ttl_s,
            clock=time.time,
            basic=config.basic,
        )
        self._limiter = RateLimiter(config.rate_per_s, config.burst) if config.rate_per_s > 0 else None
        self.refused: dict[str, int] = {}

    async def check(self, request: Request, query: Mapping[str, str]) -> tuple[str | None, Response | None]:
        """(authenticated user or None, a refusal to send instead of handling the report)."""
        target = (request.scope.get("raw_path") or b"").decode("latin-1")
        if request.scope.get("query_string"):
            target += "?" + request.scope["query_string"].decode("latin-1")
        header = request.headers.get("authorization")
        try:
            # Basic costs a KDF run on a cache miss: keep it off the event loop.
            call = run_in_threadpool if header and header[:6].lower() == "basic " else _direct
            result = await call(
                self._auth.authenticate,
                request.method,
                target,
                header,
                tls_identity=identity_from_client_cert(request.scope),
            )
        except AuthError as exc:
            self.refused[exc.code] = self.refused.get(exc.code, 0) + 1
            response = PlainTextResponse(exc.reason + "\n", status_code=exc.status)
            for challenge in exc.challenges:
                response.headers.append("WWW-Authenticate", challenge)
            return None, response
        user = result.user
        if user is not None and not binding_ok(user, query, self._config.binding):
            self.refused["binding"] = self.refused.get("binding", 0) + 1
            return user, PlainTextResponse(
                f"authenticated as {user!r}, which may not report for this device\n", status_code=403
            )
        if self._limiter is not None:
            key = user or _claimed_device(query)
            wait = self._limiter.check(key)
            if wait is not None:
                self.refused["rate"] = self.refused.get("rate", 0) + 1
                return user, PlainTextResponse(
                    f"rate limit for {key!r}: at most {self._config.rate_per_s}/s\n",
                    status_code=429,
                    headers={"Retry-After": retry_after_header(wait)},
                )
        return user, None

    def reload(self) -> None:
        if self.store is not None:
            self.store.reload_if_changed()


async def _direct(function, *args, **kwargs):  # type: ignore[no-untyped-def]
    return function(*args, **kwargs)


def _claimed_device(query: Mapping[str, str]) -> str:
    if query.get("eid"):
        return query["eid"]
    return f"{query.get('oui', '')}-{query.get('pc', '')}-{query.get('sn', '')}"


def _nonce_secret(config: AuthConfig) -> bytes:
    if config.nonce_secret_file:
        return Path(config.nonce_secret_file).read_bytes().strip()
    value = os.environ.get(NONCE_SECRET_ENV)
    # A random secret is fine for one replica; replicas behind a balancer must share one.
    return value.encode() if value else secrets.token_bytes(32)
