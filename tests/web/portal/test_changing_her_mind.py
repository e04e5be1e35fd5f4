"""After her submission, the survivor changes one purpose at a time, sees what has happened in
plain numbers, and reads what happens next."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client
from django.utils import timezone

from haven.web.accounts.models import Organisation
from haven.web.audit.models import AuditEvent, EventType
from haven.web.cases.actions import current_consent
from haven.web.cases.models import Case, ConsentRecord, IndexChange
from haven.web.notifications.models import Kind, Notification
from haven.web.portal import actions, views
from haven.web.takedown.models import Notice, NoticeState, Sighting, SightingState
from tests.web.conftest import Persona

from .conftest import PDQ2, item

pytestmark = pytest.mark.django_db


def _portal_case(org: Organisation, **consents: bool) -> tuple[Case, str, str]:
    return actions.submit_hashes(organisation=org, items=[item()], consents=consents)


def _post(number: str, pin: str, **data: str) -> tuple[int, str]:
    response = Client().post("/portal/status/", {"case_number": number, "pin": pin, **data})
    return response.status_code, response.content.decode()


def test_every_purpose_she_may_decide_is_offered() -> None:
    assert [scope for scope, _title, _text in views.CHOICES] == list(actions.PORTAL_SCOPES)


def test_she_gives_one_purpose_and_stops_another(org_a: Organisation) -> None:
    case, number, pin = _portal_case(org_a, monitor=True)
    status, page = _post(number, pin)
    assert "Agree: Share with platforms" in page
    assert "Stop: Search for copies" in page

    status, page = _post(number, pin, do="grant", scope="share")
    assert status == 200
    assert "your choice is recorded" in page
    assert "Stop: Share with platforms" in page
    state = current_consent(case)
    assert state["share"]
    assert state["monitor"]
    assert not state["takedown"]

    adds = IndexChange.objects.filter(op="remove").count()
    status, page = _post(number, pin, do="withdraw_one", scope="monitor")
    assert "Stopped." in page
    state = current_consent(case)
    assert not state["monitor"]
    assert state["share"]
    assert IndexChange.objects.filter(op="remove").count() == adds + 1  # out of the index at once

    events = AuditEvent.objects.filter(
        event_type__in=[EventType.CONSENT_GRANTED, EventType.CONSENT_WITHDRAWN]
    ).order_by("sequence")
    assert [(e.event_type, e.summary) for e in events] == [
        (EventType.CONSENT_GRANTED, {"scope": "share", "method": "portal"}),
        (EventType.CONSENT_WITHDRAWN, {"scope": "monitor", "method": "portal"}),
    ]


def test_asking_again_for_what_is_already_so_records_nothing(org_a: Organisation) -> None:
    _case, number, pin = _portal_case(org_a, monitor=True)
    records = ConsentRecord.objects.count()
    _post(number, pin, do="grant", scope="monitor")
    assert ConsentRecord.objects.count() == records
    assert not AuditEvent.objects.filter(event_type=EventType.CONSENT_GRANTED).exists()


@pytest.mark.parametrize("scope", ["police", "identify", "transfer", "services", "", "monitor'--"])
def test_purposes_that_need_a_counsellor_or_do_not_exist_are_refused(org_a: Organisation, scope: str) -> None:
    case, number, pin = _portal_case(org_a)
    records = ConsentRecord.objects.count()
    status, page = _post(number, pin, do="grant", scope=scope)
    assert status == 400
    assert "not in the expected form" in page
    assert ConsentRecord.objects.count() == records
    assert not any(current_consent(case).values())


def test_after_deleting_her_data_nothing_can_be_granted(org_a: Organisation) -> None:
    case, number, pin = _portal_case(org_a, monitor=True)
    actions.delete_my_data(case=case)
    status, _page = _post(number, pin, do="grant", scope="monitor")
    assert status == 400
    assert not current_consent(case)["monitor"]


def test_a_wrong_pin_changes_nothing(org_a: Organisation) -> None:
    case, number, pin = _portal_case(org_a, monitor=True)
    wrong = "1" if pin[0] != "1" else "2"
    status, _page = _post(number, wrong * 8, do="withdraw_one", scope="monitor")
    assert status == 403
    assert current_consent(case)["monitor"]


def test_progress_counts_copies_found_requests_sent_and_removals(org_a: Organisation) -> None:
    case, number, pin = _portal_case(org_a, monitor=True, takedown=True)
    _status, page = _post(number, pin)
    assert "data-found>0<" in page
    assert "A counsellor at the centre looks at your case" in page
    for n, state in enumerate([SightingState.SENT, SightingState.REMOVED, SightingState.FOUND]):
        Sighting.objects.create(
            organisation=org_a,
            case=case,
            url=f"https://forum.example/p/{n}",
            url_key=f"{n:064d}",
            host="forum.example",
            source="counsellor",
            state=state,
            state_changed_at=timezone.now(),
        )
    now = timezone.now()
    for state, sent in ((NoticeState.SENT, now), (NoticeState.CLOSED, now), (NoticeState.READY, None)):
        Notice.objects.create(
            organisation=org_a,
            case=case,
            regime="generic",
            language="en",
            recipient="abuse@forum.example",
            subject="Removal request",
            body_encrypted=b"x",
            state=state,
            sent_at=sent,
            deadline_at=now + dt.timedelta(days=2) if sent else None,
        )
    _status, page = _post(number, pin)
    assert "data-found>3<" in page
    assert "data-requests>2<" in page  # the draft not yet sent is not counted
    assert "data-removed>1<" in page
    assert "forum.example" not in page  # no address of a copy is shown to her


# --- more pictures for her case ------------------------------------------------------------------


def _add(number: str, pin: str, items: object) -> tuple[int, dict[str, object]]:
    response = Client().post(
        "/portal/api/add/",
        json.dumps({"case_number": number, "pin": pin, "items": items}),
        content_type="application/json",
    )
    assert not response.cookies
    return response.status_code, response.json()


def test_she_adds_pictures_to_her_case_and_the_same_one_is_not_added_twice(
    org_a: Organisation, counsellor: Persona
) -> None:
    case, number, pin = _portal_case(org_a, monitor=True)
    Case.objects.filter(pk=case.pk).update(assignee=counsellor.user)
    page = Client().post("/portal/add/", {"case_number": number, "pin": pin}).content.decode()
    assert f"Add pictures to case {number}" in page
    assert 'data-mode="add"' in page

    status, answer = _add(number, pin, [item(), item(pdq=PDQ2, md5="", sha256="")])
    assert (status, answer) == (201, {"added": 1, "already_there": 1})
    labels = list(case.content.order_by("id").values_list("label", flat=True))
    assert labels == ["photo 1", "photo 2"]  # numbered on from what the case holds, without gaps
    added = case.content.order_by("id").last()
    assert IndexChange.objects.filter(content_item=added, op="add").exists()  # she consented to monitoring
    event = AuditEvent.objects.filter(event_type=EventType.CONTENT_ADDED).get()
    assert event.summary == {"items": [added.pk], "by": "survivor", "duplicates": 1}
    assert event.actor_label == "portal"
    told = Notification.objects.get(kind=Kind.SURVIVOR_PICTURES)
    assert told.user == counsellor.user

    status, answer = _add(number, pin, [item(pdq=PDQ2, md5="", sha256="")])
    assert (status, answer) == (200, {"added": 0, "already_there": 1})
    assert case.content.count() == 2


def test_adding_pictures_needs_the_right_pin_and_good_hashes(org_a: Organisation) -> None:
    case, number, pin = _portal_case(org_a)
    wrong = "1" if pin[0] != "1" else "2"
    status, answer = _add(number, wrong * 8, [item(pdq=PDQ2)])
    assert status == 403
    assert "do not match" in str(answer["error"])
    for items in ([], [{"pdq": "zz"}], "x", [item()] * 21):
        status, answer = _add(number, pin, items)
        assert status == 400, items
    response = Client().post("/portal/api/add/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert case.content.count() == 1
    assert Client().post("/portal/add/", {"case_number": number, "pin": wrong * 8}).status_code == 403


def test_after_deleting_her_data_nothing_can_be_added(org_a: Organisation) -> None:
    case, number, pin = _portal_case(org_a)
    actions.delete_my_data(case=case)
    status, answer = _add(number, pin, [item(pdq=PDQ2)])
    assert status == 400
    assert "Send your pictures as a new case" in str(answer["error"])
    assert not case.content.filter(removed_at__isnull=True).exists()
