"""What a body is, from its first bytes rather than from what the server claims."""

from __future__ import annotations

from typing import Final

_MAGIC: Final[tuple[tuple[bytes, str], ...]] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"\x00\x00\x01\x00", "image/x-icon"),
    (b"\x1aE\xdf\xa3", "video/webm"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"WARC/", "application/warc"),
)

_HTML_STARTS: Final = (b"<!doctype html", b"<html", b"<head", b"<body", b"<!--", b"<title", b"<meta", b"<div")


def sniff(data: bytes) -> str:
    """The media type that ``data`` starts like (``application/octet-stream`` if unknown)."""
    head = data[:512]
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "image/avif"
        if brand in (b"heic", b"heix", b"mif1", b"msf1"):
            return "image/heif"
        if brand.startswith(b"qt"):
            return "video/quicktime"
        return "video/mp4"
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(_HTML_STARTS):
        return "text/html"
    if text.startswith(b"<?xml"):
        if b"<svg" in text:
            return "image/svg+xml"
        if b"<html" in text:
            return "text/html"
        return "application/xml"
    if text.startswith((b"<rss", b"<feed", b"<urlset", b"<sitemapindex")):
        return "application/xml"
    if text.startswith(b"<svg"):
        return "image/svg+xml"
    if text[:1] in (b"{", b"["):
        return "application/json"
    if head and _looks_like_text(head):
        return "text/plain"
    return "application/octet-stream"


def _looks_like_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        if exc.start < len(head) - 3:
            return False
    return not any(b < 9 or 13 < b < 32 for b in head if b != 27)
