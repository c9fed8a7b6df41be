"""Keyed pseudonyms for personal values (phone numbers, IP addresses) before they leave the receiver.

Each value becomes the HMAC-SHA256 of its UTF-8 text under the configured key, as hex truncated to 32
characters (128 bits: collisions stay negligible for billions of distinct values, and the column is
half as wide as the full digest). The same key gives the same pseudonym everywhere, so records still
join on it; without the key a pseudonym cannot be reversed or recomputed from a guessed number. Nulls
stay null. Non-string values are hashed as their text (``pa.binary`` values as their bytes).

Speed: HMAC runs once per *distinct* value (a subscriber appears in many records; Arrow's dictionary
encoding finds them), each from copies of the key's prepared inner and outer SHA-256 states (RFC 2104),
so the key is set up once per call, not once per value. Measured on one core: ~1.0-1.1 M values/s
when all are distinct, ~13 M values/s for 1 M rows of 50 000 subscribers."""

import hashlib
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

PSEUDONYM_HEX_CHARS = 32
_BLOCK = 64  # SHA-256 block size in bytes


def pseudonymise(values: pa.Array | pa.ChunkedArray, key: bytes) -> pa.Array:
    """Same length as ``values``: string pseudonyms, null where the value is null."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_dictionary(values.type):
        return pa.DictionaryArray.from_arrays(values.indices, pseudonymise(values.dictionary, key))
    encoded = pseudonymise_encoded(values, key)
    return pc.take(encoded.dictionary, encoded.indices)


def pseudonymise_encoded(values: pa.Array | pa.ChunkedArray, key: bytes) -> pa.DictionaryArray:
    """``pseudonymise`` as a dictionary array (one pseudonym per distinct value, an index per row): a
    whole file is pseudonymised once, each distinct value hashed once, and then sliced into chunks."""
    if not key:
        raise ValueError("pseudonymisation key must not be empty")
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    if not (pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type)):
        values = values.cast(pa.string())
    encoded = pc.dictionary_encode(values)  # nulls stay null indices
    distinct = encoded.dictionary.cast(pa.large_binary()).to_pylist()
    return pa.DictionaryArray.from_arrays(
        encoded.indices, pa.array(list(map(_hmac_hex(key), distinct)), pa.string())
    )


def _hmac_hex(key: bytes) -> Callable[[bytes], str]:
    """HMAC-SHA256 (RFC 2104) from prepared pad states: equal to ``hmac.new(key, value, "sha256")``, but
    ``hmac``'s own ``copy()`` runs Python code per value and this does not."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    inner_copy = hashlib.sha256(bytes(octet ^ 0x36 for octet in key)).copy
    outer_copy = hashlib.sha256(bytes(octet ^ 0x5C for octet in key)).copy

    def one(value: bytes) -> str:
        inner = inner_copy()
        inner.update(value)
        outer = outer_copy()
        outer.update(inner.digest())
        return outer.hexdigest()[:PSEUDONYM_HEX_CHARS]

    return one
