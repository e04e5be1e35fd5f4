"""A survivor comes back to her case on her phone, in a real browser: she adds more pictures
(hashed on the device, the one already there not added twice), stops one purpose and sees what has
happened.  No request carries any part of a picture, and the phone keeps no cookie.

Runs Debian's Chromium; skipped where it is missing, failed instead when ``HAVEN_TEST_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest

from tests.browser.test_messages_journey import _portal_sign_in
from tests.browser.test_portal import PICTURES, Watch, _carries_any, _runs
from tests.browser.test_sharing_journey import _axe_problems, _screenshot

pytestmark = pytest.mark.usefixtures("transactional_db")


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def test_she_adds_pictures_and_stops_one_purpose(browser, live_server, vectors) -> None:
    from playwright.sync_api import expect

    from haven.signals import pdq_hash
    from haven.web.accounts.models import Organisation
    from haven.web.cases.actions import current_consent
    from haven.web.portal import actions

    org = Organisation.objects.create(
        name="Seoul Support Centre", slug="seoul", country="KR", time_zone="Asia/Seoul"
    )
    files = [vectors / "pdq" / name for name in PICTURES]
    first = pdq_hash(files[0])
    case, number, pin = actions.submit_hashes(
        organisation=org,
        # As her phone sent it the first time: the same picture again adds no hash.
        items=[
            {
                "pdq": str(first.hash),
                "quality": first.quality,
                "md5": hashlib.md5(files[0].read_bytes()).hexdigest(),  # noqa: S324 - a digest of the file, as sent
                "sha256": hashlib.sha256(files[0].read_bytes()).hexdigest(),
            }
        ],
        consents={"monitor": True, "takedown": True},
    )
    runs = set().union(*(_runs(f.read_bytes()) for f in files))

    phone, page = _portal_sign_in(browser, live_server, number, pin)
    watch = Watch(phone, live_server.url)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    expect(page.get_by_role("heading", name="What has happened so far")).to_be_visible()
    problems += _axe_problems(page, "portal status")

    page.get_by_role("button", name="Add pictures").click()
    expect(page.get_by_role("heading", name=f"Add pictures to case {number}")).to_be_visible()
    page.wait_for_load_state()
    page.get_by_label("Choose up to 20 pictures").set_input_files([str(f) for f in files])
    expect(page.locator(".file__state", has_text="Ready")).to_have_count(2, timeout=30_000)
    problems += _axe_problems(page, "portal add pictures")
    page.get_by_role("button", name="Send the fingerprints").click()
    expect(page.locator("[data-added-line]")).to_have_text(
        "Added: 1. Already in your case, not added again: 1."
    )
    assert case.content.count() == 2
    assert {item.pdq for item in case.content.all()} == {str(pdq_hash(f).hash) for f in files}

    page.get_by_role("button", name="Back to my case").click()
    expect(page.locator("[data-pictures]")).to_have_text("2")
    page.get_by_role("button", name="Stop: Ask for removal").click()
    expect(page.get_by_role("status")).to_contain_text("Stopped.")
    expect(page.get_by_role("button", name="Agree: Ask for removal")).to_be_visible()
    state = current_consent(case)
    assert state["monitor"]
    assert not state["takedown"]
    _screenshot(page, "portal-return-phone.png")

    assert watch.foreign == []
    assert not any(_carries_any(body, runs) for body in watch.bodies)
    assert phone.cookies() == []
    assert problems == []
    phone.close()
