"""The audit chain: every action appends a linked event; any tampering is found and named."""

from __future__ import annotations

import io
import itertools

import pytest
from django.db import connection, transaction

from haven.web.audit.chain import append, verify
from haven.web.audit.models import AuditEvent, EventType
from haven.web.cases import actions
from haven.web.cases.models import Case
from haven.web.core.commands import audit_verify

from ..conftest import Persona

pytestmark = pytest.mark.django_db


def test_events_link_into_an_intact_chain(case: Case, counsellor: Persona) -> None:
    actions.change_status(actor=counsellor.user, case=case, status="active")
    events = list(AuditEvent.objects.order_by("sequence"))
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    for before, after in itertools.pairwise(events):
        assert after.previous_digest == before.digest
    assert verify() == (len(events), None)


@pytest.mark.django_db(transaction=True)
def test_appending_outside_a_transaction_is_refused(counsellor: Persona) -> None:
    with pytest.raises(RuntimeError, match="inside the action's transaction"):
        append(actor=counsellor.user, event_type=EventType.LOOKUP)


def _tamper(sql: str, params: list[object]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_an_edited_event_breaks_the_chain_at_that_event(case: Case, counsellor: Persona) -> None:
    actions.change_status(actor=counsellor.user, case=case, status="active")
    target = AuditEvent.objects.get(event_type=EventType.CASE_CREATED)
    _tamper("UPDATE audit_auditevent SET actor_label = %s WHERE id = %s", ["someone-else", target.pk])
    _, broken = verify()
    assert broken is not None
    assert broken.sequence == target.sequence
    assert "changed" in broken.reason
    out = io.StringIO()
    assert audit_verify(out) == 1
    assert f"#{target.sequence}" in out.getvalue()


def test_a_deleted_event_is_found(case: Case, counsellor: Persona) -> None:
    actions.change_status(actor=counsellor.user, case=case, status="active")
    actions.change_status(actor=counsellor.user, case=case, status="closed")
    middle = AuditEvent.objects.order_by("sequence")[2]
    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [middle.pk])
    _, broken = verify()
    assert broken is not None
    assert broken.sequence == middle.sequence


def test_a_deleted_tail_is_found(case: Case, counsellor: Persona) -> None:
    actions.change_status(actor=counsellor.user, case=case, status="active")
    last = AuditEvent.objects.order_by("-sequence").first()
    assert last is not None
    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [last.pk])
    _, broken = verify()
    assert broken is not None
    assert "deleted" in broken.reason


def test_a_failed_action_leaves_no_event_behind(case: Case, counsellor: Persona) -> None:
    before = AuditEvent.objects.count()
    with pytest.raises(actions.ActionError):
        actions.change_status(actor=counsellor.user, case=case, status="monitoring")
    assert AuditEvent.objects.count() == before

    def crash_mid_operation() -> None:
        with transaction.atomic():
            actions.change_status(actor=counsellor.user, case=case, status="active")
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        crash_mid_operation()
    assert AuditEvent.objects.count() == before
    assert Case.objects.get(pk=case.pk).status == "intake"
    assert verify()[1] is None


def test_summaries_never_hold_survivor_details(case: Case, counsellor: Persona) -> None:
    actions.reveal_secrets(actor=counsellor.user, case=case)
    actions.update_case(actor=counsellor.user, case=case, contact="new phone 010-9999-0000")
    for event in AuditEvent.objects.all():
        text = str(event.summary)
        assert "010" not in text
        assert "first contact" not in text
