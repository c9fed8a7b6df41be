"""Device credentials for CPE HTTP authentication: a JSON file of salted, slow password hashes, plus
HTTP Digest HA1 values for the devices (and realms) where the operator turned Digest on.

File format (version 1; written by ``python -m receiver credentials``, mode 0600)::

    {
      "format": "telemetry-receiver-credentials",
      "version": 1,
      "devices": {
        "00D09E-IGD-SN0001": {
          "password": "$scrypt$ln=14,r=8,p=1$<salt>$<hash>",
          "digest": {"telemetry": {"MD5": "<32 hex>", "SHA-256": "<64 hex>"}}
        },
        "SN0002": {"password": "$pbkdf2-sha256$i=600000$<salt>$<hash>"}
      }
    }

``password`` is a PHC-style string (https://github.com/P-H-C/phc-string-format): the KDF, its
parameters and a per-device random salt travel with the hash, so the cost can be raised for new
entries without invalidating old ones. Salt and hash are standard base64 without padding. Two KDFs,
both from the standard library: ``scrypt`` (default; memory-hard) and ``pbkdf2-sha256`` (for
FIPS-constrained hosts).

``digest`` is optional, per realm. HTTP Digest (RFC 7616) makes the server compute
``HA1 = H(user ":" realm ":" password)``, which cannot be derived from a salted hash, so Digest needs
HA1 stored. **HA1 is password-equivalent for its realm**: whoever reads it can answer any Digest
challenge of that realm as that device (they do not learn the password itself, nor can they use it
for Basic or another realm). Store it only when CPEs need Digest (TR-069 CPEs mostly speak MD5
Digest), keep the file 0600, and treat a leaked file as leaked device passwords for that realm.
Changing the realm invalidates every stored HA1 (devices must be re-added).

Basic verification costs one KDF run (scrypt ln=14: ~40 ms of one core). A 1000-CPE fleet
re-reporting every minute would spend most of a core on it, so successful verifications are cached
per ``(user, HMAC(process key, password))`` for ``cache_ttl_s`` (default 15 min, longer than typical
reporting intervals) and at most ``cache_max_entries`` entries (LRU). Only successes are cached: a
wrong password always costs a full KDF run, and so does an unknown user (verified against a dummy
hash, so timing does not reveal which users exist). The cache key uses a random per-process HMAC key
rather than a bare SHA-256 so no fast, precomputable hash of a password sits in memory. Reloading the
file empties the cache, so a removed device or changed password takes effect at once.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import stat
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

log = logging.getLogger(__name__)

FILE_FORMAT: Final = "telemetry-receiver-credentials"
FILE_VERSION: Final = 1
DEFAULT_REALM: Final = "telemetry"
# Algorithms whose HA1 is stored; the ``-sess`` variants derive from the same HA1.
DIGEST_ALGORITHMS: Final = ("MD5", "SHA-256")
KDFS: Final = ("scrypt", "pbkdf2-sha256")
DEFAULT_KDF: Final = "scrypt"
DEFAULT_CACHE_TTL_S: Final = 900.0
DEFAULT_CACHE_MAX_ENTRIES: Final = 10_000

# scrypt N=2^14, r=8, p=1: 16 MiB and ~40 ms per run. Device passwords are usually generated, long
# and random, so this is plenty; entries carry their parameters, so raising it later is painless.
DEFAULT_SCRYPT_LN: Final = 14
DEFAULT_SCRYPT_R: Final = 8
DEFAULT_SCRYPT_P: Final = 1
DEFAULT_PBKDF2_ITERATIONS: Final = 600_000  # OWASP 2023 figure for PBKDF2-HMAC-SHA256
_SALT_BYTES: Final = 16
_HASH_BYTES: Final = 32
# Bounds on parameters read from the file: a typo like ln=41 must not take the service down.
_SCRYPT_MAX_MEMORY: Final = 256 * 1024 * 1024
_SCRYPT_LN_RANGE: Final = (10, 20)
_PBKDF2_ITER_RANGE: Final = (10_000, 10_000_000)
MAX_PASSWORD_BYTES: Final = 1024
MAX_DEVICE_NAME_LENGTH: Final = 256

_HA1_HEX_LENGTH: Final = {"MD5": 32, "SHA-256": 64}
_HEX = re.compile(r"[0-9a-f]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class CredentialsError(Exception):
    """A credentials file (or entry) is unusable; ``problems`` lists every reason found."""

    def __init__(self, source: str, problems: Iterable[str]) -> None:
        self.problems = tuple(problems)
        super().__init__(f"{source}: " + "; ".join(self.problems))


# --- names -----------------------------------------------------------------------------------


def device_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a device (Basic user-id, Digest username), or None if it can."""
    if not name or name != name.strip():
        return "device name must be non-empty without surrounding spaces"
    if len(name) > MAX_DEVICE_NAME_LENGTH:
        return f"device name longer than {MAX_DEVICE_NAME_LENGTH} characters"
    if ":" in name:
        return "device name must not contain ':' (Basic credentials are user:password)"
    if _CONTROL.search(name) or '"' in name or "\\" in name:
        return "device name must not contain control characters, '\"' or '\\'"
    return None


def realm_problem(realm: str) -> str | None:
    """Why ``realm`` cannot be a Digest/Basic realm, or None. Quotes and backslashes are refused so
    the realm goes into challenges verbatim and CPEs never have to unescape it."""
    if not realm or _CONTROL.search(realm) or '"' in realm or "\\" in realm:
        return "realm must be non-empty without control characters, '\"' or '\\'"
    return None


# --- password hashes -------------------------------------------------------------------------


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _b64decode(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


@dataclass(frozen=True, repr=False)
class _PasswordHash:
    kdf: str
    params: tuple[tuple[str, int], ...]
    salt: bytes
    hash: bytes

    def derive(self, password: bytes) -> bytes:
        p = dict(self.params)
        if self.kdf == "scrypt":
            n, r, par = 1 << p["ln"], p["r"], p["p"]
            # maxmem a little above scrypt's 128*r*N working set (OpenSSL's default cap is 32 MiB).
            return hashlib.scrypt(
                password,
                salt=self.salt,
                n=n,
                r=r,
                p=par,
                maxmem=128 * r * (n + par + 2) + 1024 * 1024,
                dklen=len(self.hash),
            )
        return hashlib.pbkdf2_hmac("sha256", password, self.salt, p["i"], dklen=len(self.hash))

    def verify(self, password: bytes) -> bool:
        return hmac.compare_digest(self.derive(password), self.hash)


def _parse_params(text: str, names: tuple[str, ...]) -> dict[str, int]:
    params: dict[str, int] = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if not sep or key not in names or key in params or not value.isdigit():
            raise ValueError(f"bad parameter {item!r} (expected {','.join(n + '=<int>' for n in names)})")
        params[key] = int(value)
    if len(params) != len(names):
        raise ValueError(f"parameters must be {','.join(names)}")
    return params


def _parse_password_hash(text: str) -> _PasswordHash:
    """Parse and bound-check a PHC string; ValueError names what is wrong (never the hash)."""
    parts = text.split("$")
    if len(parts) != 5 or parts[0] != "":
        raise ValueError("password must be a PHC string '$<kdf>$<params>$<salt>$<hash>'")
    _, kdf, param_text, salt_text, hash_text = parts
    if kdf == "scrypt":
        params = _parse_params(param_text, ("ln", "r", "p"))
        lo, hi = _SCRYPT_LN_RANGE
        if not lo <= params["ln"] <= hi or not 1 <= params["r"] <= 32 or not 1 <= params["p"] <= 16:
            raise ValueError(f"scrypt parameters out of range (ln {lo}..{hi}, r 1..32, p 1..16)")
        if 128 * params["r"] * (1 << params["ln"]) > _SCRYPT_MAX_MEMORY:
            raise ValueError(f"scrypt parameters need more than {_SCRYPT_MAX_MEMORY >> 20} MiB")
    elif kdf == "pbkdf2-sha256":
        params = _parse_params(param_text, ("i",))
        lo, hi = _PBKDF2_ITER_RANGE
        if not lo <= params["i"] <= hi:
            raise ValueError(f"pbkdf2-sha256 iterations out of range ({lo}..{hi})")
    else:
        raise ValueError(f"unknown KDF {kdf!r} (known: {', '.join(KDFS)})")
    try:
        salt, digest = _b64decode(salt_text), _b64decode(hash_text)
    except (binascii.Error, ValueError):
        raise ValueError("salt and hash must be base64") from None
    if len(salt) < 8 or not 16 <= len(digest) <= 64:
        raise ValueError("salt must be at least 8 bytes and hash 16..64 bytes")
    return _PasswordHash(kdf, tuple(sorted(params.items())), salt, digest)


def hash_password(password: str, *, kdf: str = DEFAULT_KDF) -> str:
    """A PHC string for ``password`` with a fresh random salt and the default cost."""
    params: tuple[tuple[str, int], ...]
    if kdf == "scrypt":
        params = (("ln", DEFAULT_SCRYPT_LN), ("r", DEFAULT_SCRYPT_R), ("p", DEFAULT_SCRYPT_P))
    elif kdf == "pbkdf2-sha256":
        params = (("i", DEFAULT_PBKDF2_ITERATIONS),)
    else:
        raise ValueError(f"unknown KDF {kdf!r} (known: {', '.join(KDFS)})")
    salt = secrets.token_bytes(_SALT_BYTES)
    # derive() takes the output length from the hash it is given; only its length matters here.
    digest = _PasswordHash(kdf, params, salt, bytes(_HASH_BYTES)).derive(password.encode("utf-8"))
    param_text = ",".join(f"{k}={v}" for k, v in params)
    return f"${kdf}${param_text}${_b64encode(salt)}${_b64encode(digest)}"


def digest_hash(algorithm: str, data: str) -> str:
    """H() of RFC 7616 for the stored algorithms (the ``-sess`` suffix is the caller's business)."""
    name = {"MD5": "md5", "SHA-256": "sha256"}[algorithm]
    # MD5 here is the Digest protocol's own hash (what CPEs compute), not a security choice of ours.
    return hashlib.new(name, data.encode("utf-8"), usedforsecurity=False).hexdigest()


def compute_ha1(user: str, realm: str, password: str, algorithm: str) -> str:
    """RFC 7616 HA1 = H(username ":" realm ":" password), lowercase hex."""
    return digest_hash(algorithm, f"{user}:{realm}:{password}")


# --- entries and the file --------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceCredential:
    """One device's line in the file. The values are secrets (HA1 is password-equivalent), so
    ``repr`` hides them."""

    password_hash: str = field(repr=False)
    # realm -> algorithm -> HA1 hex
    digest: Mapping[str, Mapping[str, str]] = field(default_factory=dict, repr=False)

    @property
    def digest_realms(self) -> tuple[str, ...]:
        return tuple(sorted(self.digest))


def new_device_credential(
    user: str, password: str, *, digest_realms: Iterable[str] = (), kdf: str = DEFAULT_KDF
) -> DeviceCredential:
    """Hash ``password`` for ``user``; with ``digest_realms``, also store HA1 (MD5 and SHA-256) for
    each realm. ValueError if the name, realm or password is unusable."""
    problems = [p for p in (device_name_problem(user),) if p]
    realms = sorted(set(digest_realms))
    problems += [f"realm {r!r}: {p}" for r in realms if (p := realm_problem(r))]
    if not password:
        problems.append("password must not be empty")
    elif len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        problems.append(f"password longer than {MAX_PASSWORD_BYTES} bytes")
    if problems:
        raise ValueError("; ".join(problems))
    digest = {r: {alg: compute_ha1(user, r, password, alg) for alg in DIGEST_ALGORITHMS} for r in realms}
    return DeviceCredential(hash_password(password, kdf=kdf), digest)


def _entry_problems(name: str, raw: Any) -> list[str]:
    where = f"device {name!r}"
    problems = [f"{where}: {p}" for p in (device_name_problem(name),) if p]
    if not isinstance(raw, dict):
        return [*problems, f"{where}: must be an object with 'password' (and optional 'digest')"]
    unknown = sorted(set(raw) - {"password", "digest"})
    if unknown:
        problems.append(f"{where}: unknown keys {unknown}")
    password = raw.get("password")
    if not isinstance(password, str):
        problems.append(f"{where}.password: missing or not a string")
    else:
        try:
            _parse_password_hash(password)
        except ValueError as exc:
            problems.append(f"{where}.password: {exc}")
    digest = raw.get("digest", {})
    if not isinstance(digest, dict):
        return [*problems, f"{where}.digest: must be an object realm -> {{algorithm: HA1 hex}}"]
    for realm, by_alg in digest.items():
        if p := realm_problem(realm):
            problems.append(f"{where}.digest[{realm!r}]: {p}")
        if not isinstance(by_alg, dict) or not by_alg:
            problems.append(f"{where}.digest[{realm!r}]: must be a non-empty object algorithm -> HA1 hex")
            continue
        for alg, ha1 in by_alg.items():
            length = _HA1_HEX_LENGTH.get(alg)
            if length is None:
                problems.append(f"{where}.digest[{realm!r}]: unknown algorithm {alg!r}")
            elif not isinstance(ha1, str) or len(ha1) != length or not _HEX.fullmatch(ha1.lower()):
                problems.append(f"{where}.digest[{realm!r}][{alg!r}]: must be {length} hex digits")
    return problems


def parse_credentials(text: str, *, source: str = "credentials") -> dict[str, DeviceCredential]:
    """Parse a credentials document; CredentialsError lists every problem (never a secret)."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        # The message carries line/column only; JSONDecodeError's doc attribute is not printed.
        raise CredentialsError(source, [f"not valid JSON: {exc}"]) from None
    if not isinstance(doc, dict):
        raise CredentialsError(source, ["top level must be a JSON object"])
    problems = []
    if doc.get("format") != FILE_FORMAT:
        problems.append(f"'format' must be {FILE_FORMAT!r}")
    if doc.get("version") != FILE_VERSION:
        problems.append(f"'version' must be {FILE_VERSION} (got {doc.get('version')!r})")
    devices = doc.get("devices")
    if not isinstance(devices, dict):
        raise CredentialsError(source, [*problems, "'devices' must be an object name -> entry"])
    for name, raw in devices.items():
        problems += _entry_problems(name, raw)
    if problems:
        raise CredentialsError(source, problems)
    return {
        name: DeviceCredential(
            raw["password"],
            {
                realm: MappingProxyType({alg: ha1.lower() for alg, ha1 in by_alg.items()})
                for realm, by_alg in raw.get("digest", {}).items()
            },
        )
        for name, raw in devices.items()
    }


def dump_credentials(devices: Mapping[str, DeviceCredential]) -> str:
    """The file text for ``devices``: sorted, one key per line, so diffs stay readable."""
    doc = {
        "format": FILE_FORMAT,
        "version": FILE_VERSION,
        "devices": {
            name: {"password": cred.password_hash}
            | ({"digest": {r: dict(a) for r, a in cred.digest.items()}} if cred.digest else {})
            for name, cred in sorted(devices.items())
        },
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def read_credentials_file(path: str | os.PathLike[str]) -> dict[str, DeviceCredential]:
    """Parse the file at ``path``. OSError if unreadable, CredentialsError if invalid."""
    text = Path(path).read_text(encoding="utf-8")
    return parse_credentials(text, source=os.fspath(path))


def write_credentials_file(path: str | os.PathLike[str], devices: Mapping[str, DeviceCredential]) -> None:
    """Replace the file atomically (temp file in the same directory, fsync, rename), mode 0600, so
    a running receiver never reads half a file and a crash leaves either the old or the new one."""
    target = Path(path)
    text = dump_credentials(devices)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as tmp:
            os.fchmod(tmp.fileno(), 0o600)  # mkstemp already uses 0600; say so explicitly
            tmp.write(text)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    # Make the rename itself durable.
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


# --- the store -------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class _Entry:
    password: _PasswordHash
    digest: Mapping[str, Mapping[str, str]]


@functools.cache
def _dummy_password_hash() -> _PasswordHash:
    # Verified against for unknown users so they cost as much as known ones (no user enumeration
    # by timing). Built on first use: one KDF run, not at import.
    return _parse_password_hash(hash_password(secrets.token_urlsafe(24)))


def _file_signature(path: Path) -> tuple[int, int, int, int]:
    st = path.stat()
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


class CredentialStore:
    """Verifies device credentials; thread-safe (Basic verification may run in a worker thread so
    the KDF does not stall the event loop: hashlib's scrypt/pbkdf2 release the GIL)."""

    def __init__(
        self,
        devices: Mapping[str, DeviceCredential],
        *,
        cache_ttl_s: float = DEFAULT_CACHE_TTL_S,
        cache_max_entries: int = DEFAULT_CACHE_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if cache_ttl_s < 0 or cache_max_entries < 0:
            raise ValueError("cache_ttl_s and cache_max_entries must be >= 0 (0 turns the cache off)")
        self._cache_ttl_s = cache_ttl_s
        self._cache_max_entries = cache_max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._cache_key = secrets.token_bytes(32)
        # (user, HMAC(password)) -> expiry on self._clock; ordered oldest use first.
        self._cache: OrderedDict[tuple[str, bytes], float] = OrderedDict()
        self._generation = 0
        self._path: Path | None = None
        self._signature: tuple[int, int, int, int] | None = None
        self._entries = self._build(devices, "credentials")

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        cache_ttl_s: float = DEFAULT_CACHE_TTL_S,
        cache_max_entries: int = DEFAULT_CACHE_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> CredentialStore:
        """Read ``path``. OSError if unreadable, CredentialsError listing every invalid entry."""
        file = Path(path)
        signature = _file_signature(file)
        store = cls(
            read_credentials_file(file),
            cache_ttl_s=cache_ttl_s,
            cache_max_entries=cache_max_entries,
            clock=clock,
        )
        store._path, store._signature = file, signature
        _warn_if_exposed(file)
        return store

    @staticmethod
    def _build(devices: Mapping[str, DeviceCredential], source: str) -> dict[str, _Entry]:
        entries: dict[str, _Entry] = {}
        problems = []
        for name, cred in devices.items():
            try:
                entries[name] = _Entry(_parse_password_hash(cred.password_hash), cred.digest)
            except ValueError as exc:
                problems.append(f"device {name!r}.password: {exc}")
        if problems:
            raise CredentialsError(source, problems)
        return entries

    @property
    def path(self) -> Path | None:
        return self._path

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, user: object) -> bool:
        return user in self._entries

    def devices(self) -> list[str]:
        return sorted(self._entries)

    def reload_if_changed(self) -> bool:
        """Re-read the file if it changed since loading (the CLI replaces it, so its inode changes).
        Returns True if reloaded. On an invalid new file raises CredentialsError/OSError and keeps
        serving the old credentials. Call it periodically (e.g. every few seconds) or on SIGHUP."""
        if self._path is None:
            return False
        signature = _file_signature(self._path)
        if signature == self._signature:
            return False
        entries = self._build(read_credentials_file(self._path), os.fspath(self._path))
        with self._lock:
            self._entries = entries
            self._signature = signature
            self._cache.clear()
            self._generation += 1
        _warn_if_exposed(self._path)
        log.info("credentials reloaded from %s: %d devices", self._path, len(entries))
        return True

    def verify_basic(self, user: str, password: str) -> bool:
        """True iff ``password`` is ``user``'s. Constant-time compare; one KDF run unless cached."""
        try:
            secret = password.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: cannot be anyone's password
            return False
        if len(secret) > MAX_PASSWORD_BYTES:
            return False
        key = (user, hmac.digest(self._cache_key, secret, "sha256"))
        with self._lock:
            entry = self._entries.get(user)
            generation = self._generation
            if entry is not None and self._cache_hit(key):
                return True
        ok = (entry.password if entry is not None else _dummy_password_hash()).verify(secret)
        if entry is None or not ok:
            return False
        with self._lock:
            # A reload while we were hashing may have removed the device or changed its password.
            if generation == self._generation and self._cache_max_entries and self._cache_ttl_s:
                self._cache[key] = self._clock() + self._cache_ttl_s
                self._cache.move_to_end(key)
                while len(self._cache) > self._cache_max_entries:
                    self._cache.popitem(last=False)
        return True

    def _cache_hit(self, key: tuple[str, bytes]) -> bool:
        expires = self._cache.get(key)
        if expires is None:
            return False
        if self._clock() >= expires:
            del self._cache[key]
            return False
        self._cache.move_to_end(key)
        return True

    def digest_ha1(self, user: str, realm: str, algorithm: str) -> str | None:
        """Stored HA1 (lowercase hex) for ``user`` in ``realm`` with ``algorithm`` ("MD5" or
        "SHA-256"), or None if the device is unknown or has no Digest entry for that realm."""
        entry = self._entries.get(user)
        if entry is None:
            return None
        return entry.digest.get(realm, {}).get(algorithm)


def _warn_if_exposed(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning(
            "credentials file %s has mode %03o: it holds password hashes and possibly Digest HA1 "
            "values (password-equivalent); make it readable by the receiver only (chmod 600)",
            path,
            mode,
        )
