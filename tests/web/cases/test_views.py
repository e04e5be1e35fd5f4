"""The staff pages for cases: who may do what, and that every write goes through an audited action."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from html import escape

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from haven.web.accounts.models import User
from haven.web.audit.models import AuditEvent, EventType
from haven.web.cases import actions
from haven.web.cases.models import Case, CaseStatus, ConsentRecord, ContentItem
from tests.web.conftest import Persona

ClientOf = Callable[[Persona], Client]

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"
SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
HASH_LINE = json.dumps(
    {
        "path": "/home/counsellor/Survivor Name/beach.jpg",
        "pdq": PDQ,
        "quality": 87,
        "md5": MD5,
        "sha256": SHA256,
    }
)


def _events(kind: EventType) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event_type=kind))


def _add_item(case: Case, persona: Persona, label: str = "photo 1") -> ContentItem:
    return actions.add_content(
        actor=persona.user, case=case, items=[actions.HashInput(label=label, md5=MD5)]
    )[0]


# --- access: every view, every persona ------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    allowed: str  # a persona that may use it
    forbidden: str | None  # a persona of the same organisation whose role may not
    per_case: bool = True
    data: tuple[tuple[str, str], ...] = ()

    def url(self, case: Case, item: ContentItem | None = None) -> str:
        if self.name == "dashboard":
            return reverse("cases:dashboard")
        if self.name == "list":
            return reverse("cases:list")
        if self.name == "create":
            return reverse("cases:create")
        if self.name == "content_remove":
            assert item is not None
            return reverse("cases:content_remove", args=[case.number, item.pk])
        return reverse(f"cases:{self.name}", args=[case.number])


ENDPOINTS = [
    Endpoint("dashboard", "get", "counsellor", None, per_case=False),
    Endpoint("list", "get", "officer", "analyst", per_case=False),
    Endpoint("create", "get", "colleague", "officer", per_case=False),
    Endpoint("detail", "get", "officer", "analyst"),
    Endpoint("status", "post", "colleague", "officer", data=(("status", "active"),)),
    Endpoint("classification", "post", "admin", "officer", data=(("platforms", "another-site"),)),
    Endpoint("contact", "post", "colleague", "officer"),
    Endpoint(
        "consent",
        "post",
        "admin",
        "officer",
        data=(("scope", "monitor"), ("granted", "yes"), ("method", "phone")),
    ),
    Endpoint("content_paste", "post", "officer", "analyst", data=(("lines", HASH_LINE), ("label", "photo"))),
    Endpoint("content_add", "post", "officer", "analyst", data=(("label", "one"), ("md5", MD5))),
    Endpoint("content_remove", "post", "officer", "analyst"),
]
CASE_ENDPOINTS = [e for e in ENDPOINTS if e.per_case]
ids = [e.name for e in ENDPOINTS]
case_ids = [e.name for e in CASE_ENDPOINTS]


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


@pytest.fixture
def item(case: Case, counsellor: Persona) -> ContentItem:
    return _add_item(case, counsellor)


def _call(client: Client, endpoint: Endpoint, case: Case, item: ContentItem):
    url = endpoint.url(case, item)
    if endpoint.method == "get":
        return client.get(url)
    return client.post(url, dict(endpoint.data))


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ids)
def test_anonymous_visitors_are_sent_to_login(endpoint: Endpoint, case: Case, item: ContentItem) -> None:
    response = _call(Client(), endpoint, case, item)
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login") + "?next=")


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ids)
def test_a_password_without_the_second_factor_opens_nothing(
    endpoint: Endpoint, case: Case, item: ContentItem, counsellor: Persona
) -> None:
    client = Client()
    client.force_login(counsellor.user, backend="django.contrib.auth.backends.ModelBackend")
    response = _call(client, endpoint, case, item)
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:two_factor"))


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ids)
def test_the_right_role_gets_through(
    endpoint: Endpoint, case: Case, item: ContentItem, everyone: dict[str, Persona], client_of: ClientOf
) -> None:
    response = _call(client_of(everyone[endpoint.allowed]), endpoint, case, item)
    expected = 200 if endpoint.method == "get" or endpoint.name == "contact" else 302
    assert response.status_code == expected, response.content.decode()[:2000]


@pytest.mark.parametrize(
    "endpoint", [e for e in ENDPOINTS if e.forbidden], ids=[e.name for e in ENDPOINTS if e.forbidden]
)
def test_a_role_without_the_permission_gets_403(
    endpoint: Endpoint, case: Case, item: ContentItem, everyone: dict[str, Persona], client_of: ClientOf
) -> None:
    assert endpoint.forbidden is not None
    before = AuditEvent.objects.count()
    response = _call(client_of(everyone[endpoint.forbidden]), endpoint, case, item)
    assert response.status_code == 403
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize("endpoint", CASE_ENDPOINTS, ids=case_ids)
def test_the_outsider_gets_404_on_another_organisations_case(
    endpoint: Endpoint, case: Case, item: ContentItem, outsider: Persona, client_of: ClientOf
) -> None:
    before = AuditEvent.objects.count()
    response = _call(client_of(outsider), endpoint, case, item)
    assert response.status_code == 404
    assert AuditEvent.objects.count() == before
    html = response.content.decode()
    assert "Former partner" not in html
    assert "Page not found" in html


def test_each_view_declares_the_permission_it_needs() -> None:
    from haven.web.cases import urls

    for pattern in urls.urlpatterns:
        assert hasattr(pattern.callback, "required_perm"), pattern.name


# --- dashboard and list ----------------------------------------------------------------------------


def test_the_dashboard_shows_my_open_cases_follow_ups_and_counts(
    counsellor: Persona, colleague: Persona, outsider: Persona, client_of: ClientOf
) -> None:
    today = timezone.localdate()
    mine = actions.create_case(actor=counsellor.user, follow_up_on=today + dt.timedelta(days=7))
    due = actions.create_case(actor=colleague.user, follow_up_on=today - dt.timedelta(days=1))
    closed = actions.create_case(actor=counsellor.user, follow_up_on=today)
    actions.change_status(actor=counsellor.user, case=closed, status=CaseStatus.CLOSED)
    foreign = actions.create_case(actor=outsider.user, follow_up_on=today)

    html = client_of(counsellor).get(reverse("cases:dashboard")).content.decode()
    mine_section = html.split('id="mine-heading"')[1]
    due_section = html.split('id="due-heading"')[1].split('id="mine-heading"')[0]
    assert mine.number in mine_section
    assert due.number not in mine_section
    assert due.number in due_section
    assert closed.number not in html
    assert foreign.number not in html
    counts = html.split('id="counts-heading"')[1].split("</section>")[0]
    assert re.search(r'count__n">2</span> <span class="count__label">Intake', counts)
    assert re.search(r'count__n">1</span> <span class="count__label">Closed', counts)


def test_the_dashboard_and_the_list_show_cases_nobody_has_taken_on(
    counsellor: Persona, outsider: Persona, client_of: ClientOf
) -> None:
    from haven.web.portal.actions import submit_hashes

    taken = actions.create_case(actor=counsellor.user)
    waiting, _number, _pin = submit_hashes(
        organisation=counsellor.user.organisation, items=[{"pdq": "f" * 64, "quality": 90}], consents={}
    )
    foreign, _n, _p = submit_hashes(
        organisation=outsider.user.organisation, items=[{"md5": "a" * 32}], consents={}
    )
    client = client_of(counsellor)
    html = client.get(reverse("cases:dashboard")).content.decode()
    panel = html.split('id="unassigned-heading"')[1].split("</section>")[0]
    assert waiting.number in panel
    assert taken.number not in panel
    assert foreign.number not in html
    listed = client.get(reverse("cases:list"), {"assignee": "none"}).content.decode()
    assert waiting.number in listed
    assert taken.number not in listed
    assert foreign.number not in listed
    actions.update_case(actor=counsellor.user, case=waiting, assignee=counsellor.user)
    html = client.get(reverse("cases:dashboard")).content.decode()
    assert "Every open case has someone working on it." in html


def test_the_dashboard_tells_roles_without_case_access_so(analyst: Persona, client_of: ClientOf) -> None:
    response = client_of(analyst).get(reverse("cases:dashboard"))
    assert response.status_code == 200
    assert "does not include working on cases" in response.content.decode()


def test_the_case_list_finds_a_case_by_part_of_its_number(
    counsellor: Persona, case: Case, client_of: ClientOf
) -> None:
    other = actions.create_case(actor=counsellor.user)
    html = client_of(counsellor).get(reverse("cases:list"), {"q": case.number[3:7].lower()}).content.decode()
    assert case.number in html
    assert other.number not in html or other.number[3:7] == case.number[3:7]


def test_the_case_list_filters_by_status_type_and_my_cases(
    counsellor: Persona, colleague: Persona, client_of: ClientOf
) -> None:
    filming = actions.create_case(actor=counsellor.user, tfgbv_type="illegal_filming")
    deepfake = actions.create_case(actor=colleague.user, tfgbv_type="synthetic_imagery")
    actions.change_status(actor=colleague.user, case=deepfake, status=CaseStatus.ACTIVE)
    client = client_of(counsellor)
    url = reverse("cases:list")

    by_status = client.get(url, {"status": "active"}).content.decode()
    assert deepfake.number in by_status
    assert filming.number not in by_status
    by_type = client.get(url, {"tfgbv_type": "illegal_filming"}).content.decode()
    assert filming.number in by_type
    assert deepfake.number not in by_type
    by_me = client.get(url, {"assignee": "me"}).content.decode()
    assert filming.number in by_me
    assert deepfake.number not in by_me


def test_the_case_list_never_shows_another_organisations_cases(
    counsellor: Persona, outsider: Persona, case: Case, client_of: ClientOf
) -> None:
    html = client_of(outsider).get(reverse("cases:list")).content.decode()
    assert case.number not in html


def test_the_case_list_is_paginated(counsellor: Persona, client_of: ClientOf) -> None:
    numbers = [actions.create_case(actor=counsellor.user).number for _ in range(27)]
    client = client_of(counsellor)
    first = client.get(reverse("cases:list"), {"status": "intake"}).content.decode()
    second = client.get(reverse("cases:list"), {"status": "intake", "page": 2}).content.decode()
    assert sum(n in first for n in numbers) == 25
    assert sum(n in second for n in numbers) == 2
    assert "Page 1 of 2" in first
    assert "?status=intake&amp;page=2" in first


# --- creating a case ---------------------------------------------------------------------------------


def test_creating_a_case_encrypts_the_contact_and_is_audited(
    counsellor: Persona, colleague: Persona, client_of: ClientOf
) -> None:
    response = client_of(counsellor).post(
        reverse("cases:create"),
        {
            "contact": "Signal only, after 6 pm",
            "notes": "Referred by the school counsellor",
            "tfgbv_type": "sextortion",
            "relationship": "online_contact",
            "platforms": "chat-app",
            "follow_up_on": "2030-01-15",
            "assignee": colleague.user.pk,
        },
    )
    case = Case.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("cases:detail", args=[case.number])
    assert case.assignee == colleague.user
    assert case.tfgbv_type == "sextortion"
    assert case.follow_up_on == dt.date(2030, 1, 15)
    assert b"Signal only" not in bytes(case.contact_encrypted)
    assert actions.reveal_secrets(actor=counsellor.user, case=case).contact == "Signal only, after 6 pm"
    [created] = _events(EventType.CASE_CREATED)
    assert created.object_id == str(case.pk)
    assert created.actor_id == counsellor.user.pk


def test_a_case_cannot_be_assigned_to_another_organisations_counsellor(
    counsellor: Persona, outsider: Persona, client_of: ClientOf
) -> None:
    response = client_of(counsellor).post(reverse("cases:create"), {"assignee": outsider.user.pk})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Case.objects.exists()


def test_the_assignee_menu_lists_only_colleagues_who_work_on_cases(
    counsellor: Persona, colleague: Persona, analyst: Persona, outsider: Persona, client_of: ClientOf
) -> None:
    html = client_of(counsellor).get(reverse("cases:create")).content.decode()
    menu = html.split('name="assignee"')[1].split("</select>")[0]
    assert "colleague" in menu
    assert "analyst" not in menu
    assert "outsider" not in menu


def test_a_child_protection_case_shows_the_notice(counsellor: Persona, client_of: ClientOf) -> None:
    client = client_of(counsellor)
    form = client.get(reverse("cases:create")).content.decode()
    assert "notice--when-minor" in form
    response = client.post(reverse("cases:create"), {"minor_when_made": "on"}, follow=True)
    case = Case.objects.get()
    assert case.minor_when_made
    assert case.child_protection
    html = response.content.decode()
    assert 'class="notice notice--alert" role="note"' in html
    assert "child sexual abuse material" in html


# --- the case page ---------------------------------------------------------------------------------


def test_the_case_page_shows_the_summary_but_not_the_contact_details(
    counsellor: Persona, case: Case, client_of: ClientOf
) -> None:
    html = client_of(counsellor).get(reverse("cases:detail", args=[case.number])).content.decode()
    assert case.number in html
    assert "Non-consensual distribution" in html
    assert "Former partner" in html
    assert "010-1234-5678" not in html
    assert "Show contact details" in html
    assert not _events(EventType.CONTACT_VIEWED)


def test_showing_contact_details_reveals_them_once_and_is_audited(
    counsellor: Persona, colleague: Persona, case: Case, client_of: ClientOf
) -> None:
    client = client_of(colleague)
    response = client.post(reverse("cases:contact", args=[case.number]))
    html = response.content.decode()
    assert "010-1234-5678, text only after 6 pm" in html
    assert "first contact by phone" in html
    assert "no-store" in response["Cache-Control"]
    [viewed] = _events(EventType.CONTACT_VIEWED)
    assert viewed.actor_id == colleague.user.pk
    assert viewed.object_id == str(case.pk)
    assert "010-1234-5678" not in client.get(reverse("cases:detail", args=[case.number])).content.decode()


def test_a_deletion_officer_sees_hashes_but_no_contact_or_consent_controls(
    officer: Persona, case: Case, item: ContentItem, client_of: ClientOf
) -> None:
    html = client_of(officer).get(reverse("cases:detail", args=[case.number])).content.decode()
    assert MD5 in html
    assert "Show contact details" not in html
    assert f'action="/cases/{case.number}/consent/"' not in html
    assert f'action="/cases/{case.number}/status/"' not in html
    assert f'action="/cases/{case.number}/content/paste/"' in html


def test_the_status_changes_along_an_allowed_transition(
    counsellor: Persona, case: Case, client_of: ClientOf
) -> None:
    client = client_of(counsellor)
    page = client.get(reverse("cases:detail", args=[case.number])).content.decode()
    menu = page.split('name="status"')[1].split("</select>")[0]
    assert 'value="active"' in menu
    assert 'value="closed"' in menu
    assert 'value="monitoring"' not in menu
    response = client.post(reverse("cases:status", args=[case.number]), {"status": "active"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == CaseStatus.ACTIVE
    [changed] = _events(EventType.CASE_STATUS_CHANGED)
    assert changed.summary == {"from": "intake", "to": "active"}


def test_a_transition_that_is_not_allowed_changes_nothing(
    counsellor: Persona, case: Case, client_of: ClientOf
) -> None:
    response = client_of(counsellor).post(
        reverse("cases:status", args=[case.number]), {"status": "monitoring"}
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    case.refresh_from_db()
    assert case.status == CaseStatus.INTAKE
    assert not _events(EventType.CASE_STATUS_CHANGED)


def test_editing_the_classification_saves_only_what_changed(
    counsellor: Persona, colleague: Persona, case: Case, client_of: ClientOf
) -> None:
    client = client_of(counsellor)
    url = reverse("cases:classification", args=[case.number])
    same = {
        "tfgbv_type": case.tfgbv_type,
        "relationship": case.relationship,
        "platforms": case.platforms,
        "assignee": counsellor.user.pk,
    }
    client.post(url, same)
    assert not _events(EventType.CASE_UPDATED)
    response = client.post(url, {**same, "tfgbv_type": "synthetic_imagery", "assignee": colleague.user.pk})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.tfgbv_type == "synthetic_imagery"
    assert case.dsa_category == "NON_CONSENSUAL_MATERIAL_DEEPFAKE"
    assert case.assignee == colleague.user
    [updated] = _events(EventType.CASE_UPDATED)
    assert updated.summary == {"fields": ["assignee", "tfgbv_type"]}


def test_recording_consent_from_the_page_grants_it(
    counsellor: Persona, case: Case, client_of: ClientOf
) -> None:
    response = client_of(counsellor).post(
        reverse("cases:consent", args=[case.number]),
        {"scope": "monitor", "granted": "yes", "method": "in_person", "note": "signed form"},
        follow=True,
    )
    assert actions.current_consent(case)["monitor"] is True
    assert "Consent recorded" in response.content.decode()
    [granted] = _events(EventType.CONSENT_GRANTED)
    assert granted.summary == {"scope": "monitor", "method": "in_person"}
    assert ConsentRecord.objects.get().note == "signed form"


def test_withdrawing_monitoring_consent_from_the_page_takes_effect(
    counsellor: Persona, case: Case, client_of: ClientOf
) -> None:
    actions.record_consent(actor=counsellor.user, case=case, scope="monitor", granted=True, method="phone")
    response = client_of(counsellor).post(
        reverse("cases:consent", args=[case.number]),
        {"scope": "monitor", "granted": "no", "method": "phone"},
        headers={"hx-request": "true"},
        follow=True,
    )
    assert actions.current_consent(case)["monitor"] is False
    html = response.content.decode()
    assert "no longer match in monitoring" in html
    assert 'id="consent-panel"' in html
    assert len(_events(EventType.CONSENT_WITHDRAWN)) == 1


def test_a_consent_form_without_a_decision_changes_nothing(
    counsellor: Persona, case: Case, client_of: ClientOf
) -> None:
    response = client_of(counsellor).post(
        reverse("cases:consent", args=[case.number]), {"scope": "monitor", "method": "phone"}
    )
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not ConsentRecord.objects.exists()


def test_pasting_haven_hash_output_adds_the_pictures_without_their_file_names(
    counsellor: Persona, case: Case, client_of: ClientOf
) -> None:
    second = json.dumps({"path": "b.png", "md5": "0" * 32, "pdq_dihedral": [], "quality": 40, "pdq": PDQ})
    response = client_of(counsellor).post(
        reverse("cases:content_paste", args=[case.number]),
        {"lines": f"{HASH_LINE}\n\n{second}\n", "label": "photo"},
        follow=True,
    )
    items = list(ContentItem.objects.filter(case=case).order_by("id"))
    assert [i.label for i in items] == ["photo 1", "photo 2"]
    assert (items[0].pdq, items[0].quality, items[0].md5, items[0].sha256) == (PDQ, 87, MD5, SHA256)
    html = response.content.decode()
    assert "2 pictures added." in html
    assert "Survivor Name" not in html
    assert "beach" not in json.dumps([i.label for i in items])
    [added] = _events(EventType.CONTENT_ADDED)
    assert added.summary == {"items": [i.pk for i in items]}


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ('{"pdq": "abc"', "Line 1 is not valid JSON."),
        (f"{HASH_LINE}\nnot json", "Line 2 is not valid JSON."),
        ('{"pdq": "' + "z" * 64 + '"}', "Line 1: the PDQ hash must be 64 hexadecimal characters"),
        ('{"md5": "' + "a" * 31 + '"}', "Line 1: the MD5 digest must be 32 hexadecimal characters"),
        ('{"sha256": 12}', "Line 1: the SHA-256 digest must be 64 hexadecimal characters"),
        ('{"path": "x.jpg"}', "Line 1 has no hash"),
        ('{"path": "x.jpg", "error": "not an image"}', "Line 1 is a picture that could not be hashed."),
        ("[1, 2]", "Line 1 is not a hash record."),
        (
            json.dumps({"pdq": PDQ, "quality": 101}),
            "Line 1: the quality must be a whole number from 0 to 100.",
        ),
        ("  \n ", "This field is required."),
    ],
)
def test_pasting_malformed_lines_shows_a_clear_error_and_adds_nothing(
    counsellor: Persona, case: Case, client_of: ClientOf, lines: str, message: str
) -> None:
    response = client_of(counsellor).post(
        reverse("cases:content_paste", args=[case.number]), {"lines": lines, "label": "photo"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert escape(lines.strip()[:20]) in html  # what was pasted stays in the box
    assert not ContentItem.objects.exists()
    assert not _events(EventType.CONTENT_ADDED)


def test_a_paste_with_good_and_bad_lines_marks_each_bad_line_and_waits_for_confirmation(
    counsellor: Persona, case: Case, client_of: ClientOf
) -> None:
    good_two = json.dumps({"path": "b.png", "md5": "0" * 32})
    lines = f'{HASH_LINE}\nnot json\n{good_two}\n{{"path": "x.jpg"}}'
    url = reverse("cases:content_paste", args=[case.number])
    client = client_of(counsellor)
    html = client.post(url, {"lines": lines, "label": "photo"}).content.decode()
    # Each bad line named at the field, the box still full, nothing added yet.
    field = html.split('id="id_lines_error"')[1].split("</ul>")[0] if 'id="id_lines_error"' in html else html
    assert "Line 2 is not valid JSON." in field
    assert "Line 4 has no hash" in field
    assert "not json" in html
    assert "Add the 2 good lines only" in html
    assert not ContentItem.objects.exists()

    html = client.post(url, {"lines": lines, "label": "photo", "confirm": "on"}).content.decode()
    assert [i.label for i in ContentItem.objects.order_by("id")] == ["photo 1", "photo 2"]
    assert "2 pictures added." in html
    assert "2 lines were left out; they are still in the box." in html
    box = html.split('name="lines"')[1].split("</textarea>")[0]
    assert "not json" in box
    assert "b.png" not in box  # the added lines left the box
    [added] = _events(EventType.CONTENT_ADDED)
    assert len(added.summary["items"]) == 2


def test_confirming_a_paste_of_only_bad_lines_adds_nothing(
    counsellor: Persona, case: Case, client_of: ClientOf
) -> None:
    response = client_of(counsellor).post(
        reverse("cases:content_paste", args=[case.number]),
        {"lines": "not json\n[1]", "label": "photo", "confirm": "on"},
    )
    html = response.content.decode()
    assert "Line 1 is not valid JSON." in html
    assert "Line 2 is not a hash record." in html
    assert "good line" not in html
    assert not ContentItem.objects.exists()


def test_hashes_already_on_the_case_are_reported_and_not_added_again(
    counsellor: Persona, case: Case, client_of: ClientOf
) -> None:
    client = client_of(counsellor)
    url = reverse("cases:content_paste", args=[case.number])
    client.post(url, {"lines": HASH_LINE, "label": "photo"})
    other = json.dumps({"path": "c.png", "md5": "1" * 32})
    # The same picture again (and once more in the same paste), beside a new one.
    html = client.post(url, {"lines": f"{HASH_LINE}\n{other}\n{other}", "label": "photo"}, follow=True)
    text = html.content.decode()
    assert "1 picture added." in text
    assert "Line 1: already on the case as “photo 1”, so not added again." in text
    # Labels are given before the check (photo 2 is the line left out, photo 3 the new picture).
    assert "Line 3: already on the case as “photo 3”, so not added again." in text
    assert ContentItem.objects.filter(case=case).count() == 2
    # Typing the hashes of a picture already there adds nothing either.
    response = client.post(
        reverse("cases:content_add", args=[case.number]), {"label": "again", "md5": "1" * 32}, follow=True
    )
    assert "These hashes: already on the case as “photo 3”, so not added again." in response.content.decode()
    assert ContentItem.objects.filter(case=case).count() == 2
    assert len(_events(EventType.CONTENT_ADDED)) == 2  # nothing added, nothing recorded


def test_a_picture_that_adds_a_new_hash_is_not_a_duplicate(counsellor: Persona, case: Case) -> None:
    first = actions.add_content(actor=counsellor.user, case=case, items=[actions.HashInput("a", md5=MD5)])
    # The same MD5 with a SHA-256 the case does not hold: a different record, kept.
    added = actions.add_content_once(
        actor=counsellor.user, case=case, items=[actions.HashInput("b", md5=MD5, sha256=SHA256)]
    )
    assert len(added.created) == 1
    assert added.duplicates == []
    # Its MD5 alone is held by both now; once both are removed, it may be added back.
    assert (
        actions.add_content(actor=counsellor.user, case=case, items=[actions.HashInput("c", md5=MD5)]) == []
    )
    actions.remove_content(actor=counsellor.user, item=first[0])
    actions.remove_content(actor=counsellor.user, item=added.created[0])
    again = actions.add_content_once(
        actor=counsellor.user, case=case, items=[actions.HashInput("c", md5=MD5)]
    )
    assert len(again.created) == 1


def test_a_pasted_video_line_keeps_its_frame_hashes(
    counsellor: Persona, case: Case, client_of: ClientOf
) -> None:
    frames = [[0, 100, PDQ, 0.0], [1, 90, PDQ, 1.0]]
    video = json.dumps({"kind": "video", "md5": MD5, "sha256": SHA256, "video_frames": frames})
    url = reverse("cases:content_paste", args=[case.number])
    response = client_of(counsellor).post(url, {"lines": video, "label": "clip"})
    assert response.status_code == 302
    item = ContentItem.objects.get()
    assert (item.kind, item.video_frames, item.pdq) == ("video", frames, "")
    # Frame hashes on a photo, or an unknown kind, are refused with the line named.
    for bad in (
        json.dumps({"md5": "1" * 32, "video_frames": frames}),
        json.dumps({"kind": "audio", "md5": "1" * 32}),
    ):
        html = client_of(counsellor).post(url, {"lines": bad, "label": "clip"}).content.decode()
        assert "Line 1: a picture is a photo, or a video with its frame hashes." in html
    assert ContentItem.objects.count() == 1


def test_pasted_dihedral_hashes_are_kept(counsellor: Persona, case: Case, client_of: ClientOf) -> None:
    dihedral = [PDQ] + [f"{n:064x}" for n in range(1, 8)]
    line = json.dumps({"path": "x.jpg", "pdq": PDQ, "quality": 80, "md5": MD5, "pdq_dihedral": dihedral})
    response = client_of(counsellor).post(
        reverse("cases:content_paste", args=[case.number]), {"lines": line, "label": "photo"}
    )
    assert response.status_code == 302
    assert ContentItem.objects.get().pdq_dihedral == dihedral


def test_an_action_refusal_is_shown_on_the_form(counsellor: Persona, case: Case, client_of: ClientOf) -> None:
    # Dihedral hashes that do not start with the PDQ hash pass the form's checks; the action refuses them.
    line = json.dumps({"pdq": PDQ, "pdq_dihedral": ["0" * 64] * 8})
    response = client_of(counsellor).post(
        reverse("cases:content_paste", args=[case.number]), {"lines": line, "label": "photo"}
    )
    assert "Dihedral hashes must be 8, starting with the PDQ hash itself." in response.content.decode()
    assert not ContentItem.objects.exists()


def test_one_picture_can_be_added_by_typing_its_hashes(
    officer: Persona, case: Case, client_of: ClientOf
) -> None:
    response = client_of(officer).post(
        reverse("cases:content_add", args=[case.number]),
        {"label": "screenshot", "pdq": PDQ.upper(), "quality": "90", "sha256": SHA256},
    )
    assert response.status_code == 302
    item = ContentItem.objects.get()
    assert (item.label, item.pdq, item.quality, item.sha256, item.md5) == ("screenshot", PDQ, 90, SHA256, "")
    assert len(_events(EventType.CONTENT_ADDED)) == 1


def test_typing_a_wrong_hex_hash_shows_the_error_next_to_the_field(
    officer: Persona, case: Case, client_of: ClientOf
) -> None:
    response = client_of(officer).post(
        reverse("cases:content_add", args=[case.number]), {"label": "screenshot", "md5": "xyz"}
    )
    html = response.content.decode()
    assert "The MD5 digest must be 32 hexadecimal characters" in html
    assert 'aria-invalid="true"' in html
    assert not ContentItem.objects.exists()


def test_a_picture_needs_at_least_one_hash(officer: Persona, case: Case, client_of: ClientOf) -> None:
    response = client_of(officer).post(reverse("cases:content_add", args=[case.number]), {"label": "nothing"})
    assert "Give at least one hash: PDQ, MD5 or SHA-256." in response.content.decode()
    assert not ContentItem.objects.exists()


def test_removing_a_picture_is_audited(
    counsellor: Persona, case: Case, item: ContentItem, client_of: ClientOf
) -> None:
    response = client_of(counsellor).post(
        reverse("cases:content_remove", args=[case.number, item.pk]), follow=True
    )
    item.refresh_from_db()
    assert item.removed_at is not None
    assert "1 removed picture is not shown." in response.content.decode()
    [removed] = _events(EventType.CONTENT_REMOVED)
    assert removed.summary == {"items": [item.pk]}


def test_a_picture_of_another_case_cannot_be_removed_through_this_one(
    counsellor: Persona, case: Case, client_of: ClientOf
) -> None:
    other = actions.create_case(actor=counsellor.user)
    item = _add_item(other, counsellor)
    response = client_of(counsellor).post(reverse("cases:content_remove", args=[case.number, item.pk]))
    assert response.status_code == 404
    item.refresh_from_db()
    assert item.removed_at is None


def test_the_timeline_lists_the_cases_audit_events(
    counsellor: Persona, colleague: Persona, case: Case, client_of: ClientOf
) -> None:
    actions.change_status(actor=colleague.user, case=case, status=CaseStatus.ACTIVE)
    actions.record_consent(actor=counsellor.user, case=case, scope="takedown", granted=True, method="written")
    html = client_of(counsellor).get(reverse("cases:detail", args=[case.number])).content.decode()
    timeline = html.split('id="timeline-panel"')[1]
    assert "Case created" in timeline
    assert "Case status changed" in timeline
    assert "from Intake to Active" in timeline
    assert "Consent granted" in timeline
    assert "Send takedown notices on the survivor" in timeline
    assert "colleague" in timeline


def test_the_timeline_names_referral_services_and_a_portal_withdrawal_s_scopes(
    counsellor: Persona, admin: Persona, client_of: ClientOf
) -> None:
    from haven.web.portal import actions as portal
    from haven.web.referrals import actions as referrals
    from tests.web.portal.conftest import item

    case, _number, _pin = portal.submit_hashes(
        organisation=counsellor.user.organisation,
        items=[item()],
        consents={"monitor": True, "contact": True},
    )
    portal.withdraw(case=case)
    actions.record_consent(actor=counsellor.user, case=case, scope="police", granted=True, method="written")
    service = referrals.add_service(actor=admin.user, kind="police", name="Mapo Police Cyber Unit")
    referrals.refer(actor=counsellor.user, case=case, service=service)
    html = client_of(counsellor).get(reverse("cases:detail", args=[case.number])).content.decode()
    timeline = html.split('id="timeline-panel"')[1]
    assert "None (" not in timeline
    assert "Keep hashes and monitor for re-uploads, Contact the survivor (Survivor portal)" in timeline
    assert "Mapo Police Cyber Unit" in timeline


def test_the_dsa_category_reads_in_words(counsellor: Persona, case: Case, client_of: ClientOf) -> None:
    Case.objects.filter(pk=case.pk).update(dsa_category="NON_CONSENSUAL_MATERIAL_DEEPFAKE")
    html = client_of(counsellor).get(reverse("cases:detail", args=[case.number])).content.decode()
    assert "Non-consensual material made with AI (deepfakes)" in html


# --- Korean, and what the pages may not contain --------------------------------------------------------


def test_the_case_page_speaks_korean(counsellor: Persona, case: Case, client_of: ClientOf) -> None:
    html = (
        client_of(counsellor)
        .get(reverse("cases:detail", args=[case.number]), headers={"accept-language": "ko"})
        .content.decode()
    )
    assert '<html lang="ko" dir="ltr">' in html
    assert "동의" in html  # consent
    assert "비동의 유포" in html  # non-consensual distribution
    assert "Consent" not in html


def test_pages_hold_no_inline_script_or_style(
    counsellor: Persona, case: Case, item: ContentItem, client_of: ClientOf
) -> None:
    client = client_of(counsellor)
    pages = [
        client.get(reverse("cases:dashboard")),
        client.get(reverse("cases:list")),
        client.get(reverse("cases:create")),
        client.get(reverse("cases:detail", args=[case.number])),
        client.post(reverse("cases:contact", args=[case.number])),
        Client().get(reverse("accounts:login")),
    ]
    for response in pages:
        html = response.content.decode()
        assert response.status_code == 200
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
        assert not re.search(r"\sstyle=", html)
        assert "<style" not in html
        assert not re.search(r"\son[a-z]+=", html)
        assert "http://" not in html
        assert "https://" not in html


def test_the_header_names_the_organisation_and_offers_sign_out(
    counsellor: Persona, client_of: ClientOf
) -> None:
    html = client_of(counsellor).get(reverse("cases:dashboard")).content.decode()
    assert "Centre A" in html
    assert 'action="/accounts/logout/"' in html
    assert 'action="/i18n/setlang/"' in html
    assert 'href="#main"' in html


def test_an_inactive_user_is_signed_out(counsellor: Persona, client_of: ClientOf) -> None:
    client = client_of(counsellor)
    User.objects.filter(pk=counsellor.user.pk).update(is_active=False)
    response = client.get(reverse("cases:dashboard"))
    assert response.status_code == 302


def test_one_submit_records_every_purpose_that_changed_and_only_those(
    counsellor: Persona, case: Case, client_of: ClientOf
) -> None:
    url = reverse("cases:consent_all", args=[case.number])
    client = client_of(counsellor)
    response = client.post(
        url, {"scope_monitor": "on", "scope_share": "on", "method": "phone", "note": "by phone"}
    )
    assert response.status_code == 302
    state = actions.current_consent(case)
    assert (state["monitor"], state["share"], state["takedown"]) == (True, True, False)
    granted = _events(EventType.CONSENT_GRANTED)
    assert sorted(e.summary["scope"] for e in granted) == ["monitor", "share"]
    # Unticking one withdraws it; the other stays as it was, with no new record.
    records = ConsentRecord.objects.count()
    client.post(url, {"scope_share": "on", "method": "phone"})
    assert not actions.current_consent(case)["monitor"]
    assert ConsentRecord.objects.count() == records + 1
    [withdrawn] = _events(EventType.CONSENT_WITHDRAWN)
    assert withdrawn.summary == {"scope": "monitor", "method": "phone"}
    # Nothing changed: nothing recorded.
    html = client.post(url, {"scope_share": "on", "method": "phone"}, follow=True).content.decode()
    assert "Nothing was changed." in html
    assert ConsentRecord.objects.count() == records + 1


def test_the_consent_form_refuses_a_bad_method_and_roles_without_consent(
    officer: Persona, counsellor: Persona, case: Case, client_of: ClientOf
) -> None:
    url = reverse("cases:consent_all", args=[case.number])
    response = client_of(counsellor).post(url, {"scope_monitor": "on", "method": "carrier pigeon"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert client_of(officer).post(url, {"scope_monitor": "on", "method": "phone"}).status_code == 403
    assert not ConsentRecord.objects.exists()


def test_every_link_of_the_section_nav_leads_to_a_part_of_the_page(
    counsellor: Persona, officer: Persona, case: Case, client_of: ClientOf
) -> None:
    for persona in (counsellor, officer):
        html = client_of(persona).get(reverse("cases:detail", args=[case.number])).content.decode()
        nav = html.split('class="section-nav"')[1].split("</nav>")[0]
        targets = re.findall(r'href="#([a-z-]+)"', nav)
        assert len(targets) >= 7
        for target in targets:
            assert f'id="{target}"' in html, (persona.user.username, target)
        assert ("#contact-panel" in nav) is (persona is counsellor)
