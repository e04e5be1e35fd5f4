"""Staff pages for cases: thin views that check input with forms and write through ``actions``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import FieldDoesNotExist
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from haven.web.accounts.decorators import staff_required, staff_user
from haven.web.accounts.roles import Perm
from haven.web.audit.chain import append_read
from haven.web.audit.models import AuditEvent, EventType
from haven.web.core.access import same_organisation
from haven.web.core.crypto import DecryptionError
from haven.web.core.errors import ActionError, NotFound

from . import actions
from .classification import DsaCategory, HarmType
from .forms import (
    BulkCaseForm,
    CaseForm,
    ClassificationForm,
    ConsentAllForm,
    ConsentForm,
    FollowUpForm,
    HashItemForm,
    NoteForm,
    PasteHashesForm,
    SafetyPlanForm,
    SearchForm,
    StatusForm,
)
from .models import Case, CaseStatus, ConsentMethod, ConsentRecord, ConsentScope, ContentItem, FollowUp

PAGE_SIZE = 25
DASHBOARD_ROWS = 20
TIMELINE_ROWS = 200


def case_or_404(request: HttpRequest, number: str, *related: str) -> Case:
    """The case with this number, if it belongs to the user's organisation; 404 otherwise.

    For the pages of every app that works on a case (takedown, sharing): ``related`` are passed to
    ``select_related``.
    """
    user = staff_user(request)
    case = Case.objects.select_related(*related).filter(number=number.strip().upper()).first()
    try:
        same_organisation(user, case)
    except NotFound:
        raise Http404 from None
    if case is None:  # same_organisation refuses None already; this tells the type checker
        raise Http404
    return case


def _case(request: HttpRequest, number: str) -> Case:
    return case_or_404(request, number, "assignee", "created_by")


def _case_url(case: Case, anchor: str = "") -> str:
    url = reverse("cases:detail", args=[case.number])
    return f"{url}#{anchor}" if anchor else url


# --- dashboard and list -------------------------------------------------------------------------


@require_GET
@staff_required(None)
def dashboard(request: HttpRequest) -> HttpResponse:
    """My open cases, follow-ups due, and how many cases are in each status.

    Follow-ups due are of two kinds: follow-up tasks assigned to me, and the open cases whose
    "follow up on" date has come.

    Every staff role lands here after signing in; roles that may not see cases get a short note.
    """
    user = staff_user(request)
    context: dict[str, Any] = {"may_view_cases": user.can(Perm.VIEW_CASES)}
    if context["may_view_cases"]:
        cases = Case.objects.filter(organisation=user.organisation).select_related("assignee")
        open_cases = cases.exclude(status=CaseStatus.CLOSED)
        counts = dict(cases.order_by().values_list("status").annotate(n=Count("id")))
        context.update(
            {
                "mine": open_cases.filter(assignee=user).order_by("follow_up_on", "-updated_at")[
                    :DASHBOARD_ROWS
                ],
                # Cases nobody has taken on yet (most come from the portal), oldest first.
                "unassigned": open_cases.filter(assignee__isnull=True)
                .exclude(status=CaseStatus.TRANSFERRED)
                .order_by("created_at", "id")[:DASHBOARD_ROWS],
                "due": open_cases.filter(follow_up_on__lte=timezone.localdate()).order_by("follow_up_on")[
                    :DASHBOARD_ROWS
                ],
                "due_follow_ups": FollowUp.objects.filter(
                    organisation=user.organisation,
                    assignee=user,
                    done_at__isnull=True,
                    due_on__lte=timezone.localdate(),
                )
                .select_related("case")
                .order_by("due_on", "id")[:DASHBOARD_ROWS],
                "status_counts": [
                    (value, label, counts.get(value, 0)) for value, label in CaseStatus.choices
                ],
                "today": timezone.localdate(),
            }
        )
    return render(request, "cases/dashboard.html", context)


# The case list's sortable columns: ?sort=NAME (ascending) or ?sort=-NAME.
SORTS = {
    "opened": "created_at",
    "activity": "updated_at",
    "status": "status",
    "type": "tfgbv_type",
    "follow_up": "follow_up_on",
}
DEFAULT_SORT = "-opened"
EXPORT_MAX = 10_000


def _filtered_cases(request: HttpRequest) -> tuple[SearchForm, Any, str]:
    """The organisation's cases as the list's filters and sort ask, the form, and the sort used."""
    user = staff_user(request)
    form = SearchForm(request.GET)
    cases = Case.objects.filter(organisation=user.organisation).select_related("assignee")
    if form.is_valid():
        data = form.cleaned_data
        q = data["q"].strip()
        if q:
            # Everything a member of staff sees in the list is searchable; encrypted fields are not.
            cases = cases.filter(
                Q(number__icontains=q.upper())
                | Q(platforms__icontains=q)
                | Q(assignee__username__icontains=q)
                | Q(assignee__first_name__icontains=q)
                | Q(assignee__last_name__icontains=q)
            )
        if data["status"]:
            cases = cases.filter(status=data["status"])
        if data["tfgbv_type"]:
            cases = cases.filter(tfgbv_type=data["tfgbv_type"])
        if data["assignee"] == "me":
            cases = cases.filter(assignee=user)
        elif data["assignee"] == "none":
            cases = cases.filter(assignee__isnull=True)
    sort = request.GET.get("sort") or DEFAULT_SORT
    if sort.lstrip("-") not in SORTS:
        sort = DEFAULT_SORT
    field = SORTS[sort.lstrip("-")]
    ordering = f"-{field}" if sort.startswith("-") else field
    return form, cases.order_by(ordering, "-id"), sort


_COLUMNS = (
    ("status", gettext_lazy("Status")),
    ("type", gettext_lazy("Type of abuse")),
    ("opened", gettext_lazy("Opened")),
    ("activity", gettext_lazy("Last activity")),
    ("follow_up", gettext_lazy("Follow up on")),
)


def _sort_headers(sort: str) -> list[dict[str, str]]:
    """The sortable columns in order: name, label, the sort its header link asks for (the other
    way round when it is the current one; dates newest first) and its aria-sort state."""
    headers = []
    for name, label in _COLUMNS:
        if sort == name:
            following, state = f"-{name}", "ascending"
        elif sort == f"-{name}":
            following, state = name, "descending"
        else:
            following = f"-{name}" if name in ("opened", "activity") else name
            state = "none"
        headers.append({"name": name, "label": str(label), "next": following, "state": state})
    return headers


@require_GET
@staff_required(Perm.VIEW_CASES)
def case_list(request: HttpRequest) -> HttpResponse:
    user = staff_user(request)
    form, cases, sort = _filtered_cases(request)
    page = Paginator(cases, PAGE_SIZE).get_page(request.GET.get("page"))
    bulk = None
    if user.can(Perm.EDIT_CASE):
        bulk = BulkCaseForm(user=user, numbers=[c.number for c in page.object_list])
    return render(
        request,
        "cases/case_list.html",
        {"form": form, "page": page, "sort": sort, "columns": _sort_headers(sort), "bulk": bulk},
    )


@require_POST
@staff_required(Perm.EDIT_CASE)
def case_bulk(request: HttpRequest) -> HttpResponse:
    """Assign or close the ticked cases, each through its own audited action."""
    user = staff_user(request)
    back = request.POST.get("next", "")
    if not back.startswith("/") or not url_has_allowed_host_and_scheme(back, allowed_hosts=None):
        back = reverse("cases:list")
    ticked = request.POST.getlist("case")
    mine = list(Case.objects.filter(organisation=user.organisation, number__in=ticked[: PAGE_SIZE * 4]))
    # A number of another organisation's case is dropped as if it did not exist.
    data = request.POST.copy()
    data.setlist("case", [c.number for c in mine])
    if not mine:
        messages.error(request, _("Tick the cases first."))
        return redirect(back)
    form = BulkCaseForm(data, user=user, numbers=[c.number for c in mine])
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect(back)
    done, refused = 0, []
    for case in mine:
        if case.number not in form.cleaned_data["case"]:
            continue
        try:
            if form.cleaned_data["do"] == "assign":
                actions.update_case(actor=user, case=case, assignee=form.cleaned_data["assignee"])
            elif case.status != CaseStatus.CLOSED:
                actions.change_status(actor=user, case=case, status=CaseStatus.CLOSED)
            done += 1
        except ActionError as exc:
            refused.append(f"{case.number}: {exc}")
    if done:
        message = (
            ngettext("%(count)s case assigned.", "%(count)s cases assigned.", done)
            if form.cleaned_data["do"] == "assign"
            else ngettext("%(count)s case closed.", "%(count)s cases closed.", done)
        )
        messages.success(request, message % {"count": done})
    for line in refused:
        messages.error(request, line)
    return redirect(back)


def _summary_text(case: Case) -> str:
    """The case as plain text for its printed summary: what the case page shows, without the
    contact details, notes and safety plan (those stay behind the audited "show")."""
    state = actions.current_consent(case)
    lines = [
        _("Status: %(status)s") % {"status": CaseStatus(case.status).label},
        _("Opened: %(when)s") % {"when": date_format(timezone.localtime(case.created_at), "DATETIME_FORMAT")},
        _("Assigned to: %(who)s")
        % {
            "who": (case.assignee.get_full_name() or case.assignee.username)
            if case.assignee
            else _("Nobody yet")
        },
        "",
        _("Type of abuse: %(value)s") % {"value": case.get_tfgbv_type_display() or _("Not yet known")},
        _("Relationship to the perpetrator: %(value)s")
        % {"value": case.get_relationship_display() or _("Not yet known")},
        _("Platforms involved: %(value)s") % {"value": case.platforms or "—"},
        _("How she reached the centre: %(value)s") % {"value": case.get_intake_channel_display() or "—"},
        _("Risk to her safety: %(value)s")
        % {"value": case.get_risk_level_display() or _("Not assessed yet")},
        "",
        _("Consent:"),
        *[f"  {label}: {_('Yes') if state[value] else _('No')}" for value, label in ConsentScope.choices],
        "",
        ngettext(
            "%(count)s picture (hashes only)",
            "%(count)s pictures (hashes only)",
            case.content.filter(removed_at__isnull=True).count(),
        )
        % {"count": case.content.filter(removed_at__isnull=True).count()},
    ]
    open_follow_ups = FollowUp.objects.filter(case=case, done_at__isnull=True).order_by("due_on")
    if open_follow_ups:
        lines += ["", _("Follow-ups:")]
        lines += [f"  {date_format(f.due_on, 'DATE_FORMAT')}: {f.text}" for f in open_follow_ups]
    events = AuditEvent.objects.filter(
        organisation=case.organisation, object_type=Case._meta.label, object_id=str(case.pk)
    ).order_by("-sequence")[:TIMELINE_ROWS]
    lines += ["", _("Timeline:")]
    for event in events:
        described = _describe(event)
        when = date_format(timezone.localtime(event.created_at), "DATETIME_FORMAT")
        line = f"  {when} · {event.get_event_type_display()}"
        lines.append(f"{line} · {described}" if described else line)
    return "\n".join(lines)


@require_GET
@staff_required(Perm.EXPORT_CASES)
def case_summary_pdf(request: HttpRequest, number: str) -> HttpResponse:
    """A printable summary of the case (no contact details); each printing audited."""
    from django.utils.translation import get_language, override

    from haven.web.core.pdf import pdf_language, render_pdf

    user = staff_user(request)
    case = _case(request, number)
    language = pdf_language(get_language())
    with override(language):
        pdf = render_pdf(
            _("Case %(number)s") % {"number": case.number},
            _summary_text(case),
            language=language,
            footer=" · ".join([case.organisation.name, case.number, _("Confidential")]),
        )
    append_read(actor=user, event_type=EventType.CASE_PRINTED, organisation=case.organisation_id, obj=case)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="case-{case.number}.pdf"'
    response["Cache-Control"] = "no-store, private"
    return response


def _csv_cell(value: Any) -> str:
    """A cell a spreadsheet will not run: text starting with = + - @ (or a tab or return) is quoted."""
    text = "" if value is None else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@require_GET
@staff_required(Perm.EXPORT_CASES)
def case_export(request: HttpRequest) -> HttpResponse:
    """The list as filtered, as CSV: what the list shows, no contact details; audited."""
    import csv
    import io

    user = staff_user(request)
    _form, cases, sort = _filtered_cases(request)
    rows = list(cases[:EXPORT_MAX])
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            _("Case number"),
            _("Status"),
            _("Type of abuse"),
            _("Opened"),
            _("Last activity"),
            _("Follow up on"),
            _("Assigned to"),
            _("Platforms involved"),
        ]
    )
    for case in rows:
        assignee = case.assignee.get_full_name() or case.assignee.username if case.assignee else ""
        writer.writerow(
            [
                _csv_cell(v)
                for v in (
                    case.number,
                    case.get_status_display(),
                    case.get_tfgbv_type_display(),
                    timezone.localtime(case.created_at).strftime("%Y-%m-%d %H:%M"),
                    timezone.localtime(case.updated_at).strftime("%Y-%m-%d %H:%M"),
                    case.follow_up_on.isoformat() if case.follow_up_on else "",
                    assignee,
                    case.platforms,
                )
            ]
        )
    filters = {k: v for k, v in request.GET.items() if k in ("q", "status", "tfgbv_type", "assignee") and v}
    append_read(
        actor=user,
        event_type=EventType.CASES_EXPORTED,
        organisation=user.organisation_id,
        summary={"count": len(rows), "filters": sorted(filters), "sort": sort},
    )
    response = HttpResponse("\ufeff" + out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="haven-cases.csv"'
    return response


@require_http_methods(["GET", "POST"])
@staff_required(Perm.CREATE_CASE)
def case_create(request: HttpRequest) -> HttpResponse:
    user = staff_user(request)
    form = CaseForm(request.POST or None, user=user, initial={"assignee": user.pk})
    if request.method == "POST" and form.is_valid():
        try:
            case = actions.create_case(
                actor=user,
                contact=form.cleaned_data["contact"],
                notes=form.cleaned_data["notes"],
                **form.action_fields(),
            )
        except ActionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Case %(number)s created.") % {"number": case.number})
            return redirect(_case_url(case))
    return render(request, "cases/case_create.html", {"form": form})


# --- the case page --------------------------------------------------------------------------------

_FIELD_LABELS = {
    "contact": gettext_lazy("contact details"),
    "notes": gettext_lazy("notes"),
}


def _field_label(name: str) -> str:
    if name in _FIELD_LABELS:
        return str(_FIELD_LABELS[name])
    try:
        field = Case._meta.get_field(name)
    except FieldDoesNotExist:  # an old event may name a field that no longer exists
        return name
    return str(getattr(field, "verbose_name", name))


# What a partner's feedback (StopNCII's values) means, in a counsellor's words.
_PARTNER_SAID = {
    "Blocked": gettext_lazy("blocked a copy"),
    "NotBlocked": gettext_lazy("found a possible copy and did not block it"),
    "PendingReview": gettext_lazy("found a possible copy and is reviewing it"),
    "QualityUnknown": gettext_lazy("could not judge the hash"),
}


EVENT_LINES: dict[str, Callable[[str, dict[str, Any]], str]] = {}
"""How other apps' events read in the case timeline (referrals name their service); each app
registers its own in ``ready``, as for ``CASE_PANELS``."""


def _describe(event: AuditEvent) -> str:
    """A short, translated line about what an audit event changed (never sensitive content)."""
    summary = event.summary if isinstance(event.summary, dict) else {}
    statuses = dict(CaseStatus.choices)
    scopes = dict(ConsentScope.choices)
    methods = dict(ConsentMethod.choices)
    if event.event_type == EventType.CASE_STATUS_CHANGED:
        return _("from %(old)s to %(new)s") % {
            "old": statuses.get(str(summary.get("from")), summary.get("from")),
            "new": statuses.get(str(summary.get("to")), summary.get("to")),
        }
    if event.event_type in (EventType.CONSENT_GRANTED, EventType.CONSENT_WITHDRAWN):
        # One scope (staff) or several at once (the survivor's withdrawal in the portal).
        named = [summary["scope"]] if "scope" in summary else list(summary.get("scopes") or [])
        return _("%(scope)s (%(method)s)") % {
            "scope": ", ".join(str(scopes.get(str(s), s)) for s in named) or _("no consent was given"),
            "method": methods.get(str(summary.get("method")), summary.get("method")),
        }
    describe = EVENT_LINES.get(event.event_type)
    if describe is not None:
        return describe(event.event_type, summary)
    if event.event_type == EventType.PARTNER_FEEDBACK:
        words = [str(_PARTNER_SAID.get(str(v), v)) for v in summary.get("values") or []]
        return _("%(partner)s: %(what)s") % {"partner": summary.get("partner", ""), "what": ", ".join(words)}
    if event.event_type in (
        EventType.CONTENT_ADDED,
        EventType.CONTENT_REMOVED,
        EventType.SHARING_APPROVED,
        EventType.SHARING_WITHDRAWN,
    ):
        count = len(summary.get("items") or [])
        return ngettext("%(count)s picture", "%(count)s pictures", count) % {"count": count}
    if event.event_type == EventType.FOLLOW_UP_ADDED:
        try:
            due = dt.date.fromisoformat(str(summary.get("due_on")))
        except ValueError:
            return ""
        return _("due on %(date)s") % {"date": date_format(due, "DATE_FORMAT")}
    if event.event_type == EventType.CASE_UPDATED:
        fields = summary.get("fields") or []
        if not fields:
            return _("nothing changed")
        return _("changed: %(fields)s") % {"fields": ", ".join(_field_label(f) for f in fields)}
    return ""


def _classification_initial(case: Case) -> dict[str, Any]:
    return {
        "tfgbv_type": case.tfgbv_type,
        "relationship": case.relationship,
        "platforms": case.platforms,
        "minor_when_made": case.minor_when_made,
        "follow_up_on": case.follow_up_on,
        "assignee": case.assignee.pk if case.assignee else None,
        "survivor_sex": case.survivor_sex,
        "survivor_age_band": case.survivor_age_band,
        "incident_on": case.incident_on,
        "harm_types": list(case.harm_types or []),
        "personal_info_leaked": case.personal_info_leaked,
        "reported_elsewhere": case.reported_elsewhere,
        "intake_channel": case.intake_channel,
        "referral_source": case.referral_source,
        "risk_level": case.risk_level,
        "risk_assessed_on": case.risk_assessed_on,
    }


CasePanel = Callable[[HttpRequest, Case, dict[str, Any]], dict[str, Any]]
CASE_PANELS: list[CasePanel] = []
"""Context for the case page's panels that other apps own (referrals): each app appends its
function from ``AppConfig.ready``, so that cases never imports the apps built on top of it. A
function gets the request, the case and the bound forms of a failed POST, and returns context."""


def _render_case(
    request: HttpRequest,
    case: Case,
    *,
    revealed: actions.Secrets | None = None,
    forms: dict[str, Any] | None = None,
) -> HttpResponse:
    """The case page; ``forms`` replaces the blank form of a panel with a bound one (with its errors)."""
    user = staff_user(request)
    forms = forms or {}
    history = list(
        ConsentRecord.objects.filter(case=case).select_related("recorded_by").order_by("recorded_at", "id")
    )
    latest = {record.scope: record for record in history}
    state = actions.current_consent(case)
    consent_rows = [
        {"scope": value, "label": label, "granted": state[value], "latest": latest.get(value)}
        for value, label in ConsentScope.choices
    ]
    content = ContentItem.objects.filter(case=case)
    items = list(content.filter(removed_at__isnull=True).select_related("added_by"))
    follow_ups = list(FollowUp.objects.filter(case=case).select_related("assignee", "created_by", "done_by"))
    events = list(
        AuditEvent.objects.filter(
            organisation=case.organisation, object_type=Case._meta.label, object_id=str(case.pk)
        ).order_by("-sequence")[:TIMELINE_ROWS]
    )
    context = {
        "case": case,
        "page_url": _case_url(case),
        "revealed": revealed,
        "status_form": forms.get("status_form") or StatusForm(current=case.status),
        "classification_form": forms.get("classification_form")
        or ClassificationForm(user=user, initial=_classification_initial(case)),
        "consent_form": forms.get("consent_form") or ConsentForm(initial={"method": ConsentMethod.IN_PERSON}),
        "consent_all_form": forms.get("consent_all_form")
        or ConsentAllForm(current=state, initial={"method": ConsentMethod.IN_PERSON}),
        "paste_form": forms.get("paste_form") or PasteHashesForm(),
        "item_form": forms.get("item_form") or HashItemForm(),
        "follow_up_form": forms.get("follow_up_form") or FollowUpForm(user=user),
        "note_form": forms.get("note_form") or NoteForm(),
        "safety_plan_form": forms.get("safety_plan_form")
        or SafetyPlanForm(initial={"text": revealed.safety_plan if revealed else ""}),
        "open_follow_ups": [f for f in follow_ups if f.done_at is None],
        "done_follow_ups": sorted(
            (f for f in follow_ups if f.done_at is not None),
            key=lambda f: f.done_at or f.created_at,
            reverse=True,
        ),
        "today": timezone.localdate(),
        "harms": [HarmType(h).label for h in case.harm_types or () if h in HarmType.values],
        "dsa_label": dict(DsaCategory.choices).get(case.dsa_category, case.dsa_category),
        "consent_rows": consent_rows,
        "monitoring": state[ConsentScope.MONITOR],
        "consent_history": list(reversed(history)),
        "items": items,
        "removed_count": content.filter(removed_at__isnull=False).count(),
        "timeline": [(event, _describe(event)) for event in events],
        "status_label": CaseStatus(case.status).label,
    }
    for panel in CASE_PANELS:
        context.update(panel(request, case, forms))
    response = render(request, "cases/case_detail.html", context)
    # Videos dropped on the page are played, unseen, from object URLs of the officer's own files
    # to hash their frames (cases/hash-drop.js), as in the portal.
    response._csp_update = {"media-src": ["'self'", "blob:"]}  # type: ignore[attr-defined]
    return response


@require_GET
@staff_required(Perm.VIEW_CASES)
def case_detail(request: HttpRequest, number: str) -> HttpResponse:
    return _render_case(request, _case(request, number))


@require_POST
@staff_required(Perm.EDIT_CASE)
def case_status(request: HttpRequest, number: str) -> HttpResponse:
    case = _case(request, number)
    form = StatusForm(request.POST, current=case.status)
    if form.is_valid():
        try:
            case = actions.change_status(
                actor=staff_user(request), case=case, status=form.cleaned_data["status"]
            )
        except ActionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request, _("The case is now: %(status)s.") % {"status": CaseStatus(case.status).label}
            )
            return redirect(_case_url(case, "status-panel"))
    return _render_case(request, case, forms={"status_form": form})


@require_POST
@staff_required(Perm.EDIT_CASE)
def case_classification(request: HttpRequest, number: str) -> HttpResponse:
    user = staff_user(request)
    case = _case(request, number)
    form = ClassificationForm(request.POST, user=user, initial=_classification_initial(case))
    if form.is_valid():
        if not form.has_changed():
            messages.info(request, _("Nothing was changed."))
            return redirect(_case_url(case, "details-panel"))
        changed = {name: form.cleaned_data[name] for name in form.changed_data}
        try:
            case = actions.update_case(actor=user, case=case, **changed)
        except ActionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("The case details are saved."))
            return redirect(_case_url(case, "details-panel"))
    return _render_case(request, case, forms={"classification_form": form})


@require_POST
@staff_required(Perm.VIEW_CONTACT)
def case_contact(request: HttpRequest, number: str) -> HttpResponse:
    """Show the survivor's contact details and notes once; the viewing is audited by the action."""
    case = _case(request, number)
    try:
        revealed = actions.reveal_secrets(actor=staff_user(request), case=case)
    except DecryptionError:
        messages.error(
            request,
            _("The contact details cannot be decrypted with the current keys. Ask your administrator."),
        )
        return _render_case(request, case)
    return _render_case(request, case, revealed=revealed)


@require_POST
@staff_required(Perm.VIEW_CONTACT)
def case_safety_plan(request: HttpRequest, number: str) -> HttpResponse:
    case = _case(request, number)
    form = SafetyPlanForm(request.POST)
    if form.is_valid():
        try:
            actions.set_safety_plan(actor=staff_user(request), case=case, text=form.cleaned_data["text"])
        except ActionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("The safety plan is saved. It is shown with the contact details."))
            return redirect(_case_url(case, "contact-panel"))
    return _render_case(request, case, forms={"safety_plan_form": form})


@require_POST
@staff_required(Perm.VIEW_CONTACT)
def case_note(request: HttpRequest, number: str) -> HttpResponse:
    case = _case(request, number)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            actions.add_note(actor=staff_user(request), case=case, text=form.cleaned_data["text"])
        except ActionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Note added. It is shown with the contact details."))
            return redirect(_case_url(case, "contact-panel"))
    return _render_case(request, case, forms={"note_form": form})


@require_POST
@staff_required(Perm.MANAGE_CONSENT)
def case_consent(request: HttpRequest, number: str) -> HttpResponse:
    case = _case(request, number)
    form = ConsentForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            actions.record_consent(
                actor=staff_user(request),
                case=case,
                scope=data["scope"],
                granted=data["granted"],
                method=data["method"],
                note=data["note"],
            )
        except ActionError as exc:
            form.add_error(None, str(exc))
        else:
            scope = ConsentScope(data["scope"]).label
            if data["granted"]:
                messages.success(request, _("Consent recorded: %(scope)s.") % {"scope": scope})
            elif data["scope"] == ConsentScope.MONITOR:
                messages.success(
                    request,
                    _("Consent withdrawn: %(scope)s. This case's hashes no longer match in monitoring.")
                    % {"scope": scope},
                )
            else:
                messages.success(request, _("Consent withdrawn: %(scope)s.") % {"scope": scope})
            return redirect(_case_url(case, "consent-panel"))
    return _render_case(request, case, forms={"consent_form": form})


@require_POST
@staff_required(Perm.MANAGE_CONSENT)
def case_consent_all(request: HttpRequest, number: str) -> HttpResponse:
    """Every purpose in one submit: the ones that changed are recorded, together."""
    case = _case(request, number)
    form = ConsentAllForm(request.POST, current=actions.current_consent(case))
    if form.is_valid():
        decisions = form.decisions()
        if not decisions:
            messages.info(request, _("Nothing was changed."))
            return redirect(_case_url(case, "consent-panel"))
        try:
            actions.record_consents(
                actor=staff_user(request),
                case=case,
                decisions=decisions,
                method=form.cleaned_data["method"],
                note=form.cleaned_data["note"],
            )
        except ActionError as exc:
            form.add_error(None, str(exc))
        else:
            labels = dict(ConsentScope.choices)
            granted = [str(labels[s]) for s, on in decisions.items() if on]
            withdrawn = [str(labels[s]) for s, on in decisions.items() if not on]
            if granted:
                messages.success(request, _("Consent recorded: %(scope)s.") % {"scope": "; ".join(granted)})
            if withdrawn:
                messages.success(
                    request, _("Consent withdrawn: %(scope)s.") % {"scope": "; ".join(withdrawn)}
                )
            if ConsentScope.MONITOR in decisions and not decisions[ConsentScope.MONITOR]:
                messages.info(request, _("This case's hashes no longer match in monitoring."))
            return redirect(_case_url(case, "consent-panel"))
    return _render_case(request, case, forms={"consent_all_form": form})


def _add_content(
    request: HttpRequest, case: Case, form: PasteHashesForm | HashItemForm, key: str
) -> HttpResponse:
    if form.is_valid():
        try:
            added = actions.add_content_once(
                actor=staff_user(request), case=case, items=form.cleaned_data["items"]
            )
        except ActionError as exc:
            form.add_error(None, str(exc))
        else:
            if added.created:
                messages.success(
                    request,
                    ngettext("%(count)s picture added.", "%(count)s pictures added.", len(added.created))
                    % {"count": len(added.created)},
                )
            lines = getattr(form, "good_lines", [])
            for position, same in added.duplicates:
                where = (
                    _("Line %(line)s") % {"line": lines[position]}
                    if position < len(lines)
                    else _("These hashes")
                )
                messages.warning(
                    request,
                    _("%(where)s: already on the case as “%(label)s”, so not added again.")
                    % {"where": where, "label": same},
                )
            left_out = form.cleaned_data.get("bad_text", "")
            if left_out:
                # The lines left out stay in the box, to fix and paste again.
                messages.warning(
                    request,
                    ngettext(
                        "%(count)s line was left out; it is still in the box.",
                        "%(count)s lines were left out; they are still in the box.",
                        len(getattr(form, "bad_lines", [])),
                    )
                    % {"count": len(getattr(form, "bad_lines", []))},
                )
                fresh = PasteHashesForm(initial={"lines": left_out, "label": form.cleaned_data["label"]})
                return _render_case(request, case, forms={key: fresh})
            return redirect(_case_url(case, "content-panel"))
    return _render_case(request, case, forms={key: form})


@require_POST
@staff_required(Perm.MANAGE_CONTENT)
def content_paste(request: HttpRequest, number: str) -> HttpResponse:
    case = _case(request, number)
    form = PasteHashesForm(request.POST, first_number=ContentItem.objects.filter(case=case).count() + 1)
    return _add_content(request, case, form, "paste_form")


@require_POST
@staff_required(Perm.MANAGE_CONTENT)
def content_add(request: HttpRequest, number: str) -> HttpResponse:
    case = _case(request, number)
    return _add_content(request, case, HashItemForm(request.POST), "item_form")


@require_POST
@staff_required(Perm.MANAGE_CONTENT)
def content_remove(request: HttpRequest, number: str, item_id: int) -> HttpResponse:
    case = _case(request, number)
    item = ContentItem.objects.filter(pk=item_id, case=case, removed_at__isnull=True).first()
    if item is None:
        raise Http404
    try:
        actions.remove_content(actor=staff_user(request), item=item)
    except ActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, _("“%(label)s” removed. Its hashes no longer match.") % {"label": item.label}
        )
    return redirect(_case_url(case, "content-panel"))


# --- follow-ups ----------------------------------------------------------------------------------


@require_POST
@staff_required(Perm.EDIT_CASE)
def follow_up_add(request: HttpRequest, number: str) -> HttpResponse:
    user = staff_user(request)
    case = _case(request, number)
    form = FollowUpForm(request.POST, user=user)
    if form.is_valid():
        data = form.cleaned_data
        try:
            follow_up = actions.add_follow_up(
                actor=user, case=case, due_on=data["due_on"], text=data["text"], assignee=data["assignee"]
            )
        except ActionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                _("Follow-up added, due on %(date)s.")
                % {"date": date_format(follow_up.due_on, "DATE_FORMAT")},
            )
            return redirect(_case_url(case, "follow-ups-panel"))
    return _render_case(request, case, forms={"follow_up_form": form})


@require_POST
@staff_required(Perm.EDIT_CASE)
def follow_up_done(request: HttpRequest, number: str, follow_up_id: int) -> HttpResponse:
    case = _case(request, number)
    follow_up = FollowUp.objects.filter(pk=follow_up_id, case=case, organisation=case.organisation).first()
    if follow_up is None:
        raise Http404
    try:
        actions.complete_follow_up(actor=staff_user(request), follow_up=follow_up)
    except ActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Follow-up marked as done."))
    return redirect(_case_url(case, "follow-ups-panel"))
