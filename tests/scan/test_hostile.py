"""Hostile sites: each trick ends in a clear per-URL error, and the scan goes on."""

from __future__ import annotations

import struct
import zlib
from dataclasses import replace
from pathlib import Path

from haven.scan import BankSnapshot, Crawl, FetchPolicy, ScanOptions, ScanReport, UrlList, Warc, scan

from .content import encode, entry, picture, repost
from .site import TestSite
from .test_sources import write_warc


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims an enormous picture (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1000)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def hostile_scan(
    site: TestSite, policy: FetchPolicy, urls: list[str], **changes: object
) -> tuple[ScanReport, str]:
    """A scan of ``urls`` plus one good page with a re-posted bank picture."""
    original = picture(41)
    bank = BankSnapshot([entry("wanted", "case-41", encode(original, "PNG"))])
    good_image = site.put("/hostile/good/copy.jpg", repost(original), "image/jpeg")
    good_page = site.put("/hostile/good/page.html", '<img src="copy.jpg">')
    options = ScanOptions(policy=replace(policy, **changes))  # type: ignore[arg-type]
    report = scan([UrlList([*urls, good_page])], bank, options=options)
    assert [c.media_url for c in report.candidates] == [good_image], "the good page was still scanned"
    return report, good_page


def codes(report: ScanReport) -> dict[str, str]:
    return {e.url: e.code for e in report.errors}


def test_a_huge_page_an_endless_body_and_a_gzip_bomb_stop_at_the_size_limit(
    site: TestSite, policy: FetchPolicy
) -> None:
    huge = site.put("/hostile/huge.html", "<p>" + "x" * (3 * 2**20) + "</p>")
    urls = [huge, site.url("/endless"), site.url("/gzip-bomb")]
    report, _ = hostile_scan(site, policy, urls, max_bytes=2**20)
    assert codes(report) == dict.fromkeys(urls, "too_large")
    assert all("larger than the limit" in e.message for e in report.errors)


def test_endless_redirects_and_loops_are_refused(site: TestSite, policy: FetchPolicy) -> None:
    urls = [site.url("/chain/40"), site.url("/loop/a")]
    report, _ = hostile_scan(site, policy, urls)
    assert codes(report) == {urls[0]: "too_many_redirects", urls[1]: "redirect_loop"}


def test_a_slow_drip_times_out(site: TestSite, policy: FetchPolicy) -> None:
    url = site.url("/drip?every=1")
    report, _ = hostile_scan(site, policy, [url], read_timeout_s=0.3)
    assert codes(report) == {url: "timeout"}


def test_bomb_and_invalid_images_are_reported_by_kind(site: TestSite, policy: FetchPolicy) -> None:
    site.put("/hostile/img/bomb.png", png_claiming(60_000, 60_000), "image/png")
    site.put("/hostile/img/truncated.jpg", encode(picture(42))[:2000], "image/jpeg")
    site.put("/hostile/img/garbage.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "image/png")
    site.put("/hostile/img/empty.gif", b"", "image/gif")
    site.put("/hostile/img/tiny.png", encode(picture(43).resize((3, 3)), "PNG"), "image/png")
    page = site.put(
        "/hostile/img/page.html",
        "".join(
            f'<img src="{n}">' for n in ("bomb.png", "truncated.jpg", "garbage.png", "empty.gif", "tiny.png")
        ),
    )
    report, _ = hostile_scan(site, policy, [page])
    by_name = {e.url.rsplit("/", 1)[1]: e for e in report.errors}
    assert by_name["bomb.png"].code == "decompression_bomb"
    assert by_name["truncated.jpg"].code == "truncated_image"
    assert by_name["garbage.png"].code in ("corrupt_image", "not_an_image")
    assert by_name["tiny.png"].code == "image_too_small"
    assert "empty.gif" not in by_name  # no bytes: nothing that looks like media, counted as not media
    assert report.stats.not_media == 1
    assert all(e.page_url == page for e in by_name.values())


def test_an_infinite_link_trap_is_cut_off(site: TestSite, policy: FetchPolicy) -> None:
    report = scan(
        [Crawl(site.url("/trap/1"), depth=1000, max_pages=25, max_query_variants=2)],
        None,
        options=ScanOptions(policy=policy),
    )
    assert report.stats.pages == 25
    found = {e.code: e.message for e in report.errors}
    assert "stopped at its limit of 25 pages" in found["limit"]
    assert "query-string variants" in found["link_trap"]


def test_over_long_urls_are_not_followed(site: TestSite, policy: FetchPolicy) -> None:
    long_link = "/hostile/long/" + "a" * 3000 + ".html"
    start = site.put("/hostile/long/start.html", f'<a href="{long_link}">x</a><a href="ok.html">ok</a>')
    site.put("/hostile/long/ok.html", "<p>ok</p>")
    report = scan([Crawl(start, depth=2)], None, options=ScanOptions(policy=policy))
    assert report.stats.pages == 2
    assert "1 over-long URLs" in {e.code: e.message for e in report.errors}["link_trap"]


def test_a_warc_with_a_corrupt_record_is_scanned_around_it(tmp_path: Path, policy: FetchPolicy) -> None:
    original = picture(44)
    bank = BankSnapshot([entry("wanted", "case-44", encode(original, "PNG"))])
    path = tmp_path / "capture.warc"
    write_warc(
        path,
        [
            ("https://example.org/a.jpg", "image/jpeg", encode(picture(45))),
            ("https://example.org/b.jpg", "image/jpeg", encode(picture(46))),
            ("https://example.org/copy.jpg", "image/jpeg", repost(original)),
        ],
    )
    data = path.read_bytes()
    second = data.index(b"WARC/1.", 10)
    path.write_bytes(data[:second] + b"WARC/1.0\r\nthis is not a header\r\n\r\n" + data[second + 200 :])
    report = scan([Warc(path)], bank, options=ScanOptions(policy=policy))
    assert [c.media_url for c in report.candidates] == ["https://example.org/copy.jpg"]
    assert [e.code for e in report.errors] == ["corrupt_record"]
    assert report.stats.hashed == 2
