"""Hash values: immutable, hashable, with a hex form that round-trips."""

from __future__ import annotations

import hashlib
import string
from typing import ClassVar, Self

import numpy as np
import numpy.typing as npt

from ._errors import InvalidHashError

_HEX_DIGITS = frozenset(string.hexdigits)


def _parse_hex(text: str, n_hex: int, what: str) -> bytes:
    if not isinstance(text, str):
        raise InvalidHashError(f"{what} must be given as a hex string, not {type(text).__name__}")
    s = text.strip()
    if len(s) != n_hex:
        raise InvalidHashError(f"{what} must be {n_hex} hex digits, got {len(s)}")
    if not _HEX_DIGITS.issuperset(s):
        raise InvalidHashError(f"{what} contains characters that are not hexadecimal")
    return bytes.fromhex(s)


class PdqHash:
    """A 256-bit PDQ hash.

    The bits are held as one Python integer whose big-endian hex form is the
    canonical 64-digit text (the word order Meta's C++ implementation prints).
    Bit ``k`` of the integer is DCT coefficient ``k`` in row-major 16 x 16 order.
    Distances are popcounts of the XOR of the integers.
    """

    __slots__ = ("_value",)
    BITS: ClassVar[int] = 256
    HEX_LENGTH: ClassVar[int] = 64

    _value: int

    def __init__(self, value: int) -> None:
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError("PdqHash takes an int; use PdqHash.from_hex for text")
        if not 0 <= value < (1 << 256):
            raise InvalidHashError("a PDQ hash is a 256-bit unsigned value")
        object.__setattr__(self, "_value", value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("PdqHash is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("PdqHash is immutable")

    @classmethod
    def from_hex(cls, text: str) -> Self:
        return cls(int.from_bytes(_parse_hex(text, cls.HEX_LENGTH, "a PDQ hash"), "big"))

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        if len(data) != 32:
            raise InvalidHashError(f"a PDQ hash is 32 bytes, got {len(data)}")
        return cls(int.from_bytes(data, "big"))

    @classmethod
    def from_bits(cls, bits: npt.ArrayLike) -> Self:
        """Build from 256 booleans, bit 0 first (coefficient order)."""
        arr = np.asarray(bits, dtype=bool).reshape(-1)
        if arr.size != 256:
            raise InvalidHashError(f"a PDQ hash has 256 bits, got {arr.size}")
        packed = np.packbits(arr[::-1])  # most significant bit (bit 255) first
        return cls(int.from_bytes(packed.tobytes(), "big"))

    @property
    def value(self) -> int:
        return self._value

    def to_bytes(self) -> bytes:
        return self._value.to_bytes(32, "big")

    def to_words(self) -> npt.NDArray[np.uint64]:
        """The hash as four uint64 words, most significant first (the index's row layout)."""
        return np.frombuffer(self.to_bytes(), dtype=">u8").astype(np.uint64)

    def bits(self) -> npt.NDArray[np.bool_]:
        """256 booleans, bit 0 (coefficient 0) first."""
        packed = np.frombuffer(self.to_bytes(), dtype=np.uint8)
        return np.unpackbits(packed)[::-1].astype(bool)

    def bit_count(self) -> int:
        return self._value.bit_count()

    def distance(self, other: PdqHash) -> int:
        """Hamming distance: the number of bits that differ."""
        if not isinstance(other, PdqHash):
            raise TypeError(f"cannot compare a PdqHash with {type(other).__name__}")
        return (self._value ^ other._value).bit_count()

    def __sub__(self, other: PdqHash) -> int:
        if not isinstance(other, PdqHash):
            return NotImplemented
        return self.distance(other)

    def __str__(self) -> str:
        return format(self._value, "064x")

    def __repr__(self) -> str:
        return f"PdqHash.from_hex({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PdqHash):
            return NotImplemented
        return self._value == other._value

    def __lt__(self, other: PdqHash) -> bool:
        if not isinstance(other, PdqHash):
            return NotImplemented
        return self._value < other._value

    def __le__(self, other: PdqHash) -> bool:
        if not isinstance(other, PdqHash):
            return NotImplemented
        return self._value <= other._value

    def __gt__(self, other: PdqHash) -> bool:
        if not isinstance(other, PdqHash):
            return NotImplemented
        return self._value > other._value

    def __ge__(self, other: PdqHash) -> bool:
        if not isinstance(other, PdqHash):
            return NotImplemented
        return self._value >= other._value

    def __hash__(self) -> int:
        return hash((PdqHash, self._value))

    def __reduce__(self) -> tuple[type[PdqHash], tuple[int]]:
        return (PdqHash, (self._value,))


class _Digest:
    """A cryptographic digest of a file's bytes (exact-match signal)."""

    __slots__ = ("_digest",)
    name: ClassVar[str]
    size: ClassVar[int]

    _digest: bytes

    def __init__(self, digest: bytes) -> None:
        if not isinstance(digest, bytes) or len(digest) != self.size:
            raise InvalidHashError(f"{self.name} digest must be {self.size} bytes")
        object.__setattr__(self, "_digest", digest)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    @classmethod
    def from_hex(cls, text: str) -> Self:
        return cls(_parse_hex(text, 2 * cls.size, f"a {cls.name} digest"))

    @classmethod
    def of(cls, data: bytes | bytearray | memoryview) -> Self:
        h = hashlib.new(cls.name, usedforsecurity=cls.name != "md5")
        h.update(data)
        return cls(h.digest())

    @property
    def digest(self) -> bytes:
        return self._digest

    def __str__(self) -> str:
        return self._digest.hex()

    def __repr__(self) -> str:
        return f"{type(self).__name__}.from_hex({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Digest) or type(other) is not type(self):
            return NotImplemented
        return self._digest == other._digest

    def __lt__(self, other: Self) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._digest < other._digest

    def __hash__(self) -> int:
        return hash((type(self), self._digest))

    def __reduce__(self) -> tuple[type[Self], tuple[bytes]]:
        return (type(self), (self._digest,))


class Md5(_Digest):
    """MD5 of a file's bytes. Not a security control: it is what partners exchange."""

    __slots__ = ()
    name: ClassVar[str] = "md5"
    size: ClassVar[int] = 16


class Sha256(_Digest):
    """SHA-256 of a file's bytes."""

    __slots__ = ()
    name: ClassVar[str] = "sha256"
    size: ClassVar[int] = 32


def md5(data: bytes | bytearray | memoryview) -> Md5:
    """The MD5 digest of ``data``."""
    return Md5.of(data)


def sha256(data: bytes | bytearray | memoryview) -> Sha256:
    """The SHA-256 digest of ``data``."""
    return Sha256.of(data)
