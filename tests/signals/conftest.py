from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pdqhash
import pytest
from PIL import Image

from haven.signals import PdqHash


def reference_pdq(rgb: np.ndarray) -> tuple[PdqHash, int]:
    """Meta's C++ PDQ (the pdqhash binding) on an RGB uint8 array."""
    bits, quality = pdqhash.compute(np.ascontiguousarray(rgb))
    return PdqHash.from_bits(np.asarray(bits)[::-1]), int(quality)


def reference_dihedral(rgb: np.ndarray) -> list[PdqHash]:
    variants, _ = pdqhash.compute_dihedral(np.ascontiguousarray(rgb))
    return [PdqHash.from_bits(np.asarray(bits)[::-1]) for bits in variants]


@pytest.fixture
def encode() -> Callable[..., bytes]:
    """Encode an array or PIL image to file bytes in the given format."""

    def _encode(picture: np.ndarray | Image.Image, fmt: str = "PNG", **params: object) -> bytes:
        im = Image.fromarray(picture) if isinstance(picture, np.ndarray) else picture
        buf = io.BytesIO()
        im.save(buf, format=fmt, **params)
        return buf.getvalue()

    return _encode


@pytest.fixture
def pdq_vectors(vectors: Path) -> Path:
    return vectors / "pdq"
