"""JSON API for the service directory and referrals (mounted at /api/v1)."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from haven.web.accounts.roles import Perm
from haven.web.cases.api import ERRORS, _case, _org, _user
from haven.web.core.access import require
from haven.web.core.api import Input
from haven.web.core.errors import NotFound

from . import actions
from .models import Referral, ReferralStatus, Service, ServiceKind

router = Router(tags=["referrals"])


class ServiceIn(Input):
    kind: ServiceKind
    name: str = Field(..., min_length=1, max_length=200)
    contact: str = Field("", max_length=500)
    notes: str = Field("", max_length=5000)


class ServiceOut(Schema):
    id: int
    kind: str
    name: str
    contact: str
    notes: str
    active: bool


class ReferralIn(Input):
    service: int


class ReferralPatch(Input):
    status: ReferralStatus
    outcome: str = Field("", max_length=500)


class ReferralOut(Schema):
    id: int
    case: str
    service: ServiceOut
    status: str
    outcome: str
    created_at: dt.datetime
    updated_at: dt.datetime


def _service_out(s: Service) -> ServiceOut:
    return ServiceOut(id=s.pk, kind=s.kind, name=s.name, contact=s.contact, notes=s.notes, active=s.active)


def _referral_out(r: Referral) -> ReferralOut:
    return ReferralOut(
        id=r.pk,
        case=r.case.number,
        service=_service_out(r.service),
        status=r.status,
        outcome=r.outcome,
        created_at=r.created_at,
        updated_at=r.updated_at,
    )


@router.get("/services", response={200: list[ServiceOut], **ERRORS})
def list_services(request: HttpRequest) -> list[ServiceOut]:
    user = _user(request)
    require(user, Perm.VIEW_CASES)
    return [_service_out(s) for s in Service.objects.filter(organisation_id=_org(user), active=True)]


@router.post("/services", response={201: ServiceOut, **ERRORS})
def add_service(request: HttpRequest, payload: ServiceIn) -> Status[ServiceOut]:
    user = _user(request)
    service = actions.add_service(
        actor=user, kind=payload.kind, name=payload.name, contact=payload.contact, notes=payload.notes
    )
    return Status(201, _service_out(service))


@router.get("/cases/{number}/referrals", response={200: list[ReferralOut], **ERRORS})
def list_referrals(request: HttpRequest, number: str) -> list[ReferralOut]:
    case = _case(_user(request), number)
    return [_referral_out(r) for r in case.referrals.select_related("service", "case")]


@router.post("/cases/{number}/referrals", response={201: ReferralOut, **ERRORS})
def refer(request: HttpRequest, number: str, payload: ReferralIn) -> Status[ReferralOut]:
    user = _user(request)
    case = _case(user, number)
    service = Service.objects.filter(pk=payload.service, organisation_id=_org(user)).first()
    if service is None:
        raise NotFound
    return Status(201, _referral_out(actions.refer(actor=user, case=case, service=service)))


@router.patch("/referrals/{referral_id}", response={200: ReferralOut, **ERRORS})
def update_referral(request: HttpRequest, referral_id: int, payload: ReferralPatch) -> ReferralOut:
    user = _user(request)
    require(user, Perm.VIEW_CASES)
    referral = (
        Referral.objects.select_related("service", "case")
        .filter(pk=referral_id, organisation_id=_org(user))
        .first()
    )
    if referral is None:
        raise NotFound
    updated = actions.update_referral(
        actor=user, referral=referral, status=payload.status, outcome=payload.outcome
    )
    return _referral_out(updated)
