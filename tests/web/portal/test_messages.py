"""Secure messages between a survivor and her centre: she signs in with case number and PIN,
staff answer from the case; the text is encrypted, audited without its text, and deletable by her."""

from __future__ import annotations

import pytest
from django.test import Client

from haven.web.accounts.models import Organisation
from haven.web.audit.models import AuditEvent, EventType
from haven.web.cases.models import Case
from haven.web.core.errors import ActionError
from haven.web.notifications.models import Kind, Notification
from haven.web.portal import actions
from haven.web.portal.models import PortalMessage
from tests.web.accounts.twofactor import signed_in
from tests.web.conftest import Persona

from .conftest import item

pytestmark = pytest.mark.django_db

SECRET = "He posted them on the forum again last night, 11pm"


def _portal_case(org: Organisation) -> tuple[Case, str, str]:
    return actions.submit_hashes(organisation=org, items=[item()], consents={"monitor": True})


def _status(client: Client, number: str, pin: str, **data: str) -> str:
    response = client.post("/portal/status/", {"case_number": number, "pin": pin, **data})
    return response.content.decode()


def test_she_writes_her_counsellor_answers_and_she_reads_it(org_a: Organisation, counsellor: Persona) -> None:
    case, number, pin = _portal_case(org_a)
    Case.objects.filter(pk=case.pk).update(assignee=counsellor.user)
    counsellor.user.first_name, counsellor.user.last_name = "Minji", "Kim"
    counsellor.user.save()
    portal = Client()
    page = _status(portal, number, pin, do="message", message=SECRET)
    assert "Your message is sent" in page
    assert SECRET in page  # her own message, in her thread
    assert not portal.cookies

    row = PortalMessage.objects.get()
    assert row.from_survivor
    assert row.author is None
    assert SECRET.encode() not in bytes(row.body_encrypted)  # encrypted at rest

    # Her assigned counsellor is told, in the app.
    notification = Notification.objects.get(user=counsellor.user, kind=Kind.SURVIVOR_MESSAGE)
    assert notification.case_id == case.pk
    assert notification.read_at is None

    staff = signed_in(counsellor.user)
    panel = staff.get(f"/cases/{number}/").content.decode()
    assert "1 new message" in panel
    thread = staff.get(f"/cases/{number}/portal/messages/").content.decode()
    assert SECRET in thread
    row.refresh_from_db()
    assert row.read_at is not None
    notification.refresh_from_db()
    assert notification.read_at is not None  # reading the thread answers the notification

    response = staff.post(f"/cases/{number}/portal/messages/", {"message": "Thank you. We are on it."})
    assert response.status_code == 302
    page = _status(portal, number, pin)
    assert "Thank you. We are on it." in page
    assert "Centre A" in page
    assert "Minji" not in page  # she sees the centre's name, not her counsellor's
    assert PortalMessage.objects.get(from_survivor=False).read_at is not None


def test_messages_are_audited_without_their_text(org_a: Organisation, counsellor: Persona) -> None:
    _case, number, pin = _portal_case(org_a)
    _status(Client(), number, pin, do="message", message=SECRET)
    staff = signed_in(counsellor.user)
    staff.get(f"/cases/{number}/portal/messages/")
    staff.post(f"/cases/{number}/portal/messages/", {"message": "We read it: call us when you can."})
    sent = AuditEvent.objects.filter(event_type=EventType.PORTAL_MESSAGE_SENT).order_by("sequence")
    assert [e.summary["from"] for e in sent] == ["survivor", "centre"]
    assert sent[0].actor_label == "portal"
    assert sent[1].actor == counsellor.user
    viewed = AuditEvent.objects.get(event_type=EventType.PORTAL_MESSAGES_VIEWED)
    assert viewed.actor == counsellor.user
    assert viewed.summary == {"messages": 1}
    for event in AuditEvent.objects.all():
        assert "forum" not in str(event.summary)
        assert "call us" not in str(event.summary)


def test_she_deletes_the_thread_after_confirming(org_a: Organisation) -> None:
    case, number, pin = _portal_case(org_a)
    actions.survivor_writes(case=case, text=SECRET)
    portal = Client()
    page = _status(portal, number, pin, do="delete_messages")
    assert "Are you sure?" in page
    assert PortalMessage.objects.count() == 1  # nothing until she confirms
    page = _status(portal, number, pin, do="delete_messages", confirm="yes")
    assert "The conversation is deleted." in page
    assert SECRET not in page
    assert not PortalMessage.objects.exists()
    event = AuditEvent.objects.get(event_type=EventType.PORTAL_MESSAGES_DELETED)
    assert event.summary == {"messages": 1, "by": "survivor"}


def test_deleting_her_data_deletes_the_messages_too(org_a: Organisation) -> None:
    case, number, pin = _portal_case(org_a)
    actions.survivor_writes(case=case, text=SECRET)
    _status(Client(), number, pin, do="delete", confirm="yes")
    assert not PortalMessage.objects.exists()


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("   ", "Write a message first."),
        ("a" * (actions.MESSAGE_MAX + 1), "Keep a message to 4000 characters or fewer."),
        ("null\x00byte", "must not contain NUL characters"),
    ],
)
def test_a_bad_message_is_refused_and_her_draft_kept(org_a: Organisation, text: str, error: str) -> None:
    _case, number, pin = _portal_case(org_a)
    response = Client().post(
        "/portal/status/", {"case_number": number, "pin": pin, "do": "message", "message": text}
    )
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not PortalMessage.objects.exists()
    assert not AuditEvent.objects.filter(event_type=EventType.PORTAL_MESSAGE_SENT).exists()
    assert not Notification.objects.filter(kind=Kind.SURVIVOR_MESSAGE).exists()


def test_a_wrong_pin_neither_sends_nor_shows_messages(org_a: Organisation) -> None:
    case, number, pin = _portal_case(org_a)
    actions.survivor_writes(case=case, text=SECRET)
    wrong = "1" if pin[0] != "1" else "2"
    response = Client().post(
        "/portal/status/", {"case_number": number, "pin": wrong * 8, "do": "message", "message": "x"}
    )
    assert response.status_code == 403
    assert SECRET not in response.content.decode()
    assert PortalMessage.objects.count() == 1


def test_a_full_thread_is_refused_with_a_way_out(
    org_a: Organisation, monkeypatch: pytest.MonkeyPatch
) -> None:
    case, _number, _pin = _portal_case(org_a)
    monkeypatch.setattr(actions, "THREAD_MAX", 2)
    actions.survivor_writes(case=case, text="one")
    actions.survivor_writes(case=case, text="two")
    with pytest.raises(ActionError, match="Delete it to start a new one"):
        actions.survivor_writes(case=case, text="three")
    assert PortalMessage.objects.count() == 2


def test_only_staff_who_may_read_her_contact_details_read_or_write(
    org_a: Organisation, counsellor: Persona, officer: Persona, outsider: Persona, analyst: Persona
) -> None:
    case, number, _pin = _portal_case(org_a)
    actions.survivor_writes(case=case, text=SECRET)
    for persona, status in ((officer, 403), (analyst, 403), (outsider, 404)):
        client = signed_in(persona.user)
        response = client.get(f"/cases/{number}/portal/messages/")
        assert response.status_code == status, persona.user.username
        assert SECRET not in response.content.decode()
        response = client.post(f"/cases/{number}/portal/messages/", {"message": "hello"})
        assert response.status_code == status
    assert PortalMessage.objects.count() == 1
    assert not AuditEvent.objects.filter(event_type=EventType.PORTAL_MESSAGES_VIEWED).exists()
    # The case page of a deletion officer does not offer the thread.
    assert "Read the conversation" not in signed_in(officer.user).get(f"/cases/{number}/").content.decode()


def test_a_case_made_by_staff_has_no_portal_thread(case: Case, counsellor: Persona) -> None:
    with pytest.raises(ActionError, match="not made in the survivor portal"):
        actions.staff_writes(actor=counsellor.user, case=case, text="hello")
    response = signed_in(counsellor.user).get(f"/cases/{case.number}/portal/messages/")
    assert response.status_code == 302
    assert not PortalMessage.objects.exists()


def test_an_unassigned_case_tells_everyone_who_may_read_it(
    org_a: Organisation, counsellor: Persona, colleague: Persona, officer: Persona, admin: Persona
) -> None:
    case, _number, _pin = _portal_case(org_a)
    actions.survivor_writes(case=case, text=SECRET)
    told = set(
        Notification.objects.filter(kind=Kind.SURVIVOR_MESSAGE).values_list("user__username", flat=True)
    )
    assert told == {"counsellor", "colleague", "admin"}
