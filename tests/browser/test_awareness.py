"""The awareness pages in a real browser: an administrator rewrites a page with a preview and
publishes it, adds a campaign banner, and a visitor on a phone reads the result without a cookie;
every page passes axe's WCAG 2.2 A/AA rules in each language, stays within a page-weight budget for
a poor connection, and prints without the portal's controls.

Runs Debian's Chromium; skipped where it is missing, failed instead when
``HAVEN_TEST_REQUIRE_BROWSER=1`` (CI).
"""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest

from tests.browser.staff import sign_in

PASSWORD = "a long passphrase for the awareness test"
LANGUAGES = ["ar", "en", "es", "fr", "ko", "ru", "zh-hans"]
# Everything a visitor downloads for one page (HTML, style sheet, script, icon), as sent: a page
# of text should open in a few seconds on a 2G connection (about 30 kB/s).
PAGE_WEIGHT_BUDGET = 48 * 1024
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

pytestmark = pytest.mark.usefixtures("transactional_db")


def _sign_in(page: Any, url: str, username: str, device: Any) -> None:
    sign_in(page, url, username, PASSWORD, device)


def _centre() -> Any:
    from haven.web.accounts.models import Organisation

    return Organisation.objects.create(
        name="Seoul Support Centre", slug="seoul", country="KR", time_zone="Asia/Seoul", phone="02-817-7959"
    )


def test_an_administrator_rewrites_a_page_and_a_visitor_reads_it(browser: Any, live_server: Any) -> None:
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from playwright.sync_api import expect

    from haven.web.accounts.models import User

    org = _centre()
    admin = User.objects.create_user(username="admin", password=PASSWORD, organisation=org, role="admin")
    device = TOTPDevice.objects.create(user=admin, name="phone", confirmed=True)

    staff = browser.new_context(locale="en")
    page = staff.new_page()
    try:
        _sign_in(page, live_server.url, "admin", device)
        page.get_by_role("link", name="Awareness", exact=True).click()
        page.get_by_role("link", name="Built-in — How the centre helps, Korean").click()
        expect(page.get_by_label("Text")).to_have_value(re.compile("동의를 철회"))
        page.get_by_label("Title").fill("센터가 돕는 방법")
        page.get_by_label("Text").fill(
            "## 24시간 상담\n\n**언제든** 전화하세요.\n\n<script>alert(1)</script>"
        )
        page.get_by_role("button", name="Preview").click()
        preview = page.locator("#preview")
        expect(preview.locator("strong")).to_have_text("언제든")
        expect(preview.locator("h3")).to_have_text(
            "24시간 상담"
        )  # a "##" heading sits under the section's h2
        assert preview.locator("script").count() == 0
        page.get_by_role("button", name="Publish").click()
        expect(page.get_by_text("The page is published.")).to_be_visible()

        today = datetime.datetime.now(datetime.UTC).date()
        page.get_by_role("link", name="Awareness", exact=True).click()
        page.get_by_label("Banner message").fill("16 Days of Activism: talk to us")
        page.get_by_label("First day").fill((today - datetime.timedelta(days=1)).isoformat())
        page.get_by_label("Last day").fill((today + datetime.timedelta(days=15)).isoformat())
        page.get_by_role("button", name="Add banner").click()
        expect(page.get_by_text("Campaign banner added.")).to_be_visible()
    finally:
        staff.close()

    visitor = browser.new_context(viewport={"width": 360, "height": 740}, locale="ko", is_mobile=True)
    page = visitor.new_page()
    try:
        page.goto(f"{live_server.url}/portal/?lang=ko")
        page.get_by_role("link", name="이미지 기반 성적 학대와 할 수 있는 일 알아보기").click()
        expect(page.locator(".campaign")).to_have_text("16 Days of Activism: talk to us")
        page.get_by_role("link", name="센터가 돕는 방법").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("센터가 돕는 방법")
        expect(page.locator(".learn-page strong")).to_have_text("언제든")
        expect(page.locator(".learn-page")).to_contain_text("<script>alert(1)</script>")  # shown as text
        assert visitor.cookies() == []
        # Other languages keep the built-in page.
        page.get_by_role("link", name="English").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("How the centre helps")
        assert visitor.cookies() == []
    finally:
        visitor.close()


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_awareness_pages_pass_the_wcag_22_aa_rules(browser: Any, live_server: Any, language: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    from haven.web.awareness.models import Topic

    org = _centre()
    axe = Axe()
    page = browser.new_page(viewport={"width": 360, "height": 800}, locale=language)
    problems = []
    try:
        for path in [f"/portal/learn/{org.slug}/"] + [f"/portal/learn/{org.slug}/{t}/" for t in Topic.values]:
            page.goto(f"{live_server.url}{path}?lang={language}")
            results = axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG}})
            for violation in results.response["violations"]:
                if violation["impact"] in ("serious", "critical"):
                    targets = [node["target"] for node in violation["nodes"]][:3]
                    problems.append(f"{path} [{language}] {violation['id']}: {violation['help']} {targets}")
    finally:
        page.close()
    assert not problems, "\n".join(problems)


def test_each_page_stays_within_the_weight_budget_and_asks_no_other_site(
    browser: Any, live_server: Any
) -> None:
    from haven.web.awareness.models import Topic

    org = _centre()
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    sizes: dict[str, int] = {}

    def count(response: Any) -> None:
        body = response.body() if response.status < 300 else b""
        sizes[response.url] = len(body) + sum(len(k) + len(v) + 4 for k, v in response.headers.items())

    page.on("response", count)
    weights = {}
    try:
        for language in ("en", "ar", "zh-hans"):
            for topic in Topic.values:
                sizes.clear()
                page.goto(f"{live_server.url}/portal/learn/{org.slug}/{topic}/?lang={language}")
                page.wait_for_load_state("networkidle")
                assert all(url.startswith(live_server.url) for url in sizes), sizes
                weights[(language, topic)] = sum(sizes.values())
                # a fresh download each time: the portal's answers are not cached on her phone
                context.clear_cookies()
    finally:
        context.close()
    heaviest = max(weights, key=lambda k: weights[k])
    print("page weights (bytes):", weights)
    assert weights[heaviest] <= PAGE_WEIGHT_BUDGET, (heaviest, weights[heaviest])
    assert min(weights.values()) > 8 * 1024  # the count saw the style sheet, not only the HTML


def test_the_printout_leaves_out_the_portal_controls(browser: Any, live_server: Any) -> None:
    org = _centre()
    page = browser.new_page()
    try:
        page.goto(f"{live_server.url}/portal/learn/{org.slug}/what-you-can-do/?lang=en")
        assert page.locator(".quick-exit").is_visible()
        page.emulate_media(media="print")
        for selector in (".quick-exit", ".portal-lang", ".learn-nav"):
            assert not page.locator(selector).is_visible(), selector
        assert page.get_by_role("heading", level=1).is_visible()
        assert len(page.pdf(format="A4")) > 1000
    finally:
        page.close()
