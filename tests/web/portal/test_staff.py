"""The portal on the case page: staff see whether her case number is locked and let her in again."""

from __future__ import annotations

import re

import pytest

from haven.web.accounts.models import Organisation
from haven.web.audit.models import AuditEvent, EventType
from haven.web.portal import actions
from haven.web.portal.models import PortalNetworkLock
from tests.web.accounts.twofactor import signed_in
from tests.web.conftest import Persona, _persona

from .conftest import item

pytestmark = pytest.mark.django_db


def _portal_case(org: Organisation) -> tuple[str, str]:
    _case, number, pin = actions.submit_hashes(organisation=org, items=[item()], consents={"monitor": True})
    return number, pin


def test_a_counsellor_sees_the_lock_and_unlocks_after_verifying_her(
    org_a: Organisation, counsellor: Persona
) -> None:
    number, pin = _portal_case(org_a)
    client = signed_in(counsellor.user)
    page = client.get(f"/cases/{number}/").content.decode()
    assert 'id="portal-panel"' in page
    assert "nothing is locked" in page
    wrong = "1" if pin[0] != "1" else "2"
    for _ in range(actions.LOCK_AFTER):
        actions.check_access(case_number=number, pin=wrong * 8, client="203.0.113.5")
    assert "locked the case number for 1 network" in client.get(f"/cases/{number}/").content.decode()
    response = client.post(f"/cases/{number}/portal/unlock/")
    assert response.status_code == 302
    assert not PortalNetworkLock.objects.filter(locked_until__isnull=False).exists()
    assert actions.check_access(case_number=number, pin=pin, client="203.0.113.5") is not None
    event = AuditEvent.objects.get(event_type=EventType.PORTAL_UNLOCKED)
    assert event.actor == counsellor.user


def test_a_new_pin_is_shown_once_and_kept_nowhere(org_a: Organisation, counsellor: Persona) -> None:
    number, pin = _portal_case(org_a)
    client = signed_in(counsellor.user)
    response = client.post(f"/cases/{number}/portal/unlock/", {"new_pin": "1"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    found = re.search(r'id="new-pin"><strong>(\d{8})</strong>', response.content.decode())
    assert found is not None
    fresh = found.group(1)
    assert actions.check_access(case_number=number, pin=fresh, client="t") is not None
    assert actions.check_access(case_number=number, pin=pin, client="t") is None
    assert fresh not in client.get(f"/cases/{number}/").content.decode()  # shown once
    assert all(fresh not in str(e.summary) for e in AuditEvent.objects.all())
    assert AuditEvent.objects.filter(event_type=EventType.PORTAL_PIN_RESET).count() == 1


def test_who_may_not_unlock(org_a: Organisation, org_b: Organisation) -> None:
    number, _pin = _portal_case(org_a)
    officer = _persona("officer", org_a, "deletion_officer")
    assert signed_in(officer.user).post(f"/cases/{number}/portal/unlock/").status_code == 403
    assert 'id="portal-panel"' not in signed_in(officer.user).get(f"/cases/{number}/").content.decode()
    outsider = _persona("outsider", org_b, "counsellor")
    assert signed_in(outsider.user).post(f"/cases/{number}/portal/unlock/").status_code == 404
    assert not AuditEvent.objects.filter(event_type__startswith="portal.").exists()


def test_a_case_made_by_staff_has_no_portal_panel(case: object, counsellor: Persona) -> None:
    page = signed_in(counsellor.user).get(f"/cases/{case.number}/").content.decode()  # type: ignore[attr-defined]
    assert 'id="portal-panel"' not in page
