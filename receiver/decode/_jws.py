"""JWS (RFC 7515) compact serialization around a report: seed 002's non-repudiation.

A device signs the SenML pack with its private key; we verify with the public key registered for
the ``kid`` in the protected header. Only asymmetric algorithms are accepted: with a shared secret
the receiver could forge the data too, and HMAC with a public key as the secret is the classic
algorithm-confusion attack. ``alg: none`` is refused outright.

``verify_jws_pack`` is pure like every decoder. ``load_device_keys`` is the one function in
``receiver.decode`` that does I/O: it reads the key store once at start-up (or on reload), never
per request. Errors::

    DecodeError (400: malformed JWS)
     +-- SignatureError (401: unsigned, unknown key, wrong algorithm, bad signature)
"""

import os
from collections.abc import Callable, Collection, Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey, RSAKey

from ._errors import DecodeError

DeviceKey = RSAKey | ECKey | OKPKey
KeyLookup = Callable[[str | None], DeviceKey | None]
"""kid (None when the header has none) -> the device's public key; None or KeyError: unknown."""

# Asymmetric only (see above). "EdDSA" is left out because RFC 9864 deprecated it for the fully
# specified "Ed25519" (joserfc warns on every use); pass ``algorithms=`` to accept it anyway.
DEFAULT_JWS_ALGORITHMS: tuple[str, ...] = (
    "ES256",
    "ES384",
    "ES512",
    "Ed25519",
    "PS256",
    "PS384",
    "PS512",
    "RS256",
    "RS384",
    "RS512",
)
# joserfc caps payloads at 128 kB by default; ingress already bounds the body, so only guard here.
DEFAULT_MAX_PAYLOAD_BYTES = 16 * 1024 * 1024
KEY_FILE_SUFFIXES = (".pem", ".jwk", ".json")


def key_lookup(keys: Mapping[str, DeviceKey]) -> KeyLookup:
    """A KeyLookup over a loaded key store (``load_device_keys``); a JWS without kid finds none."""
    return lambda kid: None if kid is None else keys.get(kid)


class SignatureError(DecodeError):
    status = 401


class DeviceKeysError(ValueError):
    """The key store is unusable; ``problems`` lists every file and reason at once."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("device keys: " + "; ".join(problems))
        self.problems = problems


def verify_jws_pack(
    compact: bytes,
    key_for: KeyLookup,
    *,
    algorithms: Collection[str] = DEFAULT_JWS_ALGORITHMS,
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
) -> tuple[bytes, str | None]:
    """Verify a JWS compact serialization; return (payload, kid). The caller binds the kid to the
    identity the device claims (an authenticated device may only report as itself)."""
    allowed = tuple(algorithms)
    registry = _registry(allowed, max_payload_bytes)
    try:
        signed = jws.extract_compact(compact.strip(), registry=registry)
    except JoseError as exc:
        raise DecodeError(f"malformed JWS compact serialization: {_describe(exc)}") from exc
    header = signed.headers()
    alg = header.get("alg")
    if isinstance(alg, str) and alg.lower() == "none":
        raise SignatureError("unsigned JWS (alg 'none') is not accepted")
    if alg not in allowed:
        raise SignatureError(f"JWS algorithm {alg!r} is not accepted: expected one of {', '.join(allowed)}")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise DecodeError(f"JWS 'kid' must be a string, got {type(kid).__name__}")
    try:
        key = key_for(kid)
    except KeyError:
        key = None
    if key is None:
        raise SignatureError(
            "JWS has no 'kid' and no default key" if kid is None else f"unknown JWS key id {kid!r}"
        )
    try:
        verified = jws.validate_compact(signed, key, algorithms=allowed, registry=registry)
    except JoseError as exc:  # key type/curve not fit for alg, unsupported crit header, key use
        raise SignatureError(f"JWS not verified with key {kid!r}: {_describe(exc)}") from exc
    if not verified:
        raise SignatureError(f"JWS signature does not verify with key {kid!r}")
    if not signed.payload:
        raise DecodeError("JWS carries no payload (detached content is not supported)")
    return signed.payload, kid


@lru_cache(maxsize=8)
def _registry(algorithms: tuple[str, ...], max_payload_bytes: int) -> jws.JWSRegistry:
    # RFC 7515 §4: header parameters we don't know are ignored unless listed in "crit".
    registry = jws.JWSRegistry(algorithms=algorithms, strict_check_header=False)
    registry.max_payload_length = max_payload_bytes
    return registry


def _describe(exc: JoseError) -> str:
    return exc.description or exc.error


def load_device_keys(path: str | os.PathLike[str]) -> dict[str, DeviceKey]:
    """Read device public keys: the only I/O in ``receiver.decode``, for start-up.

    ``path`` is either a directory, where each ``<kid>.pem`` holds a PEM public key or certificate
    and each ``*.jwk``/``*.json`` a JWK (kid from its "kid", else the file name) or a JWK Set (every
    key needs a "kid"); other files are ignored. Or it is one JSON file: a JWK Set, or an object
    mapping kid to a JWK object or a PEM string. Private and symmetric keys are refused: the
    receiver only ever needs public keys, and a secret it holds is one more to leak.
    """
    root = Path(path)
    problems: list[str] = []
    keys: dict[str, DeviceKey] = {}
    entries: Iterator[tuple[str, str, Any]]
    if root.is_dir():
        entries = _directory_entries(root, problems)
    elif root.is_file():
        entries = _file_entries(root, problems, from_directory=False)
    else:
        raise DeviceKeysError([f"{root}: no such file or directory"])
    for source, kid, material in entries:
        if not kid:
            problems.append(f"{source}: key has no kid")
            continue
        if kid in keys:
            problems.append(f"{source}: kid {kid!r} is defined twice")
            continue
        try:
            keys[kid] = _import(material)
        except (ValueError, TypeError, JoseError) as exc:
            reason = _describe(exc) if isinstance(exc, JoseError) else str(exc)
            problems.append(f"{source}: kid {kid!r}: {reason}")
    if not keys and not problems:
        problems.append(f"{root}: no keys found (expected *.pem, *.jwk or *.json)")
    if problems:
        raise DeviceKeysError(problems)
    return keys


def _directory_entries(root: Path, problems: list[str]) -> Iterator[tuple[str, str, Any]]:
    for file in sorted(root.iterdir()):
        if file.name.startswith(".") or file.suffix.lower() not in KEY_FILE_SUFFIXES or not file.is_file():
            continue
        yield from _file_entries(file, problems, from_directory=True)


def _file_entries(file: Path, problems: list[str], *, from_directory: bool) -> Iterator[tuple[str, str, Any]]:
    try:
        data = file.read_bytes()
    except OSError as exc:
        problems.append(f"{file}: {exc.strerror or exc}")
        return
    if file.suffix.lower() == ".pem":
        yield str(file), file.stem, data
        return
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        problems.append(f"{file}: not JSON: {exc}")
        return
    if isinstance(document, dict) and isinstance(document.get("keys"), list):  # a JWK Set
        for index, jwk in enumerate(document["keys"]):
            kid = jwk.get("kid") if isinstance(jwk, dict) else None
            yield f"{file} keys[{index}]", kid if isinstance(kid, str) else "", jwk
    elif isinstance(document, dict) and "kty" in document and from_directory:  # one JWK
        kid = document.get("kid")
        yield str(file), kid if isinstance(kid, str) else file.stem, document
    elif isinstance(document, dict) and not from_directory:  # {kid: JWK | PEM}
        for kid, material in document.items():
            yield f"{file} [{kid!r}]", kid, material
    else:
        problems.append(f"{file}: expected a JWK, a JWK Set or an object of kid -> key")


def _import(material: Any) -> DeviceKey:
    if isinstance(material, dict):
        kty = material.get("kty")
        if kty == "oct":
            raise ValueError("symmetric (oct) keys are not accepted: devices sign with a private key")
        if "d" in material or "p" in material:
            raise ValueError("this is a private key: store only the device's public key")
        key_class = _KEY_TYPES.get(str(kty))
        if key_class is None:
            raise ValueError(f"unsupported key type {kty!r}: expected RSA, EC or OKP")
        return key_class.import_key(material)
    if isinstance(material, str):
        material = material.encode()
    if not isinstance(material, bytes):
        raise ValueError(f"expected a JWK object or a PEM string, got {type(material).__name__}")
    if b"PRIVATE KEY" in material:
        raise ValueError("this is a private key: store only the device's public key")
    if b"-----BEGIN" not in material:
        raise ValueError("not a PEM public key or certificate")
    for key_class in _KEY_TYPES.values():
        try:
            return key_class.import_key(material)
        except (ValueError, TypeError, JoseError):
            continue
    raise ValueError("not an RSA, EC or Ed25519/Ed448 public key")


_KEY_TYPES: dict[str, type[RSAKey] | type[ECKey] | type[OKPKey]] = {
    "RSA": RSAKey,
    "EC": ECKey,
    "OKP": OKPKey,
}
