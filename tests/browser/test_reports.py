"""An analyst's report in a real browser: charts drawn (checked on the screenshot's pixels, so an
empty chart fails), numbers in tables, the page accessible in English and Korean, and a download.

Runs Debian's Chromium; skipped where it is missing, failed instead when
``HAVEN_TEST_REQUIRE_BROWSER=1`` (CI). Set ``HAVEN_TEST_SCREENSHOTS=DIR`` to keep the screenshots.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from haven.web.reports.charts import FILL

PASSWORD = "a long passphrase for the report test"

pytestmark = pytest.mark.usefixtures("transactional_db")


def _bar_pixels(png: bytes) -> int:
    """How many pixels of a screenshot are the bars' colour."""
    want = np.array([int(FILL[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.int16)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    pixels = np.frombuffer(image.tobytes(), dtype=np.uint8).reshape(image.height, image.width, 3)
    return int((np.abs(pixels.astype(np.int16) - want) <= 12).all(axis=-1).sum())


def _sign_in(page: Any, url: str, username: str, device: Any) -> None:
    from django_otp.oath import totp

    page.goto(f"{url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("6-digit code").fill(f"{totp(device.bin_key):06d}")
    page.get_by_role("button", name="Verify and sign in").click()


def test_an_analyst_reads_the_yearly_report_with_its_charts(browser: Any, live_server: Any) -> None:
    from axe_playwright_python.sync_playwright import Axe
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from playwright.sync_api import expect

    from haven.web.accounts.models import Organisation, User
    from haven.web.reports.synthetic import make_history

    org = Organisation.objects.create(
        name="Seoul Support Centre", slug="seoul", country="KR", time_zone="Asia/Seoul"
    )
    make_history(org, year=2025, cases=420, seed=3)
    user = User.objects.create_user(username="analyst", password=PASSWORD, organisation=org, role="analyst")
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)

    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="en-GB", accept_downloads=True
    )
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    _sign_in(page, live_server.url, "analyst", device)
    page.get_by_role("link", name="Reports").click()
    page.locator("#id_report").select_option("acosav-yearly")
    page.locator("#id_year").select_option("2025")
    page.get_by_role("button", name="Show the report").click()
    expect(page.get_by_role("heading", name="Yearly figures (ACOSAV) · 2025")).to_be_visible()

    charts = page.locator("figure.report__chart svg")
    assert charts.count() >= 6
    for n in range(charts.count()):
        chart = charts.nth(n)
        chart.scroll_into_view_if_needed()
        assert _bar_pixels(chart.screenshot()) > 400, f"chart {n} is drawn empty"
    folder = os.environ.get("HAVEN_TEST_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / "report-desktop.png"), full_page=True)
    # The year's survivors are published, and the table says so.
    total = page.locator("section.report__section").first.locator("tfoot td")
    expect(total).to_have_text("420")

    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    assert download.value.suggested_filename == "acosav-yearly-2025.csv"

    # The reports on the centre's own work draw their charts too.
    for name in ("takedown-platforms", "dsa-trusted-flagger", "monitoring"):
        page.goto(f"{live_server.url}/reports/?report={name}&year=2025&part=&filter=")
        charts = page.locator("figure.report__chart svg")
        assert charts.count() >= 2, name
        for n in range(charts.count()):
            chart = charts.nth(n)
            chart.scroll_into_view_if_needed()
            assert _bar_pixels(chart.screenshot()) > 400, f"{name}: chart {n} is drawn empty"
        if folder:
            page.screenshot(path=str(Path(folder) / f"report-{name}.png"), full_page=True)

    # Accessible, in English and in Korean, at phone width.
    axe = Axe()
    page.set_viewport_size({"width": 360, "height": 800})
    for language in ("en", "ko"):
        context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
        page.goto(f"{live_server.url}/reports/?report=acosav-yearly&year=2025&part=Q2&filter=")
        expect(page.locator("html")).to_have_attribute("lang", language)
        # Nothing wider than the phone: charts and tables scroll inside their own frames.
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        results = axe.run(
            page, options={"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21aa"]}}
        )
        for violation in results.response["violations"]:
            if violation["impact"] in ("serious", "critical"):
                problems.append(f"[{language}] {violation['id']}: {violation['help']}")
        if folder:
            page.screenshot(path=str(Path(folder) / f"report-phone-{language}.png"), full_page=True)
    context.close()
    assert not problems, "\n".join(problems)


def test_the_pixel_check_sees_an_empty_chart(browser: Any) -> None:
    """The check above can fail: a chart whose bars are all hidden has no bar pixels."""
    from haven.web.reports.charts import svg
    from haven.web.reports.tables import Row, Table

    drawn = Table("t", "Drawn", "", ["n"], [Row("a", [30.0]), Row("b", [12.0])])
    hidden = Table("t", "Hidden", "", ["n"], [Row("a", [None]), Row("b", [0.0])])
    page = browser.new_page()
    try:
        page.set_content(f"<html><body><div id=a style='width:640px'>{svg(drawn, 'a')}</div></body></html>")
        assert _bar_pixels(page.locator("#a svg").screenshot()) > 400
        assert svg(hidden, "b") == ""  # nothing to draw: the page says so instead of showing an empty frame
    finally:
        page.close()
