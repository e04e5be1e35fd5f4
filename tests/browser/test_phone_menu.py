"""The staff header on a phone: the main menu folds behind a "Menu" button (open
without JavaScript); at a desk it is always shown.  The staff pages raise no console error at
phone width (nothing the content security policy refuses).

Runs Debian's Chromium; skipped where it is missing, failed instead when ``HAVEN_TEST_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import pytest

from tests.browser.test_sharing_journey import PASSWORD, _sign_in

pytestmark = pytest.mark.usefixtures("transactional_db")


def test_the_menu_folds_on_a_phone_and_not_at_a_desk(browser, live_server) -> None:
    from playwright.sync_api import expect

    from haven.web.accounts.models import Organisation, User
    from haven.web.cases import actions

    org = Organisation.objects.create(
        name="Seoul Support Centre", slug="seoul", country="KR", time_zone="Asia/Seoul"
    )
    for username in ("minji", "jiwoo"):
        User.objects.create_user(username=username, password=PASSWORD, organisation=org, role="counsellor")

    # One user per sign-in: a second-factor code is accepted once.
    page = _sign_in(browser, live_server, "minji", viewport={"width": 390, "height": 844})
    menu = page.get_by_role("button", name="Menu")
    cases = page.get_by_role("navigation", name="Main").get_by_role("link", name="Cases")
    expect(menu).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(cases).to_be_hidden()
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    cases.click()
    expect(page.get_by_role("heading", name="Cases", exact=True)).to_be_visible()
    # The staff pages at phone width: nothing the content security policy refuses (no inline
    # style or script), no other console error.
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    case = actions.create_case(actor=User.objects.get(username="minji"))
    for url in (f"/cases/{case.number}/", "/notifications/", "/cases/", "/"):
        page.goto(f"{live_server.url}{url}")
        page.wait_for_load_state("networkidle")
    assert problems == []
    page.context.close()

    page = _sign_in(browser, live_server, "jiwoo")
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Cases")).to_be_visible()
    page.context.close()
