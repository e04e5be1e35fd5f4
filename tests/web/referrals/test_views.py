"""The staff pages for referrals: the panel on the case page and the service directory.

Who may do what, that every write is an audited action, and that bad input changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import reverse

from haven.web.accounts.models import User
from haven.web.accounts.roles import Role
from haven.web.audit.models import AuditEvent, EventType
from haven.web.cases import actions as case_actions
from haven.web.cases.models import Case
from haven.web.referrals import actions
from haven.web.referrals.models import Referral, ReferralStatus, Service
from tests.web.accounts.twofactor import signed_in
from tests.web.conftest import Persona

ClientOf = Callable[[Persona], Client]

NOT_CONSENTED = "The survivor has not consented to this kind of referral."


def _events(kind: EventType) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event_type=kind))


def _consent(case: Case, persona: Persona, scope: str = "services", granted: bool = True) -> None:
    case_actions.record_consent(actor=persona.user, case=case, scope=scope, granted=granted, method="phone")


def _page(client: Client, case: Case) -> str:
    return client.get(reverse("cases:detail", args=[case.number])).content.decode()


def _panel(html: str) -> str:
    return html.split('id="referrals-panel"')[1].split("</section>")[0]


@pytest.fixture
def client_of() -> ClientOf:
    """A browser session of the persona that passed both sign-in steps."""
    return lambda persona: signed_in(persona.user)


@pytest.fixture
def legal_aid(admin: Persona) -> Service:
    return actions.add_service(actor=admin.user, kind="legal", name="Legal aid clinic", contact="02-000-0000")


@pytest.fixture
def police(admin: Persona) -> Service:
    return actions.add_service(actor=admin.user, kind="police", name="Cyber crime unit")


@pytest.fixture
def referral(case: Case, counsellor: Persona, legal_aid: Service) -> Referral:
    _consent(case, counsellor)
    return actions.refer(actor=counsellor.user, case=case, service=legal_aid)


@pytest.fixture
def everyone(
    counsellor: Persona,
    colleague: Persona,
    officer: Persona,
    analyst: Persona,
    admin: Persona,
    outsider: Persona,
) -> dict[str, Persona]:
    return {p.user.username: p for p in (counsellor, colleague, officer, analyst, admin, outsider)}


# --- access: every view, every persona ------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    name: str
    allowed: str  # a persona of the case's organisation that may use it
    forbidden: tuple[str, ...]  # personas of the same organisation whose role may not

    def url(self, case: Case, referral: Referral) -> str:
        if self.name == "refer":
            return reverse("referrals:refer", args=[case.number])
        return reverse("referrals:update", args=[case.number, referral.pk])

    def data(self, legal_aid: Service) -> dict[str, object]:
        if self.name == "refer":
            return {"service": legal_aid.pk}
        return {"status": "sent", "outcome": "Appointment on Monday"}


CASE_ENDPOINTS = [
    Endpoint("refer", "colleague", ("officer", "analyst")),
    Endpoint("update", "admin", ("officer", "analyst")),
]
ids = [e.name for e in CASE_ENDPOINTS]


def _state() -> tuple[object, ...]:
    """Everything a referral view could change."""
    return (
        AuditEvent.objects.count(),
        sorted(Referral.objects.values_list("pk", "status", "outcome")),
    )


@pytest.mark.parametrize("endpoint", CASE_ENDPOINTS, ids=ids)
def test_anonymous_visitors_are_sent_to_login(
    endpoint: Endpoint, case: Case, referral: Referral, legal_aid: Service
) -> None:
    before = _state()
    response = Client().post(endpoint.url(case, referral), endpoint.data(legal_aid))
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login") + "?next=")
    assert _state() == before


@pytest.mark.parametrize("endpoint", CASE_ENDPOINTS, ids=ids)
def test_the_right_role_gets_through_and_the_write_is_audited(
    endpoint: Endpoint,
    case: Case,
    referral: Referral,
    legal_aid: Service,
    everyone: dict[str, Persona],
    client_of: ClientOf,
) -> None:
    persona = everyone[endpoint.allowed]
    response = client_of(persona).post(endpoint.url(case, referral), endpoint.data(legal_aid))
    assert response.status_code == 302
    assert response.url == reverse("cases:detail", args=[case.number]) + "#referrals-panel"
    kind = EventType.REFERRAL_CREATED if endpoint.name == "refer" else EventType.REFERRAL_UPDATED
    [event] = AuditEvent.objects.filter(event_type=kind, actor=persona.user)
    assert event.object_id == str(case.pk)


@pytest.mark.parametrize("endpoint", CASE_ENDPOINTS, ids=ids)
def test_a_role_without_the_permission_gets_403_and_nothing_changes(
    endpoint: Endpoint,
    case: Case,
    referral: Referral,
    legal_aid: Service,
    everyone: dict[str, Persona],
    client_of: ClientOf,
) -> None:
    for name in endpoint.forbidden:
        before = _state()
        response = client_of(everyone[name]).post(endpoint.url(case, referral), endpoint.data(legal_aid))
        assert response.status_code == 403, name
        assert _state() == before


@pytest.mark.parametrize("endpoint", CASE_ENDPOINTS, ids=ids)
def test_the_outsider_gets_404_and_nothing_changes(
    endpoint: Endpoint,
    case: Case,
    referral: Referral,
    legal_aid: Service,
    outsider: Persona,
    client_of: ClientOf,
) -> None:
    before = _state()
    response = client_of(outsider).post(endpoint.url(case, referral), endpoint.data(legal_aid))
    assert response.status_code == 404
    assert "Legal aid clinic" not in response.content.decode()
    assert _state() == before


def test_each_view_declares_the_permission_it_needs() -> None:
    from haven.web.referrals import urls

    for pattern in urls.urlpatterns:
        assert hasattr(pattern.callback, "required_perm"), pattern.name


def test_the_views_accept_only_posts(
    case: Case, referral: Referral, counsellor: Persona, client_of: ClientOf
) -> None:
    client = client_of(counsellor)
    assert client.get(reverse("referrals:refer", args=[case.number])).status_code == 405
    assert client.get(reverse("referrals:update", args=[case.number, referral.pk])).status_code == 405


# --- the panel on the case page ----------------------------------------------------------------------


def test_the_case_page_lists_the_referrals_with_service_kind_status_outcome_and_dates(
    case: Case, referral: Referral, counsellor: Persona, client_of: ClientOf
) -> None:
    actions.update_referral(
        actor=counsellor.user, referral=referral, status=ReferralStatus.SENT, outcome="Letter faxed"
    )
    panel = _panel(_page(client_of(counsellor), case))
    assert "Legal aid clinic" in panel
    assert "Legal aid" in panel
    assert "02-000-0000" in panel
    assert 'class="status status--sent">Sent<' in panel
    assert "Letter faxed" in panel
    assert "counsellor" in panel  # who referred
    menu = panel.split('name="status"')[1].split("</select>")[0]
    assert 'value="accepted"' in menu
    assert 'value="declined"' in menu
    assert 'value="completed"' not in menu


def test_the_panel_says_when_there_are_no_referrals(
    case: Case, legal_aid: Service, counsellor: Persona, client_of: ClientOf
) -> None:
    panel = _panel(_page(client_of(counsellor), case))
    assert "No referrals yet." in panel
    assert "Legal aid clinic (Legal aid)" in panel


def test_a_deletion_officer_sees_referrals_but_no_forms(
    case: Case, referral: Referral, officer: Persona, client_of: ClientOf
) -> None:
    panel = _panel(_page(client_of(officer), case))
    assert "Legal aid clinic" in panel
    assert "<form" not in panel


def test_the_form_shows_clearly_which_referrals_the_survivor_has_not_consented_to(
    case: Case, legal_aid: Service, police: Service, counsellor: Persona, client_of: ClientOf
) -> None:
    client = client_of(counsellor)
    panel = _panel(_page(client, case))
    assert "has not consented to a referral to the police" in panel
    assert "has not consented to referrals to legal, medical" in panel
    assert "Cyber crime unit (Police) — not consented" in panel
    assert "Legal aid clinic (Legal aid) — not consented" in panel

    _consent(case, counsellor, "services")
    panel = _panel(_page(client, case))
    assert "has not consented to a referral to the police" in panel
    assert "has not consented to referrals to legal, medical" not in panel
    assert "Legal aid clinic (Legal aid)</option>" in panel


def test_the_consent_notes_name_only_kinds_the_directory_offers(
    case: Case, legal_aid: Service, counsellor: Persona, client_of: ClientOf
) -> None:
    panel = _panel(_page(client_of(counsellor), case))
    assert "referrals to legal, medical" in panel
    assert "referral to the police" not in panel


def test_a_referral_without_consent_is_refused_with_the_actions_message(
    case: Case, legal_aid: Service, counsellor: Persona, client_of: ClientOf
) -> None:
    response = client_of(counsellor).post(
        reverse("referrals:refer", args=[case.number]), {"service": legal_aid.pk}
    )
    assert response.status_code == 200
    assert NOT_CONSENTED in _panel(response.content.decode())
    assert not Referral.objects.exists()
    assert not _events(EventType.REFERRAL_CREATED)


def test_a_police_referral_needs_the_police_consent_even_with_the_services_consent(
    case: Case, police: Service, counsellor: Persona, client_of: ClientOf
) -> None:
    _consent(case, counsellor, "services")
    response = client_of(counsellor).post(
        reverse("referrals:refer", args=[case.number]), {"service": police.pk}
    )
    assert NOT_CONSENTED in response.content.decode()
    assert not Referral.objects.exists()


def test_the_refusal_reaches_the_panel_when_htmx_sends_the_form(
    case: Case, legal_aid: Service, counsellor: Persona, client_of: ClientOf
) -> None:
    response = client_of(counsellor).post(
        reverse("referrals:refer", args=[case.number]),
        {"service": legal_aid.pk},
        headers={"hx-request": "true"},
    )
    html = response.content.decode()
    assert 'id="referrals-panel"' in html
    assert 'hx-select="#referrals-panel"' in html
    assert NOT_CONSENTED in _panel(html)


def test_referring_with_consent_records_a_proposed_referral(
    case: Case, legal_aid: Service, counsellor: Persona, client_of: ClientOf
) -> None:
    _consent(case, counsellor)
    response = client_of(counsellor).post(
        reverse("referrals:refer", args=[case.number]), {"service": legal_aid.pk}, follow=True
    )
    referral = Referral.objects.get()
    assert (referral.case, referral.service, referral.status) == (case, legal_aid, ReferralStatus.PROPOSED)
    assert referral.created_by == counsellor.user
    html = response.content.decode()
    assert "Referral to Legal aid clinic recorded." in html
    assert "Referral made" in html.split('id="timeline-panel"')[1]
    [made] = _events(EventType.REFERRAL_CREATED)
    assert made.summary == {"referral": referral.pk, "kind": "legal"}


def test_a_service_must_be_chosen(
    case: Case, legal_aid: Service, counsellor: Persona, client_of: ClientOf
) -> None:
    response = client_of(counsellor).post(reverse("referrals:refer", args=[case.number]), {})
    assert "This field is required." in _panel(response.content.decode())
    assert not Referral.objects.exists()


@pytest.mark.parametrize(
    ("service", "message"),
    [
        ("999999", "Select a valid choice"),
        ("legal", "Select a valid choice"),
        ("{pk}\x00", "Null characters are not allowed."),
    ],
    ids=["unknown", "not-a-number", "nul"],
)
def test_a_service_that_is_not_in_the_directory_is_refused(
    case: Case, legal_aid: Service, counsellor: Persona, client_of: ClientOf, service: str, message: str
) -> None:
    _consent(case, counsellor)
    response = client_of(counsellor).post(
        reverse("referrals:refer", args=[case.number]), {"service": service.format(pk=legal_aid.pk)}
    )
    assert response.status_code == 200
    assert message in _panel(response.content.decode())
    assert not Referral.objects.exists()


def test_another_organisations_service_cannot_be_chosen(
    case: Case, legal_aid: Service, counsellor: Persona, outsider: Persona, client_of: ClientOf
) -> None:
    their_admin = User.objects.create_user(
        username="admin-b", password="x" * 20, organisation=outsider.user.organisation, role=Role.ADMIN
    )
    theirs = actions.add_service(actor=their_admin, kind="legal", name="Their clinic")
    _consent(case, counsellor)
    client = client_of(counsellor)
    assert "Their clinic" not in _page(client, case)
    response = client.post(reverse("referrals:refer", args=[case.number]), {"service": theirs.pk})
    assert "Select a valid choice" in response.content.decode()
    assert not Referral.objects.exists()


def test_a_referral_moves_to_its_next_status_with_an_outcome(
    case: Case, referral: Referral, colleague: Persona, client_of: ClientOf
) -> None:
    response = client_of(colleague).post(
        reverse("referrals:update", args=[case.number, referral.pk]),
        {"status": "sent", "outcome": "Called them; appointment on Monday"},
        follow=True,
    )
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.SENT
    assert referral.outcome == "Called them; appointment on Monday"
    assert "The referral to Legal aid clinic is now: Sent." in response.content.decode()
    [updated] = _events(EventType.REFERRAL_UPDATED)
    assert updated.summary == {"referral": referral.pk, "from": "proposed", "to": "sent"}
    assert updated.actor_id == colleague.user.pk


def test_a_status_the_referral_cannot_move_to_changes_nothing(
    case: Case, referral: Referral, counsellor: Persona, client_of: ClientOf
) -> None:
    response = client_of(counsellor).post(
        reverse("referrals:update", args=[case.number, referral.pk]), {"status": "completed"}
    )
    assert response.status_code == 200
    assert "Select a valid choice" in _panel(response.content.decode())
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.PROPOSED
    assert not _events(EventType.REFERRAL_UPDATED)


def test_a_finished_referral_has_no_update_form(
    case: Case, referral: Referral, counsellor: Persona, client_of: ClientOf
) -> None:
    actions.update_referral(actor=counsellor.user, referral=referral, status=ReferralStatus.DECLINED)
    panel = _panel(_page(client_of(counsellor), case))
    assert "Declined" in panel
    assert reverse("referrals:update", args=[case.number, referral.pk]) not in panel


@pytest.mark.parametrize(
    ("outcome", "message"),
    [
        ("Appointment\x00 Monday", "Null characters are not allowed."),
        ("x" * 501, "Ensure this value has at most 500 characters (it has 501)."),
    ],
    ids=["nul", "too-long"],
)
def test_a_bad_outcome_is_refused_and_nothing_changes(
    case: Case, referral: Referral, counsellor: Persona, client_of: ClientOf, outcome: str, message: str
) -> None:
    response = client_of(counsellor).post(
        reverse("referrals:update", args=[case.number, referral.pk]), {"status": "sent", "outcome": outcome}
    )
    assert response.status_code == 200
    panel = _panel(response.content.decode())
    assert message in panel
    assert '<details class="disclosure" open>' in panel  # the form with the error stays open
    referral.refresh_from_db()
    assert (referral.status, referral.outcome) == (ReferralStatus.PROPOSED, "")
    assert not _events(EventType.REFERRAL_UPDATED)


def test_a_referral_of_another_case_cannot_be_updated_through_this_one(
    case: Case, referral: Referral, counsellor: Persona, client_of: ClientOf
) -> None:
    other = case_actions.create_case(actor=counsellor.user)
    response = client_of(counsellor).post(
        reverse("referrals:update", args=[other.number, referral.pk]), {"status": "sent"}
    )
    assert response.status_code == 404
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.PROPOSED


# --- the service directory ---------------------------------------------------------------------------


@pytest.fixture
def their_admin(outsider: Persona) -> Persona:
    """An administrator of the outsider's organisation: may keep a directory, never ours."""
    user = User.objects.create_user(
        username="their-admin", password="x" * 20, organisation=outsider.user.organisation, role=Role.ADMIN
    )
    return Persona(user, "")


def _directory() -> list[tuple[object, ...]]:
    return sorted(Service.objects.values_list("pk", "kind", "name", "contact", "notes", "active"))


NEW_SERVICE = {
    "kind": "shelter",
    "name": "Night shelter",
    "contact": "02-111-2222",
    "notes": "Ask for Ms Kim",
}


def test_anonymous_visitors_are_sent_to_login_from_the_directory(legal_aid: Service) -> None:
    before = _directory()
    for response in (
        Client().get(reverse("referrals:services")),
        Client().post(reverse("referrals:services"), NEW_SERVICE),
        Client().post(reverse("referrals:deactivate", args=[legal_aid.pk])),
    ):
        assert response.status_code == 302
        assert response.url.startswith(reverse("accounts:login") + "?next=")
    assert _directory() == before


@pytest.mark.parametrize("name", ["counsellor", "officer", "analyst", "outsider"])
def test_only_administrators_may_open_or_change_the_directory(
    name: str, legal_aid: Service, everyone: dict[str, Persona], client_of: ClientOf
) -> None:
    client = client_of(everyone[name])
    before = (_directory(), AuditEvent.objects.count())
    assert client.get(reverse("referrals:services")).status_code == 403
    assert client.post(reverse("referrals:services"), NEW_SERVICE).status_code == 403
    assert client.post(reverse("referrals:deactivate", args=[legal_aid.pk])).status_code == 403
    assert (_directory(), AuditEvent.objects.count()) == before


def test_the_directory_lists_only_the_organisations_own_services(
    legal_aid: Service, admin: Persona, their_admin: Persona, client_of: ClientOf
) -> None:
    theirs = actions.add_service(actor=their_admin.user, kind="medical", name="Their hospital")
    ours = client_of(admin).get(reverse("referrals:services")).content.decode()
    assert "Legal aid clinic" in ours
    assert "02-000-0000" in ours
    assert theirs.name not in ours
    assert (
        "Legal aid clinic" not in client_of(their_admin).get(reverse("referrals:services")).content.decode()
    )


def test_another_organisations_admin_gets_404_deactivating_our_service(
    legal_aid: Service, their_admin: Persona, client_of: ClientOf
) -> None:
    before = (_directory(), AuditEvent.objects.count())
    response = client_of(their_admin).post(reverse("referrals:deactivate", args=[legal_aid.pk]))
    assert response.status_code == 404
    assert (_directory(), AuditEvent.objects.count()) == before


def test_an_administrator_adds_a_service_and_it_is_audited(admin: Persona, client_of: ClientOf) -> None:
    response = client_of(admin).post(reverse("referrals:services"), NEW_SERVICE, follow=True)
    service = Service.objects.get()
    assert (service.kind, service.name, service.contact, service.notes) == (
        "shelter",
        "Night shelter",
        "02-111-2222",
        "Ask for Ms Kim",
    )
    assert service.organisation == admin.user.organisation
    html = response.content.decode()
    assert "Night shelter added to the directory." in html
    assert "Ask for Ms Kim" in html
    [added] = _events(EventType.SERVICE_ADDED)
    assert (added.actor_id, added.object_id) == (admin.user.pk, str(service.pk))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "Night\x00shelter"}, "Null characters are not allowed."),
        ({"notes": "Ask for\x00 Ms Kim"}, "Null characters are not allowed."),
        ({"name": "x" * 201}, "Ensure this value has at most 200 characters (it has 201)."),
        ({"contact": "x" * 501}, "Ensure this value has at most 500 characters (it has 501)."),
        ({"name": "   "}, "This field is required."),
        ({"kind": "psychic"}, "Select a valid choice. psychic is not one of the available choices."),
    ],
    ids=["nul-name", "nul-notes", "long-name", "long-contact", "blank-name", "unknown-kind"],
)
def test_bad_input_for_a_new_service_is_refused_and_nothing_changes(
    admin: Persona, client_of: ClientOf, change: dict[str, str], message: str
) -> None:
    response = client_of(admin).post(reverse("referrals:services"), {**NEW_SERVICE, **change})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Service.objects.exists()
    assert not _events(EventType.SERVICE_ADDED)


def test_a_service_taken_out_of_use_is_no_longer_offered_but_its_referrals_stay(
    case: Case,
    referral: Referral,
    legal_aid: Service,
    admin: Persona,
    counsellor: Persona,
    client_of: ClientOf,
) -> None:
    # First it asks, and nothing changes.
    asked = client_of(admin).post(reverse("referrals:deactivate", args=[legal_aid.pk]))
    assert "Take Legal aid clinic out of use?" in asked.content.decode()
    legal_aid.refresh_from_db()
    assert legal_aid.active
    response = client_of(admin).post(
        reverse("referrals:deactivate", args=[legal_aid.pk]), {"confirm": "yes"}, follow=True
    )
    legal_aid.refresh_from_db()
    assert not legal_aid.active
    assert "Legal aid clinic is no longer offered for new referrals." in response.content.decode()
    [event] = _events(EventType.SERVICE_DEACTIVATED)
    assert (event.actor_id, event.object_id) == (admin.user.pk, str(legal_aid.pk))

    panel = _panel(_page(client_of(counsellor), case))
    assert "Legal aid clinic" in panel  # the referral made before
    assert f'value="{legal_aid.pk}"' not in panel  # but not in the menu
    refused = client_of(counsellor).post(
        reverse("referrals:refer", args=[case.number]), {"service": legal_aid.pk}
    )
    assert "Select a valid choice" in refused.content.decode()
    assert Referral.objects.count() == 1


def test_taking_a_service_out_of_use_twice_records_it_once(
    legal_aid: Service, admin: Persona, client_of: ClientOf
) -> None:
    client = client_of(admin)
    client.post(reverse("referrals:deactivate", args=[legal_aid.pk]), {"confirm": "yes"})
    response = client.post(reverse("referrals:deactivate", args=[legal_aid.pk]), {"confirm": "yes"})
    assert response.status_code == 302
    assert len(_events(EventType.SERVICE_DEACTIVATED)) == 1


def test_a_service_taken_out_of_use_can_be_put_back(
    legal_aid: Service, admin: Persona, counsellor: Persona, their_admin: Persona, client_of: ClientOf
) -> None:
    client_of(admin).post(reverse("referrals:deactivate", args=[legal_aid.pk]), {"confirm": "yes"})
    assert "Put back in use" in client_of(admin).get(reverse("referrals:services")).content.decode()
    assert client_of(counsellor).post(reverse("referrals:reactivate", args=[legal_aid.pk])).status_code == 403
    assert (
        client_of(their_admin).post(reverse("referrals:reactivate", args=[legal_aid.pk])).status_code == 404
    )
    legal_aid.refresh_from_db()
    assert not legal_aid.active
    response = client_of(admin).post(reverse("referrals:reactivate", args=[legal_aid.pk]), follow=True)
    assert "Legal aid clinic is offered for referrals again." in response.content.decode()
    legal_aid.refresh_from_db()
    assert legal_aid.active
    [event] = _events(EventType.SERVICE_REACTIVATED)
    assert event.actor_id == admin.user.pk


def test_the_deactivate_action_is_for_administrators_of_the_same_organisation(
    legal_aid: Service, counsellor: Persona, their_admin: Persona
) -> None:
    from django.core.exceptions import PermissionDenied

    from haven.web.core.errors import NotFound

    with pytest.raises(PermissionDenied):
        actions.deactivate_service(actor=counsellor.user, service=legal_aid)
    with pytest.raises(NotFound):
        actions.deactivate_service(actor=their_admin.user, service=legal_aid)
    legal_aid.refresh_from_db()
    assert legal_aid.active


def test_the_header_links_the_directory_for_administrators_only(
    case: Case, admin: Persona, counsellor: Persona, client_of: ClientOf
) -> None:
    link = f'href="{reverse("referrals:services")}"'
    assert link in client_of(admin).get(reverse("cases:dashboard")).content.decode()
    assert link not in client_of(counsellor).get(reverse("cases:dashboard")).content.decode()
    current = client_of(admin).get(reverse("referrals:services")).content.decode()
    assert f'{link} aria-current="page"' in current


def test_an_empty_directory_points_administrators_to_it(
    case: Case, admin: Persona, counsellor: Persona, client_of: ClientOf
) -> None:
    link = f'href="{reverse("referrals:services")}"'
    admin_panel = _panel(_page(client_of(admin), case))
    assert "no services in its directory yet" in admin_panel
    assert link in admin_panel
    assert link not in _panel(_page(client_of(counsellor), case))
