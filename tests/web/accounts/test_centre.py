"""The centre's contacts for the survivor portal: kept by admins, audited, shown on every portal page."""

from __future__ import annotations

import pytest
from django.test import Client

from haven.web.accounts.models import Organisation
from haven.web.audit.models import AuditEvent, EventType
from tests.web.accounts.twofactor import signed_in
from tests.web.conftest import Persona

pytestmark = pytest.mark.django_db

CENTRE = "/accounts/centre/"
DETAILS = {
    "phone": "+82 2-735-8994",
    "opening_hours": "Mon–Fri 10:00–17:00",
    "emergency_numbers": "Police: 112\nWomen's emergency line: 1366",
    "child_protection_info": "Child protection: 1388",
    "portal_exit_url": "https://news.example.org/",
}


def test_an_admin_sets_the_contacts_and_every_portal_page_shows_them(
    admin: Persona, org_a: Organisation
) -> None:
    client = signed_in(admin.user)
    assert client.get(CENTRE).status_code == 200
    response = client.post(CENTRE, DETAILS, follow=True)
    assert "Saved" in response.content.decode()
    org_a.refresh_from_db()
    assert org_a.phone == "+82 2-735-8994"
    assert org_a.portal_exit_url == "https://news.example.org/"
    event = AuditEvent.objects.get(event_type=EventType.ORGANISATION_UPDATED)
    assert event.summary == {"fields": sorted(DETAILS)}  # which details, never what they say
    assert event.actor == admin.user
    for url in ("/portal/", "/portal/submit/", "/portal/status/"):
        page = Client().get(url).content.decode()
        assert 'href="tel:+8227358994"' in page, url
        assert "Mon–Fri 10:00–17:00" in page
        assert "Women&#x27;s emergency line: 1366" in page
        assert 'class="quick-exit" href="https://news.example.org/"' in page
    assert "Child protection: 1388" in Client().get("/portal/").content.decode()
    # Saving the same again changes nothing and records nothing.
    client.post(CENTRE, DETAILS)
    assert AuditEvent.objects.filter(event_type=EventType.ORGANISATION_UPDATED).count() == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("portal_exit_url", "http://news.example.org/"),
        ("portal_exit_url", "javascript:alert(1)"),
        ("portal_exit_url", "/portal/"),
        ("phone", "1" * 41),
        ("emergency_numbers", "x" * 501),
    ],
)
def test_bad_details_are_refused_and_change_nothing(
    admin: Persona, org_a: Organisation, field: str, value: str
) -> None:
    response = signed_in(admin.user).post(CENTRE, {**DETAILS, field: value})
    assert response.status_code == 200  # the form again, with the reason
    assert 'class="field-error' in response.content.decode() or "errorlist" in response.content.decode()
    org_a.refresh_from_db()
    assert (org_a.phone, org_a.portal_exit_url) == ("", "")
    assert not AuditEvent.objects.filter(event_type=EventType.ORGANISATION_UPDATED).exists()


@pytest.mark.parametrize("persona", ["counsellor", "analyst"])
def test_only_admins_may_change_them(persona: str, request: pytest.FixtureRequest) -> None:
    user = request.getfixturevalue(persona).user
    client = signed_in(user)
    assert client.get(CENTRE).status_code == 403
    assert client.post(CENTRE, DETAILS).status_code == 403
    assert user.organisation.phone == ""


def test_with_several_centres_the_portal_lists_each_and_exits_to_the_server_s_address(
    org_a: Organisation, org_b: Organisation, settings: object
) -> None:
    Organisation.objects.filter(pk=org_a.pk).update(phone="1366", portal_exit_url="https://a.example/")
    Organisation.objects.filter(pk=org_b.pk).update(phone="08000 116 016")
    page = Client().get("/portal/").content.decode()
    assert "Centre A" in page
    assert "Centre B" in page
    assert 'href="tel:08000116016"' in page
    # No one centre's choice applies to everybody's survivors.
    assert 'class="quick-exit" href="https://www.google.com/search?q=weather"' in page


def test_the_under_18_box_never_ends_in_an_empty_list(org_a: Organisation) -> None:
    page = Client().get("/portal/").content.decode()
    assert "You can also contact:" not in page
    Organisation.objects.filter(pk=org_a.pk).update(child_protection_info="Child protection: 1388")
    page = Client().get("/portal/").content.decode()
    assert "You can also contact:" in page
    assert "Child protection: 1388" in page
