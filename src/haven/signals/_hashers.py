"""Hashers: content in, signals out.

A *hasher* turns a piece of content into a signal that can be matched without
keeping the content.  Haven has two kinds for pictures:

* **PDQ** (perceptual): a 256-bit summary of the picture's coarse structure that
  survives re-encoding, resizing and mild edits; near-duplicates are a small
  Hamming distance apart.  Its eight dihedral variants catch rotations and flips.
* **MD5 / SHA-256** (cryptographic): identical bytes only.  Partners exchange
  them, and they cost nothing to check.

Each hasher has an explicit ``name`` and is registered once in :data:`HASHERS`; the
name is what the database, the API and the JSON Lines output use.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import ClassVar, Final, Protocol, TypeAlias

import numpy as np
import numpy.typing as npt
from PIL import Image

from ._errors import ImageTooSmallError
from ._hashes import Md5, PdqHash, Sha256
from ._image import (
    DEFAULT_LIMITS,
    Limits,
    LumaPlane,
    decode_luma,
    exif_orientation,
    plane_from_array,
    plane_from_image,
    read_file_bytes,
)
from ._pdq import (
    MIN_DIMENSION,
    WEAK_QUALITY,
    Float64Array,
    bits_of,
    dct_16,
    dihedral_coefficients,
    downsample_64,
    quality_of,
)

ImageSource: TypeAlias = (
    str | os.PathLike[str] | bytes | bytearray | memoryview | Image.Image | npt.NDArray[np.uint8]
)

DIHEDRAL_ORDER: Final = (
    "original",
    "rotate90",
    "rotate180",
    "rotate270",
    "flipx",
    "flipy",
    "flipplus1",
    "flipminus1",
)
"""The order of :func:`pdq_hash_dihedral`'s result."""


@dataclass(frozen=True, slots=True)
class PdqResult:
    """A PDQ hash with its quality (0-100); below 50 the hash is *weak*."""

    hash: PdqHash
    quality: int
    _coefficients: Float64Array = field(repr=False, compare=False)

    @property
    def weak(self) -> bool:
        """Too little structure (flat or tiny pictures) for the hash to be trusted."""
        return self.quality < WEAK_QUALITY

    def dihedral(self) -> list[PdqHash]:
        """The hashes of the picture rotated and flipped, in :data:`DIHEDRAL_ORDER`."""
        return [bits_of(c) for c in dihedral_coefficients(self._coefficients)]


def _result(luma: LumaPlane) -> PdqResult:
    samples = downsample_64(luma.plane, luma.full_size, luma.block, luma.orientation)
    coefficients = dct_16(samples)
    return PdqResult(bits_of(coefficients), quality_of(samples), coefficients)


def _luma(source: object, full_resolution: bool, limits: Limits) -> LumaPlane:
    if isinstance(source, np.ndarray):
        plane = plane_from_array(source)
        return LumaPlane(plane, (plane.shape[0], plane.shape[1]))
    if isinstance(source, Image.Image):
        plane = plane_from_image(source)
        if min(plane.shape) < MIN_DIMENSION:
            raise ImageTooSmallError(
                f"{plane.shape[1]} x {plane.shape[0]} pixels; a perceptual hash needs at least "
                f"{MIN_DIMENSION} x {MIN_DIMENSION}"
            )
        return LumaPlane(plane, (plane.shape[0], plane.shape[1]), 1, exif_orientation(source))
    if isinstance(source, bytes | bytearray | memoryview):
        return decode_luma(bytes(source), reduce=not full_resolution, limits=limits)
    if isinstance(source, str | os.PathLike):
        return decode_luma(read_file_bytes(source, limits), reduce=not full_resolution, limits=limits)
    raise TypeError(
        f"cannot hash a {type(source).__name__}: pass a path, bytes, a PIL image or a numpy array"
    )


def pdq_hash(
    source: ImageSource, *, full_resolution: bool = False, limits: Limits = DEFAULT_LIMITS
) -> PdqResult:
    """The PDQ hash and quality of a picture.

    ``source`` is a path, the bytes of an image file, a PIL image, or a uint8 numpy
    array (H x W grey or H x W x 3 RGB).  EXIF orientation is applied; animations
    hash their first frame.  Arrays and PIL images are hashed at full resolution,
    bit-exact with Meta's C++ PDQ on the same pixels.  Files are decoded at reduced
    size unless ``full_resolution`` is set (see README for the measured deviation).

    Raises a :class:`HashingError` subclass for content that cannot be hashed.
    """
    return _result(_luma(source, full_resolution, limits))


def pdq_hash_dihedral(
    source: ImageSource, *, full_resolution: bool = False, limits: Limits = DEFAULT_LIMITS
) -> list[PdqHash]:
    """The 8 dihedral PDQ hashes of a picture, in :data:`DIHEDRAL_ORDER`."""
    return pdq_hash(source, full_resolution=full_resolution, limits=limits).dihedral()


class Hasher(Protocol):
    """What the registry holds: a named way to turn file bytes into a signal's text form."""

    name: ClassVar[str]

    def hash_bytes(self, data: bytes) -> str: ...


class PdqHasher:
    name: ClassVar[str] = "pdq"

    def hash_bytes(self, data: bytes) -> str:
        return str(pdq_hash(data).hash)


class Md5Hasher:
    name: ClassVar[str] = Md5.name

    def hash_bytes(self, data: bytes) -> str:
        return str(Md5.of(data))


class Sha256Hasher:
    name: ClassVar[str] = Sha256.name

    def hash_bytes(self, data: bytes) -> str:
        return str(Sha256.of(data))


def _registry(*hashers: Hasher) -> dict[str, Hasher]:
    registry: dict[str, Hasher] = {}
    for hasher in hashers:
        if hasher.name in registry:
            raise RuntimeError(f"two hashers are named {hasher.name!r}")
        registry[hasher.name] = hasher
    return registry


HASHERS: Final[dict[str, Hasher]] = _registry(PdqHasher(), Md5Hasher(), Sha256Hasher())
"""Every hasher by its name."""
