"""Hash value types: hex round-trips, distances, immutability, clear errors on bad text."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from haven.signals import InvalidHashError, Md5, PdqHash, Sha256, md5, sha256

HEX = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
values = st.integers(min_value=0, max_value=(1 << 256) - 1)


@given(values)
def test_pdq_hex_round_trips(value: int) -> None:
    h = PdqHash(value)
    text = str(h)
    assert len(text) == 64
    assert PdqHash.from_hex(text) == h
    assert PdqHash.from_hex(text.upper()) == h
    assert PdqHash.from_bytes(h.to_bytes()) == h
    assert PdqHash.from_bits(h.bits()) == h


@given(values, values)
def test_distance_is_the_popcount_of_the_xor(a: int, b: int) -> None:
    ha, hb = PdqHash(a), PdqHash(b)
    expected = bin(a ^ b).count("1")
    assert ha.distance(hb) == expected
    assert ha - hb == expected
    assert hb - ha == expected
    words = np.bitwise_xor(ha.to_words(), hb.to_words())
    assert int(np.bitwise_count(words).sum()) == expected


def test_hex_is_in_the_reference_word_order() -> None:
    h = PdqHash.from_hex(HEX)
    # Bit k is coefficient k: bit 0 is the last hex digit's lowest bit.
    assert h.bits()[0] == bool(int(HEX[-1], 16) & 1)
    assert h.bits()[255] == bool(int(HEX[0], 16) & 8)
    assert h.to_words()[0] == int(HEX[:16], 16)


def test_pdq_hashes_are_immutable_hashable_and_ordered() -> None:
    a = PdqHash.from_hex(HEX)
    b = PdqHash.from_hex(HEX)
    c = PdqHash(0)
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b, c}) == 2
    assert c < a
    assert sorted([a, c]) == [c, a]
    with pytest.raises(AttributeError):
        a._value = 1  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(a)) == a
    assert eval(repr(a), {"PdqHash": PdqHash}) == a  # noqa: S307 - repr round-trip of our own type
    assert a != HEX


@pytest.mark.parametrize(
    "text",
    ["", "abc", HEX[:-1], HEX + "0", "g" * 64, HEX[:-1] + " ", "0x" + HEX[2:], HEX[:-1] + "é"],
)
def test_malformed_pdq_hex_is_refused_clearly(text: str) -> None:
    with pytest.raises(InvalidHashError, match=r"hex|64"):
        PdqHash.from_hex(text)


def test_pdq_hash_refuses_out_of_range_values_and_wrong_types() -> None:
    with pytest.raises(InvalidHashError):
        PdqHash(-1)
    with pytest.raises(InvalidHashError):
        PdqHash(1 << 256)
    with pytest.raises(TypeError):
        PdqHash("00")  # type: ignore[arg-type]
    with pytest.raises(InvalidHashError):
        PdqHash.from_hex(12)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        PdqHash(0).distance("0" * 64)  # type: ignore[arg-type]


def test_digests_match_hashlib_known_answers() -> None:
    assert str(md5(b"")) == "d41d8cd98f00b204e9800998ecf8427e"
    assert str(sha256(b"abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert md5(b"abc") == Md5.from_hex("900150983CD24FB0D6963F7D28E17F72")


@given(st.binary(max_size=256))
def test_digest_hex_round_trips(data: bytes) -> None:
    for digest in (md5(data), sha256(data)):
        assert type(digest).from_hex(str(digest)) == digest
        assert pickle.loads(pickle.dumps(digest)) == digest


def test_digest_types_never_compare_equal_across_algorithms() -> None:
    assert md5(b"x") != sha256(b"x")
    assert len({md5(b"x"), Md5.of(b"x")}) == 1


@pytest.mark.parametrize(
    ("cls", "text"), [(Md5, "0" * 31), (Sha256, "0" * 65), (Md5, "z" * 32), (Sha256, "")]
)
def test_malformed_digest_hex_is_refused(cls: type[Md5] | type[Sha256], text: str) -> None:
    with pytest.raises(InvalidHashError):
        cls.from_hex(text)
