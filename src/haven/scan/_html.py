"""Links and media in an HTML page.

The stdlib ``html.parser`` is used rather than lxml: it is tolerant of broken
markup, needs no C library, and only start tags matter here, so its speed
(a few ms for a typical page) is far below the cost of fetching and hashing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Final
from urllib.parse import urldefrag, urljoin

MEDIA_EXTENSIONS: Final = frozenset(
    {
        ".jpg", ".jpeg", ".jpe", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".avif", ".heic",
        ".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi",
    }
)  # fmt: skip

_MEDIA_META: Final = frozenset(
    {"og:image", "og:image:url", "og:image:secure_url", "og:video", "og:video:url", "og:video:secure_url",
     "twitter:image", "twitter:image:src", "twitter:player:stream"}
)  # fmt: skip


@dataclass
class PageLinks:
    """What a page points at: media to hash, and pages to crawl."""

    media: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)


def has_media_extension(url: str) -> bool:
    path = url.split("?", 1)[0].split("#", 1)[0].lower()
    dot = path.rfind(".")
    return dot > path.rfind("/") and path[dot:] in MEDIA_EXTENSIONS


def parse_srcset(value: str, *, largest_only: bool = False) -> list[str]:
    """The URLs of a ``srcset`` (``"a.jpg 1x, b.jpg 2x"`` or ``"a.jpg 480w, ..."``)."""
    candidates: list[tuple[float, str]] = []
    for part in value.split(","):
        words = part.strip().split()
        if not words:
            continue
        size = 1.0
        if len(words) > 1:
            descriptor = words[1].lower()
            try:
                size = float(descriptor[:-1]) if descriptor[-1:] in ("w", "x") else 1.0
            except ValueError:
                size = 1.0
        candidates.append((size, words[0]))
    if largest_only and candidates:
        return [max(candidates, key=lambda c: c[0])[1]]
    return [url for _, url in candidates]


class _Parser(HTMLParser):
    def __init__(self, base: str, largest_srcset_only: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.base = base
        self.largest = largest_srcset_only
        self.found = PageLinks()

    def _add(self, bucket: list[str], raw: str | None) -> None:
        if not raw:
            return
        raw = raw.strip()
        if not raw or raw.startswith(("data:", "javascript:", "mailto:", "tel:", "#")):
            return
        try:
            url = urldefrag(urljoin(self.base, raw)).url
        except ValueError:
            return
        if url.startswith(("http://", "https://")):
            bucket.append(url)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        media = self.found.media
        if tag == "base" and a.get("href"):
            self.base = urljoin(self.base, a["href"] or "")
        elif tag == "img":
            self._add(media, a.get("src"))
            for attr in ("data-src", "data-original"):  # common lazy-loading attributes
                self._add(media, a.get(attr))
            for attr in ("srcset", "data-srcset"):
                if a.get(attr):
                    for u in parse_srcset(a[attr] or "", largest_only=self.largest):
                        self._add(media, u)
        elif tag == "source":
            self._add(media, a.get("src"))
            if a.get("srcset"):
                for u in parse_srcset(a["srcset"] or "", largest_only=self.largest):
                    self._add(media, u)
        elif tag == "video":
            self._add(media, a.get("src"))
            self._add(media, a.get("poster"))
        elif tag == "meta":
            key = (a.get("property") or a.get("name") or "").strip().lower()
            if key in _MEDIA_META:
                self._add(media, a.get("content"))
        elif tag == "link" and (a.get("rel") or "").lower() == "image_src":
            self._add(media, a.get("href"))
        elif tag == "a" or tag == "area":
            href = a.get("href")
            if href and has_media_extension(href.strip()):
                self._add(media, href)
            else:
                self._add(self.found.links, href)
        elif tag in ("frame", "iframe"):
            self._add(self.found.links, a.get("src"))


def extract(html: str | bytes, base_url: str, *, largest_srcset_only: bool = False) -> PageLinks:
    """Media URLs and page links of ``html``, absolute, deduplicated, in document order."""
    text = html.decode("utf-8", "replace") if isinstance(html, bytes) else html
    parser = _Parser(base_url, largest_srcset_only)
    try:
        parser.feed(text)
        parser.close()
    except (AssertionError, ValueError):  # html.parser gives up on some broken markup
        pass
    found = parser.found
    return PageLinks(list(dict.fromkeys(found.media)), list(dict.fromkeys(found.links)))
