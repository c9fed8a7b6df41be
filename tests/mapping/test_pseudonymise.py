import hmac

import pyarrow as pa
import pytest

from receiver.mapping._pseudonymise import PSEUDONYM_HEX_CHARS, pseudonymise, pseudonymise_encoded

KEY = b"test-key"


def expected(value: str, key: bytes = KEY) -> str:
    return hmac.new(key, value.encode(), "sha256").hexdigest()[:PSEUDONYM_HEX_CHARS]


def test_each_value_becomes_its_truncated_hmac_sha256() -> None:
    values = ["27821234567", "", "+44 7700 900123", "bücher", "x" * 500]
    out = pseudonymise(pa.array(values), KEY)
    assert out.type == pa.string()
    assert out.to_pylist() == [expected(value) for value in values]
    assert all(len(text) == 32 and int(text, 16) >= 0 for text in out.to_pylist())


@pytest.mark.parametrize("key", [b"k", b"k" * 64, b"k" * 65, bytes(range(256))])
def test_keys_of_any_length_match_the_hmac_module(key: bytes) -> None:
    assert pseudonymise(pa.array(["27821234567"]), key).to_pylist() == [expected("27821234567", key)]


def test_deterministic_and_repeated_values_share_a_pseudonym() -> None:
    values = pa.array(["a", "b", "a", "c", "a"])
    first, second = pseudonymise(values, KEY).to_pylist(), pseudonymise(values, KEY).to_pylist()
    assert first == second
    assert first[0] == first[2] == first[4]
    assert len(set(first)) == 3


def test_pseudonyms_depend_on_the_key() -> None:
    values = pa.array(["27821234567", "27829876543"])
    assert set(pseudonymise(values, KEY).to_pylist()).isdisjoint(pseudonymise(values, b"other").to_pylist())


def test_nulls_stay_null() -> None:
    out = pseudonymise(pa.array(["a", None, "b", None]), KEY)
    assert out.to_pylist() == [expected("a"), None, expected("b"), None]
    assert out.null_count == 2


def test_chunked_dictionary_and_non_string_input() -> None:
    chunked = pa.chunked_array([["a", "b"], ["a"]])
    assert pseudonymise(chunked, KEY).to_pylist() == [expected("a"), expected("b"), expected("a")]
    dictionary = pa.array(["x", "y", "x", None]).dictionary_encode()
    out = pseudonymise(dictionary, KEY)
    assert pa.types.is_dictionary(out.type)
    assert out.to_pylist() == [expected("x"), expected("y"), expected("x"), None]
    assert pseudonymise(pa.array([27821234567]), KEY).to_pylist() == [expected("27821234567")]
    assert pseudonymise(pa.array([b"\xff"]), KEY).to_pylist() == [
        hmac.new(KEY, b"\xff", "sha256").hexdigest()[:32]
    ]


def test_empty_input_and_empty_key() -> None:
    assert pseudonymise(pa.array([], pa.string()), KEY).to_pylist() == []
    with pytest.raises(ValueError, match="key"):
        pseudonymise(pa.array(["a"]), b"")


def test_encoded_form_has_the_same_pseudonyms_and_nulls() -> None:
    for values in (
        pa.array(["a", None, "b", "a"]),
        pa.array(["a", None, "b", "a"]).dictionary_encode(),
        pa.chunked_array([["a", None], ["b", "a"]]),
    ):
        out = pseudonymise_encoded(values, KEY)
        assert pa.types.is_dictionary(out.type) and out.type.value_type == pa.string()
        assert out.to_pylist() == [expected("a"), None, expected("b"), expected("a")]
        assert len(out.dictionary) == 2  # each distinct value hashed once
    with pytest.raises(ValueError):
        pseudonymise_encoded(pa.array(["a"]), b"")
