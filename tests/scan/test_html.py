"""Media and links found in HTML."""

from __future__ import annotations

from haven.scan import extract
from haven.scan._html import has_media_extension, parse_srcset

BASE = "https://example.org/gallery/page.html"


def test_it_finds_every_kind_of_media_reference() -> None:
    html = """<html><head>
      <meta property="og:image" content="https://cdn.example.org/og.jpg">
      <meta name="twitter:image" content="/tw.png">
      <meta property="og:title" content="not media">
    </head><body>
      <img src="one.jpg" alt="">
      <img data-src="lazy.webp">
      <img srcset="small.jpg 480w, large.jpg 1080w">
      <picture><source srcset="pic.avif 1x, pic@2x.avif 2x"><img src="pic.jpg"></picture>
      <video src="clip.mp4" poster="poster.jpg"><source src="clip.webm" type="video/webm"></video>
      <a href="full/photo.JPEG?size=orig">download</a>
      <a href="next.html">next page</a>
      <a href="mailto:x@example.org">mail</a>
      <img src="data:image/png;base64,AAAA">
      <iframe src="/embed/1"></iframe>
    </body></html>"""
    found = extract(html, BASE)
    assert found.media == [
        "https://cdn.example.org/og.jpg",
        "https://example.org/tw.png",
        "https://example.org/gallery/one.jpg",
        "https://example.org/gallery/lazy.webp",
        "https://example.org/gallery/small.jpg",
        "https://example.org/gallery/large.jpg",
        "https://example.org/gallery/pic.avif",
        "https://example.org/gallery/pic@2x.avif",
        "https://example.org/gallery/pic.jpg",
        "https://example.org/gallery/clip.mp4",
        "https://example.org/gallery/poster.jpg",
        "https://example.org/gallery/clip.webm",
        "https://example.org/gallery/full/photo.JPEG?size=orig",
    ]
    assert found.links == ["https://example.org/gallery/next.html", "https://example.org/embed/1"]


def test_largest_srcset_only_keeps_the_biggest_candidate() -> None:
    html = '<img srcset="a.jpg 480w, c.jpg 1600w, b.jpg 1080w">'
    assert extract(html, BASE, largest_srcset_only=True).media == ["https://example.org/gallery/c.jpg"]
    assert parse_srcset("a.jpg, b.jpg 2x", largest_only=True) == ["b.jpg"]
    assert parse_srcset(" , a.jpg bogus, ") == ["a.jpg"]


def test_base_href_and_fragments_and_duplicates() -> None:
    html = '<base href="https://img.example.net/x/"><img src="a.jpg#top"><img src="a.jpg">'
    assert extract(html, BASE).media == ["https://img.example.net/x/a.jpg"]


def test_broken_markup_does_not_stop_extraction() -> None:
    html = b'<html><body><img src="a.jpg"<img src=b.jpg><div><<a href="c.png">\xff\xfe</a><img src="'
    found = extract(html, BASE)
    assert "https://example.org/gallery/c.png" in found.media


def test_media_extensions() -> None:
    assert has_media_extension("https://x/a/b.JPG?x=1")
    assert has_media_extension("/v/clip.webm#t=3")
    assert not has_media_extension("https://x/a.jpg/page")
    assert not has_media_extension("https://x/gallery.html")
