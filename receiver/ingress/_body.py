"""Reading a request body within limits, and undoing its Content-Encoding without bomb risk."""

import zlib
from collections.abc import AsyncIterator

import unlzw3

from ..config import LimitsConfig
from ..decode import DecodeError, TooLarge, UnsupportedFormat

_GZIP_MAGIC = b"\x1f\x8b"
_LZW_MAGIC = b"\x1f\x9d"
# LZW (``compress``) has no streaming decoder with an output cap; keep its input small instead.
_MAX_LZW_INPUT = 1024 * 1024


async def read_limited(chunks: AsyncIterator[bytes], content_length: str | None, limit: int) -> bytes:
    """The whole body (chunked or not), or TooLarge as soon as it passes ``limit``."""
    if content_length is not None and content_length.strip().isdigit() and int(content_length) > limit:
        raise TooLarge(f"body of {int(content_length)} bytes exceeds the limit of {limit} bytes")
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"body exceeds the limit of {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


def decode_content(body: bytes, content_encoding: str | None, limits: LimitsConfig) -> bytes:
    """Undo each listed encoding, last applied first. Output beyond the configured size or ratio is
    refused with 413 before it is produced."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    for coding in reversed(codings):
        if coding in ("identity", ""):
            continue
        if coding in ("gzip", "x-gzip"):
            if not body.startswith(_GZIP_MAGIC):
                continue  # some CPEs label plain bodies gzip: read them as they are
            body = _inflate(body, zlib.MAX_WBITS | 16, limits, "gzip")
        elif coding == "deflate":
            # RFC 9110 deflate is zlib-wrapped, but raw deflate is common; the zlib header tells.
            wrapped = len(body) >= 2 and body[0] & 0x0F == 8 and (body[0] << 8 | body[1]) % 31 == 0
            body = _inflate(body, zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS, limits, "deflate")
        elif coding in ("compress", "x-compress"):
            body = _unlzw(body, limits)
        else:
            raise UnsupportedFormat(f"unsupported Content-Encoding {coding!r}: use gzip, deflate or compress")
    return body


def _inflate(body: bytes, wbits: int, limits: LimitsConfig, name: str) -> bytes:
    cap = min(limits.max_decompressed_bytes, max(len(body), 1) * limits.max_compression_ratio)
    out: list[bytes] = []
    size = 0
    data = body
    try:
        while data:
            inflater = zlib.decompressobj(wbits)
            chunk = inflater.decompress(data, cap - size + 1)
            size += len(chunk)
            if size > cap or inflater.unconsumed_tail:
                raise _too_large(cap, limits)
            out.append(chunk)
            if not inflater.eof:
                raise DecodeError(f"truncated {name} body")
            # gzip allows several members back to back; anything else after the end is garbage.
            data = (
                inflater.unused_data
                if name == "gzip" and inflater.unused_data.startswith(_GZIP_MAGIC)
                else b""
            )
    except zlib.error as exc:
        raise DecodeError(f"corrupt {name} body: {exc}") from exc
    return b"".join(out)


def _unlzw(body: bytes, limits: LimitsConfig) -> bytes:
    if not body.startswith(_LZW_MAGIC):
        return body
    if len(body) > _MAX_LZW_INPUT:
        raise TooLarge(f"compress-encoded bodies are limited to {_MAX_LZW_INPUT} bytes; use gzip")
    try:
        out: bytes = unlzw3.unlzw(body)
    except (ValueError, IndexError, TypeError) as exc:
        raise DecodeError(f"corrupt compress body: {exc}") from exc
    if len(out) > min(limits.max_decompressed_bytes, len(body) * limits.max_compression_ratio):
        raise _too_large(limits.max_decompressed_bytes, limits)
    return out


def _too_large(cap: int, limits: LimitsConfig) -> TooLarge:
    return TooLarge(
        f"decompressed body exceeds {cap} bytes (limits: {limits.max_decompressed_bytes} bytes, "
        f"ratio {limits.max_compression_ratio}:1)"
    )
