"""An administrator connects a platform and a counsellor shares a case, in a real browser: register the
partner and copy its keys, approve the case's pictures, see the platform's feedback, empty the
quarantine; axe finds no serious problem on these pages, in English and Korean.

Runs Debian's Chromium; skipped where it is missing, failed instead when ``HAVEN_TEST_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import requests

PASSWORD = "a long passphrase for the browser test"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

pytestmark = pytest.mark.usefixtures("transactional_db")


def _sign_in(
    browser: Any,
    live_server: Any,
    username: str,
    locale: str = "en-GB",
    viewport: dict[str, int] | None = None,
) -> Any:
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from playwright.sync_api import expect

    from haven.web.accounts.models import User

    device = TOTPDevice.objects.create(user=User.objects.get(username=username), name="phone", confirmed=True)
    context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900}, locale=locale)
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/?lang=en")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("6-digit code").fill(f"{totp(device.bin_key):06d}")
    page.get_by_role("button", name="Verify and sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    return page


def _screenshot(page: Any, name: str) -> None:
    folder = os.environ.get("HAVEN_TEST_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def _axe_problems(page: Any, where: str) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": AXE_TAGS}})
    return [
        f"{where} {v['id']}: {v['help']} {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_a_platform_is_connected_and_a_case_is_shared(browser: Any, live_server: Any) -> None:
    from playwright.sync_api import expect

    from haven.web.accounts.models import Organisation, User
    from haven.web.cases import actions as cases
    from haven.web.sharing import actions as sharing
    from haven.web.sharing.models import Partner, QuarantinedHash

    org = Organisation.objects.create(name="Seoul Support Centre", slug="seoul", country="KR")
    admin = User.objects.create_user(username="jiwoo", password=PASSWORD, organisation=org, role="admin")
    case = cases.create_case(actor=admin)
    cases.record_consent(actor=admin, case=case, scope="share", granted=True, method="in_person")
    cases.add_content(
        actor=admin,
        case=case,
        items=[
            cases.HashInput(label="photo 1", pdq="f8" * 32, quality=92),
            cases.HashInput(label="photo 2", pdq="0e" * 32, quality=88),
            cases.HashInput(label="dark photo", pdq="00" * 32, quality=12),
        ],
    )
    problems: list[str] = []
    page = _sign_in(browser, live_server, "jiwoo")

    # Register the platform; its keys are shown once.
    page.get_by_role("link", name="Sharing").click()
    expect(page.get_by_role("heading", name="Sharing partners", exact=True)).to_be_visible()
    page.get_by_label("Name").fill("Example Webhard")
    page.get_by_label("Kind").select_option("platform")
    page.get_by_label("Contact").fill("abuse@webhard.example")
    page.get_by_role("button", name="Register and show the keys").click()
    expect(page.get_by_role("heading", name="Keys for Example Webhard")).to_be_visible()
    codes = page.locator("section[role=status] code").all_inner_texts()
    subscription, fetch_key = codes[0], codes[1]
    problems += _axe_problems(page, "partners")
    _screenshot(page, "sharing-partners-keys.png")

    # Approve the case's pictures: the weak one is named, the others are shared.
    page.goto(f"{live_server.url}/cases/{case.number}/")
    panel = page.locator("#sharing-panel")
    expect(panel.get_by_text("The hash of this photo is too weak to share")).to_be_visible()
    panel.get_by_role("button", name="Approve all for sharing").click()
    expect(page.get_by_text("2 pictures are now shared with partners.")).to_be_visible()
    expect(
        page.locator("#sharing-panel").get_by_role("button", name="Withdraw from partners photo 1")
    ).to_be_visible()
    problems += _axe_problems(page, "case page")

    # The platform fetches with the keys it was given, and blocks a copy.
    headers = {"Ocp-Apim-Subscription-Key": subscription, "x-functions-key": fetch_key}
    fetched = requests.get(
        f"{live_server.url}/api/stopncii/v1/FetchHashes", headers=headers, timeout=10
    ).json()
    assert {r["hashValue"] for r in fetched["hashRecords"]} == {"f8" * 32, "0e" * 32}
    partner = Partner.objects.get(name="Example Webhard")
    sharing.submit_feedback(partner=partner, entries=[sharing.FeedbackEntry("f8" * 32, "Blocked")])
    page.reload()
    expect(page.locator("#sharing-panel").get_by_text("Example Webhard: Blocked")).to_be_visible()
    _screenshot(page, "sharing-case.png")

    # A hash the platform found itself waits in quarantine until accepted.
    sharing.submit_hashes(
        partner=partner, entries=[sharing.SubmittedHash("pdq", "ab" * 32, ("found",), "Blocked")]
    )
    page.goto(f"{live_server.url}/sharing/quarantine/")
    expect(page.get_by_text("1 hash waits for review.")).to_be_visible()
    problems += _axe_problems(page, "quarantine")
    _screenshot(page, "sharing-quarantine.png")
    page.get_by_role("button", name="Accept").click()
    expect(page.get_by_text("Nothing waits for review.")).to_be_visible()
    assert QuarantinedHash.objects.get().status == "accepted"

    # The same pages in Korean, from the language menu.
    page.get_by_label("Language").select_option("ko")
    page.get_by_role("button", name="Change language").click()
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    for path in ("/sharing/partners/", f"/cases/{case.number}/", "/sharing/quarantine/"):
        page.goto(f"{live_server.url}{path}")
        problems += _axe_problems(page, f"{path} [ko]")
    page.goto(f"{live_server.url}/sharing/partners/")
    expect(page.get_by_role("heading", name="공유 파트너", exact=True)).to_be_visible()
    _screenshot(page, "sharing-partners-ko.png")
    page.context.close()
    assert not problems, "\n".join(problems)
