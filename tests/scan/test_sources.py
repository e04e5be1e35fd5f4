"""Each source against the local test site (or local files)."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from haven.scan import (
    SOURCES,
    Blob,
    Crawl,
    Feed,
    Fetcher,
    FetchPolicy,
    Folder,
    Found,
    MediaRef,
    Page,
    ScanError,
    Sitemap,
    Source,
    SourceContext,
    UrlList,
    Warc,
)

from .content import encode, picture, warc_record
from .site import TestSite


def collect(source: Source, policy: FetchPolicy) -> tuple[list[Found], list[ScanError]]:
    errors: list[ScanError] = []

    async def run() -> list[Found]:
        async with Fetcher(policy) as fetcher:
            ctx = SourceContext(fetcher, lambda u, c, m, p: errors.append(ScanError(u, c, m, p)))
            items: AsyncIterator[Found] = source.items(ctx)
            return [found async for found in items]

    return asyncio.run(run()), errors


def urls(found: list[Found]) -> set[str]:
    return {f.url for f in found}


def test_sources_have_unique_names_and_follow_the_protocol() -> None:
    assert set(SOURCES) == {"urls", "sitemap", "feed", "crawl", "search", "folder", "warc"}
    assert all(isinstance(cls.name, str) for cls in SOURCES.values())
    assert isinstance(UrlList([]), Source)
    assert isinstance(Warc("x.warc"), Source)


def test_a_url_list_gives_pages_and_direct_media(site: TestSite, policy: FetchPolicy, tmp_path: Path) -> None:
    page = site.put("/src/list/page.html", "<html><img src='x.jpg'></html>")
    image = site.put("/src/list/pic.jpg", encode(picture(1)), "image/jpeg")
    data = site.put("/src/list/data.json", '{"a": 1}', "application/json")
    listing = tmp_path / "urls.txt"
    listing.write_text(f"# comment\n{page}\n\n{image}\n{page}\n{data}\n{site.url('/status/404')}\n")
    found, errors = collect(UrlList.from_file(listing), policy)
    assert sorted((type(f).__name__, f.url) for f in found) == [("Blob", image), ("Page", page)]
    assert sorted(e.code for e in errors) == ["http_status", "not_html"]


def test_a_sitemap_index_lists_pages_and_images(site: TestSite, policy: FetchPolicy) -> None:
    ns = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
    img_ns = 'xmlns:image="http://www.google.com/schemas/sitemap-image/1.1"'
    for k in (1, 2):
        site.put(f"/src/sm/p{k}.html", f"<p>{k}</p>")
    site.put(
        "/src/sm/part1.xml",
        f'<?xml version="1.0"?><urlset {ns} {img_ns}><url><loc>/src/sm/p1.html</loc>'
        "<image:image><image:loc>/src/sm/photo.jpg</image:loc></image:image></url></urlset>",
        "application/xml",
    )
    site.put(
        "/src/sm/part2.xml",
        f"<urlset {ns}><url><loc>{site.url('/src/sm/p2.html')}</loc></url></urlset>",
        "application/xml",
    )
    index = site.put(
        "/src/sm/index.xml",
        f"<sitemapindex {ns}><sitemap><loc>/src/sm/part1.xml</loc></sitemap>"
        f"<sitemap><loc>/src/sm/part2.xml</loc></sitemap><sitemap><loc>/src/sm/index.xml</loc></sitemap>"
        "</sitemapindex>",
        "application/xml",
    )
    found, errors = collect(Sitemap(index), policy)
    assert urls(found) == {site.url(p) for p in ("/src/sm/p1.html", "/src/sm/p2.html", "/src/sm/photo.jpg")}
    (ref,) = [f for f in found if isinstance(f, MediaRef)]
    assert ref.page_url == site.url("/src/sm/p1.html")
    assert errors == []
    _, errors = collect(Sitemap(index, max_sitemaps=2), policy)
    assert [e.code for e in errors] == ["limit"]


def test_a_broken_sitemap_is_reported(site: TestSite, policy: FetchPolicy) -> None:
    url = site.put("/src/sm/broken.xml", "<urlset><url><loc>oops</url>", "application/xml")
    found, errors = collect(Sitemap(url), policy)
    assert found == []
    assert [e.code for e in errors] == ["bad_xml"]


def test_an_rss_feed_gives_item_pages_and_enclosures(site: TestSite, policy: FetchPolicy) -> None:
    site.put("/src/feed/post1.html", "<p>post</p>")
    url = site.put(
        "/src/feed/rss.xml",
        '<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>t</title>'
        "<item><link>/src/feed/post1.html</link>"
        '<enclosure url="/src/feed/a.jpg" type="image/jpeg" length="1"/>'
        '<enclosure url="/src/feed/talk.mp3" type="audio/mpeg" length="1"/>'
        '<media:content url="/src/feed/b.png" medium="image"/></item></channel></rss>',
        "application/rss+xml",
    )
    found, errors = collect(Feed(url), policy)
    refs = {f.url: f.page_url for f in found if isinstance(f, MediaRef)}
    post = site.url("/src/feed/post1.html")
    assert refs == {site.url("/src/feed/a.jpg"): post, site.url("/src/feed/b.png"): post}
    assert [f.url for f in found if isinstance(f, Page)] == [post]
    assert errors == []


def test_an_atom_feed_gives_entry_pages_and_enclosures(site: TestSite, policy: FetchPolicy) -> None:
    site.put("/src/feed/entry.html", "<p>entry</p>")
    url = site.put(
        "/src/feed/atom.xml",
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry><title>e</title>'
        '<link href="/src/feed/entry.html"/><link rel="enclosure" href="/src/feed/c.webp" type="image/webp"/>'
        "</entry></feed>",
        "application/atom+xml",
    )
    found, _ = collect(Feed(url), policy)
    assert urls(found) == {site.url("/src/feed/entry.html"), site.url("/src/feed/c.webp")}


def test_a_crawl_follows_links_to_its_depth_and_stays_on_site(site: TestSite, policy: FetchPolicy) -> None:
    site.put("/src/crawl/a.html", '<a href="b.html">b</a><a href="https://elsewhere.example/">out</a>')
    site.put("/src/crawl/b.html", '<a href="c.html">c</a><a href="a.html">back</a>')
    site.put("/src/crawl/c.html", "<p>deep</p>")
    start = site.url("/src/crawl/a.html")
    found, _ = collect(Crawl(start, depth=1), policy)
    assert urls(found) == {start, site.url("/src/crawl/b.html")}
    found, _ = collect(Crawl(start, depth=5), policy)
    assert urls(found) == {site.url(f"/src/crawl/{p}.html") for p in "abc"}


def test_a_crawl_may_leave_the_site_when_asked(site: TestSite, policy: FetchPolicy) -> None:
    other = f"http://localhost:{site.port}/src/crawl/other.html"
    site.put("/src/crawl/other.html", "<p>other host</p>")
    start = site.put("/src/crawl/out.html", f'<a href="{other}">other</a>')
    found, _ = collect(Crawl(start, depth=1), policy)
    assert urls(found) == {start}
    found, _ = collect(Crawl(start, depth=1, same_site=False), policy)
    assert urls(found) == {start, other}


def test_a_folder_gives_its_files_as_blobs(tmp_path: Path, policy: FetchPolicy) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.jpg").write_bytes(encode(picture(1)))
    (tmp_path / "sub" / "b.png").write_bytes(encode(picture(2), "PNG"))
    found, errors = collect(Folder(tmp_path), policy)
    assert all(isinstance(f, Blob) for f in found)
    assert [Path(f.url).name for f in found] == ["a.jpg", "b.png"]
    assert found[0].url.startswith("file://")
    _, errors = collect(Folder(tmp_path / "missing"), policy)
    assert [e.code for e in errors] == ["not_found"]


def write_warc(path: Path, records: list[tuple[str, str, bytes]], gz: bool = False) -> None:
    """A WARC file written by hand (each record its own gzip member when compressed)."""
    parts = [warc_record(url, ctype, body, k) for k, (url, ctype, body) in enumerate(records)]
    path.write_bytes(b"".join(gzip.compress(p) for p in parts) if gz else b"".join(parts))


@pytest.mark.parametrize("gz", [False, True])
def test_a_warc_gives_media_records_with_the_page_that_showed_them(
    tmp_path: Path, policy: FetchPolicy, gz: bool
) -> None:
    path = tmp_path / ("a.warc.gz" if gz else "a.warc")
    image = encode(picture(1))
    write_warc(
        path,
        [
            ("https://example.org/p.jpg", "image/jpeg", image),
            ("https://example.org/page.html", "text/html", b'<html><img src="p.jpg"></html>'),
            ("https://example.org/notes.txt", "text/plain", b"words"),
        ],
        gz,
    )
    found, errors = collect(Warc(path), policy)
    assert errors == []
    blob = next(f for f in found if isinstance(f, Blob))
    assert (blob.url, blob.data, blob.page_url) == (
        "https://example.org/p.jpg",
        image,
        "https://example.org/page.html",
    )
    page = next(f for f in found if isinstance(f, Page))
    assert not page.live


def test_a_corrupt_warc_record_is_reported_and_the_rest_is_read(tmp_path: Path, policy: FetchPolicy) -> None:
    good = tmp_path / "good.warc"
    write_warc(
        good,
        [
            ("https://example.org/1.jpg", "image/jpeg", encode(picture(1))),
            ("https://example.org/2.jpg", "image/jpeg", encode(picture(2))),
            ("https://example.org/3.jpg", "image/jpeg", encode(picture(3))),
        ],
    )
    data = good.read_bytes()
    second = data.index(b"WARC/1.", 10)
    # Break the second record's header: its Content-Length is no longer a number.
    header_end = data.index(b"\r\n\r\n", second)
    header = data[second:header_end].replace(b"Content-Length: ", b"Content-Length: x")
    broken = tmp_path / "broken.warc"
    broken.write_bytes(data[:second] + header + data[header_end:])
    found, errors = collect(Warc(broken), policy)
    assert [f.url for f in found] == ["https://example.org/1.jpg", "https://example.org/3.jpg"]
    (error,) = errors
    assert error.code == "corrupt_record"
    assert error.url.startswith(f"{broken}#offset=")
    assert second <= int(error.url.rsplit("=", 1)[1]) < data.index(b"WARC/1.", second + 1)
    assert "skipped to the next record" in error.message


def test_a_warc_response_without_a_target_uri_is_reported_and_the_rest_is_read(
    tmp_path: Path, policy: FetchPolicy
) -> None:
    """warcio fails on such a record with an AttributeError (found by tests/fuzz)."""
    good = tmp_path / "good.warc"
    write_warc(
        good,
        [
            ("https://example.org/1.jpg", "image/jpeg", encode(picture(1))),
            ("https://example.org/2.jpg", "image/jpeg", encode(picture(2))),
        ],
    )
    data = good.read_bytes()
    second = data.index(b"WARC/1.", 10)
    header_end = data.index(b"\r\n\r\n", second)
    header = data[second:header_end].replace(b"WARC-Target-URI: https://example.org/2.jpg\r\n", b"")
    broken = tmp_path / "no-uri.warc"
    broken.write_bytes(data[:second] + header + data[header_end:])
    found, errors = collect(Warc(broken), policy)
    assert [f.url for f in found] == ["https://example.org/1.jpg"]
    assert [e.code for e in errors] == ["corrupt_record"]
