"""The reduced-size file decode stays within a few bits of the full-resolution hash."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from haven.signals import pdq_hash
from haven.signals._image import REDUCED_MIN_SIDE, decode_luma

from .photolike import photo_like
from .test_pdq_conformance import vector_images


def test_reduced_decode_stays_within_six_bits_on_every_vector(pdq_vectors: Path) -> None:
    distances = []
    for path in vector_images(pdq_vectors):
        full = pdq_hash(path, full_resolution=True)
        fast = pdq_hash(path)
        distances.append(full.hash - fast.hash)
        assert abs(full.quality - fast.quality) <= 5, path.name
    d = np.array(distances)
    assert d.max() <= 6, np.bincount(d)
    assert np.percentile(d, 99) <= 6


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_reduced_decode_of_large_generated_photos_stays_close(encode: Callable[..., bytes], fmt: str) -> None:
    rng = np.random.default_rng(11)
    for _ in range(6):
        rgb = photo_like(rng, min_side=1100, max_side=2600)
        data = encode(rgb, fmt, quality=90) if fmt != "PNG" else encode(rgb, fmt)
        luma = decode_luma(data)
        assert luma.block > 1  # the shortcut really is taken
        assert min(luma.plane.shape) >= REDUCED_MIN_SIDE
        assert pdq_hash(data).hash - pdq_hash(data, full_resolution=True).hash <= 6


def test_small_pictures_are_decoded_at_full_size(encode: Callable[..., bytes]) -> None:
    rgb = photo_like(np.random.default_rng(2), min_side=100, max_side=400)
    data = encode(rgb, "JPEG", quality=95)
    assert decode_luma(data).block == 1
    assert pdq_hash(data).hash == pdq_hash(data, full_resolution=True).hash


def test_reduced_block_factor_follows_the_short_side(encode: Callable[..., bytes]) -> None:
    for short, expected in [(511, 1), (512, 2), (1024, 4), (2048, 8), (4000, 8)]:
        data = encode(Image.new("RGB", (short + 100, short), "grey"), "JPEG")
        assert decode_luma(data).block == expected, short
