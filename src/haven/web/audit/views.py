"""The audit trail for administrators: their organisation's events, and whether the chain holds."""

from __future__ import annotations

import datetime as dt

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
from haven.web.cases.models import Case

from . import checkpoints
from .chain import broken_before_keying, verify
from .models import AuditEvent, EventType

PAGE_SIZE = 50


class AuditFilterForm(forms.Form):
    event_type = forms.ChoiceField(
        label=_("Event"), required=False, choices=[("", _("All events")), *EventType.choices]
    )
    actor = forms.CharField(label=_("By"), required=False, max_length=150)


def _with_cases(events: list[AuditEvent], organisation_id: int) -> list[tuple[AuditEvent, str]]:
    """Each event with the number of the case it concerns, when it concerns one: the case itself,
    or the case its summary names (a notice, a transfer)."""
    case_label = Case._meta.label
    pks = {int(e.object_id) for e in events if e.object_type == case_label and e.object_id.isdigit()}
    numbers = dict(
        Case.objects.filter(organisation_id=organisation_id, pk__in=pks).values_list("pk", "number")
    )
    rows = []
    for event in events:
        number = ""
        if event.object_type == case_label and event.object_id.isdigit():
            number = numbers.get(int(event.object_id), "")
        elif isinstance(event.summary, dict):
            named = event.summary.get("case") or ""
            number = named if isinstance(named, str) and named.startswith("HV-") else ""
        rows.append((event, number))
    return rows


def _when(text: str) -> dt.datetime | str:
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return text


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
    rows = _with_cases(list(page.object_list), organisation_id)
    # The chain is one for the whole installation; administrators learn only whether it holds.
    _checked, broken = verify()
    marks = checkpoints.verify() if checkpoints.path().exists() else None
    return render(
        request,
        "audit/audit_log.html",
        {
            "form": form,
            "page": page,
            "rows": rows,
            "checkpoint_at": _when(marks.latest.at) if marks and marks.latest else None,
            "chain_intact": broken is None,
            "broken_at": broken.sequence if broken else None,
            "checkpoints": marks,
            "broken_before_keying": broken_before_keying(),
            "checkpoint_minutes": settings.HAVEN_AUDIT_CHECKPOINT_MINUTES,
        },
    )
