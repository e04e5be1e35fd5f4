"""Staff pages for sharing: the case page's panel, the partner list, the quarantine."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from haven.web.accounts.decorators import staff_required, staff_user
from haven.web.accounts.roles import Perm
from haven.web.cases.actions import current_consent
from haven.web.cases.models import Case, ConsentScope, ContentItem
from haven.web.cases.views import case_or_404
from haven.web.core.access import organisation_or_404, own_or_404
from haven.web.core.errors import ActionError

from . import actions
from .models import (
    DEFAULT_RATE_LIMIT,
    Endpoint,
    Feedback,
    FeedbackValue,
    KeyKind,
    Partner,
    PartnerKind,
    QuarantinedHash,
    QuarantineStatus,
    SharedItem,
    ShareStatus,
)


def _case(request: HttpRequest, number: str) -> Case:
    return case_or_404(request, number)


def _case_url(case: Case) -> str:
    return reverse("cases:detail", args=[case.number]) + "#sharing-panel"


def case_panel(request: HttpRequest, case: Case, forms_: dict[str, Any]) -> dict[str, Any]:
    """The sharing panel's context on the case page (registered in ``SharingConfig.ready``)."""
    rows = {
        row.content_item_id: row
        for row in SharedItem.objects.filter(case=case).only("content_item_id", "status", "reviewed_at")
    }
    feedback = list(
        Feedback.objects.filter(item__case=case)
        .select_related("partner", "item")
        .order_by("-created_at")[:50]
    )
    items: list[dict[str, Any]] = []
    pending = 0
    for item in ContentItem.objects.filter(case=case, removed_at__isnull=True):
        row = rows.get(item.pk)
        try:
            actions.shareable(item)
            reason = ""
        except ActionError as exc:
            reason = str(exc)
        if not reason and (row is None or row.status != ShareStatus.ACTIVE):
            pending += 1
        items.append({"item": item, "shared": row, "reason": reason})
    return {
        "sharing_consent": current_consent(case).get(ConsentScope.SHARE, False),
        "sharing_items": items,
        "sharing_feedback": feedback,
        "sharing_active": ShareStatus.ACTIVE,
        "sharing_pending": pending,
    }


@require_POST
@staff_required(Perm.APPROVE_SHARING)
def approve(request: HttpRequest, number: str) -> HttpResponse:
    """Approve one item (``item`` in the form) or every shareable item of the case."""
    case = _case(request, number)
    raw = request.POST.get("item", "")
    ids = None
    if raw:
        if not raw.isdigit():
            raise Http404
        ids = [int(raw)]
    try:
        result = actions.approve_items(actor=staff_user(request), case=case, item_ids=ids)
    except ActionError as exc:
        messages.error(request, str(exc))
    else:
        if result.approved:
            messages.success(
                request,
                ngettext(
                    "%(n)d picture is now shared with partners.",
                    "%(n)d pictures are now shared with partners.",
                    result.approved,
                )
                % {"n": result.approved},
            )
        elif not result.skipped:
            messages.info(request, _("Everything that can be shared is shared already."))
        for label, reason in result.skipped:
            messages.warning(
                request, _("“%(label)s” is not shared: %(reason)s") % {"label": label, "reason": reason}
            )
    return redirect(_case_url(case))


@require_POST
@staff_required(Perm.APPROVE_SHARING)
def unshare(request: HttpRequest, number: str, item_id: int) -> HttpResponse:
    case = _case(request, number)
    item = ContentItem.objects.filter(pk=item_id, case=case).first()
    if item is None:
        raise Http404
    actions.unshare_item(actor=staff_user(request), item=item)
    messages.success(request, _("“%(label)s” is withdrawn from partners.") % {"label": item.label})
    return redirect(_case_url(case))


# --- partners -----------------------------------------------------------------------------------


class PartnerForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=PartnerKind.choices)
    contact = forms.CharField(
        label=gettext_lazy("Contact"),
        max_length=300,
        required=False,
        help_text=gettext_lazy("Who to reach there about the exchange (e-mail or phone)."),
    )
    rate_limit = forms.IntegerField(
        label=gettext_lazy("Requests a minute"),
        min_value=1,
        max_value=1_000_000,
        initial=DEFAULT_RATE_LIMIT,
        required=False,
        help_text=gettext_lazy("Past this the partner is asked to slow down (429)."),
    )
    allowed = forms.MultipleChoiceField(
        label=gettext_lazy("May use"),
        choices=Endpoint.choices,
        initial=list(Endpoint.values),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )


@require_http_methods(["GET", "POST"])
@staff_required(Perm.MANAGE_PARTNERS)
def partners(request: HttpRequest) -> HttpResponse:
    user = staff_user(request)
    org = organisation_or_404(user)
    form = PartnerForm(request.POST or None)
    new_keys: dict[str, str] | None = None
    if request.method == "POST" and form.is_valid():
        try:
            partner, keys = actions.create_partner(
                actor=user,
                organisation=user.organisation,  # type: ignore[arg-type]  # staff_required: has one
                name=form.cleaned_data["name"],
                kind=form.cleaned_data["kind"],
                contact=form.cleaned_data["contact"],
                allowed=form.cleaned_data["allowed"],
                rate_limit=form.cleaned_data["rate_limit"] or DEFAULT_RATE_LIMIT,
            )
        except ActionError as exc:
            form.add_error(None, str(exc))
        else:
            new_keys = {"partner": partner.name, **keys.as_dict()}
            form = PartnerForm()
    rows = Partner.objects.filter(organisation_id=org).order_by("revoked_at", "name")
    response = render(
        request,
        "sharing/partners.html",
        {"partners": rows, "form": form, "new_keys": new_keys, "key_kinds": KeyKind.choices},
    )
    return response


@require_POST
@staff_required(Perm.MANAGE_PARTNERS)
def partner_action(request: HttpRequest, pk: int) -> HttpResponse:
    user = staff_user(request)
    partner = own_or_404(user, Partner, pk)
    what = request.POST.get("action", "")
    if what == "revoke":
        actions.revoke_partner(actor=user, partner=partner)
        messages.success(request, _("%(name)s is revoked: its keys no longer work.") % {"name": partner.name})
        return redirect("sharing:partners")
    if what in KeyKind.values:
        try:
            key = actions.rotate_key(actor=user, partner=partner, kind=what)
        except ActionError as exc:
            messages.error(request, str(exc))
            return redirect("sharing:partners")
        rows = Partner.objects.filter(organisation_id=partner.organisation_id).order_by("revoked_at", "name")
        return render(
            request,
            "sharing/partners.html",
            {
                "partners": rows,
                "form": PartnerForm(),
                "new_keys": {"partner": partner.name, f"{what}_key": key},
                "key_kinds": KeyKind.choices,
            },
        )
    raise Http404


# --- quarantine ---------------------------------------------------------------------------------


@require_GET
@staff_required(Perm.REVIEW)
def quarantine(request: HttpRequest) -> HttpResponse:
    org = organisation_or_404(staff_user(request))
    pending = QuarantinedHash.objects.filter(organisation_id=org, status=QuarantineStatus.PENDING)
    reviewed = QuarantinedHash.objects.filter(organisation_id=org).exclude(status=QuarantineStatus.PENDING)
    return render(
        request,
        "sharing/quarantine.html",
        {
            "pending": pending.select_related("partner")[:200],
            "pending_count": pending.count(),
            "reviewed": reviewed.select_related("partner", "reviewed_by").order_by("-reviewed_at")[:50],
            "opinions": dict(FeedbackValue.choices),
        },
    )


@require_POST
@staff_required(Perm.REVIEW)
def quarantine_decide(request: HttpRequest, pk: int) -> HttpResponse:
    user = staff_user(request)
    entry = own_or_404(user, QuarantinedHash, pk)
    decision = request.POST.get("decision")
    if decision not in ("accept", "reject"):
        raise Http404
    try:
        actions.review_quarantined(actor=user, entry=entry, accept=decision == "accept")
    except ActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Accepted.") if decision == "accept" else _("Rejected."))
    return redirect("sharing:quarantine")
