"""Staff pages for referrals: the panel on the case page and the organisation's service directory.

Thin views: forms check the input, actions make every write."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from haven.web.accounts.decorators import staff_required, staff_user
from haven.web.accounts.roles import Perm
from haven.web.audit.models import EventType
from haven.web.cases.actions import current_consent
from haven.web.cases.models import Case, ConsentScope
from haven.web.cases.views import _case, _case_url, _render_case
from haven.web.core.errors import ActionError

from . import actions
from .forms import ReferForm, ReferralUpdateForm, ServiceForm
from .models import CONSENT_FOR_KIND, Referral, ReferralStatus, Service, ServiceKind

PANEL = "referrals-panel"

# Shown next to the referral form for each consent a kind of service needs and the survivor has not given.
_NOT_CONSENTED = {
    ConsentScope.POLICE: gettext_lazy(
        "The survivor has not consented to a referral to the police. "
        "Record their consent first; until then such a referral is refused."
    ),
    ConsentScope.SERVICES: gettext_lazy(
        "The survivor has not consented to referrals to legal, medical, psychological or other "
        "services. Record their consent first; until then such referrals are refused."
    ),
}


def _update_form_key(referral: Referral) -> str:
    return f"referral_form_{referral.pk}"


def timeline_line(event_type: str, summary: dict[str, Any]) -> str:
    """A referral in the case timeline names its service (and, for an update, the change)."""
    pk = summary.get("referral")
    referral = (
        Referral.objects.filter(pk=pk).select_related("service").first() if isinstance(pk, int) else None
    )
    kinds = dict(ServiceKind.choices)
    service = referral.service.name if referral is not None else str(kinds.get(str(summary.get("kind")), ""))
    if event_type == EventType.REFERRAL_CREATED:
        return service
    statuses = dict(ReferralStatus.choices)
    return _("%(service)s: from %(old)s to %(new)s") % {
        "service": service,
        "old": statuses.get(str(summary.get("from")), summary.get("from")),
        "new": statuses.get(str(summary.get("to")), summary.get("to")),
    }


def case_panel(request: HttpRequest, case: Case, forms: dict[str, Any]) -> dict[str, Any]:
    """The referrals panel's context on the case page (registered in ``ReferralsConfig.ready``)."""
    user = staff_user(request)
    consent = current_consent(case)
    rows = []
    for referral in Referral.objects.filter(case=case).select_related("service", "created_by"):
        form = forms.get(_update_form_key(referral))
        if form is None and actions.TRANSITIONS[referral.status]:
            form = ReferralUpdateForm(referral=referral)
        rows.append({"referral": referral, "form": form})
    kinds = set(
        Service.objects.filter(organisation_id=case.organisation_id, active=True).values_list(
            "kind", flat=True
        )
    )
    needed = {CONSENT_FOR_KIND[kind] for kind in kinds}
    return {
        "referral_rows": rows,
        "refer_form": forms.get("refer_form") or ReferForm(user=user, consent=consent),
        "has_services": bool(kinds),
        "referral_consent_notes": [
            text for scope, text in _NOT_CONSENTED.items() if scope in needed and not consent[scope]
        ],
    }


@require_POST
@staff_required(Perm.MANAGE_CONSENT)
def refer(request: HttpRequest, number: str) -> HttpResponse:
    user = staff_user(request)
    case = _case(request, number)
    form = ReferForm(request.POST, user=user, consent=current_consent(case))
    if form.is_valid():
        service = form.cleaned_data["service"]
        try:
            actions.refer(actor=user, case=case, service=service)
        except ActionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Referral to %(service)s recorded.") % {"service": service.name})
            return redirect(_case_url(case, PANEL))
    return _render_case(request, case, forms={"refer_form": form})


@require_POST
@staff_required(Perm.MANAGE_CONSENT)
def update(request: HttpRequest, number: str, referral_id: int) -> HttpResponse:
    user = staff_user(request)
    case = _case(request, number)
    referral = (
        Referral.objects.select_related("service")
        .filter(pk=referral_id, case=case, organisation_id=case.organisation_id)
        .first()
    )
    if referral is None:
        raise Http404
    form = ReferralUpdateForm(request.POST, referral=referral)
    if form.is_valid():
        try:
            referral = actions.update_referral(
                actor=user,
                referral=referral,
                status=form.cleaned_data["status"],
                outcome=form.cleaned_data["outcome"],
            )
        except ActionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                _("The referral to %(service)s is now: %(status)s.")
                % {"service": referral.service.name, "status": ReferralStatus(referral.status).label},
            )
            return redirect(_case_url(case, PANEL))
    return _render_case(request, case, forms={_update_form_key(referral): form})


# --- the service directory ---------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@staff_required(Perm.MANAGE_USERS)
def services(request: HttpRequest) -> HttpResponse:
    """The organisation's directory of services that cases can be referred to; admins keep it."""
    user = staff_user(request)
    form = ServiceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            service = actions.add_service(
                actor=user, kind=data["kind"], name=data["name"], contact=data["contact"], notes=data["notes"]
            )
        except ActionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("%(name)s added to the directory.") % {"name": service.name})
            return redirect("referrals:services")
    directory = Service.objects.filter(organisation=user.organisation).annotate(
        n_referrals=Count("referrals")
    )
    return render(
        request,
        "referrals/services.html",
        {
            "form": form,
            "active": [s for s in directory if s.active],
            "inactive": [s for s in directory if not s.active],
        },
    )


@require_POST
@staff_required(Perm.MANAGE_USERS)
def deactivate(request: HttpRequest, service_id: int) -> HttpResponse:
    """Take a service out of use, after asking (it can be put back)."""
    user = staff_user(request)
    service = Service.objects.filter(pk=service_id, organisation=user.organisation).first()
    if service is None:
        raise Http404
    if request.POST.get("confirm") != "yes":
        return render(request, "referrals/confirm_deactivate.html", {"service": service})
    try:
        actions.deactivate_service(actor=user, service=service)
    except ActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, _("%(name)s is no longer offered for new referrals.") % {"name": service.name}
        )
    return redirect(reverse("referrals:services") + "#directory")


@require_POST
@staff_required(Perm.MANAGE_USERS)
def reactivate(request: HttpRequest, service_id: int) -> HttpResponse:
    user = staff_user(request)
    service = Service.objects.filter(pk=service_id, organisation=user.organisation).first()
    if service is None:
        raise Http404
    actions.reactivate_service(actor=user, service=service)
    messages.success(request, _("%(name)s is offered for referrals again.") % {"name": service.name})
    return redirect(reverse("referrals:services") + "#directory")
