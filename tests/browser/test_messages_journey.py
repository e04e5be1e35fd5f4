"""A survivor and her counsellor write to each other, in a real browser: she signs in to the portal
on a phone with her case number and PIN and writes; her counsellor sees the badge, opens the
notification, reads and answers; she reads the answer and deletes the conversation.  The phone
keeps no cookie, and axe finds no serious problem on the pages.

Runs Debian's Chromium; skipped where it is missing, failed instead when ``HAVEN_TEST_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.test_sharing_journey import PASSWORD, _axe_problems, _screenshot, _sign_in

pytestmark = pytest.mark.usefixtures("transactional_db")

HERS = "He sent the pictures to my sister today. What can I do?"
ANSWER = "We have asked the site to remove them. Call us on Tuesday if you can."


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def _portal_sign_in(browser: Any, live_server: Any, number: str, pin: str) -> tuple[Any, Any]:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="en-GB"
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/portal/status/?lang=en")
    page.get_by_label("Case number").fill(number)
    page.get_by_label("PIN (8 digits)").fill(pin)
    page.get_by_role("button", name="Show my case").click()
    return context, page


def test_she_writes_her_counsellor_answers_and_she_deletes_the_conversation(browser, live_server) -> None:
    from playwright.sync_api import expect

    from haven.web.accounts.models import Organisation, User
    from haven.web.portal import actions
    from haven.web.portal.models import PortalMessage

    org = Organisation.objects.create(
        name="Seoul Support Centre", slug="seoul", country="KR", time_zone="Asia/Seoul"
    )
    User.objects.create_user(
        username="minji", password=PASSWORD, organisation=org, role="counsellor", first_name="Minji"
    )
    _case, number, pin = actions.submit_hashes(
        organisation=org,
        items=[{"pdq": "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22", "quality": 90}],
        consents={"monitor": True},
    )
    problems: list[str] = []

    # She writes from her phone.
    phone, page = _portal_sign_in(browser, live_server, number, pin)
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    expect(page.get_by_role("heading", name="Messages with Seoul Support Centre")).to_be_visible()
    page.get_by_label("Your message").fill(HERS)
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Your message is sent")
    expect(page.locator("[data-thread]")).to_contain_text(HERS)
    problems += _axe_problems(page, "portal status with messages")
    _screenshot(page, "portal-messages-phone.png")
    assert phone.cookies() == []
    phone.close()

    # Her counsellor sees the badge, follows the notification, reads and answers.
    staff = _sign_in(browser, live_server, "minji")
    badge = staff.locator("[data-unread]")
    expect(badge).to_contain_text("2")  # the new portal case, and her message
    staff.get_by_role("link", name="Notifications").click()
    expect(staff.get_by_role("heading", name="Notifications", exact=True)).to_be_visible()
    problems += _axe_problems(staff, "notifications")
    staff.get_by_role("button", name=f"The survivor of case {number} wrote a message.").click()
    expect(staff.get_by_role("heading", name="Messages with the survivor")).to_be_visible()
    expect(staff.locator("[data-thread]")).to_contain_text(HERS)
    expect(staff.locator("[data-unread]")).to_contain_text("1")  # the case is still new to her
    staff.get_by_label("Message", exact=True).fill(ANSWER)
    staff.get_by_role("button", name="Send").click()
    expect(staff.locator("[data-thread]")).to_contain_text(ANSWER)
    expect(staff.locator("[data-thread]")).to_contain_text("not read yet")
    problems += _axe_problems(staff, "messages page")
    _screenshot(staff, "staff-messages.png")
    staff.context.close()

    # She reads the answer, then deletes the whole conversation.
    phone, page = _portal_sign_in(browser, live_server, number, pin)
    thread = page.locator("[data-thread]")
    expect(thread).to_contain_text(ANSWER)
    expect(thread).to_contain_text("Seoul Support Centre")
    expect(thread).not_to_contain_text("Minji")
    page.get_by_role("button", name="Delete this conversation").click()
    expect(page.get_by_role("heading", name="Are you sure?")).to_be_visible()
    page.get_by_role("button", name="Yes, delete the conversation").click()
    expect(page.get_by_role("status")).to_contain_text("The conversation is deleted.")
    expect(page.locator("[data-thread]")).to_have_count(0)
    assert phone.cookies() == []
    phone.close()

    assert not PortalMessage.objects.exists()
    assert problems == []
