"""The staff header on a phone: the main menu folds behind a "Menu" button (open
without JavaScript); at a desk it is always shown.

Runs Debian's Chromium; skipped where it is missing, failed instead when ``HAVEN_TEST_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import pytest

from tests.browser.test_sharing_journey import PASSWORD

pytestmark = pytest.mark.usefixtures("transactional_db")


def _signed_in(browser, live_server, username: str, viewport: dict[str, int]):
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from haven.web.accounts.models import User

    # One user per sign-in: a second-factor code is accepted once.
    device = TOTPDevice.objects.create(user=User.objects.get(username=username), name="phone", confirmed=True)
    context = browser.new_context(viewport=viewport, locale="en-GB")
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/?lang=en")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("6-digit code").fill(f"{totp(device.bin_key):06d}")
    page.get_by_role("button", name="Verify and sign in").click()
    return context, page


def test_the_menu_folds_on_a_phone_and_not_at_a_desk(browser, live_server) -> None:
    from playwright.sync_api import expect

    from haven.web.accounts.models import Organisation, User

    org = Organisation.objects.create(
        name="Seoul Support Centre", slug="seoul", country="KR", time_zone="Asia/Seoul"
    )
    for username in ("minji", "jiwoo"):
        User.objects.create_user(username=username, password=PASSWORD, organisation=org, role="counsellor")

    context, page = _signed_in(browser, live_server, "minji", {"width": 390, "height": 844})
    menu = page.get_by_role("button", name="Menu")
    cases = page.get_by_role("navigation", name="Main").get_by_role("link", name="Cases")
    expect(menu).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(cases).to_be_hidden()
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    cases.click()
    expect(page.get_by_role("heading", name="Cases", exact=True)).to_be_visible()
    context.close()

    context, page = _signed_in(browser, live_server, "jiwoo", {"width": 1280, "height": 800})
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Cases")).to_be_visible()
    context.close()
