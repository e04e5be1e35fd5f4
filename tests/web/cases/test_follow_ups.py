"""Follow-up tasks with due dates: on the case page, on the dashboard and in the API.

Who may do what, that every write is an audited action, and that bad input changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from haven.web.accounts.models import User
from haven.web.audit.models import AuditEvent, EventType
from haven.web.cases import actions
from haven.web.cases.models import Case, CaseStatus, FollowUp
from haven.web.core.errors import ActionError, NotFound
from tests.web.conftest import Persona

ClientOf = Callable[[Persona], Client]


def _events(kind: EventType) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event_type=kind))


def _state() -> tuple[object, ...]:
    """Everything a follow-up view or endpoint could change."""
    return (
        AuditEvent.objects.count(),
        sorted(FollowUp.objects.values_list("pk", "due_on", "text", "assignee", "done_at", "done_by")),
    )


def _today() -> dt.date:
    return timezone.localdate()


def _add(
    case: Case, persona: Persona, *, days: int = 0, text: str = "Call back about the hearing"
) -> FollowUp:
    return actions.add_follow_up(
        actor=persona.user,
        case=case,
        due_on=_today() + dt.timedelta(days=days),
        text=text,
        assignee=persona.user,
    )


def _page(client: Client, case: Case) -> str:
    return client.get(reverse("cases:detail", args=[case.number])).content.decode()


def _panel(html: str) -> str:
    return html.split('id="follow-ups-panel"')[1].split("</section>")[0]


def _due_section(html: str) -> str:
    return html.split('id="due-heading"')[1].split('id="mine-heading"')[0]


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
def follow_up(case: Case, counsellor: Persona) -> FollowUp:
    return _add(case, counsellor, days=3)


# --- access to the pages: every view, every persona ------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    name: str
    allowed: str  # a persona of the case's organisation that may use it
    forbidden: tuple[str, ...]  # personas of the same organisation whose role may not
    event: EventType

    def url(self, case: Case, follow_up: FollowUp) -> str:
        if self.name == "follow_up_add":
            return reverse("cases:follow_up_add", args=[case.number])
        return reverse("cases:follow_up_done", args=[case.number, follow_up.pk])

    def data(self, persona: Persona) -> dict[str, object]:
        if self.name == "follow_up_add":
            return {
                "text": "Check the platform removed it",
                "due_on": "2030-01-15",
                "assignee": persona.user.pk,
            }
        return {}


ENDPOINTS = [
    Endpoint("follow_up_add", "colleague", ("officer", "analyst"), EventType.FOLLOW_UP_ADDED),
    Endpoint("follow_up_done", "admin", ("officer", "analyst"), EventType.FOLLOW_UP_DONE),
]
ids = [e.name for e in ENDPOINTS]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ids)
def test_anonymous_visitors_are_sent_to_login(
    endpoint: Endpoint, case: Case, follow_up: FollowUp, counsellor: Persona
) -> None:
    before = _state()
    response = Client().post(endpoint.url(case, follow_up), endpoint.data(counsellor))
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login") + "?next=")
    assert _state() == before


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ids)
def test_the_right_role_gets_through_and_the_write_is_audited(
    endpoint: Endpoint, case: Case, follow_up: FollowUp, everyone: dict[str, Persona], client_of: ClientOf
) -> None:
    persona = everyone[endpoint.allowed]
    response = client_of(persona).post(endpoint.url(case, follow_up), endpoint.data(persona))
    assert response.status_code == 302
    assert response.url == reverse("cases:detail", args=[case.number]) + "#follow-ups-panel"
    [event] = AuditEvent.objects.filter(event_type=endpoint.event, actor=persona.user)
    assert event.object_id == str(case.pk)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ids)
def test_a_role_without_the_permission_gets_403_and_nothing_changes(
    endpoint: Endpoint, case: Case, follow_up: FollowUp, everyone: dict[str, Persona], client_of: ClientOf
) -> None:
    for name in endpoint.forbidden:
        before = _state()
        persona = everyone[name]
        response = client_of(persona).post(endpoint.url(case, follow_up), endpoint.data(persona))
        assert response.status_code == 403, name
        assert _state() == before


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ids)
def test_the_outsider_gets_404_and_nothing_changes(
    endpoint: Endpoint, case: Case, follow_up: FollowUp, outsider: Persona, client_of: ClientOf
) -> None:
    before = _state()
    response = client_of(outsider).post(endpoint.url(case, follow_up), endpoint.data(outsider))
    assert response.status_code == 404
    assert "Call back about the hearing" not in response.content.decode()
    assert _state() == before


def test_the_follow_up_views_accept_only_posts(
    case: Case, follow_up: FollowUp, counsellor: Persona, client_of: ClientOf
) -> None:
    client = client_of(counsellor)
    assert client.get(reverse("cases:follow_up_add", args=[case.number])).status_code == 405
    assert client.get(reverse("cases:follow_up_done", args=[case.number, follow_up.pk])).status_code == 405


# --- the panel on the case page ----------------------------------------------------------------------


def test_the_case_page_shows_open_and_done_follow_ups(
    case: Case, counsellor: Persona, colleague: Persona, client_of: ClientOf
) -> None:
    overdue = _add(case, counsellor, days=-2, text="Ask about the school")
    _add(case, colleague, days=5, text="Recheck the forum")
    done = _add(case, counsellor, days=1, text="Send the letter")
    actions.complete_follow_up(actor=colleague.user, follow_up=done)

    panel = _panel(_page(client_of(counsellor), case))
    open_part, done_part = panel.split("<summary>Done (1)</summary>")
    assert open_part.index("Ask about the school") < open_part.index("Recheck the forum")
    assert "Overdue" in open_part
    assert "Assigned to colleague" in open_part
    assert overdue.due_on.isoformat() in open_part
    assert "Send the letter" not in open_part
    assert "Send the letter" in done_part
    assert "by colleague" in done_part
    assert open_part.count("Mark as done") == 2


def test_the_panel_says_when_nothing_is_open(case: Case, counsellor: Persona, client_of: ClientOf) -> None:
    panel = _panel(_page(client_of(counsellor), case))
    assert "No open follow-ups." in panel
    assert "Add a follow-up" in panel


def test_a_deletion_officer_sees_follow_ups_but_cannot_change_them(
    case: Case, follow_up: FollowUp, officer: Persona, client_of: ClientOf
) -> None:
    panel = _panel(_page(client_of(officer), case))
    assert "Call back about the hearing" in panel
    assert "<form" not in panel


def test_the_assignee_menu_offers_only_colleagues_who_work_on_cases(
    case: Case,
    counsellor: Persona,
    colleague: Persona,
    analyst: Persona,
    outsider: Persona,
    client_of: ClientOf,
) -> None:
    panel = _panel(_page(client_of(counsellor), case))
    menu = panel.split('name="assignee"')[1].split("</select>")[0]
    assert f'value="{counsellor.user.pk}" selected' in menu
    assert "colleague" in menu
    assert "analyst" not in menu
    assert "outsider" not in menu


def test_adding_a_follow_up_stores_it_and_audits_it_without_its_text(
    case: Case, counsellor: Persona, colleague: Persona, client_of: ClientOf
) -> None:
    response = client_of(counsellor).post(
        reverse("cases:follow_up_add", args=[case.number]),
        {"text": "  Check the platform removed it  ", "due_on": "2030-01-15", "assignee": colleague.user.pk},
        follow=True,
    )
    follow_up = FollowUp.objects.get()
    assert (follow_up.case, follow_up.organisation) == (case, case.organisation)
    assert (follow_up.text, follow_up.due_on) == ("Check the platform removed it", dt.date(2030, 1, 15))
    assert (follow_up.assignee, follow_up.created_by) == (colleague.user, counsellor.user)
    assert follow_up.done_at is None
    html = response.content.decode()
    assert "Follow-up added, due on" in html
    assert "Follow-up added" in html.split('id="timeline-panel"')[1]
    [added] = _events(EventType.FOLLOW_UP_ADDED)
    assert added.summary == {"follow_up": follow_up.pk, "due_on": "2030-01-15", "assignee": colleague.user.pk}
    assert "platform" not in json.dumps(added.summary)


def test_the_timeline_says_when_an_added_follow_up_is_due(
    case: Case, counsellor: Persona, client_of: ClientOf
) -> None:
    actions.add_follow_up(
        actor=counsellor.user, case=case, due_on=dt.date(2030, 1, 15), text="Call", assignee=counsellor.user
    )
    timeline = _page(client_of(counsellor), case).split('id="timeline-panel"')[1]
    assert "Follow-up added" in timeline
    assert "due on Jan. 15, 2030" in timeline


def test_the_panel_updates_in_place_when_htmx_sends_the_form(
    case: Case, counsellor: Persona, client_of: ClientOf
) -> None:
    response = client_of(counsellor).post(
        reverse("cases:follow_up_add", args=[case.number]),
        {"text": "Call the survivor", "due_on": "2030-01-15", "assignee": counsellor.user.pk},
        headers={"hx-request": "true"},
        follow=True,
    )
    html = response.content.decode()
    assert 'hx-select="#follow-ups-panel"' in html
    assert "Call the survivor" in _panel(html)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"text": "Call\x00 back"}, "Null characters are not allowed."),
        ({"text": "x" * 301}, "Ensure this value has at most 300 characters (it has 301)."),
        ({"text": "   "}, "This field is required."),
        ({"due_on": "next Tuesday"}, "Enter a valid date."),
        ({"due_on": "2030-02-30"}, "Enter a valid date."),
        ({"due_on": ""}, "This field is required."),
        ({"assignee": "outsider"}, "Select a valid choice."),
        ({"assignee": "analyst"}, "Select a valid choice."),
        ({"assignee": "not-a-number"}, "Select a valid choice."),
    ],
    ids=[
        "nul",
        "too-long",
        "blank",
        "not-a-date",
        "no-such-day",
        "no-date",
        "other-organisation",
        "no-case-access",
        "not-a-user",
    ],
)
def test_bad_input_shows_a_clear_error_and_changes_nothing(
    case: Case,
    counsellor: Persona,
    everyone: dict[str, Persona],
    client_of: ClientOf,
    change: dict[str, str],
    message: str,
) -> None:
    data: dict[str, object] = {"text": "Call back", "due_on": "2030-01-15", "assignee": counsellor.user.pk}
    data.update(change)
    if change.get("assignee") in everyone:
        data["assignee"] = everyone[change["assignee"]].user.pk
    before = _state()
    response = client_of(counsellor).post(reverse("cases:follow_up_add", args=[case.number]), data)
    assert response.status_code == 200
    panel = _panel(response.content.decode())
    assert message in panel
    assert '<details class="disclosure" open>' in panel  # the form with the error stays open
    assert _state() == before


def test_marking_a_follow_up_done_records_who_and_when(
    case: Case, follow_up: FollowUp, colleague: Persona, client_of: ClientOf
) -> None:
    response = client_of(colleague).post(
        reverse("cases:follow_up_done", args=[case.number, follow_up.pk]), follow=True
    )
    follow_up.refresh_from_db()
    assert follow_up.done_at is not None
    assert follow_up.done_by == colleague.user
    assert "Follow-up marked as done." in response.content.decode()
    [done] = _events(EventType.FOLLOW_UP_DONE)
    assert done.summary == {"follow_up": follow_up.pk}


def test_marking_a_follow_up_done_twice_records_it_once(
    case: Case, follow_up: FollowUp, counsellor: Persona, colleague: Persona, client_of: ClientOf
) -> None:
    client_of(counsellor).post(reverse("cases:follow_up_done", args=[case.number, follow_up.pk]))
    first = FollowUp.objects.get().done_at
    response = client_of(colleague).post(reverse("cases:follow_up_done", args=[case.number, follow_up.pk]))
    assert response.status_code == 302
    follow_up.refresh_from_db()
    assert (follow_up.done_at, follow_up.done_by) == (first, counsellor.user)
    assert len(_events(EventType.FOLLOW_UP_DONE)) == 1


def test_a_follow_up_of_another_case_cannot_be_done_through_this_one(
    case: Case, follow_up: FollowUp, counsellor: Persona, client_of: ClientOf
) -> None:
    other = actions.create_case(actor=counsellor.user)
    before = _state()
    response = client_of(counsellor).post(reverse("cases:follow_up_done", args=[other.number, follow_up.pk]))
    assert response.status_code == 404
    assert _state() == before


# --- the actions -------------------------------------------------------------------------------------


def test_the_actions_check_permission_and_organisation(
    case: Case, follow_up: FollowUp, officer: Persona, outsider: Persona
) -> None:
    before = _state()
    with pytest.raises(PermissionDenied):
        _add(case, officer)
    with pytest.raises(NotFound):
        _add(case, outsider)
    with pytest.raises(PermissionDenied):
        actions.complete_follow_up(actor=officer.user, follow_up=follow_up)
    with pytest.raises(NotFound):
        actions.complete_follow_up(actor=outsider.user, follow_up=follow_up)
    assert _state() == before


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"text": " "}, "Say what is to be done."),
        ({"text": "x" * 301}, "Keep the follow-up to 300 characters or fewer."),
        ({"text": "a\x00b"}, "The text must not contain NUL characters."),
        ({"due_on": "2030-01-15"}, "Give the day the follow-up is due."),
        ({"assignee": "outsider"}, "Follow-ups can only be assigned to colleagues in your organisation."),
        ({"assignee": "analyst"}, "Follow-ups can only be assigned to colleagues who work on cases."),
        ({"assignee": None}, "Follow-ups can only be assigned to colleagues in your organisation."),
    ],
    ids=["blank", "too-long", "nul", "string-date", "other-organisation", "no-case-access", "nobody"],
)
def test_the_add_action_refuses_bad_input(
    case: Case, counsellor: Persona, everyone: dict[str, Persona], change: dict[str, object], message: str
) -> None:
    fields: dict[str, object] = {
        "due_on": dt.date(2030, 1, 15),
        "text": "Call back",
        "assignee": counsellor.user,
    }
    fields.update(change)
    if isinstance(change.get("assignee"), str):
        fields["assignee"] = everyone[str(change["assignee"])].user
    before = _state()
    with pytest.raises(ActionError, match=message):
        actions.add_follow_up(actor=counsellor.user, case=case, **fields)  # type: ignore[arg-type]
    assert _state() == before


def test_a_follow_up_cannot_go_to_a_colleague_who_has_left(
    case: Case, counsellor: Persona, colleague: Persona
) -> None:
    User.objects.filter(pk=colleague.user.pk).update(is_active=False)
    colleague.user.refresh_from_db()
    with pytest.raises(ActionError, match="colleagues who work on cases"):
        actions.add_follow_up(
            actor=counsellor.user, case=case, due_on=dt.date(2030, 1, 15), text="x", assignee=colleague.user
        )


# --- the dashboard -----------------------------------------------------------------------------------


def test_the_dashboard_shows_my_open_follow_ups_due_today_or_earlier(
    case: Case, counsellor: Persona, colleague: Persona, outsider: Persona, client_of: ClientOf
) -> None:
    _add(case, counsellor, days=0, text="Due today, mine")
    _add(case, counsellor, days=-3, text="Overdue, mine")
    _add(case, counsellor, days=1, text="Tomorrow, mine")
    _add(case, colleague, days=0, text="Due today, colleague's")
    done = _add(case, counsellor, days=-1, text="Done already")
    actions.complete_follow_up(actor=counsellor.user, follow_up=done)
    theirs = actions.create_case(actor=outsider.user)
    _add(theirs, outsider, days=0, text="Another organisation's")

    due = _due_section(client_of(counsellor).get(reverse("cases:dashboard")).content.decode())
    assert due.index("Overdue, mine") < due.index("Due today, mine")
    assert "Tomorrow, mine" not in due
    assert "Due today, colleague" not in due
    assert "Done already" not in due
    assert "Another organisation" not in due
    assert f'href="/cases/{case.number}/#follow-ups-panel"' in due
    assert "No follow-ups are due today." not in due


def test_the_dashboard_keeps_showing_cases_whose_follow_up_date_has_come(
    counsellor: Persona, client_of: ClientOf
) -> None:
    case = actions.create_case(actor=counsellor.user, follow_up_on=_today())
    _add(case, counsellor, text="A task as well")
    due = _due_section(client_of(counsellor).get(reverse("cases:dashboard")).content.decode())
    assert "A task as well" in due
    assert "Cases to follow up" in due
    assert f'<a href="/cases/{case.number}/" class="case-number">' in due


def test_the_dashboard_says_when_nothing_is_due(counsellor: Persona, client_of: ClientOf) -> None:
    due = _due_section(client_of(counsellor).get(reverse("cases:dashboard")).content.decode())
    assert "No follow-ups are due today." in due


def test_follow_ups_of_a_closed_case_stay_on_the_dashboard_until_done(
    case: Case, counsellor: Persona, client_of: ClientOf
) -> None:
    _add(case, counsellor, text="Last call before closing")
    actions.change_status(actor=counsellor.user, case=case, status=CaseStatus.CLOSED)
    due = _due_section(client_of(counsellor).get(reverse("cases:dashboard")).content.decode())
    assert "Last call before closing" in due


# --- the API -----------------------------------------------------------------------------------------


def _post(persona: Persona, url: str, payload: object = None) -> object:
    data = json.dumps(payload) if payload is not None else ""
    return persona.api().post(url, data=data, content_type="application/json")


def _api_url(case: Case) -> str:
    return f"/api/v1/cases/{case.number}/follow-ups"


def test_the_api_refuses_requests_without_a_token(case: Case, follow_up: FollowUp) -> None:
    before = _state()
    assert Client().get(_api_url(case)).status_code == 401
    assert Client().post(_api_url(case), "{}", content_type="application/json").status_code == 401
    assert Client().post(f"/api/v1/follow-ups/{follow_up.pk}/done").status_code == 401
    assert _state() == before


def test_the_api_lists_a_cases_follow_ups(
    case: Case, follow_up: FollowUp, counsellor: Persona, officer: Persona
) -> None:
    later = _add(case, counsellor, days=10, text="Later")
    actions.complete_follow_up(actor=counsellor.user, follow_up=later)
    listed = officer.api().get(_api_url(case)).json()
    assert [f["id"] for f in listed] == [follow_up.pk, later.pk]
    first = listed[0]
    assert first["case"] == case.number
    assert first["text"] == "Call back about the hearing"
    assert first["due_on"] == follow_up.due_on.isoformat()
    assert (first["assignee"], first["created_by"], first["done_at"], first["done_by"]) == (
        "counsellor",
        "counsellor",
        None,
        None,
    )
    assert listed[1]["done_by"] == "counsellor"


def test_the_api_adds_a_follow_up_and_audits_it(case: Case, counsellor: Persona, colleague: Persona) -> None:
    response = _post(
        counsellor, _api_url(case), {"due_on": "2030-01-15", "text": "Call", "assignee": "colleague"}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["due_on"], body["text"], body["assignee"], body["done_at"]) == (
        "2030-01-15",
        "Call",
        "colleague",
        None,
    )
    follow_up = FollowUp.objects.get()
    assert follow_up.assignee == colleague.user
    [added] = _events(EventType.FOLLOW_UP_ADDED)
    assert (added.actor_id, added.object_id) == (counsellor.user.pk, str(case.pk))


def test_the_api_assigns_a_follow_up_to_the_caller_by_default(case: Case, colleague: Persona) -> None:
    response = _post(colleague, _api_url(case), {"due_on": "2030-01-15", "text": "Call"})
    assert response.status_code == 201
    assert response.json()["assignee"] == "colleague"


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        ({"due_on": "2030-01-15", "text": "Call\x00"}, "invalid input: body.payload.text"),
        ({"due_on": "2030-01-15", "text": "x" * 301}, "invalid input: body.payload.text"),
        ({"due_on": "2030-01-15", "text": ""}, "invalid input: body.payload.text"),
        ({"due_on": "2030-01-15", "text": "   "}, "Say what is to be done."),
        ({"due_on": "next Tuesday", "text": "Call"}, "invalid input: body.payload.due_on"),
        ({"due_on": "2030-02-30", "text": "Call"}, "invalid input: body.payload.due_on"),
        ({"text": "Call"}, "invalid input: body.payload.due_on"),
        ({"due_on": "2030-01-15", "text": "Call", "assignee": "outsider"}, "no colleague named 'outsider'"),
        ({"due_on": "2030-01-15", "text": "Call", "assignee": "analyst"}, "colleagues who work on cases"),
    ],
    ids=[
        "nul",
        "too-long",
        "empty",
        "blank",
        "not-a-date",
        "no-such-day",
        "no-date",
        "other-organisation",
        "no-case-access",
    ],
)
def test_the_api_refuses_bad_input_with_a_clear_error(
    case: Case, counsellor: Persona, outsider: Persona, analyst: Persona, payload: object, detail: str
) -> None:
    before = _state()
    response = _post(counsellor, _api_url(case), payload)
    assert response.status_code == 422
    assert detail in response.json()["detail"]
    assert _state() == before


def test_the_api_marks_a_follow_up_done_once(follow_up: FollowUp, colleague: Persona) -> None:
    response = _post(colleague, f"/api/v1/follow-ups/{follow_up.pk}/done")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["done_by"] == "colleague"
    assert body["done_at"] is not None
    again = _post(colleague, f"/api/v1/follow-ups/{follow_up.pk}/done")
    assert again.json()["done_at"] == body["done_at"]
    assert len(_events(EventType.FOLLOW_UP_DONE)) == 1


def test_roles_without_the_permission_get_403_from_the_api_and_nothing_changes(
    case: Case, follow_up: FollowUp, officer: Persona, analyst: Persona
) -> None:
    before = _state()
    assert _post(officer, _api_url(case), {"due_on": "2030-01-15", "text": "x"}).status_code == 403
    assert _post(officer, f"/api/v1/follow-ups/{follow_up.pk}/done").status_code == 403
    assert analyst.api().get(_api_url(case)).status_code == 403
    assert _post(analyst, _api_url(case), {"due_on": "2030-01-15", "text": "x"}).status_code == 403
    assert _post(analyst, f"/api/v1/follow-ups/{follow_up.pk}/done").status_code == 403
    assert _state() == before


def test_the_outsider_gets_404_from_the_api_and_nothing_changes(
    case: Case, follow_up: FollowUp, outsider: Persona
) -> None:
    before = _state()
    assert outsider.api().get(_api_url(case)).status_code == 404
    assert _post(outsider, _api_url(case), {"due_on": "2030-01-15", "text": "x"}).status_code == 404
    assert _post(outsider, f"/api/v1/follow-ups/{follow_up.pk}/done").status_code == 404
    assert _post(outsider, "/api/v1/follow-ups/999999/done").status_code == 404
    assert _state() == before
