"""A counsellor records a survivor's personal information on the case page, a scan finds it in the text
of a forum post on a real local site, and she reviews it masked, shows it (audited) and confirms it into
the takedown desk, in a real browser; both pages pass axe.

Runs Debian's Chromium; skipped where it is missing, failed when ``HAVEN_TEST_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.test import override_settings

from tests.browser.test_takedown_journey import _axe_problems
from tests.scan.site import TestSite, serve

PASSWORD = "a long passphrase for the identifiers test"

pytestmark = pytest.mark.usefixtures("transactional_db")


@pytest.fixture(scope="module")
def forum() -> Iterator[TestSite]:
    yield from serve()


def test_a_counsellor_records_her_identifiers_and_reviews_the_page_that_leaked_them(
    browser: Any, live_server: Any, forum: TestSite
) -> None:
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from playwright.sync_api import expect

    from haven.web.accounts.models import Organisation, User
    from haven.web.audit.models import AuditEvent
    from haven.web.cases import actions as case_actions
    from haven.web.monitoring import actions
    from haven.web.monitoring.models import Identifier, TextCandidate
    from haven.web.takedown.models import Sighting

    org = Organisation.objects.create(name="Daegu Centre", slug="daegu", country="KR", time_zone="Asia/Seoul")
    counsellor = User.objects.create_user(
        username="mina", password=PASSWORD, organisation=org, role="counsellor"
    )
    officer = User.objects.create_user(
        username="jun", password=PASSWORD, organisation=org, role="deletion_officer"
    )
    device = TOTPDevice.objects.create(user=counsellor, name="phone", confirmed=True)
    case = case_actions.create_case(actor=counsellor, tfgbv_type="doxxing")
    for scope in ("monitor", "takedown"):
        case_actions.record_consent(
            actor=counsellor, case=case, scope=scope, granted=True, method="in_person"
        )
    forum.put(
        "/pj/post/1", "<html><body><h1>신상 털림</h1><p>박 서연 (010-3141-5926) 연락해봐</p></body></html>"
    )
    forum.put("/pj/post/2", "<html><body><p>오늘 날씨 좋다 010-0000-0000</p></body></html>")
    start = forum.put(
        "/pj/", '<html><body><a href="/pj/post/1">1</a> <a href="/pj/post/2">2</a></body></html>'
    )

    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-GB")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(f"{live_server.url}/")
        page.get_by_label("Username").fill("mina")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Continue").click()
        page.get_by_label("6-digit code").fill(f"{totp(device.bin_key):06d}")
        page.get_by_role("button", name="Verify and sign in").click()

        page.goto(f"{live_server.url}/cases/{case.number}/#identifiers-panel")
        panel = page.locator("#identifiers-panel")
        panel.get_by_text("Add something to look for").click()
        panel.get_by_label("Kind").select_option("phone")
        panel.get_by_label("How it is written").fill("12")
        panel.get_by_role("button", name="Record").click()
        expect(
            page.locator("#identifiers-panel").get_by_text("not a phone number", exact=False)
        ).to_be_visible()
        panel = page.locator("#identifiers-panel")
        panel.get_by_label("How it is written").fill("010-3141-5926")
        panel.get_by_role("button", name="Record").click()
        expect(page.get_by_text("Recorded. The next scans look for it")).to_be_visible()
        expect(page.locator("#identifiers-panel").get_by_text("Phone number: 1")).to_be_visible()
        assert "3141" not in page.content()
        problems = _axe_problems(page, "case page with identifiers")
        page.locator("#identifiers-panel").get_by_role("button", name="Show them").click()
        expect(page.locator("[data-identifiers]").get_by_text("010-3141-5926")).to_be_visible()
        assert AuditEvent.objects.filter(event_type="identifier.viewed").count() == 1
        assert Identifier.objects.count() == 1

        with override_settings(HAVEN_FETCH_ALLOW_LOOPBACK=True, HAVEN_FETCH_TIMEOUT_SECONDS=5):
            source = actions.save_source(
                actor=officer, data=actions.SourceInput(name="Forum", kind="crawl", target=start, depth=1)
            )
            # The scan runs its own event loop; Playwright's sync API holds one in this thread.
            with ThreadPoolExecutor(1) as pool:
                run = pool.submit(
                    actions.execute_run, actions.queue_run(actor=officer, source=source)
                ).result()
            assert run.status == "done", run.failure
            assert TextCandidate.objects.count() == 1

            page.goto(f"{live_server.url}/monitoring/")
            expect(page.get_by_text("1 page with her personal information waits for review.")).to_be_visible()
            expect(
                page.get_by_role("heading", name="Her personal information on a page: Phone number")
            ).to_be_visible()
            snippet = page.locator("[data-snippet]")
            expect(snippet).to_contain_text("●●●")
            expect(snippet).not_to_contain_text("3141")
            problems += _axe_problems(page, "review with a text match")
            page.get_by_role("link", name="Show her identifiers").click()
            expect(page.locator("[data-snippet][data-shown]")).to_contain_text("010-3141-5926")
            assert AuditEvent.objects.filter(event_type="text_candidate.viewed").count() == 1
            page.locator("[data-text-candidate]").get_by_role(
                "button", name="Confirm: send to takedown"
            ).click()
            expect(
                page.get_by_text(f"on the takedown desk for case {case.number}, as personal information")
            ).to_be_visible()
    finally:
        page.close()
    sighting = Sighting.objects.get(case=case)
    assert sighting.personal_info
    assert sighting.url.endswith("/pj/post/1")
    assert not errors
    assert not problems, "\n".join(problems)
