"""Sources: where a scan looks.

A :class:`Source` is the one abstraction a new place to look must implement, so it
is worth saying what it is and what it is not.

A source *enumerates*; it does not hash or match.  It yields three kinds of
:data:`Found` item, and the pipeline does the rest:

- :class:`Page`: an HTML document already in hand (fetched, or read from an
  archive).  The pipeline extracts its media (``img``/``srcset``/``video``/
  ``og:image``/links to media files) and fetches each media URL once per scan.
- :class:`MediaRef`: a URL that should be a picture or video (a feed enclosure,
  an image sitemap entry).  The pipeline fetches it, once per scan.
- :class:`Blob`: media bytes already in hand (a local file, a WARC record).  The
  pipeline hashes them as they are.

Why this split: the expensive, risky parts (fetching strangers' media, decoding
pictures) are the same for every source, so they live once in the pipeline, where
the limits, the deduplication, the error report and the executor (local processes
or a Dask cluster) apply uniformly.  A source only needs what its own format
demands: a crawler needs the pages' links, a sitemap reader needs XML.  A source
fetches through the :class:`SourceContext` it is given (the same safe fetcher and
per-host limits as the media), reports what fails through it, and goes on: one
broken URL, record or file never ends a scan.

Sources are async iterators so that a crawl can keep many page fetches in flight
while the pipeline hashes what earlier pages found; and every source is bounded
(pages, depth, URL length, query variants, archive records), because the sites a
centre monitors are adversarial and may serve infinite link spaces.
"""

from __future__ import annotations

import asyncio
import os
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Final, Protocol, TypeAlias, runtime_checkable
from urllib.parse import quote, quote_plus, urldefrag, urljoin, urlsplit

from ._fetch import Fetcher, FetchError, FetchResult
from ._html import extract, has_media_extension

__all__ = [
    "SOURCES",
    "Blob",
    "Crawl",
    "Feed",
    "Folder",
    "Found",
    "MediaRef",
    "Page",
    "SiteSearch",
    "Sitemap",
    "Source",
    "SourceContext",
    "UrlList",
    "Warc",
]

MEDIA_TYPES: Final = ("image/", "video/")


@dataclass(frozen=True, slots=True)
class Page:
    """An HTML document in hand; ``live`` pages have their media fetched."""

    url: str
    body: bytes
    live: bool = True


@dataclass(frozen=True, slots=True)
class MediaRef:
    """A URL that should be a picture or video."""

    url: str
    page_url: str | None = None


@dataclass(frozen=True, slots=True)
class Blob:
    """Media bytes in hand: a local file or an archive record."""

    url: str
    data: bytes
    page_url: str | None = None


Found: TypeAlias = Page | MediaRef | Blob


class SourceContext:
    """What a source may use: the scan's fetcher, and a place to report failures."""

    def __init__(
        self,
        fetcher: Fetcher,
        report: Callable[[str, str, str, str | None], None],
        count_bytes: Callable[[int], None] = lambda n: None,
        *,
        max_bytes: int = 25 * 2**20,
        concurrency: int = 8,
    ) -> None:
        self.fetcher = fetcher
        self._report = report
        self._count_bytes = count_bytes
        self.max_bytes = max_bytes
        self.concurrency = concurrency

    def error(self, url: str, code: str, message: str, page_url: str | None = None) -> None:
        self._report(url, code, message, page_url)

    async def fetch(self, url: str, page_url: str | None = None) -> FetchResult | None:
        """Fetch ``url``; on failure report it and return None.  Non-2xx answers are reported too."""
        try:
            result = await self.fetcher.fetch(url)
        except FetchError as exc:
            self.error(url, exc.code, str(exc), page_url)
            return None
        self._count_bytes(len(result.body))
        if not result.ok:
            self.error(url, "http_status", f"{url} answered HTTP {result.status}.", page_url)
            return None
        return result

    async def document(self, url: str) -> Found | None:
        """Fetch a URL given as a page: an HTML page, or media linked directly."""
        result = await self.fetch(url)
        if result is None:
            return None
        if result.sniffed_type.startswith(MEDIA_TYPES):
            return Blob(result.final_url, result.body)
        if _is_html(result):
            return Page(result.final_url, result.body)
        self.error(url, "not_html", f"{url} is {result.sniffed_type}, neither a web page nor media.")
        return None

    async def map_bounded(self, urls: Iterable[str]) -> AsyncIterator[Found]:
        """``document`` for each URL, ``concurrency`` at a time, in completion order."""
        pending: set[asyncio.Task[Found | None]] = set()
        for url in urls:
            if len(pending) >= self.concurrency:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    found = task.result()
                    if found is not None:
                        yield found
            pending.add(asyncio.create_task(self.document(url)))
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                found = task.result()
                if found is not None:
                    yield found


def _is_html(result: FetchResult) -> bool:
    return result.sniffed_type == "text/html" or (
        result.content_type in ("text/html", "application/xhtml+xml")
        and result.sniffed_type in ("text/plain", "text/html", "application/xml")
    )


@runtime_checkable
class Source(Protocol):
    """A place to look (see the module docstring)."""

    name: ClassVar[str]

    def describe(self) -> str:
        """A short human description, e.g. ``crawl of https://example.org/ (depth 2)``."""
        ...

    def items(self, ctx: SourceContext) -> AsyncIterator[Found]: ...


# -- URL lists ------------------------------------------------------------------


class UrlList:
    """Pages (or media) named one by one."""

    name: ClassVar[str] = "urls"

    def __init__(self, urls: Iterable[str]) -> None:
        self.urls = [u.strip() for u in urls if u.strip() and not u.lstrip().startswith("#")]

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> UrlList:
        """One URL a line; blank lines and lines starting with # are skipped."""
        return cls(Path(path).read_text(encoding="utf-8").splitlines())

    def describe(self) -> str:
        return f"{len(self.urls)} URLs"

    async def items(self, ctx: SourceContext) -> AsyncIterator[Found]:
        async for found in ctx.map_bounded(dict.fromkeys(self.urls)):
            yield found


# -- XML: sitemaps and feeds ---------------------------------------------------------


def _parse_xml(data: bytes) -> ET.Element:
    """Parse untrusted XML.

    The stdlib parser is safe here: Python is built with Expat >= 2.4, which refuses
    entity-expansion bombs, and ElementTree neither fetches external entities nor
    DTDs; the body is already capped by the fetcher.
    """
    return ET.fromstring(data)  # noqa: S314 - see the docstring


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


class Sitemap:
    """The pages (and image-sitemap pictures) a sitemap.xml lists; follows sitemap indexes."""

    name: ClassVar[str] = "sitemap"

    def __init__(self, url: str, *, max_sitemaps: int = 50, max_pages: int = 10_000) -> None:
        self.url = url
        self.max_sitemaps = max_sitemaps
        self.max_pages = max_pages

    def describe(self) -> str:
        return f"sitemap {self.url}"

    async def items(self, ctx: SourceContext) -> AsyncIterator[Found]:
        queue = [self.url]
        seen_maps: set[str] = set()
        pages: list[str] = []
        dropped = 0
        while queue and len(seen_maps) < self.max_sitemaps and len(pages) < self.max_pages:
            url = queue.pop(0)
            if url in seen_maps:
                continue
            seen_maps.add(url)
            result = await ctx.fetch(url)
            if result is None:
                continue
            try:
                root = _parse_xml(result.body)
            except ET.ParseError as exc:
                ctx.error(url, "bad_xml", f"{url} is not a readable sitemap ({exc}).")
                continue
            kind = _local(root.tag)
            for node in root:
                block = _local(node.tag)
                loc = next((c.text or "" for c in node if _local(c.tag) == "loc"), "").strip()
                if not loc:
                    continue
                loc = urljoin(result.final_url, loc)
                if kind == "sitemapindex" and block == "sitemap":
                    queue.append(loc)
                elif kind == "urlset" and block == "url":
                    if len(pages) < self.max_pages:
                        pages.append(loc)
                    else:
                        dropped += 1
                    for image in node.iter():
                        if _local(image.tag) == "image":
                            inner = next((c.text for c in image if _local(c.tag) == "loc"), None)
                            if inner:
                                yield MediaRef(urljoin(result.final_url, inner.strip()), loc)
        if queue and len(pages) < self.max_pages:
            ctx.error(self.url, "limit", f"{self.url}: stopped after {self.max_sitemaps} sitemaps.")
        elif dropped or queue:
            ctx.error(self.url, "limit", f"{self.url}: stopped at its limit of {self.max_pages} pages.")
        async for found in ctx.map_bounded(dict.fromkeys(pages)):
            yield found


class Feed:
    """An RSS or Atom feed: each item's page, and its enclosures and media:content."""

    name: ClassVar[str] = "feed"

    def __init__(self, url: str, *, max_items: int = 1000) -> None:
        self.url = url
        self.max_items = max_items

    def describe(self) -> str:
        return f"feed {self.url}"

    async def items(self, ctx: SourceContext) -> AsyncIterator[Found]:
        result = await ctx.fetch(self.url)
        if result is None:
            return
        try:
            root = _parse_xml(result.body)
        except ET.ParseError as exc:
            ctx.error(self.url, "bad_xml", f"{self.url} is not a readable RSS or Atom feed ({exc}).")
            return
        base = result.final_url
        pages: list[str] = []
        entries = [e for e in root.iter() if _local(e.tag) in ("item", "entry")][: self.max_items]
        for entry in entries:
            page: str | None = None
            media: list[str] = []
            for child in entry.iter():
                tag = _local(child.tag)
                if tag == "link":
                    href = child.get("href")
                    rel = (child.get("rel") or "alternate").lower()
                    ctype = (child.get("type") or "").lower()
                    if href and (rel == "enclosure" or ctype.startswith(MEDIA_TYPES)):
                        media.append(href)
                    elif href and rel == "alternate" and page is None:
                        page = href
                    elif not href and child.text and page is None:
                        page = child.text.strip()
                elif tag in ("enclosure", "content", "thumbnail") and child.get("url"):
                    ctype = (child.get("type") or child.get("medium") or "").lower()
                    url = child.get("url") or ""
                    if (
                        tag != "enclosure"
                        or ctype.startswith((*MEDIA_TYPES, "image", "video"))
                        or (has_media_extension(url))
                    ):
                        media.append(url)
            page_url = urljoin(base, page) if page else None
            for m in dict.fromkeys(media):
                yield MediaRef(urljoin(base, m), page_url)
            if page_url:
                pages.append(page_url)
        async for found in ctx.map_bounded(dict.fromkeys(pages)):
            yield found


# -- crawling -----------------------------------------------------------------------


def _site_of(url: str) -> str:
    """The registrable-ish site of a URL: the host without a leading www."""
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def _on_site(url: str, site: str) -> bool:
    """Whether the URL is on the site (see :func:`_site_of`) or one of its subdomains."""
    host = _site_of(url)
    return host == site or host.endswith("." + site)


class Crawl:
    """Pages reachable from a start page by links, breadth first, within limits.

    Link-trap defences: at most ``max_pages`` pages and ``depth`` links from the
    start; URLs longer than ``max_url_length`` are skipped; a path is fetched with
    at most ``max_query_variants`` different query strings; with ``same_site``
    (the default) links leave neither the start host nor its subdomains.
    """

    name: ClassVar[str] = "crawl"

    def __init__(
        self,
        url: str,
        *,
        depth: int = 1,
        max_pages: int = 1000,
        same_site: bool = True,
        max_url_length: int = 2048,
        max_query_variants: int = 5,
    ) -> None:
        if depth < 0:
            raise ValueError("depth must be 0 or more")
        if max_pages < 1:
            raise ValueError("max_pages must be at least 1")
        self.url = url
        self.depth = depth
        self.max_pages = max_pages
        self.same_site = same_site
        self.max_url_length = max_url_length
        self.max_query_variants = max_query_variants

    def describe(self) -> str:
        return f"crawl of {self.url} (depth {self.depth}, at most {self.max_pages} pages)"

    def _in_scope(self, url: str, site: str) -> bool:
        if not url.startswith(("http://", "https://")):
            return False
        if not self.same_site:
            return True
        return _on_site(url, site)

    async def items(self, ctx: SourceContext) -> AsyncIterator[Found]:
        site = _site_of(self.url)
        seen: set[str] = {self.url}
        variants: Counter[str] = Counter()
        level = [self.url]
        fetched = 0
        skipped_long = skipped_variants = 0
        for depth in range(self.depth + 1):
            if not level or fetched >= self.max_pages:
                break
            take = level[: self.max_pages - fetched]
            fetched += len(take)
            following: list[str] = []
            async for found in ctx.map_bounded(take):
                yield found
                if not isinstance(found, Page) or depth == self.depth:
                    continue
                for link in extract(found.body, found.url).links:
                    link = urldefrag(link).url
                    if link in seen or not self._in_scope(link, site):
                        continue
                    seen.add(link)
                    if len(link) > self.max_url_length:
                        skipped_long += 1
                        continue
                    parts = urlsplit(link)
                    if parts.query:
                        key = f"{parts.scheme}://{parts.netloc}{parts.path}"
                        variants[key] += 1
                        if variants[key] > self.max_query_variants:
                            skipped_variants += 1
                            continue
                    following.append(link)
            level = following
        if level and fetched >= self.max_pages:
            ctx.error(
                self.url,
                "limit",
                f"The crawl of {self.url} stopped at its limit of {self.max_pages} pages; "
                f"{len(level)} more links were not followed.",
            )
        if skipped_long or skipped_variants:
            ctx.error(
                self.url,
                "link_trap",
                f"The crawl of {self.url} skipped {skipped_long} over-long URLs and {skipped_variants} "
                f"query-string variants (more than {self.max_query_variants} per path).",
            )


class SiteSearch:
    """A site's own search page, run for each query (a forum's search for the title of a post
    about her), and the site's pages its results link to.

    ``template`` holds ``{query}`` (and may hold ``{page}``, 1, 2 ...).  The result pages
    only lead to the posts: they are not scanned themselves, so that no address with a
    query in it (her name, a title) becomes a candidate, a sighting or an error line; and
    errors name the template, never a query.  Requests are spaced by ``delay_s`` (the
    searched site's own rate limits are usually strict).
    """

    name: ClassVar[str] = "search"

    def __init__(
        self,
        template: str,
        queries: Iterable[str],
        *,
        pages: int = 1,
        max_pages: int = 200,
        delay_s: float = 1.0,
    ) -> None:
        if "{query}" not in template:
            raise ValueError("a site-search address needs {query} where the search words go")
        if not template.startswith(("http://", "https://")):
            raise ValueError("a site-search address needs an http:// or https:// URL")
        if not 1 <= pages <= 20:
            raise ValueError("pages must be 1 to 20")
        if max_pages < 1:
            raise ValueError("max_pages must be at least 1")
        if delay_s < 0:
            raise ValueError("delay_s must be 0 or more")
        self.template = template
        self.queries = [q.strip() for q in queries if q.strip()]
        self.pages = pages
        self.max_pages = max_pages
        self.delay_s = delay_s

    def describe(self) -> str:
        return f"site search {self.template} ({len(self.queries)} queries)"

    def _url(self, query: str, page: int) -> str:
        return self.template.replace("{query}", quote_plus(query)).replace("{page}", str(page))

    async def items(self, ctx: SourceContext) -> AsyncIterator[Found]:
        secrets = [q for query in self.queries for q in {quote_plus(query), quote(query), query}]

        def redact(text: str) -> str:
            for secret in sorted(secrets, key=len, reverse=True):
                text = text.replace(secret, "{query}")
            return text

        quiet = SourceContext(
            ctx.fetcher,
            lambda url, code, message, page_url: ctx.error(redact(url), code, redact(message), None),
            ctx._count_bytes,
            max_bytes=ctx.max_bytes,
            concurrency=1,
        )
        site = _site_of(self.template.split("{", 1)[0])
        seen: set[str] = set()
        posts: list[str] = []
        first = True
        for query in self.queries:
            for page in range(1, self.pages + 1):
                if not first and self.delay_s:
                    await asyncio.sleep(self.delay_s)
                first = False
                url = self._url(query, page)
                found = await quiet.document(url)
                if not isinstance(found, Page):
                    break
                new = 0
                for link in extract(found.body, found.url).links:
                    link = urldefrag(link).url
                    if link in seen or redact(link) != link or not _on_site(link, site):
                        continue
                    seen.add(link)
                    posts.append(link)
                    new += 1
                if not new or "{page}" not in self.template:
                    break
        if len(posts) > self.max_pages:
            ctx.error(
                self.template,
                "limit",
                f"The site search {self.template} found {len(posts)} pages; only the first "
                f"{self.max_pages} were read.",
            )
        for post in posts[: self.max_pages]:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            found = await quiet.document(post)
            if found is not None:
                yield found


# -- local files and archives ---------------------------------------------------------


class Folder:
    """Picture and video files under a folder (recursively), read into memory one at a time."""

    name: ClassVar[str] = "folder"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)

    def describe(self) -> str:
        return f"folder {self.path}"

    async def items(self, ctx: SourceContext) -> AsyncIterator[Found]:
        root = Path(self.path)
        if not root.is_dir():
            ctx.error(self.path, "not_found", f"{self.path} is not a folder.")
            return
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            name = str(path)
            try:
                size = path.stat().st_size
                if size > ctx.max_bytes:
                    ctx.error(
                        name, "too_large", f"{name} is larger than the limit of {ctx.max_bytes:,} bytes."
                    )
                    continue
                data = await asyncio.to_thread(path.read_bytes)
            except OSError as exc:
                ctx.error(name, "unreadable", f"{name} cannot be read ({exc.strerror or exc}).")
                continue
            yield Blob(path.resolve().as_uri(), data)


class Warc:
    """Picture and video records of a WARC file (``.warc`` or ``.warc.gz``).

    Payloads are hashed from memory.  The page that showed a picture is taken from
    the archive's own HTML records (a first pass reads them); media are never
    fetched live.  A corrupt record is reported with its offset; in an
    uncompressed file the reader then skips to the next record header.
    """

    name: ClassVar[str] = "warc"

    def __init__(self, path: str | os.PathLike[str], *, max_records: int = 1_000_000) -> None:
        self.path = os.fspath(path)
        self.max_records = max_records

    def describe(self) -> str:
        return f"WARC file {self.path}"

    async def items(self, ctx: SourceContext) -> AsyncIterator[Found]:
        from ._warc import read_warc

        # Local reads of an archive are quick per record; yielding to the loop between
        # records keeps fetches and hashing of other sources moving meanwhile.
        for item in read_warc(self.path, ctx.max_bytes, self.max_records, ctx.error):
            yield item
            await asyncio.sleep(0)


SOURCES: Final[dict[str, type[UrlList | Sitemap | Feed | Crawl | SiteSearch | Folder | Warc]]] = {}
for _cls in (UrlList, Sitemap, Feed, Crawl, SiteSearch, Folder, Warc):
    if _cls.name in SOURCES:
        raise RuntimeError(f"two sources are named {_cls.name!r}")
    SOURCES[_cls.name] = _cls
