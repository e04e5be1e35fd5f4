"""A counsellor hashes pictures on the case page, in a real browser: she drops them (here: chooses
them) onto the content panel, each becomes a line in the "haven hash" box, and adding them stores
the same hashes the server computes from the files.  Every request the page makes is watched: none
may carry any 64-byte run of a picture.  The same picture again is reported, not added twice.

Runs Debian's Chromium; skipped where it is missing, failed instead when ``HAVEN_TEST_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import json

import pytest

from tests.browser.test_portal import PICTURES, Watch, _carries_any, _runs
from tests.browser.test_sharing_journey import PASSWORD, _axe_problems, _screenshot

pytestmark = pytest.mark.usefixtures("transactional_db")


def test_pictures_are_hashed_on_the_case_page_and_never_uploaded(browser, live_server, vectors) -> None:
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from playwright.sync_api import expect

    from haven.signals import pdq_hash
    from haven.web.accounts.models import Organisation, User
    from haven.web.cases import actions
    from haven.web.cases.models import ContentItem

    org = Organisation.objects.create(
        name="Seoul Support Centre", slug="seoul", country="KR", time_zone="Asia/Seoul"
    )
    user = User.objects.create_user(username="minji", password=PASSWORD, organisation=org, role="counsellor")
    case = actions.create_case(actor=user)
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    files = [vectors / "pdq" / name for name in PICTURES]
    runs = set().union(*(_runs(f.read_bytes()) for f in files))

    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
    watch = Watch(context, live_server.url)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{live_server.url}/accounts/login/?lang=en")
    page.get_by_label("Username").fill("minji")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("6-digit code").fill(f"{totp(device.bin_key):06d}")
    page.get_by_role("button", name="Verify and sign in").click()
    page.goto(f"{live_server.url}/cases/{case.number}/")

    zone = page.locator("[data-hash-drop]")
    expect(zone).to_be_visible()  # shown once the script runs; the paste box works without it
    chooser = page.get_by_label("Choose files")
    chooser.set_input_files([{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a picture"}])
    expect(zone.locator('[data-state="failed"]')).to_contain_text("Not a picture this browser can read")
    chooser.set_input_files([str(f) for f in files])
    expect(zone.locator('[data-state="done"]')).to_have_count(2, timeout=30_000)
    box = page.get_by_label("Output of “haven hash”")
    lines = [json.loads(line) for line in box.input_value().splitlines()]
    assert len(lines) == 2
    assert all("path" not in line for line in lines)  # no file name leaves the page
    assert not page.locator("[data-hash-drop] img, [data-hash-drop] video").count()  # nothing shown
    problems += _axe_problems(page, "case page with the drop zone")
    page.get_by_role("button", name="Add pasted hashes").click()
    expect(page.get_by_text("2 pictures added.")).to_be_visible()

    stored = {item.pdq for item in ContentItem.objects.filter(case=case)}
    assert stored == {str(pdq_hash(f).hash) for f in files}

    # The same picture again: reported, not added twice.
    page.get_by_label("Choose files").set_input_files([str(files[0])])
    expect(page.locator('[data-hash-drop] [data-state="done"]')).to_have_count(1, timeout=30_000)
    page.get_by_role("button", name="Add pasted hashes").click()
    expect(page.get_by_text("already on the case")).to_be_visible()
    # Let the page's last requests finish before the test's database is emptied.
    page.wait_for_load_state("networkidle")
    assert ContentItem.objects.filter(case=case).count() == 2

    assert watch.foreign == []
    assert not any(_carries_any(body, runs) for body in watch.bodies)
    assert max(len(body) for body in watch.bodies) < 20_000
    assert problems == []
    # Last: Chromium's full-page capture sets styles the page's policy reports in the console.
    _screenshot(page, "case-hash-drop-phone.png")
    page.goto("about:blank")
    context.close()
