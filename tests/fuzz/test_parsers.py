"""Fuzzing what Haven reads from strangers: web pages, sitemaps, feeds, WARC archives and picture
files.  Whatever the bytes, each parser returns or reports a clear error; none crashes.

Inputs are both unstructured (any bytes) and structured (documents built from the format's own
pieces, then cut, flipped or spliced), so that the fuzzer gets past the first byte of each format.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import hashlib
import io
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from haven.scan import Feed, Found, PageLinks, ScanError, Sitemap, SourceContext, Warc, extract, sniff
from haven.scan._fetch import FetchResult
from haven.signals import QUALITY_FLOOR, HashingError, Limits, pdq_hash, query_signals
from tests.scan.content import warc_record

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SMALL = Limits(max_bytes=2 * 2**20, max_pixels=4_000_000)

# --- pieces of each format --------------------------------------------------------------------------

TAGS = ["a", "img", "picture", "source", "video", "meta", "link", "base", "iframe", "script", "div", "svg"]
ATTRS = ["href", "src", "srcset", "data-src", "content", "property", "rel", "poster", "sizes", "style"]
VALUES = st.one_of(
    st.sampled_from(
        [
            "/a.jpg",
            "https://x.example/b.png 2x, c.webp 640w",
            "og:image",
            "javascript:alert(1)",
            "data:image/png;base64,AAAA",
            "//cdn.example/v.mp4",
            "http://[::1]/x",
            "http://%zz/",
            "\x00\u202e\ud7ff",
            "  ,, 10w",
            "https://xn--/",
        ]
    ),
    st.text(max_size=40),
)


@st.composite
def html(draw: st.DrawFn) -> bytes:
    parts = []
    for _ in range(draw(st.integers(0, 25))):
        tag = draw(st.sampled_from(TAGS))
        attrs = " ".join(
            f'{draw(st.sampled_from(ATTRS))}="{draw(VALUES)}"' for _ in range(draw(st.integers(0, 4)))
        )
        closing = draw(st.sampled_from(["", f"</{tag}>", "<!--", "<![CDATA[", "&#x0;", "&amp"]))
        parts.append(f"<{tag} {attrs}>{draw(st.text(max_size=10))}{closing}")
    text = "".join(parts)
    encoding = draw(st.sampled_from(["utf-8", "utf-16", "latin-1"]))
    return text.encode(encoding, errors="replace")


def _mangle(data: bytes, draw: st.DrawFn) -> bytes:
    """Cut, flip or splice a valid document."""
    if not data:
        return data
    how = draw(st.sampled_from(["cut", "flip", "splice", "keep"]))
    at = draw(st.integers(0, len(data) - 1))
    if how == "cut":
        return data[:at]
    if how == "flip":
        return data[:at] + bytes([data[at] ^ (1 << draw(st.integers(0, 7)))]) + data[at + 1 :]
    if how == "splice":
        return data[:at] + draw(st.binary(max_size=64)) + data[at:]
    return data


@st.composite
def xml(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["urlset", "sitemapindex", "rss", "feed"]))
    children = []
    for _ in range(draw(st.integers(0, 12))):
        name = draw(
            st.sampled_from(["url", "sitemap", "item", "entry", "loc", "link", "enclosure", "image:image"])
        )
        inner = draw(
            st.sampled_from(["<loc>{}</loc>", "<link href='{}' rel='enclosure'/>", "{}", "<x>{}</x>"])
        )
        attr = draw(st.sampled_from(["", " url='{}'", " type='image/jpeg' url='{}'", " href='{}'"]))
        value = draw(VALUES).replace("<", "&lt;").replace("'", "&apos;")
        children.append(f"<{name}{attr.format(value)}>{inner.format(value)}</{name}>")
    namespaces = ' xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:image="urn:i"'
    doc = f"<?xml version='1.0'?><{kind}{namespaces}>{''.join(children)}</{kind}>".encode()
    return _mangle(doc, draw)


def _picture(fmt: str, size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    # Detail everywhere (not a flat colour), so that a whole picture gives signals worth matching.
    Image.effect_noise(size, 90).convert("RGB").save(out, fmt)
    return out.getvalue()


PICTURES = {fmt: _picture(fmt) for fmt in ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF")}


@st.composite
def warc(draw: st.DrawFn) -> bytes:
    records = []
    for k in range(draw(st.integers(0, 4))):
        ctype, body = draw(
            st.sampled_from(
                [
                    ("text/html", b'<img src="/p.png">'),
                    ("image/png", PICTURES["PNG"]),
                    ("image/jpeg", PICTURES["JPEG"]),
                    ("text/plain", b"x"),
                ]
            )
        )
        records.append(warc_record(f"https://w.example/{k}", ctype, body, k))
    compressed = draw(st.booleans())
    data = b"".join(gzip.compress(r) if compressed else r for r in records)
    return _mangle(data, draw)


@st.composite
def picture_bytes(draw: st.DrawFn) -> bytes:
    return _mangle(PICTURES[draw(st.sampled_from(sorted(PICTURES)))], draw)


# --- the targets ---------------------------------------------------------------------------------------


@FUZZ
@given(
    st.one_of(html(), st.binary(max_size=2000)),
    st.sampled_from(["https://s.example/p/", "http://[::1]/", "x"]),
)
def test_html_extraction_never_crashes(data: bytes, base: str) -> None:
    links = extract(data, base)
    assert isinstance(links, PageLinks)
    assert all(isinstance(u, str) for u in (*links.media, *links.links))


class _OneDocument:
    """The scan's fetch port, answering the source's own URL with the fuzzed document and
    anything else with a 404 (so that the source's parsing is what is tried, not the network)."""

    def __init__(self, url: str, body: bytes) -> None:
        self.url, self.body = url, body

    async def fetch(self, url: str) -> FetchResult:
        body = self.body if url == self.url else b""
        return FetchResult(
            url=url,
            final_url=url,
            status=200 if url == self.url else 404,
            headers={},
            body=body,
            sha256=hashlib.sha256(body).hexdigest(),
            content_type="application/xml",
            sniffed_type=sniff(body),
            redirects=(),
            fetched_at=dt.datetime.now(dt.UTC),
            elapsed_s=0.0,
        )


def _run(source: Sitemap | Feed | Warc, fetcher: object) -> tuple[list[Found], list[ScanError]]:
    errors: list[ScanError] = []

    async def go() -> list[Found]:
        ctx = SourceContext(fetcher, lambda u, c, m, p: errors.append(ScanError(u, c, m, p)))  # type: ignore[arg-type]
        items: AsyncIterator[Found] = source.items(ctx)
        return [found async for found in items]

    return asyncio.run(go()), errors


@FUZZ
@given(st.one_of(xml(), st.binary(max_size=1000)))
def test_sitemaps_never_crash(data: bytes) -> None:
    url = "https://s.example/sitemap.xml"
    _found, errors = _run(Sitemap(url, max_sitemaps=3, max_pages=20), _OneDocument(url, data))
    assert all(e.code for e in errors)


@FUZZ
@given(st.one_of(xml(), st.binary(max_size=1000)))
def test_feeds_never_crash(data: bytes) -> None:
    url = "https://s.example/feed.xml"
    _found, errors = _run(Feed(url, max_items=20), _OneDocument(url, data))
    assert all(e.code for e in errors)


@FUZZ
@given(st.one_of(warc(), st.binary(max_size=2000)), st.booleans())
def test_warc_archives_never_crash(data: bytes, compressed_name: bool) -> None:
    with tempfile.TemporaryDirectory() as where:
        path = Path(where) / ("a.warc.gz" if compressed_name else "a.warc")
        path.write_bytes(data)
        found, errors = _run(Warc(path), _OneDocument("", b""))
    assert all(e.code and e.message for e in errors)
    assert all(f.url for f in found)


@FUZZ
@given(st.one_of(picture_bytes(), st.binary(max_size=3000)))
def test_picture_decoding_hashes_or_says_why(data: bytes) -> None:
    try:
        result = pdq_hash(data, limits=SMALL)
    except HashingError as exc:
        message = str(exc)
    else:
        assert 0 <= result.quality <= 100
        return
    assert message  # a reason a counsellor can read


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(picture_bytes())
def test_robust_query_signals_hash_or_say_why(data: bytes) -> None:
    try:
        signals = query_signals(data, limits=SMALL)
    except HashingError as exc:
        message = str(exc)
    else:
        assert all(s.hashes and s.quality >= QUALITY_FLOOR for s in signals)
        return
    assert message
