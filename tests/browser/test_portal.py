"""A survivor's journey through the portal in a real browser: choose two pictures, send only
their hashes, keep the case number and PIN, check the case, withdraw, and leave in a hurry.

Every request the page makes is watched: none may carry any 64-byte run of either picture,
every body stays small, and nothing goes anywhere but the test server (the quick exit's neutral
site is answered by a local stub). Runs Debian's Chromium; skipped where it is missing, failed
instead when ``HAVEN_TEST_REQUIRE_BROWSER=1`` (CI). Set ``HAVEN_TEST_SCREENSHOTS=DIR`` to keep
screenshots of the pages at phone width.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PICTURES = ("bridge-mods/square-256x256.jpg", "misc-images/wee.jpg")
NEUTRAL = "https://www.google.com/search?q=weather"
WINDOW = 64

pytestmark = pytest.mark.usefixtures("transactional_db")


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def _screenshot(page: Any, name: str) -> None:
    folder = os.environ.get("HAVEN_TEST_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=True)


class Watch:
    """Every request the page makes, with its body; anything not for the test server is refused."""

    def __init__(self, context: Any, origin: str) -> None:
        self.bodies: list[bytes] = []
        self.foreign: list[str] = []
        self.exits: list[str] = []
        self.origin = origin
        context.route("**/*", self._route)

    def _route(self, route: Any) -> None:
        request = route.request
        url: str = request.url
        if url.startswith(NEUTRAL.split("?")[0]):
            self.exits.append(url)
            route.fulfill(status=200, content_type="text/html", body="<title>Weather</title><h1>Weather</h1>")
            return
        if url.startswith(self.origin) or url.startswith("blob:") or url.startswith("data:"):
            self.bodies.append(request.post_data_buffer or b"")
            route.continue_()
            return
        self.foreign.append(url)
        route.abort()


def _runs(data: bytes) -> set[bytes]:
    return {data[i : i + WINDOW] for i in range(len(data) - WINDOW + 1)}


def _carries_any(body: bytes, runs: set[bytes]) -> bool:
    return any(body[i : i + WINDOW] in runs for i in range(len(body) - WINDOW + 1))


def test_a_survivor_sends_only_hashes_checks_her_case_and_withdraws(browser, live_server, vectors) -> None:
    from PIL import Image
    from playwright.sync_api import expect

    from haven.signals import PdqHash, pdq_hash, query_signals, robust_signals
    from haven.web.accounts.models import Organisation
    from haven.web.cases.matching import ContentIndex
    from haven.web.cases.models import Case

    org = Organisation.objects.create(
        name="Seoul Support Centre", slug="seoul", country="KR", time_zone="Asia/Seoul"
    )
    files = [vectors / "pdq" / name for name in PICTURES]
    runs = set().union(*(_runs(f.read_bytes()) for f in files))

    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
    watch = Watch(context, live_server.url)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    page.goto(f"{live_server.url}/portal/?lang=en")
    expect(page.get_by_role("heading", name="Were you under 18 when the pictures were made?")).to_be_visible()
    _screenshot(page, "portal-landing.png")
    page.get_by_role("link", name="Start: choose pictures").click()
    page.wait_for_url("**/portal/submit/**")
    page.wait_for_load_state()  # submit.js listens for the choice once the page has loaded
    chooser = page.get_by_label("Choose up to 20 pictures")
    # Something that is not a picture is refused on the device and never sent.
    chooser.set_input_files([{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a picture"}])
    expect(page.locator(".file--failed")).to_contain_text("could not be read as a picture")
    chooser.set_input_files([str(f) for f in files])
    expect(page.locator(".file")).to_have_count(3)
    expect(page.locator(".file__state", has_text="Ready")).to_have_count(2, timeout=30_000)
    assert page.locator("img.thumb").first.get_attribute("src").startswith("blob:")
    _screenshot(page, "portal-submit.png")
    page.get_by_label("Search for copies").check()  # nothing is ticked for her
    page.get_by_label("How and when is it safe to contact you?").fill("Text only, after 6 pm")
    page.get_by_role("button", name="Send the fingerprints").click()
    expect(page.get_by_role("heading", name="Received. Keep these safe.")).to_be_visible()
    _screenshot(page, "portal-received.png")
    number = page.locator("#case-number").inner_text()
    pin = page.locator("#pin").inner_text()

    case = Case.objects.get()
    assert case.number == number
    assert case.organisation == org
    assert case.content.count() == 2
    pdqs = [PdqHash.from_hex(item.pdq) for item in case.content.all()]
    assert len(ContentIndex().lookup(org.pk, pdq=pdqs, radius=0)) >= 2

    # Her device also sent the PDQ of fixed crops, as the server would compute them from the file
    # (the tiny picture has none: its crops are too small); a cropped copy is found through them.
    bridge = case.content.get(sha256=hashlib.sha256(files[0].read_bytes()).hexdigest())
    with Image.open(files[0]) as picture:
        upright = picture.convert("RGB")
    expected = {s.kind: s.hash for s in robust_signals(upright)[1:]}
    sent = {e["kind"]: PdqHash.from_hex(e["pdq"]) for e in bridge.extra}
    assert sent
    assert sent.keys() == expected.keys()
    assert max(sent[k] - expected[k] for k in sent) <= 8
    assert case.content.exclude(pk=bridge.pk).get().extra == []
    w, h = upright.size
    cropped = upright.crop((w // 10, h // 10, w - w // 10, h - h // 10))
    assert PdqHash.from_hex(bridge.pdq) - pdq_hash(cropped).hash > 31  # plain PDQ misses it
    hits = ContentIndex().lookup(org.pk, pictures=[query_signals(cropped)])
    assert any(hit.item_id == bridge.pk and hit.signal not in ("", "pdq") for hit in hits), hits

    # What left the browser: small bodies, none with any run of either picture's bytes.
    posted = [body for body in watch.bodies if body]
    assert posted, "the hashes were posted"
    for body in posted:
        assert len(body) < 20_000
        assert not _carries_any(body, runs)
    assert watch.foreign == []

    # Her case, with the number and PIN she was shown.
    page.goto(f"{live_server.url}/portal/status/?lang=en")
    page.get_by_label("Case number").fill(number)
    page.get_by_label("PIN (8 digits)").fill(pin)
    page.get_by_role("button", name="Show my case").click()
    expect(page.get_by_role("heading", name=f"Case {number}")).to_be_visible()
    expect(page.locator("[data-pictures]")).to_have_text("2")
    _screenshot(page, "portal-status.png")

    page.get_by_role("button", name="Withdraw my consent").click()
    page.get_by_role("button", name="Yes, withdraw my consent").click()
    expect(page.get_by_text("Your consent is withdrawn.")).to_be_visible()
    assert ContentIndex().lookup(org.pk, pdq=pdqs, radius=0) == []

    # Phone width: nothing scrolls sideways, in either language.
    page.set_viewport_size({"width": 360, "height": 740})
    for url in ("/portal/?lang=ko", "/portal/submit/?lang=ko", "/portal/status/?lang=ko", "/portal/?lang=en"):
        page.goto(live_server.url + url)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, url
    expect(page.get_by_role("link", name="Quick exit")).to_be_visible()

    # Korean pages render in Korean.
    page.goto(f"{live_server.url}/portal/?lang=ko")
    expect(page.get_by_role("link", name="빠른 나가기")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    _screenshot(page, "portal-landing-ko.png")

    # Quick exit: the link, and Esc.
    page.get_by_role("link", name="빠른 나가기").click()
    page.wait_for_url(NEUTRAL)
    expect(page.get_by_role("heading", name="Weather")).to_be_visible()
    page.goto(f"{live_server.url}/portal/submit/?lang=en")
    page.keyboard.press("Escape")
    page.wait_for_url(NEUTRAL)
    assert len(watch.exits) == 2
    assert watch.foreign == []
    assert problems == []
    # A mistyped address and the icon a browser asks for by itself leave no cookie either (the
    # context's request client keeps cookies in the same store as its pages).
    page.goto(live_server.url + "/portal/no-such-page/")
    assert context.request.get(live_server.url + "/favicon.ico").status == 404
    assert context.cookies() == []  # the portal never set one
    context.close()


def test_quick_exit_comes_first_leaves_one_history_entry_and_works_without_javascript(
    browser, live_server
) -> None:
    from playwright.sync_api import expect

    from haven.web.accounts.models import Organisation

    exit_url = "https://news.example.org/today"
    Organisation.objects.create(
        name="Seoul Support Centre",
        slug="seoul",
        country="KR",
        time_zone="Asia/Seoul",
        phone="02-735-8994",
        opening_hours="Mon–Fri 10:00–17:00",
        emergency_numbers="Police: 112\nWomen's emergency line: 1366",
        portal_exit_url=exit_url,
    )
    left: list[str] = []

    def neutral(route) -> None:
        left.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<title>News</title><h1>News</h1>")

    for scripts in (True, False):
        context = browser.new_context(
            viewport={"width": 1280, "height": 800}, locale="en-GB", java_script_enabled=scripts
        )
        context.route(exit_url, neutral)
        page = context.new_page()
        page.goto(f"{live_server.url}/portal/?lang=en")
        # Every page names the centre and how to reach it.
        centre = page.locator(".portal-centres")
        expect(centre).to_contain_text("Seoul Support Centre")
        expect(centre.get_by_role("link", name="02-735-8994")).to_have_attribute("href", "tel:027358994")
        expect(centre).to_contain_text("Women's emergency line: 1366")
        # The first thing the keyboard reaches is the way out.
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.hasAttribute('data-quick-exit')")
        if scripts:
            # From page to page inside the portal, then out: one history entry in all.
            before = page.evaluate("history.length")
            page.get_by_role("link", name="Start: choose pictures").click()
            page.wait_for_url("**/portal/submit/**")
            page.get_by_role("link", name="Help with your pictures").click()
            page.wait_for_url("**/portal/?lang=en")
            assert page.evaluate("history.length") == before
            page.keyboard.press("Escape")
            page.wait_for_url(exit_url)
            assert page.evaluate("history.length") == before
        else:
            page.get_by_role("link", name="Quick exit").click()
            page.wait_for_url(exit_url)
        expect(page.get_by_role("heading", name="News")).to_be_visible()
        context.close()
    assert left == [exit_url, exit_url]

    # The Esc hint where there is a keyboard, not on a phone.
    for mobile, shown in ((False, True), (True, False)):
        context = browser.new_context(
            viewport={"width": 390, "height": 800}, is_mobile=mobile, has_touch=mobile, locale="en-GB"
        )
        page = context.new_page()
        page.goto(f"{live_server.url}/portal/?lang=en")
        assert page.locator(".quick-exit-hint").is_visible() is shown
        context.close()
