"""Referrals: only with the survivor's consent, only to the organisation's own services."""

from __future__ import annotations

import json

import pytest

from haven.web.audit.models import AuditEvent, EventType
from haven.web.cases import actions as case_actions
from haven.web.cases.models import Case
from haven.web.referrals.models import Referral

from ..conftest import Persona

pytestmark = pytest.mark.django_db


def post(persona: Persona, url: str, payload: object, method: str = "post") -> object:
    return getattr(persona.api(), method)(url, data=json.dumps(payload), content_type="application/json")


@pytest.fixture
def legal_aid(admin: Persona) -> int:
    response = post(
        admin, "/api/v1/services", {"kind": "legal", "name": "Legal aid clinic", "contact": "02-000"}
    )
    assert response.status_code == 201, response.content
    return int(response.json()["id"])


def test_only_admins_keep_the_service_directory(
    counsellor: Persona, outsider: Persona, legal_aid: int
) -> None:
    assert post(counsellor, "/api/v1/services", {"kind": "legal", "name": "x"}).status_code == 403
    assert [s["name"] for s in counsellor.api().get("/api/v1/services").json()] == ["Legal aid clinic"]
    assert outsider.api().get("/api/v1/services").json() == []


def test_a_referral_needs_the_survivors_consent(case: Case, counsellor: Persona, legal_aid: int) -> None:
    url = f"/api/v1/cases/{case.number}/referrals"
    refused = post(counsellor, url, {"service": legal_aid})
    assert refused.status_code == 422
    assert "consent" in refused.json()["detail"]
    case_actions.record_consent(
        actor=counsellor.user, case=case, scope="services", granted=True, method="phone"
    )
    made = post(counsellor, url, {"service": legal_aid})
    assert made.status_code == 201
    referral = made.json()
    assert referral["status"] == "proposed"
    patched = post(counsellor, f"/api/v1/referrals/{referral['id']}", {"status": "sent"}, method="patch")
    assert patched.json()["status"] == "sent"
    done = post(counsellor, f"/api/v1/referrals/{referral['id']}", {"status": "completed"}, method="patch")
    assert done.status_code == 422  # sent -> completed skips acceptance
    assert AuditEvent.objects.filter(event_type=EventType.REFERRAL_UPDATED).count() == 1


def test_police_referrals_need_the_police_consent(case: Case, counsellor: Persona, admin: Persona) -> None:
    police = post(admin, "/api/v1/services", {"kind": "police", "name": "Cyber unit"}).json()["id"]
    case_actions.record_consent(
        actor=counsellor.user, case=case, scope="services", granted=True, method="phone"
    )
    assert post(counsellor, f"/api/v1/cases/{case.number}/referrals", {"service": police}).status_code == 422
    case_actions.record_consent(
        actor=counsellor.user, case=case, scope="police", granted=True, method="phone"
    )
    assert post(counsellor, f"/api/v1/cases/{case.number}/referrals", {"service": police}).status_code == 201


def test_outsiders_can_neither_refer_nor_see_referrals(
    case: Case, counsellor: Persona, outsider: Persona, legal_aid: int
) -> None:
    case_actions.record_consent(
        actor=counsellor.user, case=case, scope="services", granted=True, method="phone"
    )
    referral = post(counsellor, f"/api/v1/cases/{case.number}/referrals", {"service": legal_aid}).json()
    assert outsider.api().get(f"/api/v1/cases/{case.number}/referrals").status_code == 404
    assert post(outsider, f"/api/v1/cases/{case.number}/referrals", {"service": legal_aid}).status_code == 404
    assert (
        post(outsider, f"/api/v1/referrals/{referral['id']}", {"status": "sent"}, method="patch").status_code
        == 404
    )
    assert Referral.objects.get().status == "proposed"


def test_an_outsiders_service_cannot_be_used(case: Case, counsellor: Persona, org_b: object) -> None:
    from haven.web.referrals.models import Service

    theirs = Service.objects.create(organisation=org_b, kind="legal", name="Elsewhere")  # type: ignore[misc]
    case_actions.record_consent(
        actor=counsellor.user, case=case, scope="services", granted=True, method="phone"
    )
    assert (
        post(counsellor, f"/api/v1/cases/{case.number}/referrals", {"service": theirs.pk}).status_code == 404
    )


def test_deletion_officers_and_analysts_cannot_refer(
    case: Case, officer: Persona, analyst: Persona, legal_aid: int
) -> None:
    for persona in (officer, analyst):
        assert (
            post(persona, f"/api/v1/cases/{case.number}/referrals", {"service": legal_aid}).status_code == 403
        )
