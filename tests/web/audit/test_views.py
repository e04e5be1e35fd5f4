"""The audit trail page: administrators only, their organisation's events only, chain status shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from haven.web.audit.models import AuditEvent
from haven.web.cases import actions
from haven.web.cases.models import Case

from ..accounts.twofactor import signed_in
from ..conftest import Persona

pytestmark = pytest.mark.django_db

URL = "/audit/"


def test_anonymous_visitors_are_sent_to_login() -> None:
    response = Client().get(URL)
    assert response.status_code == 302
    assert "/accounts/login/" in response.url


@pytest.mark.parametrize("who", ["counsellor", "officer", "analyst"])
def test_only_administrators_see_the_audit_trail(request: pytest.FixtureRequest, who: str) -> None:
    persona: Persona = request.getfixturevalue(who)
    assert signed_in(persona.user).get(URL).status_code == 403


def test_administrators_see_their_organisations_events_only(
    case: Case, admin: Persona, outsider: Persona
) -> None:
    theirs = actions.create_case(actor=outsider.user, contact="elsewhere")
    response = signed_in(admin.user).get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert "The audit chain is intact" in page
    assert "Case created" in page
    assert AuditEvent.objects.filter(object_id=str(theirs.pk)).exists()
    assert f"cases.Case {theirs.pk}<" not in page
    assert "outsider" not in page
    assert "010-1234" not in page  # summaries never hold survivor details, and none are shown


def test_events_can_be_filtered_by_type_and_person(case: Case, counsellor: Persona, admin: Persona) -> None:
    actions.change_status(actor=counsellor.user, case=case, status="active")
    client = signed_in(admin.user)
    page = client.get(URL, {"event_type": "case.status_changed"}).content.decode()
    assert "Case status changed" in page
    table = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert "Case status changed" in table
    assert "Case created" not in table
    assert "No events match." in client.get(URL, {"actor": "nobody"}).content.decode()
    assert client.get(URL, {"event_type": "not-a-type"}).status_code == 200  # ignored, not an error


def test_a_broken_chain_is_shown_to_administrators(case: Case, admin: Persona) -> None:
    first = AuditEvent.objects.order_by("sequence").first()
    assert first is not None
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET actor_label = %s WHERE id = %s", ["forged", first.pk])
    page = signed_in(admin.user).get(URL).content.decode()
    assert f"broken at event #{first.sequence}" in page


def test_administrators_see_whether_the_checkpoints_match(
    case: Case, admin: Persona, tmp_path: Path, settings: Any
) -> None:
    from haven.web.audit import checkpoints

    settings.HAVEN_AUDIT_CHECKPOINT_DIR = tmp_path
    client = signed_in(admin.user)
    assert "No signed checkpoint of the trail has been written" in client.get(URL).content.decode()
    written = checkpoints.write()
    assert written is not None
    page = client.get(URL).content.decode()
    assert f"the latest, of event #{written.sequence}, was written at" in page
    with connection.cursor() as cursor:  # the tail cut off, the head moved back
        cursor.execute("DELETE FROM audit_auditevent WHERE sequence = %s", [written.sequence])
        cursor.execute(
            "UPDATE audit_chainhead SET sequence = %s, "
            "digest = (SELECT digest FROM audit_auditevent WHERE sequence = %s)",
            [written.sequence - 1, written.sequence - 1],
        )
    page = client.get(URL).content.decode()
    assert "The audit chain is intact" in page  # a shorter chain is still a chain
    assert f"do not match the trail from event #{written.sequence} on" in page


def test_events_name_their_case_and_read_times_as_the_rest_of_haven(
    case: Case, counsellor: Persona, admin: Persona, outsider: Persona
) -> None:
    from django.utils import timezone
    from django.utils.formats import date_format

    theirs = actions.create_case(actor=outsider.user)
    page = signed_in(admin.user).get(URL).content.decode()
    table = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert f'href="/cases/{case.number}/"' in table
    assert theirs.number not in page
    event = AuditEvent.objects.filter(object_id=str(case.pk)).first()
    assert event is not None
    with timezone.override("Asia/Seoul"):  # the organisation's zone, as the page shows it
        shown = date_format(timezone.localtime(event.created_at), "DATETIME_FORMAT")
    assert shown in table
