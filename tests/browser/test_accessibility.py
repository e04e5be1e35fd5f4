"""Accessibility: axe-core (WCAG 2 A and AA rules) finds no serious or critical problem on the
survivor portal's pages and the staff sign-in, in each of the seven languages, at phone width.

Runs Debian's Chromium; skipped where it is missing, failed instead when
``HAVEN_TEST_REQUIRE_BROWSER=1`` (CI).
"""

from __future__ import annotations

from typing import Any

import pytest

PAGES = ["/portal/", "/portal/submit/", "/portal/status/", "/accounts/login/"]

pytestmark = pytest.mark.usefixtures("transactional_db")


@pytest.mark.parametrize("language", ["ar", "en", "es", "fr", "ko", "ru", "zh-hans"])
def test_the_public_pages_pass_the_wcag_aa_rules(browser: Any, live_server: Any, language: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    from haven.web.accounts.models import Organisation

    Organisation.objects.create(name="Centre", slug="centre", country="KR", child_protection_info="1388")
    axe = Axe()
    page = browser.new_page(viewport={"width": 360, "height": 800}, locale=language)
    problems = []
    try:
        for path in PAGES:
            page.goto(f"{live_server.url}{path}?lang={language}")
            results = axe.run(
                page,
                options={"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}},
            )
            for violation in results.response["violations"]:
                if violation["impact"] in ("serious", "critical"):
                    targets = [node["target"] for node in violation["nodes"]][:3]
                    problems.append(f"{path} [{language}] {violation['id']}: {violation['help']} {targets}")
    finally:
        page.close()
    assert not problems, "\n".join(problems)


def test_the_check_catches_a_page_that_fails(browser: Any) -> None:
    from axe_playwright_python.sync_playwright import Axe

    page = browser.new_page()
    try:
        page.set_content(
            '<html lang="en"><body><main><p style="color:#bbb;background:#ccc">faint text</p>'
            '<input type="text"></main></body></html>'
        )
        results = Axe().run(page, options={"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa"]}})
    finally:
        page.close()
    found = {v["id"] for v in results.response["violations"]}
    assert {"color-contrast", "label"} <= found
