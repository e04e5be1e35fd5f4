"""The audit trail for administrators: their organisation's events, and whether the chain holds."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from haven.web.accounts.decorators import staff_required, staff_user
from haven.web.accounts.roles import Perm

from . import checkpoints
from .chain import broken_before_keying, verify
from .models import AuditEvent, EventType

PAGE_SIZE = 50


class AuditFilterForm(forms.Form):
    event_type = forms.ChoiceField(
        label=_("Event"), required=False, choices=[("", _("All events")), *EventType.choices]
    )
    actor = forms.CharField(label=_("By"), required=False, max_length=150)


@require_GET
@staff_required(Perm.VIEW_AUDIT)
def audit_log(request: HttpRequest) -> HttpResponse:
    organisation_id = staff_user(request).organisation_id
    if organisation_id is None:  # staff_required lets only members of an organisation through
        raise PermissionDenied
    form = AuditFilterForm(request.GET or None)
    events = AuditEvent.objects.filter(organisation_id=organisation_id).order_by("-sequence")
    if form.is_valid():
        if form.cleaned_data["event_type"]:
            events = events.filter(event_type=form.cleaned_data["event_type"])
        if form.cleaned_data["actor"]:
            events = events.filter(actor_label=form.cleaned_data["actor"].strip())
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    # The chain is one for the whole installation; administrators learn only whether it holds.
    _checked, broken = verify()
    marks = checkpoints.verify() if checkpoints.path().exists() else None
    return render(
        request,
        "audit/audit_log.html",
        {
            "form": form,
            "page": page,
            "chain_intact": broken is None,
            "broken_at": broken.sequence if broken else None,
            "checkpoints": marks,
            "broken_before_keying": broken_before_keying(),
            "checkpoint_minutes": settings.HAVEN_AUDIT_CHECKPOINT_MINUTES,
        },
    )
