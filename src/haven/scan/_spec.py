"""The text form of a source, as ``haven scan`` takes it on the command line.

https://example.org/page    crawl from this page (``--depth``, ``--max-pages``)
sitemap:URL                 the pages a sitemap.xml (or sitemap index) lists
feed:URL                    the items of an RSS or Atom feed
urls:FILE                   the URLs in FILE, one a line (``urls:-`` reads standard input)
warc:FILE, FILE.warc[.gz]   the pictures and videos archived in a WARC file
search:URL                  a site's search page, URL with {query} (and {page}), run for each query
DIR                         the picture and video files under a folder
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from ._sources import Crawl, Feed, Folder, Sitemap, SiteSearch, Source, UrlList, Warc

__all__ = ["CrawlLimits", "SourceSpecError", "parse_source"]


class SourceSpecError(ValueError):
    """A source given on the command line cannot be understood; the message says why."""


@dataclass(frozen=True)
class CrawlLimits:
    depth: int = 1
    max_pages: int = 1000
    same_site: bool = True


def _url(text: str, what: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise SourceSpecError(f"{what} needs an http:// or https:// URL, got {text!r}")
    return text


def parse_source(
    text: str, limits: CrawlLimits | None = None, *, queries: tuple[str, ...] = (), delay_s: float = 1.0
) -> Source:
    """A :class:`Source` from its text form (see the module docstring); ``queries`` are what a
    ``search:`` source searches for."""
    limits = limits or CrawlLimits()
    kind, sep, rest = text.partition(":")
    if sep and kind == "search":
        if not queries:
            raise SourceSpecError("search: needs something to search for: give --query or --query-file")
        try:
            return SiteSearch(_url(rest, "search:"), queries, max_pages=limits.max_pages, delay_s=delay_s)
        except ValueError as exc:
            raise SourceSpecError(str(exc)) from None
    if sep and kind == "sitemap":
        return Sitemap(_url(rest, "sitemap:"), max_pages=limits.max_pages)
    if sep and kind == "feed":
        return Feed(_url(rest, "feed:"), max_items=limits.max_pages)
    if sep and kind == "urls":
        if rest == "-":
            return UrlList(sys.stdin.read().splitlines())
        try:
            return UrlList.from_file(rest)
        except (OSError, UnicodeDecodeError) as exc:
            raise SourceSpecError(f"cannot read the URL list {rest}: {exc}") from None
    if sep and kind == "warc":
        if not os.path.isfile(rest):
            raise SourceSpecError(f"no such WARC file: {rest}")
        return Warc(rest)
    if text.startswith(("http://", "https://")):
        return Crawl(text, depth=limits.depth, max_pages=limits.max_pages, same_site=limits.same_site)
    if text.endswith((".warc", ".warc.gz")) and os.path.isfile(text):
        return Warc(text)
    if os.path.isdir(text):
        return Folder(text)
    raise SourceSpecError(
        f"{text!r} is not a source: give an http(s) URL to crawl, sitemap:URL, feed:URL, urls:FILE, "
        "search:URL, warc:FILE (or a .warc/.warc.gz file), or a folder"
    )
