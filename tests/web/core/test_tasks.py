"""Background jobs: queued in the database, run by `haven worker`."""

from __future__ import annotations

import base64
import io

import pytest
from django.test import override_settings

from haven.web.audit.models import AuditEvent, EventType
from haven.web.cases import actions
from haven.web.cases.models import Case
from haven.web.core import crypto
from haven.web.core.commands import rotate_keys, worker

from ..conftest import Persona

NEW = base64.urlsafe_b64encode(b"N" * 32).decode()


@pytest.mark.django_db(transaction=True)
def test_key_rotation_rewrites_every_value_under_the_new_key(counsellor: Persona, settings: object) -> None:
    old_keys = list(settings.HAVEN_ENCRYPTION_KEYS)  # type: ignore[attr-defined]
    cases = [
        actions.create_case(actor=counsellor.user, contact=f"phone {i}", notes=f"note {i}") for i in range(3)
    ]
    actions.add_note(actor=counsellor.user, case=cases[0], text="called back, safe to talk")
    actions.set_safety_plan(actor=counsellor.user, case=cases[1], text="her sister's spare phone")
    with override_settings(HAVEN_ENCRYPTION_KEYS=[NEW, *old_keys]):
        out = io.StringIO()
        assert rotate_keys(out) == 0
        assert "queued" in out.getvalue()
        assert worker(batch=True, out=io.StringIO()) == 0
        for case in cases:
            stored = Case.objects.get(pk=case.pk)
            assert crypto.is_current(stored.contact_encrypted)
            assert crypto.is_current(stored.notes_encrypted)
            assert stored.safety_plan_encrypted is None or crypto.is_current(stored.safety_plan_encrypted)
        assert AuditEvent.objects.filter(event_type=EventType.KEYS_ROTATED).get().summary == {
            "cases": 3,
            "case_notes": 1,
        }
    with override_settings(HAVEN_ENCRYPTION_KEYS=[NEW]):  # the old key can go now
        for i, case in enumerate(cases):
            secrets = actions.reveal_secrets(actor=counsellor.user, case=Case.objects.get(pk=case.pk))
            assert (secrets.contact, secrets.notes) == (f"phone {i}", f"note {i}")
            assert [n.text for n in secrets.log] == (["called back, safe to talk"] if i == 0 else [])
            assert secrets.safety_plan == ("her sister's spare phone" if i == 1 else "")


@pytest.mark.django_db(transaction=True)
def test_key_rotation_rewrites_the_federation_keys(admin: Persona, settings: object) -> None:
    from haven.web.federation import actions as federation
    from haven.web.federation import identity
    from haven.web.federation.models import CentreIdentity, Peer

    old_keys = list(settings.HAVEN_ENCRYPTION_KEYS)  # type: ignore[attr-defined]
    keys = {
        name: name.replace("_", "-") + "-0123456789abcdef"
        for name in ("subscription_key", "fetch_key", "feedback_key", "submit_key")
    }
    org = admin.user.organisation
    with override_settings(HAVEN_PEER_ALLOW_PRIVATE=True):
        peer = federation.add_peer(
            actor=admin.user, organisation=org, name="Peer", url="http://peer.test", keys=keys
        )
    signature = identity.sign(org, b"before")
    with override_settings(HAVEN_ENCRYPTION_KEYS=[NEW, *old_keys]):
        assert rotate_keys(io.StringIO()) == 0
        assert worker(batch=True, out=io.StringIO()) == 0
        assert AuditEvent.objects.filter(event_type=EventType.KEYS_ROTATED).get().summary == {
            "cases": 0,
            "federation": 2,
        }
    with override_settings(HAVEN_ENCRYPTION_KEYS=[NEW]):
        assert federation.peer_keys(Peer.objects.get(pk=peer.pk)) == keys
        assert crypto.is_current(CentreIdentity.objects.get(organisation=org).signing_private_encrypted)
        assert identity.sign(org, b"before") == signature  # Ed25519 is deterministic: the same key


@pytest.mark.parametrize(
    "sweep_path",
    [
        "haven.web.takedown.tasks",
        "haven.web.monitoring.tasks",
        "haven.web.sharing.tasks",
        "haven.web.federation.tasks",
        "haven.web.reports.tasks",
        "haven.web.audit.tasks",
        "haven.web.notifications.tasks",
    ],
)
@pytest.mark.django_db
def test_a_sweep_parked_years_ahead_does_not_stop_a_sweep(sweep_path: str) -> None:
    """Someone with database access parks a sweep in 2036: the running one queues its next all the
    same, and only once."""
    import datetime as dt
    import importlib

    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    sweep = importlib.import_module(sweep_path).sweep
    sweep.using(run_after=timezone.now() + dt.timedelta(days=3650)).enqueue()
    sweep.call()
    sweep.call()
    ready = DBTaskResult.objects.filter(task_path=sweep.module_path, status="READY")
    soon = ready.filter(run_after__lte=timezone.now() + dt.timedelta(days=1))
    assert soon.count() == 1
