"""Arabic is written right to left: in Chromium, the portal and the staff pages in Arabic are mirror
images of the English ones (what starts at the left edge in English starts at the right edge in
Arabic), nothing on the page overlaps anything else, and nothing scrolls sideways on a phone.  The
same layout checks run on the English pages, so a check that passed only because Arabic broke the
page would show.

Runs Debian's Chromium; skipped where it is missing, failed instead when ``HAVEN_TEST_REQUIRE_BROWSER=1``.
Set ``HAVEN_TEST_SCREENSHOTS=DIR`` to keep the screenshots.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.test_sharing_journey import PASSWORD, _screenshot, _sign_in

pytestmark = pytest.mark.usefixtures("transactional_db")

# Visible boxes that must not overlap one another (a box may contain another: a label its input).
_OVERLAPS = """(selector) => {
  const boxes = [];
  for (const el of document.querySelectorAll(selector)) {
    const r = el.getBoundingClientRect();
    // checkVisibility: not inside a closed <details>, display: none or visibility: hidden.
    if (r.width < 2 || r.height < 2 || !el.checkVisibility({visibilityProperty: true})) continue;
    // Nor inside a box made too small to show it (visually hidden text, a phone table's header).
    let clipped = false;
    for (let up = el.parentElement; up && !clipped; up = up.parentElement) {
      const box = up.getBoundingClientRect();
      clipped = (box.width < 2 || box.height < 2) && getComputedStyle(up).overflow !== "visible";
    }
    if (clipped) continue;
    boxes.push([el, r]);
  }
  const found = [];
  const name = (el) => el.tagName.toLowerCase()
    + (el.className ? "." + String(el.className).split(" ")[0] : "")
    + " “" + (el.textContent || el.value || "").trim().slice(0, 30) + "”";
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const [a, ra] = boxes[i], [b, rb] = boxes[j];
      if (a.contains(b) || b.contains(a)) continue;
      const w = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
      const h = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
      if (w > 1.5 && h > 1.5) found.push(name(a) + " overlaps " + name(b));
    }
  }
  return found;
}"""
CONTENT = "a, button, input, select, textarea, label, h1, h2, h3, th, td, p, dt, dd, summary, img"

# Where an element's box starts and ends, measured from the start edge of the page's direction.
_EDGES = """(selector) => {
  const el = document.querySelector(selector);
  if (!el) return null;
  const r = el.getBoundingClientRect();
  const width = document.documentElement.clientWidth;
  return document.dir === "rtl" ? [width - r.right, width - r.left] : [r.left, r.right];
}"""


def _layout_problems(page: Any, width: int) -> list[str]:
    problems = [f"{page.url}: {p}" for p in page.evaluate(_OVERLAPS, CONTENT)]
    scroll = page.evaluate("document.documentElement.scrollWidth")
    if scroll > width:
        problems.append(f"{page.url}: scrolls sideways ({scroll} px wide at {width})")
    return problems


def _name(path: str) -> str:
    return path.strip("/").replace("/", "-") or "home"


def _start_edge(page: Any, selector: str) -> float:
    edges = page.evaluate(_EDGES, selector)
    assert edges is not None, f"{selector} not on {page.url}"
    return float(edges[0])


def _end_edge(page: Any, selector: str) -> float:
    edges = page.evaluate(_EDGES, selector)
    assert edges is not None, f"{selector} not on {page.url}"
    return float(page.evaluate("document.documentElement.clientWidth") - edges[1])


def test_the_portal_in_arabic_is_the_mirror_of_the_english_one(browser: Any, live_server: Any) -> None:
    from django.utils import translation
    from playwright.sync_api import expect

    from haven.web.accounts.models import Organisation

    Organisation.objects.create(
        name="Centre", slug="centre", country="JO", phone="+962 6 000 0000", child_protection_info="110"
    )
    with translation.override("ar"):
        quick_exit = translation.gettext("Quick exit")
    assert quick_exit != "Quick exit"

    problems: list[str] = []
    for width in (360, 1024):
        context = browser.new_context(viewport={"width": width, "height": 800})
        page = context.new_page()
        edges: dict[str, dict[str, float]] = {}
        for language in ("en", "ar"):
            for path in ("/portal/", "/portal/submit/", "/portal/status/"):
                page.goto(f"{live_server.url}{path}?lang={language}")
                expect(page.locator("html")).to_have_attribute("dir", "rtl" if language == "ar" else "ltr")
                problems += _layout_problems(page, width)
                _screenshot(page, f"rtl-portal-{language}-{width}-{_name(path)}.png")
            page.goto(f"{live_server.url}/portal/?lang={language}")
            edges[language] = {
                "home starts": _start_edge(page, ".portal-home"),
                "quick exit ends": _end_edge(page, ".quick-exit"),
                "heading starts": _start_edge(page, "main h1"),
            }
        expect(page.get_by_role("link", name=quick_exit)).to_be_visible()
        # What sits at the left in English sits at the right in Arabic, as far from the edge.
        for what, english in edges["en"].items():
            assert abs(edges["ar"][what] - english) <= 2, (width, what, edges)
        # The quick exit really moved: in Arabic it is at the left of the screen.
        box = page.locator(".quick-exit").bounding_box()
        assert box is not None
        assert box["x"] < width / 2
        context.close()
    assert not problems, "\n".join(problems)


def test_the_staff_pages_in_arabic_mirror_the_english_ones(browser: Any, live_server: Any) -> None:
    from django.utils import translation
    from playwright.sync_api import expect

    from haven.web.accounts.models import Organisation, User
    from haven.web.cases import actions

    org = Organisation.objects.create(name="Amman Centre", slug="amman", country="JO", time_zone="Asia/Amman")
    User.objects.create_user(
        username="layla", password=PASSWORD, organisation=org, role="admin", first_name="Layla"
    )
    user = User.objects.get(username="layla")
    case = actions.create_case(actor=user)
    pages = ["/", "/cases/", f"/cases/{case.number}/", "/takedown/", "/monitoring/", "/accounts/centre/"]
    with translation.override("ar"):
        dashboard = translation.gettext("Dashboard")
    assert dashboard != "Dashboard"

    page = _sign_in(browser, live_server, "layla")
    problems: list[str] = []
    edges: dict[str, dict[str, dict[str, float]]] = {}
    for language in ("en", "ar"):
        if language == "ar":
            # The staff's own way to change language: the form in the header.
            page.goto(f"{live_server.url}/")
            page.locator("#language-select").select_option("ar")
            page.locator(".language-form button").click()
            expect(page.get_by_role("heading", name=dashboard)).to_be_visible()
        for width in (1280, 390):
            page.set_viewport_size({"width": width, "height": 900})
            for path in pages:
                page.goto(f"{live_server.url}{path}")
                expect(page.locator("html")).to_have_attribute("dir", "rtl" if language == "ar" else "ltr")
                problems += _layout_problems(page, width)
                _screenshot(page, f"rtl-staff-{language}-{width}-{_name(path)}.png")
            page.goto(f"{live_server.url}/cases/")
            edges.setdefault(language, {})[str(width)] = {
                "brand starts": _start_edge(page, ".brand a"),
                "tools end": _end_edge(page, ".site-tools"),
                "first column starts": _start_edge(page, "main table th"),
                "heading starts": _start_edge(page, "main h1"),
            }
    for width, english in edges["en"].items():
        for what, value in english.items():
            assert abs(edges["ar"][width][what] - value) <= 2, (width, what, edges)
    # And the brand really is at the right in Arabic.
    box = page.locator(".brand a").bounding_box()
    assert box is not None
    assert box["x"] > 390 / 2
    page.context.close()
    assert not problems, "\n".join(problems)
