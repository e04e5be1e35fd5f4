"""A trainee in a training sandbox, in a real browser: the banner on every page, the exercises
with what is missing after a check, the sandbox mailbox and the trainer's view, each passing axe's
WCAG 2.2 A/AA rules.

Runs Debian's Chromium; skipped where it is missing, failed instead when
``HAVEN_TEST_REQUIRE_BROWSER=1`` (CI).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.staff import sign_in

PASSWORD = "a long passphrase for the training test"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

pytestmark = pytest.mark.usefixtures("transactional_db")


def _sign_in(page: Any, url: str, username: str, device: Any) -> None:
    sign_in(page, url, username, PASSWORD, device)


def _problems(page: Any, where: str) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG}})
    return [
        f"{where} {v['id']}: {v['help']} {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_a_trainee_checks_an_exercise_and_the_trainer_sees_it(browser: Any, live_server: Any) -> None:
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from playwright.sync_api import expect

    from haven.web.accounts.actions import create_user
    from haven.web.training.sandbox import create_sandbox

    org = create_sandbox(actor="test", name="Practice Centre", slug="practice", country="KR")
    people = {}
    for name, role in (("trainee", "counsellor"), ("trainer", "admin")):
        user = create_user(actor="test", username=name, organisation=org, role=role, password=PASSWORD)
        people[name] = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)

    problems: list[str] = []
    context = browser.new_context(locale="en")
    page = context.new_page()
    try:
        _sign_in(page, live_server.url, "trainee", people["trainee"])
        expect(page.locator(".sandbox-banner")).to_contain_text("Training sandbox")
        page.locator(".sandbox-banner").get_by_role("link", name="Exercises").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Exercises")
        page.get_by_role("button", name="Check my work — Hashing with the survivor").click()
        item = page.locator("#exercise-hashing")
        expect(item).to_contain_text("Not done yet")
        expect(item).to_contain_text("Hash a picture on a case")
        problems += _problems(page, "/training/")
        page.locator(".sandbox-banner").get_by_role("link", name="Sandbox mailbox").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Sandbox mailbox")
        problems += _problems(page, "/training/mailbox/")
        page.get_by_role("button", name="Sign out").click()

        _sign_in(page, live_server.url, "trainer", people["trainer"])
        page.locator(".sandbox-banner").get_by_role("link", name="Trainees").click()
        row = page.get_by_role("row", name="trainee — 1 step missing")
        expect(row).to_contain_text("1 step missing")
        problems += _problems(page, "/training/trainees/")
    finally:
        context.close()
    assert not problems, "\n".join(problems)
