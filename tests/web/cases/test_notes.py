"""The case notes log: dated entries by their authors, encrypted, read behind the audited "show"."""

from __future__ import annotations

import pytest
from django.urls import reverse

from haven.web.audit.models import AuditEvent, EventType
from haven.web.cases import actions
from haven.web.cases.models import Case, CaseNote
from haven.web.core.errors import ActionError
from tests.web.accounts.twofactor import signed_in
from tests.web.conftest import Persona

pytestmark = pytest.mark.django_db

TEXT = "Called her back at 7 pm; the ex-partner is still sending messages to her sister."


def test_a_counsellor_adds_notes_and_reads_them_with_the_contact_details(
    case: Case, counsellor: Persona, colleague: Persona
) -> None:
    colleague.user.first_name = "Jiwoo"
    colleague.user.save()
    client = signed_in(counsellor.user)
    response = client.post(reverse("cases:note", args=[case.number]), {"text": TEXT})
    assert response.status_code == 302
    signed_in(colleague.user).post(
        reverse("cases:note", args=[case.number]), {"text": "Police report filed."}
    )
    notes = list(CaseNote.objects.order_by("id"))
    assert [n.author for n in notes] == [counsellor.user, colleague.user]
    assert TEXT.encode() not in bytes(notes[0].body_encrypted)  # encrypted at rest
    added = AuditEvent.objects.filter(event_type=EventType.CASE_NOTE_ADDED)
    assert [e.summary for e in added] == [{"note": notes[0].pk}, {"note": notes[1].pk}]

    page = client.get(reverse("cases:detail", args=[case.number])).content.decode()
    assert TEXT not in page  # hidden until asked for
    shown = client.post(reverse("cases:contact", args=[case.number])).content.decode()
    log = shown.split("data-notes-log")[1].split("</ol>")[0]
    assert TEXT in log
    assert "Jiwoo" in log
    assert log.index("Called her back") < log.index("Police report")
    assert AuditEvent.objects.filter(event_type=EventType.CONTACT_VIEWED).count() == 1
    assert all("Called" not in str(e.summary) for e in AuditEvent.objects.all())


def test_only_staff_who_may_read_contact_details_and_edit_cases_add_notes(
    case: Case, officer: Persona, reviewer: Persona, analyst: Persona, outsider: Persona
) -> None:
    for persona, status in ((officer, 403), (reviewer, 403), (analyst, 403), (outsider, 404)):
        response = signed_in(persona.user).post(reverse("cases:note", args=[case.number]), {"text": "x"})
        assert response.status_code == status, persona.user.username
    assert not CaseNote.objects.exists()


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("   ", "This field is required."),
        ("a" * 10_001, "at most 10000 characters"),
        ("nul\x00", "Null characters are not allowed."),
    ],
)
def test_a_bad_note_is_refused_and_kept_in_the_box(
    case: Case, counsellor: Persona, text: str, error: str
) -> None:
    response = signed_in(counsellor.user).post(reverse("cases:note", args=[case.number]), {"text": text})
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not CaseNote.objects.exists()


def test_the_action_refuses_what_the_form_would(case: Case, counsellor: Persona) -> None:
    with pytest.raises(ActionError):
        actions.add_note(actor=counsellor.user, case=case, text=" ")
    with pytest.raises(ActionError):
        actions.add_note(actor=counsellor.user, case=case, text="x" * 10_001)
    assert not CaseNote.objects.exists()


# --- intake, risk and the safety plan ------------------------------------------------------------


def test_intake_and_risk_are_recorded_with_the_case_details(case: Case, counsellor: Persona) -> None:
    client = signed_in(counsellor.user)
    response = client.post(
        reverse("cases:classification", args=[case.number]),
        {
            "tfgbv_type": case.tfgbv_type,
            "relationship": case.relationship,
            "platforms": case.platforms,
            "assignee": counsellor.user.pk,
            "intake_channel": "phone",
            "referral_source": "police",
            "risk_level": "high",
            "risk_assessed_on": "2026-12-01",
        },
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.intake_channel, case.referral_source, case.risk_level) == ("phone", "police", "high")
    page = client.get(reverse("cases:detail", args=[case.number])).content.decode()
    assert "Phone · Police" in page
    assert "data-risk>High<" in page
    event = AuditEvent.objects.filter(event_type=EventType.CASE_UPDATED).last()
    assert event is not None
    assert set(event.summary["fields"]) == {
        "intake_channel",
        "referral_source",
        "risk_level",
        "risk_assessed_on",
    }


def test_a_portal_case_records_its_channel(org_a: object) -> None:
    from haven.web.portal.actions import submit_hashes

    case, _number, _pin = submit_hashes(organisation=org_a, items=[{"md5": "a" * 32}], consents={})  # type: ignore[arg-type]
    assert case.intake_channel == "portal"


def test_the_safety_plan_is_encrypted_shown_with_the_contact_details_and_audited_by_name(
    case: Case, counsellor: Persona, officer: Persona
) -> None:
    plan = "Call 112 if he comes to the flat; her sister keeps a spare phone."
    client = signed_in(counsellor.user)
    assert client.post(reverse("cases:safety_plan", args=[case.number]), {"text": plan}).status_code == 302
    case.refresh_from_db()
    assert plan.encode() not in bytes(case.safety_plan_encrypted)
    assert plan not in client.get(reverse("cases:detail", args=[case.number])).content.decode()
    shown = client.post(reverse("cases:contact", args=[case.number])).content.decode()
    assert plan in shown.split("data-safety-plan>")[1]
    event = AuditEvent.objects.filter(event_type=EventType.CASE_UPDATED).last()
    assert event is not None
    assert event.summary == {"fields": ["safety_plan"]}
    assert (
        signed_in(officer.user)
        .post(reverse("cases:safety_plan", args=[case.number]), {"text": "x"})
        .status_code
        == 403
    )
    # Emptying it removes it.
    client.post(reverse("cases:safety_plan", args=[case.number]), {"text": ""})
    case.refresh_from_db()
    assert case.safety_plan_encrypted is None
