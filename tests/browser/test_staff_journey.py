"""A counsellor's first morning, in a real browser: sign in with a code, open a case, record consent,
add hashes, and read it all in Korean.

Runs Debian's Chromium (``apt-get install chromium``); skipped where it is missing, failed instead
when ``HAVEN_TEST_REQUIRE_BROWSER=1`` (CI). Set ``HAVEN_TEST_SCREENSHOTS=DIR`` to keep screenshots
of the case page at phone and desktop widths.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

PASSWORD = "a long passphrase for the browser test"
PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
MD5 = "9e107d9d372bb6826bd81d3542a419d6"
SHA256 = "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592"

pytestmark = pytest.mark.usefixtures("transactional_db")


def _screenshot(page: object, name: str) -> None:
    folder = os.environ.get("HAVEN_TEST_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=True)  # type: ignore[attr-defined]


def test_a_counsellor_signs_in_opens_a_case_records_consent_and_adds_hashes(browser, live_server) -> None:
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from playwright.sync_api import expect

    from haven.web.accounts.models import Organisation, User
    from haven.web.cases import actions
    from haven.web.cases.models import Case, ContentItem

    org = Organisation.objects.create(
        name="Seoul Support Centre", slug="seoul", country="KR", time_zone="Asia/Seoul"
    )
    user = User.objects.create_user(
        username="minji", password=PASSWORD, organisation=org, role="counsellor", first_name="Minji"
    )
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))

    # Password, then the code from the phone.
    page.goto(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    _screenshot(page, "login.png")
    page.get_by_label("Username").fill("minji")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Two-step check")).to_be_visible()
    page.get_by_label("6-digit code").fill(f"{totp(device.bin_key):06d}")
    page.get_by_role("button", name="Verify and sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_text("Seoul Support Centre")).to_be_visible()
    _screenshot(page, "dashboard-empty.png")

    # A new case.
    page.get_by_role("link", name="New case").first.click()
    page.get_by_label("The survivor was under 18 when the content was made").check()
    expect(page.get_by_text("Treat the content as child sexual abuse material")).to_be_visible()
    _screenshot(page, "new-case.png")
    page.get_by_label("The survivor was under 18 when the content was made").uncheck()
    expect(page.get_by_text("Treat the content as child sexual abuse material")).to_be_hidden()
    page.get_by_label("Contact details").fill("Text only, after 6 pm")
    page.get_by_label("Type of abuse").select_option("non_consensual_distribution")
    page.get_by_label("Relationship to the perpetrator").select_option("former_partner")
    page.get_by_label("Platforms involved").fill("example-forum, chat-app")
    page.get_by_role("button", name="Create case").click()
    case = Case.objects.get()
    expect(page.get_by_text(f"Case {case.number} created.")).to_be_visible()
    assert page.url.endswith(f"/cases/{case.number}/")

    # Consent to monitoring: the panel updates in place (htmx) and the timeline follows.
    consent = page.locator("#consent-panel")
    consent.get_by_label("Keep hashes and monitor for re-uploads").check()
    consent.get_by_label("Contact the survivor").check()
    consent.locator("[data-consent-all]").get_by_label("How the survivor told us").select_option("in_person")
    consent.get_by_role("button", name="Save her decisions").click()
    expect(page.locator("#messages")).to_contain_text("Consent recorded")
    expect(page.locator("#consent-panel .consent--yes").first).to_contain_text("Keep hashes and monitor")
    expect(page.locator("#consent-panel .consent--yes")).to_have_count(2)
    expect(page.locator("#timeline-panel")).to_contain_text("Consent granted")
    assert actions.current_consent(case)["monitor"] is True
    assert actions.current_consent(case)["contact"] is True
    assert actions.current_consent(case)["share"] is False  # one submit, only what was ticked

    # Hashes pasted from `haven hash`.
    line = json.dumps(
        {"path": "/private/Minji/beach.jpg", "pdq": PDQ, "quality": 91, "md5": MD5, "sha256": SHA256}
    )
    content = page.locator("#content-panel")
    content.get_by_label("Output of “haven hash”").fill(line)
    content.get_by_role("button", name="Add pasted hashes").click()
    expect(page.locator("#messages")).to_contain_text("1 picture added.")
    expect(page.locator("#content-panel")).to_contain_text(MD5)
    assert ContentItem.objects.get().label == "picture 1"

    # A malformed line is refused, and what was pasted stays for correction.
    page.locator("#content-panel").get_by_label("Output of “haven hash”").fill('{"pdq": "not hex"}')
    page.locator("#content-panel").get_by_role("button", name="Add pasted hashes").click()
    expect(page.locator("#content-panel")).to_contain_text("Line 1: the PDQ hash must be 64 hexadecimal")
    assert ContentItem.objects.count() == 1

    page.reload()
    _screenshot(page, "case-desktop.png")
    page.set_viewport_size({"width": 360, "height": 780})
    _screenshot(page, "case-phone.png")
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= 360, f"the case page scrolls sideways at 360 px ({scroll_width} px wide)"

    # Korean, from the language menu.
    page.get_by_label("Language").select_option("ko")
    page.get_by_role("button", name="Change language").click()
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    expect(page.get_by_role("heading", name="동의", exact=True)).to_be_visible()
    expect(page.get_by_text("비동의 유포").first).to_be_visible()
    _screenshot(page, "case-phone-ko.png")

    page.goto(f"{live_server.url}/")
    _screenshot(page, "dashboard-phone-ko.png")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/cases/")
    _screenshot(page, "list-desktop-ko.png")

    assert not problems, problems
    context.close()


def test_a_first_sign_in_enrols_the_authenticator_app(browser, live_server) -> None:
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from playwright.sync_api import expect

    from haven.web.accounts.models import Organisation, User

    org = Organisation.objects.create(name="Busan Centre", slug="busan", country="KR", time_zone="Asia/Seoul")
    User.objects.create_user(username="jiwoo", password=PASSWORD, organisation=org, role="counsellor")

    context = browser.new_context(viewport={"width": 360, "height": 780}, locale="ko-KR")
    page = context.new_page()
    page.goto(f"{live_server.url}/")
    page.get_by_label("아이디").fill("jiwoo")
    page.get_by_label("비밀번호").fill(PASSWORD)
    page.get_by_role("button", name="계속").click()
    expect(page.get_by_role("heading", name="인증 앱 설정")).to_be_visible()
    qr = page.get_by_role("img", name="인증 앱에 Haven을 등록하는 QR 코드")
    expect(qr).to_be_visible()
    assert qr.evaluate("img => img.naturalWidth") > 0
    _screenshot(page, "two-factor-setup-phone-ko.png")

    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    key = base64.b32decode(secret)
    page.get_by_label("6자리 코드").fill(f"{totp(key):06d}")
    page.get_by_role("button", name="확인하고 로그인").click()
    expect(page.get_by_role("heading", name="대시보드")).to_be_visible()
    assert TOTPDevice.objects.get(user__username="jiwoo").confirmed
    context.close()
