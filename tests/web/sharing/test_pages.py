"""Staff pages for sharing, the survivor's status page, and the commands operators script."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import pytest
from django.test import Client

from haven.web.audit.models import AuditEvent, EventType
from haven.web.cases import actions as cases
from haven.web.cases.models import Case, ContentItem
from haven.web.core import commands
from haven.web.portal.models import PortalAccess
from haven.web.sharing import actions
from haven.web.sharing.models import Feedback, Partner, QuarantinedHash, SharedItem
from tests.web.conftest import Persona

from .conftest import PartnerClient, add_photos

# --- the case page ------------------------------------------------------------------------------


def test_the_case_page_shows_what_is_shared(
    counsellor: Persona, shared_case: Case, client_of: Callable[[Persona], Client]
) -> None:
    page = client_of(counsellor).get(f"/cases/{shared_case.number}/").content.decode()
    assert 'id="sharing-panel"' in page
    assert page.count("Withdraw from partners") == 2


def test_one_click_approves_an_item_and_another_withdraws_it(
    counsellor: Persona, case: Case, client_of: Callable[[Persona], Client], platform: PartnerClient
) -> None:
    cases.record_consent(actor=counsellor.user, case=case, scope="share", granted=True, method="phone")
    (item,) = add_photos(counsellor, case, 1)
    browser = client_of(counsellor)
    page = browser.get(f"/cases/{case.number}/").content.decode()
    assert "Approve for sharing" in page
    response = browser.post(f"/cases/{case.number}/sharing/approve/", {"item": item.pk}, follow=True)
    assert "1 picture is now shared with partners." in response.content.decode()
    assert SharedItem.objects.get(content_item=item).status == "active"
    platform.fetch_all()
    browser.post(f"/cases/{case.number}/sharing/{item.pk}/withdraw/")
    assert SharedItem.objects.get(content_item=item).status == "withdrawn"
    assert {r["hashStatus"] for r in platform.fetch_all()[0]} == {"Withdrawn"}


def test_bulk_approval_names_what_it_could_not_share(
    counsellor: Persona, case: Case, client_of: Callable[[Persona], Client]
) -> None:
    cases.record_consent(actor=counsellor.user, case=case, scope="share", granted=True, method="phone")
    add_photos(counsellor, case, 2)
    add_photos(counsellor, case, 1, quality=20)
    response = client_of(counsellor).post(f"/cases/{case.number}/sharing/approve/", follow=True)
    text = response.content.decode()
    assert "2 pictures are now shared with partners." in text
    assert "too weak to share" in text
    assert SharedItem.objects.filter(case=case, status="active").count() == 2


def test_approval_without_consent_says_why(
    counsellor: Persona, case: Case, client_of: Callable[[Persona], Client]
) -> None:
    add_photos(counsellor, case, 1)
    response = client_of(counsellor).post(f"/cases/{case.number}/sharing/approve/", follow=True)
    assert "has not agreed to share" in response.content.decode()
    assert not SharedItem.objects.exists()


def test_the_sharing_pages_refuse_outsiders_and_other_roles(
    outsider: Persona,
    analyst: Persona,
    reviewer: Persona,
    counsellor: Persona,
    shared_case: Case,
    client_of: Callable[[Persona], Client],
) -> None:
    item = ContentItem.objects.filter(case=shared_case).first()
    assert item is not None
    number = shared_case.number
    assert client_of(outsider).post(f"/cases/{number}/sharing/approve/").status_code == 404
    assert client_of(outsider).post(f"/cases/{number}/sharing/{item.pk}/withdraw/").status_code == 404
    assert client_of(analyst).post(f"/cases/{number}/sharing/approve/").status_code == 403
    assert client_of(reviewer).post(f"/cases/{number}/sharing/{item.pk}/withdraw/").status_code == 403
    assert client_of(counsellor).get("/sharing/partners/").status_code == 403
    assert client_of(analyst).get("/sharing/quarantine/").status_code == 403
    assert Client().get("/sharing/partners/").status_code == 302
    assert SharedItem.objects.filter(status="active").count() == 2


def test_feedback_shows_on_the_case_page_and_the_timeline(
    counsellor: Persona, shared_case: Case, platform: PartnerClient, client_of: Callable[[Persona], Client]
) -> None:
    item = ContentItem.objects.filter(case=shared_case).first()
    assert item is not None
    platform.fetch_all()
    actions.submit_feedback(
        partner=platform.partner, entries=[actions.FeedbackEntry(item.pdq, "Blocked", ("upload",))]
    )
    page = client_of(counsellor).get(f"/cases/{shared_case.number}/").content.decode()
    assert "Example Platform: Blocked" in page
    assert "Example Platform: blocked a copy" in page


# --- the survivor's status page -----------------------------------------------------------------


def _portal_case(counsellor: Persona, case: Case) -> str:
    from django.contrib.auth.hashers import Argon2PasswordHasher

    from haven.web.portal.actions import new_pin

    pin = new_pin()
    hasher = Argon2PasswordHasher()
    PortalAccess.objects.create(case=case, pin_hash=hasher.encode(pin, hasher.salt()))
    return pin


def test_the_portal_says_a_partner_blocked_a_copy(
    counsellor: Persona, shared_case: Case, platform: PartnerClient
) -> None:
    from django.core.cache import cache

    cache.clear()
    pin = _portal_case(counsellor, shared_case)
    item = ContentItem.objects.filter(case=shared_case).first()
    assert item is not None
    browser = Client()
    page = browser.post("/portal/status/", {"case_number": shared_case.number, "pin": pin}).content.decode()
    assert "Yes, 2 pictures" in page
    assert "blocked a copy" not in page
    platform.fetch_all()
    actions.submit_feedback(partner=platform.partner, entries=[actions.FeedbackEntry(item.pdq, "Blocked")])
    page = browser.post("/portal/status/", {"case_number": shared_case.number, "pin": pin}).content.decode()
    assert "A partner platform blocked a copy of one of your pictures." in page
    assert "Example Platform" not in page, "the survivor is told what happened, not which platform"
    assert not browser.cookies


# --- partners and quarantine pages --------------------------------------------------------------


def test_an_administrator_registers_a_partner_and_sees_the_keys_once(
    admin: Persona, client_of: Callable[[Persona], Client]
) -> None:
    browser = client_of(admin)
    response = browser.post(
        "/sharing/partners/",
        {"name": "Webhard One", "kind": "platform", "contact": "abuse@webhard.example", "allowed": ["fetch"]},
    )
    text = response.content.decode()
    partner = Partner.objects.get(name="Webhard One")
    assert (partner.allow_fetch, partner.allow_feedback, partner.allow_submit) == (True, False, False)
    keys = [line for line in text.split("<code>")[1:]]
    assert len(keys) == 4
    assert response["Cache-Control"].startswith("max-age=0")
    assert "hvk_" not in browser.get("/sharing/partners/").content.decode()
    browser.post(f"/sharing/partners/{partner.pk}/", {"action": "revoke"})
    partner.refresh_from_db()
    assert partner.revoked_at is not None


def test_partner_pages_refuse_another_organisations_partner(
    outsider: Persona, platform: PartnerClient, client_of: Callable[[Persona], Client]
) -> None:
    from haven.web.accounts.models import User

    admin_b = User.objects.create_user(
        username="admin-b", password="x" * 20, organisation=outsider.user.organisation, role="admin"
    )
    browser = client_of(Persona(admin_b, ""))
    assert browser.post(f"/sharing/partners/{platform.partner.pk}/", {"action": "revoke"}).status_code == 404
    assert "Example Platform" not in browser.get("/sharing/partners/").content.decode()
    platform.partner.refresh_from_db()
    assert platform.partner.revoked_at is None


def test_a_reviewer_empties_the_quarantine_from_its_page(
    reviewer: Persona, outsider: Persona, platform: PartnerClient, client_of: Callable[[Persona], Client]
) -> None:
    actions.submit_hashes(partner=platform.partner, entries=[actions.SubmittedHash("pdq", "ab" * 32)])
    entry = QuarantinedHash.objects.get()
    browser = client_of(reviewer)
    assert "ab" * 32 in browser.get("/sharing/quarantine/").content.decode()
    assert (
        client_of(outsider).post(f"/sharing/quarantine/{entry.pk}/", {"decision": "accept"}).status_code
        == 404
    )
    browser.post(f"/sharing/quarantine/{entry.pk}/", {"decision": "reject"})
    entry.refresh_from_db()
    assert entry.status == "rejected"


# --- commands -----------------------------------------------------------------------------------


def test_partner_create_prints_the_keys_as_json(org_a: object) -> None:
    out = io.StringIO()
    assert commands.partner_create("Tube", "centre-a", "platform", "", True, out=out) == 0
    keys = json.loads(out.getvalue())
    assert set(keys) == {"fetch_key", "feedback_key", "submit_key", "subscription_key"}
    assert actions.partner_for_keys(keys["subscription_key"], keys["fetch_key"], "fetch") is not None
    assert commands.partner_create("Tube", "centre-a", "platform", "", True, out=io.StringIO()) == 1
    assert commands.partner_create("Tube", "nowhere", "platform", "", True, out=io.StringIO()) == 1
    assert commands.partner_revoke("Tube", "centre-a", out=io.StringIO()) == 0
    assert actions.partner_for_keys(keys["subscription_key"], keys["fetch_key"], "fetch") is None


def test_sharing_approve_marks_every_share_consented_item(
    counsellor: Persona, case: Case, capsys: pytest.CaptureFixture[str]
) -> None:
    add_photos(counsellor, case, 3)
    assert commands.sharing_approve(case.number, out=io.StringIO()) == 1
    assert "not agreed" in capsys.readouterr().err
    cases.record_consent(actor=counsellor.user, case=case, scope="share", granted=True, method="phone")
    out = io.StringIO()
    assert commands.sharing_approve(case.number.lower(), out=out) == 0
    assert "3 item(s) now shared" in out.getvalue()
    assert SharedItem.objects.filter(case=case, status="active").count() == 3
    event = AuditEvent.objects.filter(event_type=EventType.SHARING_APPROVED).get()
    assert event.actor_label == "cli"
    assert commands.sharing_approve("HV-NONE-XXXX", out=io.StringIO()) == 1


def test_feedback_of_every_partner_is_kept_apart(
    shared_case: Case, make_partner: Callable[..., PartnerClient]
) -> None:
    first, second = make_partner("First"), make_partner("Second")
    item = ContentItem.objects.filter(case=shared_case).first()
    assert item is not None
    first.fetch_all()
    second.native_all()
    actions.submit_feedback(partner=first.partner, entries=[actions.FeedbackEntry(item.pdq, "Blocked")])
    actions.submit_feedback(partner=second.partner, entries=[actions.FeedbackEntry(item.pdq, "NotBlocked")])
    assert dict(Feedback.objects.values_list("partner__name", "value")) == {
        "First": "Blocked",
        "Second": "NotBlocked",
    }


def test_the_partner_command_takes_a_rate_limit(org_a: object, capsys: pytest.CaptureFixture[str]) -> None:
    from haven.cli import main

    assert (
        main(
            [
                "partner",
                "create",
                "Hotline",
                "--org",
                "centre-a",
                "--kind",
                "hotline",
                "--rate-limit",
                "5",
                "--json",
            ]
        )
        == 0
    )
    assert set(json.loads(capsys.readouterr().out)) == {
        "fetch_key",
        "feedback_key",
        "submit_key",
        "subscription_key",
    }
    partner = Partner.objects.get(name="Hotline")
    assert (partner.kind, partner.rate_limit) == ("hotline", 5)
    assert (
        main(["partner", "create", "Other", "--org", "centre-a", "--kind", "platform", "--rate-limit", "0"])
        == 1
    )
    assert "rate limit" in capsys.readouterr().err
