"""A reviewer works the monitoring queue in a real browser, by keyboard: J moves, V reveals, X rejects,
C confirms into the takedown desk; pictures stay blurred until asked for; the page passes axe.

The "site" scanned is a real web server on 127.0.0.1. Runs Debian's Chromium; skipped where it is
missing, failed when ``HAVEN_TEST_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.test import override_settings
from PIL import Image

from tests.browser.test_takedown_journey import _axe_problems
from tests.scan.site import TestSite, serve

PASSWORD = "a long passphrase for the review test"

pytestmark = pytest.mark.usefixtures("transactional_db")


@pytest.fixture(scope="module")
def forum() -> Iterator[TestSite]:
    yield from serve()


def _jpeg(image: Image.Image, quality: int = 80) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def test_a_reviewer_rejects_and_confirms_by_keyboard(
    browser: Any, live_server: Any, forum: TestSite, vectors: Path
) -> None:
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from playwright.sync_api import expect

    from haven.signals import pdq_hash
    from haven.web.accounts.models import Organisation, User
    from haven.web.audit.models import AuditEvent
    from haven.web.cases import actions as case_actions
    from haven.web.monitoring import actions
    from haven.web.monitoring.models import Candidate
    from haven.web.takedown.models import Sighting

    org = Organisation.objects.create(name="Busan Centre", slug="busan", country="KR", time_zone="Asia/Seoul")
    counsellor = User.objects.create_user(
        username="sora", password=PASSWORD, organisation=org, role="counsellor"
    )
    officer = User.objects.create_user(
        username="jun", password=PASSWORD, organisation=org, role="deletion_officer"
    )
    reviewer = User.objects.create_user(username="hana", password=PASSWORD, organisation=org, role="reviewer")
    device = TOTPDevice.objects.create(user=reviewer, name="phone", confirmed=True)

    photos = []
    for name in ("bridge-mods/aaa-orig.jpg", "misc-images/c.png"):
        with Image.open(vectors / "pdq" / name) as image:
            photos.append(image.convert("RGB"))
    case = case_actions.create_case(actor=counsellor, tfgbv_type="non_consensual_distribution")
    for scope in ("monitor", "takedown"):
        case_actions.record_consent(
            actor=counsellor, case=case, scope=scope, granted=True, method="in_person"
        )
    case_actions.add_content(
        actor=counsellor,
        case=case,
        items=[
            case_actions.HashInput(label=f"photo {n}", pdq=str(r.hash), quality=r.quality)
            for n, r in enumerate((pdq_hash(p) for p in photos), 1)
        ],
    )
    # Two re-posted copies (smaller, re-encoded) and an unrelated picture, on two pages.
    rng = np.random.default_rng(5)
    other = Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)).resize((400, 300))
    for n, picture in enumerate((photos[0], photos[1], other)):
        forum.put(
            f"/rv/img/{n}.jpg", _jpeg(picture.resize((picture.width // 2, picture.height // 2))), "image/jpeg"
        )
    forum.put("/rv/post/1", '<html><body><img src="/rv/img/0.jpg"><img src="/rv/img/2.jpg"></body></html>')
    forum.put("/rv/post/2", '<html><body><img src="/rv/img/1.jpg"></body></html>')
    start = forum.put(
        "/rv/", '<html><body><a href="/rv/post/1">1</a> <a href="/rv/post/2">2</a></body></html>'
    )

    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-GB")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    with override_settings(HAVEN_FETCH_ALLOW_LOOPBACK=True, HAVEN_FETCH_TIMEOUT_SECONDS=5):
        source = actions.save_source(
            actor=officer, data=actions.SourceInput(name="Forum", kind="crawl", target=start, depth=1)
        )
        # The scan runs its own event loop; Playwright's sync API holds one in this thread.
        with ThreadPoolExecutor(1) as pool:
            run = pool.submit(actions.execute_run, actions.queue_run(actor=officer, source=source)).result()
        assert run.status == "done", run.failure
        assert run.candidates == 2
        try:
            page.goto(f"{live_server.url}/")
            page.get_by_label("Username").fill("hana")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Continue").click()
            page.get_by_label("6-digit code").fill(f"{totp(device.bin_key):06d}")
            page.get_by_role("button", name="Verify and sign in").click()

            page.goto(f"{live_server.url}/monitoring/")
            expect(page.get_by_role("heading", name="Review matches")).to_be_visible()
            expect(page.get_by_text("2 matches wait for review.")).to_be_visible()
            problems = _axe_problems(page, "review")
            images = page.locator("img[data-sharp]")
            expect(images).to_have_count(2)
            # Blurred by default: no unblurred picture was asked for.
            assert all("sharp=1" not in (images.nth(i).get_attribute("src") or "") for i in range(2))
            assert AuditEvent.objects.filter(event_type="candidate.viewed").count() == 0

            page.keyboard.press("j")
            first = page.locator("[data-candidate]").nth(0)
            expect(first).to_be_focused()
            page.keyboard.press("v")
            expect(first.locator("img")).to_have_attribute("src", re.compile(r"\?sharp=1$"))
            page.wait_for_function(
                "() => { const i = document.querySelector('[data-candidate] img');"
                " return i.complete && i.naturalWidth > 0; }"
            )
            assert AuditEvent.objects.filter(event_type="candidate.viewed").count() == 1

            first_label = first.locator("h3").inner_text()
            page.keyboard.press("x")
            expect(page.get_by_text("Rejected: it will not be raised again for this case.")).to_be_visible()
            expect(page.get_by_text("1 match waits for review.")).to_be_visible()
            remaining = page.locator("[data-candidate]")
            expect(remaining).to_have_count(1)
            assert remaining.locator("h3").inner_text() != first_label

            page.keyboard.press("j")
            expect(remaining.nth(0)).to_be_focused()
            page.keyboard.press("c")
            expect(
                page.get_by_text(f"Confirmed: on the takedown desk for case {case.number}.")
            ).to_be_visible()
            expect(page.get_by_text("Nothing to review.")).to_be_visible()
        finally:
            page.close()
    assert sorted(Candidate.objects.values_list("state", flat=True)) == ["confirmed", "rejected"]
    sighting = Sighting.objects.get(case=case)
    assert sighting.source == "monitoring"
    assert sighting.state == "evidence"
    assert not errors
    assert not problems, "\n".join(problems)
