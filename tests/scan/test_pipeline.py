"""Whole scans against the local test site: what is found, what is reported, what is not kept."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from haven.scan import (
    BankSnapshot,
    Candidate,
    Crawl,
    FetchPolicy,
    Folder,
    ListSink,
    ScanOptions,
    ScanReport,
    UrlList,
    scan,
)
from haven.signals import sha256

from .content import encode, entry, picture, repost
from .site import TestSite


class Gallery:
    """A small site: two pages, bank pictures re-posted on it, unrelated pictures, broken media."""

    def __init__(self, site: TestSite, prefix: str) -> None:
        self.site = site
        self.originals = [picture(seed) for seed in (11, 12, 13)]
        self.bank = BankSnapshot(
            [entry(f"content-{k}", f"case-{k}", encode(im, "PNG")) for k, im in enumerate(self.originals)]
        )
        p = prefix
        self.copy = site.put(f"{p}/copy.jpg", repost(self.originals[0]), "image/jpeg")
        self.exact = site.put(f"{p}/exact.png", encode(self.originals[1], "PNG"), "image/png")
        self.other = site.put(f"{p}/other.jpg", encode(picture(21)), "image/jpeg")
        self.og = site.put(f"{p}/og.webp", encode(picture(22), "WEBP"), "image/webp")
        self.broken = site.put(f"{p}/broken.jpg", b"\xff\xd8\xff\xe0 not really a jpeg", "image/jpeg")
        self.html_not_image = site.put(f"{p}/fake.jpg", "<html>no</html>")
        self.index = site.put(
            f"{p}/index.html",
            '<html><head><meta property="og:image" content="og.webp"></head><body>'
            '<img src="copy.jpg"><img srcset="other.jpg 1x, copy.jpg 2x"><a href="page2.html">more</a>'
            '<img src="broken.jpg"><img src="missing.jpg"><img src="fake.jpg"></body></html>',
        )
        self.page2 = site.put(
            f"{p}/page2.html", '<html><body><img src="exact.png"><img src="copy.jpg"></body></html>'
        )


@pytest.fixture(scope="module")
def gallery(site: TestSite) -> Gallery:
    return Gallery(site, "/gallery")


def options(policy: FetchPolicy, **changes: object) -> ScanOptions:
    return replace(ScanOptions(policy=policy), **changes)  # type: ignore[arg-type]


def comparable(report: ScanReport) -> tuple[object, ...]:
    """A report without its timings."""
    candidates = [
        replace(
            c,
            found_at=c.found_at.replace(year=2000, month=1, day=1, hour=0, minute=0, second=0, microsecond=0),
        )
        for c in report.candidates
    ]
    stats = replace(report.stats, elapsed_s=0.0)
    return candidates, report.errors, stats


def test_a_crawl_finds_the_reposted_and_the_exact_copies(gallery: Gallery, policy: FetchPolicy) -> None:
    sink = ListSink()
    report = scan([Crawl(gallery.index, depth=1)], gallery.bank, options=options(policy), sink=sink)
    found = {(c.media_url, c.content_id, c.kind) for c in report.candidates}
    assert found == {
        (gallery.copy, "content-0", "pdq"),
        (gallery.exact, "content-1", "md5"),
    }
    copy = next(c for c in report.candidates if c.media_url == gallery.copy)
    assert isinstance(copy, Candidate)
    assert copy.page_url == gallery.index
    assert copy.case_id == "case-0"
    assert copy.transform != "original"
    assert copy.sha256 == str(sha256(repost(gallery.originals[0])))
    assert copy.pdq is not None
    assert copy.quality is not None
    assert copy.found_at.tzinfo is not None
    assert sorted(sink.candidates, key=Candidate.sort_key) == report.candidates
    assert set(copy.as_record()) >= {"media_url", "page_url", "content_id", "case_id", "distance", "found_at"}


def test_errors_are_reported_per_url_and_the_scan_goes_on(gallery: Gallery, policy: FetchPolicy) -> None:
    report = scan([Crawl(gallery.index, depth=1)], gallery.bank, options=options(policy))
    codes = {(e.url.rsplit("/", 1)[1], e.code) for e in report.errors}
    assert codes == {("broken.jpg", "truncated_image"), ("missing.jpg", "http_status")}
    assert all(e.page_url == gallery.index for e in report.errors)
    stats = report.stats
    assert stats.pages == 2
    assert stats.media_found == 7  # og, copy, other, broken, missing, fake, exact: each once
    assert stats.hashed == 4
    assert stats.not_media == 1
    assert stats.candidates == 2
    assert dict(stats.errors) == {"truncated_image": 1, "http_status": 1}
    assert stats.bytes > 0
    assert stats.elapsed_s > 0


def test_each_media_url_is_fetched_once_per_scan(gallery: Gallery, policy: FetchPolicy) -> None:
    before = gallery.site.hits.get("/gallery/copy.jpg", 0)
    scan([Crawl(gallery.index, depth=1)], gallery.bank, options=options(policy))
    assert gallery.site.hits["/gallery/copy.jpg"] == before + 1


def test_a_process_pool_gives_the_same_report(gallery: Gallery, policy: FetchPolicy) -> None:
    one = scan([Crawl(gallery.index, depth=1)], gallery.bank, options=options(policy))
    two = scan([Crawl(gallery.index, depth=1)], gallery.bank, options=options(policy, jobs=2))
    assert comparable(one) == comparable(two)


def test_without_a_bank_the_scan_hashes_and_finds_nothing(gallery: Gallery, policy: FetchPolicy) -> None:
    report = scan([UrlList([gallery.page2])], None, options=options(policy))
    assert report.candidates == []
    assert report.stats.hashed == 2


def test_a_folder_scan_matches_local_files(gallery: Gallery, policy: FetchPolicy, tmp_path: Path) -> None:
    (tmp_path / "copy.jpg").write_bytes(repost(gallery.originals[2]))
    (tmp_path / "notes.txt").write_text("hello")
    report = scan([Folder(tmp_path)], gallery.bank, options=options(policy))
    assert [(Path(c.media_url).name, c.content_id, c.page_url) for c in report.candidates] == [
        ("copy.jpg", "content-2", None)
    ]
    assert report.stats.not_media == 1


def test_several_sources_in_one_scan_share_the_deduplication(gallery: Gallery, policy: FetchPolicy) -> None:
    report = scan(
        [UrlList([gallery.page2]), Crawl(gallery.page2, depth=0)], gallery.bank, options=options(policy)
    )
    assert report.stats.pages == 2
    assert report.stats.media_found == 2
    assert len(report.candidates) == 2


def test_largest_srcset_only_skips_smaller_candidates(site: TestSite, policy: FetchPolicy) -> None:
    site.put("/srcset/s.jpg", encode(picture(31)), "image/jpeg")
    site.put("/srcset/l.jpg", encode(picture(32)), "image/jpeg")
    page = site.put("/srcset/index.html", '<img srcset="s.jpg 300w, l.jpg 900w">')
    every = scan([UrlList([page])], None, options=options(policy))
    largest = scan([UrlList([page])], None, options=options(policy, largest_srcset_only=True))
    assert (every.stats.media_found, largest.stats.media_found) == (2, 1)


def test_videos_are_counted_and_skipped_unless_asked(site: TestSite, policy: FetchPolicy) -> None:
    clip = site.put("/video/clip.mp4", b"\0\0\0\x18ftypisom\0\0\0\0isomiso2" + b"\0" * 64, "video/mp4")
    report = scan(
        [UrlList([site.put("/video/page.html", f'<video src="{clip}"></video>')])],
        None,
        options=options(policy),
    )
    assert report.stats.videos_skipped == 1
    report = scan([UrlList([site.url("/video/page.html")])], None, options=options(policy, videos=True))
    assert [e.code for e in report.errors] == ["not_a_video"]
