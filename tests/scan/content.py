"""Pictures for scan tests: photo-like, encoded in memory, with the usual re-post changes."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps

from haven.scan import BankEntry
from haven.signals import md5, pdq_hash

from ..signals.photolike import photo_like


def picture(seed: int, size: int = 384) -> Image.Image:
    rng = np.random.default_rng(seed)
    while True:
        arr = photo_like(rng, max_side=size, min_side=size)
        im = Image.fromarray(arr)
        if pdq_hash(im).quality >= 80:
            return im


def encode(im: Image.Image, fmt: str = "JPEG", **params: object) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, **params)
    return out.getvalue()


def repost(im: Image.Image) -> bytes:
    """Turned a quarter, mirrored, shrunk and re-encoded: what a re-upload often looks like."""
    changed = ImageOps.mirror(im.rotate(90, expand=True)).resize((im.width * 3 // 4, im.height * 3 // 4))
    return encode(changed, "JPEG", quality=70)


def entry(content_id: str, case_id: str, data: bytes) -> BankEntry:
    result = pdq_hash(data)
    return BankEntry(content_id, case_id, result.hash, md5(data), result.quality)
