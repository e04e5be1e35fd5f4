"""A deletion officer's list of URLs, in a real browser: paste, capture evidence, draft a notice,
send it over SMTP, recheck, removed; the queue and notice pages pass axe's WCAG 2 AA rules.

The platform is a real web server on 127.0.0.1 and its abuse mailbox a real SMTP server.
Runs Debian's Chromium; skipped where it is missing, failed when ``HAVEN_TEST_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from tests.scan.site import TestSite, serve

PASSWORD = "a long passphrase for the takedown test"

pytestmark = pytest.mark.usefixtures("transactional_db")


@pytest.fixture(scope="module")
def platform_site() -> Iterator[TestSite]:
    yield from serve()


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    # aiosmtpd calls the hook by this name.
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 OK"


def _axe_problems(page: Any, where: str) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(
        page, options={"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
    )
    return [
        f"{where} {v['id']}: {v['help']} {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_an_officer_takes_a_list_of_urls_to_removed(
    browser: Any, live_server: Any, platform_site: TestSite
) -> None:
    from aiosmtpd.controller import Controller
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from playwright.sync_api import expect

    from haven.web.accounts.models import Organisation, User
    from haven.web.cases import actions as case_actions
    from haven.web.takedown import actions
    from haven.web.takedown.models import Sighting

    org = Organisation.objects.create(
        name="Seoul Support Centre", slug="seoul", country="KR", time_zone="Asia/Seoul"
    )
    counsellor = User.objects.create_user(
        username="minji", password=PASSWORD, organisation=org, role="counsellor"
    )
    officer = User.objects.create_user(
        username="jisoo", password=PASSWORD, organisation=org, role="deletion_officer", first_name="Jisoo"
    )
    device = TOTPDevice.objects.create(user=officer, name="phone", confirmed=True)
    case = case_actions.create_case(actor=counsellor, tfgbv_type="non_consensual_distribution")
    case_actions.record_consent(
        actor=counsellor, case=case, scope="takedown", granted=True, method="in_person"
    )
    actions.save_platform(
        actor=officer,
        data=actions.PlatformInput(name="Local forum", domains=["127.0.0.1"], abuse_email="abuse@forum.test"),
    )
    urls = [platform_site.put(f"/browser/post/{n}", f"<html><body>post {n}</body></html>") for n in range(3)]

    mailbox = _Mailbox()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    smtp = Controller(mailbox, hostname="127.0.0.1", port=port)
    smtp.start()
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-GB")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    problems: list[str] = []
    try:
        with override_settings(
            HAVEN_FETCH_ALLOW_LOOPBACK=True,
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=port,
        ):
            page.goto(f"{live_server.url}/")
            page.get_by_label("Username").fill("jisoo")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Continue").click()
            page.get_by_label("6-digit code").fill(f"{totp(device.bin_key):06d}")
            page.get_by_role("button", name="Verify and sign in").click()

            # The case page: paste the list.
            page.goto(f"{live_server.url}/cases/{case.number}/")
            page.get_by_label("URLs where the content was seen").fill("\n".join(urls))
            page.get_by_role("button", name="Add sightings").click()
            expect(page.get_by_text("3 sightings added.")).to_be_visible()

            # The queue: tick all, capture evidence.
            page.get_by_role("link", name="Takedown").first.click()
            expect(page.get_by_role("heading", name="Takedown queue")).to_be_visible()
            problems += _axe_problems(page, "queue")
            page.get_by_label("Tick all on this page").check()
            page.get_by_label("With the ticked sightings").select_option("capture")
            page.get_by_role("button", name="Go").click()
            expect(page.get_by_text("Done for 3 sightings.")).to_be_visible()

            # A notice for all three.
            page.get_by_label("Tick all on this page").check()
            page.get_by_label("With the ticked sightings").select_option("notice")
            page.get_by_role("button", name="Go").click()
            expect(page.get_by_role("heading", name="Draft a notice")).to_be_visible()
            # Only the chosen regime's fields are shown: the DMCA's "work" is not a DSA notice's.
            page.get_by_label("Legal regime").select_option("dmca")
            expect(page.get_by_label("The survivor's work (DMCA only)")).to_be_visible()
            page.get_by_label("Legal regime").select_option("dsa")
            expect(page.get_by_label("The survivor's work (DMCA only)")).to_be_hidden()
            page.get_by_label("Why the content is unlawful").fill(
                "Shared by a former partner without consent."
            )
            page.get_by_role("button", name="Draft the notice").click()
            # Without the good-faith confirmation the notice is refused, at that field, once.
            expect(page.get_by_text("Required for this notice: the good-faith statement.")).to_have_count(1)
            page.get_by_label("I confirm the good-faith statement in this notice").check()
            page.get_by_role("button", name="Draft the notice").click()
            expect(page.get_by_text("Notice drafted. Read it, then send it.")).to_be_visible()
            problems += _axe_problems(page, "notice")
            page.get_by_role("button", name="Send by e-mail to abuse@forum.test").click()
            expect(page.get_by_text("Notice sent to abuse@forum.test.")).to_be_visible()
            assert len(mailbox.messages) == 1
            assert all(url.encode() in mailbox.messages[0] for url in urls)

            # The platform removes them; a recheck from the queue sees it.
            for n in range(3):
                platform_site.put(f"/browser/post/{n}", "removed", status=410)
            page.goto(f"{live_server.url}/takedown/?state=sent")
            page.get_by_label("Tick all on this page").check()
            page.get_by_label("With the ticked sightings").select_option("recheck")
            page.get_by_role("button", name="Go").click()
            expect(page.get_by_text("Done for 3 sightings.")).to_be_visible()
    finally:
        page.close()
        smtp.stop()
    assert set(Sighting.objects.values_list("state", flat=True)) == {"removed"}
    assert not errors
    assert not problems, "\n".join(problems)
