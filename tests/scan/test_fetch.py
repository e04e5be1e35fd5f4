"""The safe fetcher against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import dataclasses
import io
from datetime import UTC

import pytest
from PIL import Image

from haven.scan import Fetcher, FetchError, FetchPolicy, FetchResult, fetch, sniff

from .site import TestSite


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


def refused(url: str, policy: FetchPolicy) -> FetchError:
    with pytest.raises(FetchError) as info:
        fetch(url, policy)
    return info.value


def test_it_fetches_a_page_with_its_metadata(site: TestSite, policy: FetchPolicy) -> None:
    url = site.put("/fetch/page.html", "<html><body>hello</body></html>", headers={"ETag": '"v1"'})
    result = fetch(url, policy)
    assert isinstance(result, FetchResult)
    assert (result.url, result.final_url, result.status) == (url, url, 200)
    assert result.body == b"<html><body>hello</body></html>"
    assert result.content_type == "text/html"
    assert result.sniffed_type == "text/html"
    assert result.headers["etag"] == '"v1"'
    assert "server" in result.headers
    assert len(result.sha256) == 64
    assert result.redirects == ()
    assert result.fetched_at.tzinfo is UTC
    assert result.elapsed_s > 0


def test_it_sniffs_an_image_whatever_the_server_claims(site: TestSite, policy: FetchPolicy) -> None:
    url = site.put("/fetch/photo.txt", jpeg(), content_type="text/plain")
    result = fetch(url, policy)
    assert result.content_type == "text/plain"
    assert result.sniffed_type == "image/jpeg"


@pytest.mark.parametrize("code", [404, 410, 500])
def test_error_statuses_are_results_not_errors(site: TestSite, policy: FetchPolicy, code: int) -> None:
    result = fetch(site.url(f"/status/{code}"), policy)
    assert result.status == code
    assert not result.ok


def test_it_follows_a_redirect_chain_and_records_it(site: TestSite, policy: FetchPolicy) -> None:
    result = fetch(site.url("/chain/3"), policy)
    assert result.status == 200
    assert result.final_url == site.url("/chain/0")
    assert result.redirects == tuple(site.url(f"/chain/{n}") for n in (3, 2, 1))


def test_too_many_redirects_are_refused(site: TestSite, policy: FetchPolicy) -> None:
    error = refused(site.url("/chain/6"), policy)
    assert error.code == "too_many_redirects"
    assert error.url == site.url("/chain/6")
    assert "more than 5 times" in str(error)
    assert fetch(site.url("/chain/5"), policy).status == 200


def test_a_redirect_loop_is_refused(site: TestSite, policy: FetchPolicy) -> None:
    error = refused(site.url("/loop/a"), policy)
    assert error.code == "redirect_loop"


@pytest.mark.parametrize(
    ("target", "code"),
    [
        ("http://10.0.0.1/", "blocked_address"),
        ("http://169.254.169.254/latest/meta-data/", "blocked_address"),
        ("http://[fd00::1]/", "blocked_address"),
        ("file:///etc/passwd", "scheme"),
        ("ftp://example.org/", "scheme"),
    ],
)
def test_a_redirect_to_a_forbidden_place_is_refused(
    site: TestSite, policy: FetchPolicy, target: str, code: str
) -> None:
    error = refused(site.url("/to?u=" + target), policy)
    assert error.code == code
    assert "redirects to a URL Haven will not fetch" in str(error)


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("file:///etc/passwd", "scheme"),
        ("ftp://example.org/x", "scheme"),
        ("javascript:alert(1)", "scheme"),
        ("data:text/html,hi", "scheme"),
        ("not a url", "bad_url"),
        ("", "bad_url"),
        ("http://", "bad_url"),
        ("//example.org/", "bad_url"),
        ("http://user:secret@example.org/", "bad_url"),
        ("http://example.org/\r\nX-Injected: 1", "bad_url"),
        ("http://example.org:99999/", "bad_url"),
        ("http://example.org/" + "a" * 9000, "bad_url"),
    ],
)
def test_unfetchable_urls_are_refused_with_a_clear_code(url: str, code: str) -> None:
    error = refused(url, FetchPolicy())
    assert error.code == code
    assert str(error).endswith(".")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://127.0.0.2/",
        "http://localhost/",
        "http://[::1]/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0177.0.0.1/",
        "http://127.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://[64:ff9b::7f00:1]/",
        "http://[2002:7f00:1::]/",
        "http://10.1.2.3/",
        "http://172.16.0.1/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://169.254.169.254/",
        "http://[fe80::1]/",
        "http://[fe80::1%25eth0]/",
        "http://[fc00::1]/",
        "http://224.0.0.1/",
        "http://0.0.0.0/",
        "http://[::]/",
        "http://240.0.0.1/",
        "http://255.255.255.255/",
    ],
)
def test_non_public_addresses_are_refused(url: str) -> None:
    error = refused(url, FetchPolicy())
    assert error.code == "blocked_address", str(error)
    assert "public internet" in str(error)


def test_loopback_is_refused_unless_allowed(site: TestSite, policy: FetchPolicy) -> None:
    url = site.put("/fetch/loopback.html", "<p>here</p>")
    strict = dataclasses.replace(policy, allow_loopback=False)
    assert refused(url, strict).code == "blocked_address"
    assert fetch(url, policy).status == 200


def test_a_name_resolving_to_loopback_is_refused_at_connect_time(site: TestSite, policy: FetchPolicy) -> None:
    # "localhost" is not an address literal: this is the resolver's guard, the one DNS rebinding meets.
    url = f"http://localhost:{site.port}/status/200"
    error = refused(url, dataclasses.replace(policy, allow_loopback=False))
    assert error.code == "blocked_address"
    assert "127.0.0.1" in str(error)
    assert fetch(url, policy).status == 200


def test_allow_loopback_never_opens_private_addresses() -> None:
    assert refused("http://10.0.0.1/", FetchPolicy(allow_loopback=True)).code == "blocked_address"
    assert refused("http://169.254.169.254/", FetchPolicy(allow_loopback=True)).code == "blocked_address"


def test_an_endless_body_stops_at_the_size_limit(site: TestSite, policy: FetchPolicy) -> None:
    error = refused(site.url("/endless"), dataclasses.replace(policy, max_bytes=2**20))
    assert error.code == "too_large"
    assert "1,048,576 bytes" in str(error)


def test_a_declared_oversize_body_is_refused(site: TestSite, policy: FetchPolicy) -> None:
    url = site.put("/fetch/big.bin", b"x" * 5000, content_type="application/octet-stream")
    assert refused(url, dataclasses.replace(policy, max_bytes=4999)).code == "too_large"
    assert len(fetch(url, dataclasses.replace(policy, max_bytes=5000)).body) == 5000


def test_a_gzip_bomb_stops_at_the_decoded_size_limit(site: TestSite, policy: FetchPolicy) -> None:
    error = refused(site.url("/gzip-bomb"), dataclasses.replace(policy, max_bytes=4 * 2**20))
    assert error.code == "too_large"


def test_a_gzip_body_is_decoded(site: TestSite, policy: FetchPolicy) -> None:
    result = fetch(site.url("/gzip-page"), policy)
    assert result.body == b"<html><body><p>compressed</p></body></html>"
    assert result.sniffed_type == "text/html"


def test_a_slow_drip_times_out_on_the_read_gap(site: TestSite, policy: FetchPolicy) -> None:
    slow = dataclasses.replace(policy, read_timeout_s=0.3)
    error = refused(site.url("/drip?every=2"), slow)
    assert error.code == "timeout"


def test_a_steady_drip_times_out_on_the_total(site: TestSite, policy: FetchPolicy) -> None:
    slow = dataclasses.replace(policy, read_timeout_s=1, total_timeout_s=0.8)
    error = refused(site.url("/drip?every=0.05"), slow)
    assert error.code == "timeout"
    assert "0.8 seconds" in str(error)


def test_a_closed_port_is_a_connect_error(policy: FetchPolicy) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert refused(f"http://127.0.0.1:{port}/", policy).code == "connect"


def test_an_unknown_host_is_a_dns_error() -> None:
    assert refused("http://no-such-host.invalid/", FetchPolicy()).code == "dns"


def test_the_async_fetcher_shares_a_session_and_caps_per_call(site: TestSite, policy: FetchPolicy) -> None:
    urls = [site.put(f"/fetch/many/{i}.html", f"<p>{i}</p>") for i in range(6)]

    async def run() -> list[FetchResult]:
        async with Fetcher(policy) as fetcher:
            results = await asyncio.gather(*(fetcher.fetch(u) for u in urls))
            with pytest.raises(FetchError) as info:
                await fetcher.fetch(urls[0], max_bytes=3)
            assert info.value.code == "too_large"
            return results

    results = asyncio.run(run())
    assert [r.body for r in results] == [f"<p>{i}</p>".encode() for i in range(6)]


def test_the_sync_fetch_works_inside_a_running_loop(site: TestSite, policy: FetchPolicy) -> None:
    url = site.put("/fetch/inside.html", "<p>in a loop</p>")

    async def view() -> FetchResult:
        return fetch(url, policy)

    assert asyncio.run(view()).status == 200


def test_fetch_errors_survive_pickling() -> None:
    import pickle

    error = FetchError("timeout", "http://example.org/", "It took too long.")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.code, copy.url, str(copy)) == ("timeout", "http://example.org/", "It took too long.")


def test_the_user_agent_names_haven(site: TestSite, policy: FetchPolicy) -> None:
    assert policy.user_agent.startswith("Haven/")
    assert "takedown and monitoring" in policy.user_agent


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\xff\xd8\xff\xe0", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"GIF89a", "image/gif"),
        (b"RIFF\0\0\0\0WEBPVP8 ", "image/webp"),
        (b"BM\0\0", "image/bmp"),
        (b"II*\0", "image/tiff"),
        (b"\0\0\0\x18ftypisom", "video/mp4"),
        (b"\x1aE\xdf\xa3", "video/webm"),
        (b"<!DOCTYPE html><html>", "text/html"),
        (b'<?xml version="1.0"?><urlset>', "application/xml"),
        (b'{"a": 1}', "application/json"),
        (b"just words", "text/plain"),
        (b"\0\1\2\3\4", "application/octet-stream"),
    ],
)
def test_sniffing_by_magic_bytes(head: bytes, kind: str) -> None:
    assert sniff(head) == kind


def test_a_busy_answer_is_tried_again_with_back_off(site: TestSite, policy: FetchPolicy) -> None:
    site.put("/fetch/busy.html", "<p>here after all</p>")
    url = site.url("/flaky/2/fetch/busy.html")
    result = fetch(url, dataclasses.replace(policy, retries=2, backoff_s=0))
    assert result.status == 200
    assert result.body == b"<p>here after all</p>"
    assert site.hits["/flaky/2/fetch/busy.html"] == 3


def test_retries_run_out_and_the_last_answer_stands(site: TestSite, policy: FetchPolicy) -> None:
    site.put("/fetch/busy2.html", "<p>too late</p>")
    result = fetch(site.url("/flaky/5/fetch/busy2.html"), dataclasses.replace(policy, retries=1, backoff_s=0))
    assert result.status == 503
    assert site.hits["/flaky/5/fetch/busy2.html"] == 2
    # An error that is not transient is not retried.
    broken = site.put("/fetch/broken.html", "<p>broken</p>", status=500)
    assert fetch(broken, dataclasses.replace(policy, retries=3, backoff_s=0)).status == 500
    assert site.hits["/fetch/broken.html"] == 1


def test_a_closed_port_is_retried_then_refused(policy: FetchPolicy) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    error = refused(f"http://127.0.0.1:{port}/", dataclasses.replace(policy, retries=2, backoff_s=0.01))
    assert error.code == "connect"


def test_retry_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="retries"):
        FetchPolicy(retries=-1)
    with pytest.raises(ValueError, match="backoff"):
        FetchPolicy(backoff_s=-1)
