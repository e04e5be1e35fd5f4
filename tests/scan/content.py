"""Pictures for scan tests: photo-like, encoded in memory, with the usual re-post changes."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

from haven.scan import BankEntry
from haven.signals import md5, pdq_hash, robust_signals

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


def cropped(im: Image.Image) -> bytes:
    """The centre 80 % of the picture, re-encoded: plain PDQ no longer matches it."""
    w, h = im.size
    return encode(im.crop((round(0.1 * w), round(0.1 * h), round(0.9 * w), round(0.9 * h))), quality=85)


def meme(im: Image.Image) -> bytes:
    """The picture under a white caption band with text, re-encoded."""
    band = max(40, im.height // 4)
    out = Image.new("RGB", (im.width, im.height + band), (255, 255, 255))
    out.paste(im, (0, band))
    font = ImageFont.load_default(size=band * 2 // 3)
    ImageDraw.Draw(out).text((im.width // 4, band // 6), "LOL WUT", fill=(0, 0, 0), font=font)
    return encode(out, quality=85)


def robust_record(data: bytes) -> dict[str, Any]:
    """What ``haven hash --robust`` prints for the picture (without its path)."""
    whole, *extra = robust_signals(data)
    return {
        "pdq": str(whole.hash),
        "quality": whole.quality,
        "md5": str(md5(data)),
        "extra": [{"kind": s.kind, "pdq": str(s.hash)} for s in extra],
    }


def robust_entry(content_id: str, case_id: str, data: bytes) -> BankEntry:
    """A bank entry with the picture's robust signals."""
    whole, *extra = robust_signals(data)
    return BankEntry(content_id, case_id, whole.hash, md5(data), whole.quality, extra=tuple(extra))


def warc_record(url: str, ctype: str, body: bytes, number: int) -> bytes:
    """One WARC response record, written by hand (what a crawler's archive holds)."""
    http = f"HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
    head = (
        "WARC/1.0\r\nWARC-Type: response\r\n"
        f"WARC-Target-URI: {url}\r\nWARC-Date: 2026-01-02T03:04:05Z\r\n"
        f"WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-{number:012d}>\r\n"
        "Content-Type: application/http; msgtype=response\r\n"
        f"Content-Length: {len(http)}\r\n\r\n"
    ).encode()
    return head + http + b"\r\n\r\n"
