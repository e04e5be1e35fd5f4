"""Writes to the service directory and to referrals: atomic, permission-checked, audited."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from haven.web.accounts.roles import Perm
from haven.web.audit.chain import append
from haven.web.audit.models import EventType
from haven.web.cases.actions import current_consent
from haven.web.cases.models import Case
from haven.web.core.access import require, same_organisation
from haven.web.core.errors import ActionError

from .models import CONSENT_FOR_KIND, Referral, ReferralStatus, Service, ServiceKind

# status -> statuses it may move to
TRANSITIONS: dict[str, frozenset[str]] = {
    ReferralStatus.PROPOSED: frozenset({ReferralStatus.SENT, ReferralStatus.DECLINED}),
    ReferralStatus.SENT: frozenset({ReferralStatus.ACCEPTED, ReferralStatus.DECLINED}),
    ReferralStatus.ACCEPTED: frozenset({ReferralStatus.COMPLETED, ReferralStatus.DECLINED}),
    ReferralStatus.DECLINED: frozenset(),
    ReferralStatus.COMPLETED: frozenset(),
}


def add_service(*, actor: Any, kind: str, name: str, contact: str = "", notes: str = "") -> Service:
    require(actor, Perm.MANAGE_USERS)  # the directory is the organisation's: admins keep it
    if kind not in ServiceKind.values:
        raise ActionError(_("Unknown kind of service."))
    if not name.strip():
        raise ActionError(_("Give the service a name."))
    with transaction.atomic():
        service = Service.objects.create(
            organisation_id=actor.organisation_id,
            kind=kind,
            name=name.strip()[:200],
            contact=contact[:500],
            notes=notes,
        )
        append(
            actor=actor, event_type=EventType.SERVICE_ADDED, organisation=actor.organisation_id, obj=service
        )
    return service


def refer(*, actor: Any, case: Case, service: Service) -> Referral:
    """Refer a case to a service; refused unless the survivor consents to that kind of referral."""
    require(actor, Perm.MANAGE_CONSENT)
    same_organisation(actor, case)
    same_organisation(actor, service)
    if not service.active:
        raise ActionError(_("This service is no longer in use."))
    scope = CONSENT_FOR_KIND[service.kind]
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        if not current_consent(case)[scope]:
            raise ActionError(_("The survivor has not consented to this kind of referral."))
        referral = Referral.objects.create(
            organisation_id=case.organisation_id, case=case, service=service, created_by=actor
        )
        append(
            actor=actor,
            event_type=EventType.REFERRAL_CREATED,
            organisation=case.organisation_id,
            obj=case,
            summary={"referral": referral.pk, "kind": service.kind},
        )
    return referral


def update_referral(*, actor: Any, referral: Referral, status: str, outcome: str = "") -> Referral:
    require(actor, Perm.MANAGE_CONSENT)
    same_organisation(actor, referral)
    if status not in ReferralStatus.values:
        raise ActionError(_("Unknown referral status."))
    with transaction.atomic():
        referral = Referral.objects.select_for_update().get(pk=referral.pk)
        if status != referral.status and status not in TRANSITIONS[referral.status]:
            raise ActionError(
                _("A referral cannot go from %(old)s to %(new)s.")
                % {"old": ReferralStatus(referral.status).label, "new": ReferralStatus(status).label}
            )
        old = referral.status
        referral.status = status
        referral.outcome = outcome[:500]
        referral.save(update_fields=["status", "outcome", "updated_at"])
        append(
            actor=actor,
            event_type=EventType.REFERRAL_UPDATED,
            organisation=referral.organisation_id,
            obj=referral.case,
            summary={"referral": referral.pk, "from": old, "to": status},
        )
    return referral


def deactivate_service(*, actor: Any, service: Service) -> Service:
    """Take a service out of the directory: no new referrals to it; existing ones keep it."""
    require(actor, Perm.MANAGE_USERS)
    same_organisation(actor, service)
    with transaction.atomic():
        service = Service.objects.select_for_update().get(pk=service.pk)
        if not service.active:
            return service
        service.active = False
        service.save(update_fields=["active"])
        append(
            actor=actor,
            event_type=EventType.SERVICE_DEACTIVATED,
            organisation=service.organisation_id,
            obj=service,
        )
    return service


def reactivate_service(*, actor: Any, service: Service) -> Service:
    """Put a service taken out of use back in the directory (undoing :func:`deactivate_service`)."""
    require(actor, Perm.MANAGE_USERS)
    same_organisation(actor, service)
    with transaction.atomic():
        service = Service.objects.select_for_update().get(pk=service.pk)
        if service.active:
            return service
        service.active = True
        service.save(update_fields=["active"])
        append(
            actor=actor,
            event_type=EventType.SERVICE_REACTIVATED,
            organisation=service.organisation_id,
            obj=service,
        )
    return service
