"""Two centres in a network, in a real browser: B's administrator watches the peers it imports
from (one of them failing), A's counsellor offers a case to B from the case page, B's counsellor
accepts it on the transfers page, and A's deletion officer accepts a find B reported; axe finds no
serious problem on these pages, in English and Korean, and the pages do not scroll sideways on a
phone.

Both centres live in the test database and talk over real HTTP through the live server, as in
``tests/web/federation``; what is not the point of a step is set up with the actions. Korean
wording is not relied on (translations may still be on their way): the pages are checked for
their ``lang`` and with axe.

Runs Debian's Chromium; skipped where it is missing, failed instead when ``HAVEN_TEST_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client, override_settings

from haven.web.accounts.actions import create_token
from haven.web.accounts.models import Organisation, User
from haven.web.accounts.roles import Role
from haven.web.cases import actions as cases
from haven.web.cases.matching import reset_content_index
from haven.web.cases.models import Case, CaseStatus
from haven.web.federation import actions as federation
from haven.web.federation.actions import transfers
from haven.web.federation.matching import reset_imported_index
from haven.web.federation.models import IncomingTransfer, OutgoingTransfer, Peer, ReceivedFind
from haven.web.sharing.actions import approve_case, create_partner
from haven.web.sharing.models import Partner
from haven.web.takedown.models import Sighting
from tests.browser.test_sharing_journey import PASSWORD, _axe_problems, _screenshot, _sign_in

pytestmark = pytest.mark.usefixtures("transactional_db")

PHONE = {"width": 390, "height": 844}
SEEN = "https://forum.example/thread/7/photo.jpg"


@dataclass
class Centres:
    """Centre A shares a case; Centre B imports A's feed (``peer``) with the keys A issued to it."""

    case: Case
    peer: Peer
    keys: dict[str, str]


@pytest.fixture(autouse=True)
def _fresh_index() -> Iterator[None]:
    # The in-memory indexes follow the database by version; a flushed database starts again at 0.
    reset_content_index()
    reset_imported_index()
    yield
    reset_content_index()
    reset_imported_index()


@pytest.fixture
def centres(live_server: Any) -> Iterator[Centres]:
    with override_settings(HAVEN_PEER_ALLOW_PRIVATE=True):
        a = Organisation.objects.create(
            name="Centre A", slug="centre-a", country="KR", time_zone="Asia/Seoul"
        )
        b = Organisation.objects.create(
            name="Centre B", slug="centre-b", country="DE", time_zone="Europe/Berlin"
        )
        people = {
            "a-admin": (a, Role.ADMIN),
            "a-counsellor": (a, Role.COUNSELLOR),
            "a-officer": (a, Role.DELETION_OFFICER),
            "b-admin": (b, Role.ADMIN),
            "b-counsellor": (b, Role.COUNSELLOR),
            "b-officer": (b, Role.DELETION_OFFICER),
        }
        for username, (org, role) in people.items():
            User.objects.create_user(username=username, password=PASSWORD, organisation=org, role=role)
        counsellor = User.objects.get(username="a-counsellor")
        case = cases.create_case(
            actor=counsellor,
            contact="010-1234-5678, text only after 6 pm",
            tfgbv_type="non_consensual_distribution",
            relationship="former_partner",
        )
        cases.record_consent(actor=counsellor, case=case, scope="share", granted=True, method="in_person")
        cases.add_content(
            actor=counsellor,
            case=case,
            items=[
                cases.HashInput(label="photo 1", pdq="f8" * 32, quality=92),
                cases.HashInput(label="photo 2", pdq="0e" * 32, quality=88),
            ],
        )
        assert approve_case(actor=counsellor, case=case) == 2
        _partner, keys = create_partner(
            actor=User.objects.get(username="a-admin"), organisation=a, name="Centre B", kind="centre"
        )
        peer = federation.add_peer(
            actor=User.objects.get(username="b-admin"),
            organisation=b,
            name="Centre A",
            url=live_server.url,
            keys=keys.as_dict(),
        )
        yield Centres(case=case, peer=peer, keys=keys.as_dict())


def _user(username: str) -> User:
    return User.objects.get(username=username)


def _switch_language(page: Any, code: str) -> None:
    """Through the language menu, found by its id: its label may be in either language."""
    from playwright.sync_api import expect

    page.locator("#language-select").select_option(code)
    page.locator(".language-form button[type=submit]").click()
    expect(page.locator("html")).to_have_attribute("lang", code)


def _sideways(page: Any, where: str) -> list[str]:
    """The page at phone width, as a problem if it scrolls sideways; the viewport is put back."""
    before = page.viewport_size
    page.set_viewport_size(PHONE)
    wide, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    page.set_viewport_size(before)
    return [f"{where} scrolls sideways at {inner} px ({wide} px wide)"] if wide > inner else []


def _closed_address() -> str:
    """An address on 127.0.0.1 where nothing listens: a connection there is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_an_administrator_sees_the_centres_of_the_network_and_a_failing_peers_error(
    browser: Any, live_server: Any, centres: Centres
) -> None:
    from playwright.sync_api import expect

    assert federation.fetch_peer(centres.peer.pk).error == ""
    problems: list[str] = []
    page = _sign_in(browser, live_server, "b-admin")

    page.get_by_role("link", name="Network", exact=True).click()
    expect(page.get_by_role("heading", name="Network of centres", exact=True)).to_be_visible()
    peers = page.locator("section[aria-labelledby=peers-heading]")
    row_a = peers.get_by_role("row").filter(has_text="Centre A")
    expect(row_a).to_contain_text(live_server.url)
    expect(row_a).to_contain_text("OK")
    expect(row_a.get_by_role("cell").nth(1)).to_have_text("2")  # the items imported
    expect(page.locator("section[aria-labelledby=centres-heading]")).to_contain_text(
        "No centre imports from us yet."
    )

    # A centre whose address refuses connections: added with the form, fetched once, failing.
    form = page.locator("section[aria-labelledby=peer-form-heading]")
    form.get_by_label("Name").fill("Centre C")
    form.get_by_label("Address").fill(_closed_address())
    form.get_by_label("Keys").fill(json.dumps(centres.keys))
    form.get_by_label("Fetch every (minutes)").fill("60")
    form.get_by_role("button", name="Add the centre").click()
    expect(page.locator("#messages")).to_contain_text("Centre C is added")
    page.get_by_role("button", name="Fetch now Centre C").click()
    row_c = (
        page.locator("section[aria-labelledby=peers-heading]").get_by_role("row").filter(has_text="Centre C")
    )
    expect(row_c).to_contain_text("Failing")
    failing = Peer.objects.get(name="Centre C")
    assert failing.last_error, "a refused connection left no error on the peer"
    expect(row_c).to_contain_text(failing.last_error)
    expect(page.locator("#messages")).to_contain_text(f"Centre C: {failing.last_error}")
    expect(page.locator("section[aria-labelledby=peers-heading]").get_by_role("row")).to_have_count(3)
    problems += _axe_problems(page, "network")
    problems += _sideways(page, "network")
    _screenshot(page, "federation-network.png")

    _switch_language(page, "ko")
    expect(page.locator("section[aria-labelledby=peers-heading]")).to_contain_text("Centre A")
    expect(page.locator("section[aria-labelledby=peers-heading]")).to_contain_text(failing.last_error)
    problems += _axe_problems(page, "network [ko]")
    problems += _sideways(page, "network [ko]")
    _screenshot(page, "federation-network-ko.png")
    page.context.close()

    # A's administrator sees B among the centres that import from A.
    page = _sign_in(browser, live_server, "a-admin")
    page.goto(f"{live_server.url}/federation/")
    importers = page.locator("section[aria-labelledby=centres-heading]")
    expect(importers.get_by_role("row").filter(has_text="Centre B").get_by_role("cell").nth(1)).to_have_text(
        "2"
    )  # the items shared
    expect(page.locator("section[aria-labelledby=peers-heading]")).to_contain_text(
        "This centre imports no other centre's bank yet."
    )
    page.context.close()
    assert not problems, "\n".join(problems)


def test_a_counsellor_offers_a_case_to_another_centre_from_the_case_page(
    browser: Any, live_server: Any, centres: Centres
) -> None:
    from playwright.sync_api import expect

    assert federation.fetch_peer(centres.peer.pk).error == ""  # the centres exchange their keys
    counsellor = _user("a-counsellor")
    cases.record_consent(
        actor=counsellor, case=centres.case, scope="transfer", granted=True, method="in_person"
    )
    problems: list[str] = []
    page = _sign_in(browser, live_server, "a-counsellor")
    page.goto(f"{live_server.url}/cases/{centres.case.number}/")

    panel = page.locator("#transfer-panel")
    expect(panel.get_by_role("heading", name="Transfer to another centre")).to_be_visible()
    panel.get_by_label(re.compile(r"^Centre\b")).select_option(label="Centre B")
    for part in ("Content hashes", "Incident classification", "Consent given"):
        expect(panel.get_by_label(part, exact=True)).to_be_checked()
    expect(panel.get_by_label("Contact details", exact=True)).not_to_be_checked()
    panel.get_by_role("button", name="Offer the case").click()
    expect(page.locator("#messages")).to_contain_text("The case is offered to Centre B.")
    revoke = page.locator("#transfer-panel").get_by_role("button", name="Revoke the offer Centre B")
    expect(revoke).to_be_visible()
    offer = OutgoingTransfer.objects.get()
    assert (offer.partner.name, offer.state) == ("Centre B", "offered")
    assert sorted(offer.parts) == ["classification", "consent", "hashes"]
    problems += _axe_problems(page, "case page, transfer panel")
    problems += _sideways(page, "case page")
    _screenshot(page, "federation-case-offered.png")

    _switch_language(page, "ko")
    offered = page.locator("#transfer-panel form[action$='/revoke/']")
    expect(offered).to_have_count(1)
    expect(page.locator("#transfer-panel")).to_contain_text("Centre B")
    problems += _axe_problems(page, "case page, transfer panel [ko]")
    problems += _sideways(page, "case page [ko]")
    _screenshot(page, "federation-case-offered-ko.png")

    # Until B accepts, the offer can be taken back.
    offered.get_by_role("button").click()
    expect(page.locator("#transfer-panel form[action$='/revoke/']")).to_have_count(0)
    offer.refresh_from_db()
    assert offer.state == "revoked"
    page.context.close()
    assert not problems, "\n".join(problems)


def test_the_receiving_centre_accepts_an_offer_and_gets_its_own_case(
    browser: Any, live_server: Any, centres: Centres
) -> None:
    from playwright.sync_api import expect

    assert federation.fetch_peer(centres.peer.pk).error == ""
    counsellor = _user("a-counsellor")
    cases.record_consent(
        actor=counsellor, case=centres.case, scope="transfer", granted=True, method="in_person"
    )
    transfers.offer_transfer(
        actor=counsellor, case=centres.case, partner=Partner.objects.get(name="Centre B")
    )
    assert federation.fetch_peer(centres.peer.pk).offers == 1
    problems: list[str] = []
    page = _sign_in(browser, live_server, "b-counsellor")

    page.get_by_role("link", name="Transfers", exact=True).click()
    expect(page.get_by_role("heading", name="Case transfers", exact=True)).to_be_visible()
    incoming = page.locator("section[aria-labelledby=incoming-heading]")
    row = incoming.get_by_role("row").filter(has_text="Centre A")
    expect(row.get_by_role("button", name="Accept Centre A")).to_be_visible()
    expect(row.get_by_role("button", name="Reject Centre A")).to_be_visible()
    problems += _axe_problems(page, "transfers")
    problems += _sideways(page, "transfers")
    _screenshot(page, "federation-transfers.png")

    _switch_language(page, "ko")
    expect(page.locator("section[aria-labelledby=incoming-heading]")).to_contain_text("Centre A")
    problems += _axe_problems(page, "transfers [ko]")
    problems += _sideways(page, "transfers [ko]")
    _screenshot(page, "federation-transfers-ko.png")
    _switch_language(page, "en")

    page.locator("section[aria-labelledby=incoming-heading]").get_by_role(
        "button", name="Accept Centre A"
    ).click()
    expect(page).to_have_url(re.compile(r"/cases/[^/]+/$"))
    made = IncomingTransfer.objects.get().case
    assert made is not None
    assert made.organisation.name == "Centre B"
    assert page.url.endswith(f"/cases/{made.number}/")
    expect(page.locator("#messages")).to_contain_text(f"The case is yours now: {made.number}.")
    expect(page.locator("#transfer-panel")).to_contain_text("This case came from Centre A")
    centres.case.refresh_from_db()
    assert centres.case.status == CaseStatus.TRANSFERRED
    assert OutgoingTransfer.objects.get().state == "accepted"
    page.context.close()
    assert not problems, "\n".join(problems)


def test_a_deletion_officer_accepts_a_find_another_centre_reported(
    browser: Any, live_server: Any, centres: Centres
) -> None:
    from playwright.sync_api import expect

    assert federation.fetch_peer(centres.peer.pk).items == 2
    b_officer = _user("b-officer")
    api = Client(headers={"Authorization": f"Bearer {create_token(actor=b_officer, user=b_officer)}"})
    looked_up = api.post("/api/v1/lookup", {"pdq": ["f8" * 32], "url": SEEN}, content_type="application/json")
    assert looked_up.status_code == 200, looked_up.content
    assert federation.deliver_finds().sent == 1
    assert ReceivedFind.objects.get().case_id == centres.case.pk
    problems: list[str] = []
    page = _sign_in(browser, live_server, "a-officer")
    page.goto(f"{live_server.url}/cases/{centres.case.number}/")

    panel = page.locator("#finds-panel")
    expect(panel.get_by_role("heading", name=re.compile("Found by other centres"))).to_be_visible()
    expect(panel.get_by_role("heading", name="Centre B: photo 1")).to_be_visible()
    expect(panel).to_contain_text(SEEN)
    expect(panel.get_by_role("button", name="Dismiss")).to_be_visible()
    problems += _axe_problems(page, "case page, finds panel")
    _switch_language(page, "ko")
    expect(page.locator("#finds-panel")).to_contain_text(SEEN)
    problems += _axe_problems(page, "case page, finds panel [ko]")
    _switch_language(page, "en")

    page.locator("#finds-panel").get_by_role("button", name="Accept as a sighting").click()
    expect(page.locator("#messages")).to_contain_text("The find is on the takedown desk as a sighting.")
    panel = page.locator("#finds-panel")
    expect(panel).to_contain_text("Accepted into the takedown desk")
    expect(panel).to_contain_text("On the takedown desk.")
    expect(panel.get_by_role("button")).to_have_count(0)
    assert ReceivedFind.objects.get().state == "accepted"
    assert Sighting.objects.get(case=centres.case).source == "centre"
    _screenshot(page, "federation-case-find-accepted.png")
    page.context.close()
    assert not problems, "\n".join(problems)
