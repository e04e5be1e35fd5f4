"""The deletion officer's desk: a queue by deadline, bulk actions, notices, the platform directory."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, F, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from haven.web.accounts.decorators import staff_required, staff_user
from haven.web.accounts.roles import Perm
from haven.web.audit.chain import append_read
from haven.web.audit.models import EventType
from haven.web.cases.actions import current_consent
from haven.web.cases.models import Case, ConsentScope
from haven.web.cases.views import case_or_404
from haven.web.core.access import organisation_or_404, own_or_404
from haven.web.core.errors import ActionError, NotFound

from . import actions, records, regimes
from .forms import (
    BULK_ACTIONS,
    EscalateForm,
    NoticeForm,
    PlatformForm,
    QueueFilterForm,
    ReplyForm,
    SightingsForm,
    WebFormSentForm,
)
from .models import OPEN_STATES, Evidence, Notice, NoticeState, Platform, Sighting, SightingState
from .pdf import notice_pdf

PAGE_SIZE = 50


def _org(request: HttpRequest) -> int:
    return organisation_or_404(staff_user(request))


def _own(request: HttpRequest, model: Any, pk: int) -> Any:
    return own_or_404(staff_user(request), model, pk)


def _case(request: HttpRequest, number: str) -> Case:
    return case_or_404(request, number)


# --- the case page's panel, and adding sightings --------------------------------------------------


def case_panel(request: HttpRequest, case: Case, forms: dict[str, Any]) -> dict[str, Any]:
    """The sightings panel's context on the case page (registered in ``TakedownConfig.ready``)."""
    sightings = list(
        Sighting.objects.filter(case=case).select_related("platform").order_by("state", "created_at")
    )
    return {
        "sightings": sightings,
        "sightings_form": forms.get("sightings_form") or SightingsForm(),
        "takedown_consent": current_consent(case).get(ConsentScope.TAKEDOWN, False),
    }


@require_POST
@staff_required(Perm.TAKEDOWN)
def add_sightings(request: HttpRequest, number: str) -> HttpResponse:
    case = _case(request, number)
    form = SightingsForm(request.POST)
    if form.is_valid():
        try:
            result = actions.add_sightings(
                actor=staff_user(request),
                case=case,
                urls=actions.parse_url_list(form.cleaned_data["urls"]),
                source=form.cleaned_data["source"],
                media_url=form.cleaned_data["media_url"],
            )
        except ActionError as exc:
            messages.error(request, str(exc))
        else:
            text = ngettext("%(n)d sighting added.", "%(n)d sightings added.", len(result.created)) % {
                "n": len(result.created)
            }
            if result.duplicates:
                text += " " + ngettext(
                    "%(n)d was already on the case.",
                    "%(n)d were already on the case.",
                    len(result.duplicates),
                ) % {"n": len(result.duplicates)}
            messages.success(request, text)
    else:
        messages.error(
            request,
            _("Check the URLs: %(errors)s")
            % {"errors": " ".join(str(e) for e in form.errors.get("urls", []))},
        )
    return redirect(reverse("cases:detail", args=[case.number]) + "#sightings-panel")


# --- the queue -------------------------------------------------------------------------------


@require_GET
@staff_required(Perm.TAKEDOWN)
def queue(request: HttpRequest) -> HttpResponse:
    """Open sightings, the most urgent deadline first; overdue ones at the top."""
    form = QueueFilterForm(request.GET or None)
    now = timezone.now()
    rows = Sighting.objects.filter(organisation_id=_org(request)).select_related(
        "case", "platform", "assignee"
    )
    state = ""
    if form.is_valid():
        state = form.cleaned_data["state"]
        if form.cleaned_data["platform"]:
            text = form.cleaned_data["platform"]
            rows = rows.filter(Q(platform__name__icontains=text) | Q(host__icontains=text))
        if form.cleaned_data["case"]:
            rows = rows.filter(case__number=form.cleaned_data["case"].strip().upper())
        if form.cleaned_data["mine"]:
            rows = rows.filter(assignee=staff_user(request))
    if state == "overdue":
        rows = rows.filter(deadline_at__lt=now).exclude(state=SightingState.REMOVED)
    elif state:
        rows = rows.filter(state=state)
    else:
        rows = rows.filter(state__in=OPEN_STATES)
    rows = rows.order_by(F("deadline_at").asc(nulls_last=True), "created_at", "id")
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    counts: dict[str, int] = dict(
        Sighting.objects.filter(organisation_id=_org(request)).values_list("state").annotate(n=Count("id"))
    )
    overdue = (
        Sighting.objects.filter(organisation_id=_org(request), deadline_at__lt=now)
        .exclude(state=SightingState.REMOVED)
        .count()
    )
    unknown_hosts = (
        Sighting.objects.filter(organisation_id=_org(request), platform__isnull=True)
        .values("host")
        .annotate(n=Count("id"))
        .order_by("-n", "host")[:20]
    )
    return render(
        request,
        "takedown/queue.html",
        {
            "form": form,
            "page": page,
            "now": now,
            "counts": [(s, counts.get(s.value, 0)) for s in SightingState],
            "overdue": overdue,
            "unknown_hosts": unknown_hosts,
            "bulk_actions": BULK_ACTIONS,
            "escalate_form": EscalateForm(),
            "officers": _officers(request),
            "query": request.GET.urlencode(),
        },
    )


def _officers(request: HttpRequest) -> list[Any]:
    from haven.web.notifications.actions import users_who_can

    return sorted(users_who_can(_org(request), Perm.TAKEDOWN), key=lambda u: u.username)


def _selected(request: HttpRequest) -> list[Sighting]:
    ids = [int(x) for x in request.POST.getlist("sighting") if x.isdigit()][: actions.MAX_BULK_URLS]
    return list(
        Sighting.objects.filter(organisation_id=_org(request), pk__in=ids).select_related("case", "platform")
    )


@require_POST
@staff_required(Perm.TAKEDOWN)
def bulk(request: HttpRequest) -> HttpResponse:
    """One action on the ticked sightings; each is tried on its own and the outcome counted."""
    user = staff_user(request)
    chosen = _selected(request)
    back = reverse("takedown:queue") + ("?" + request.POST["query"] if request.POST.get("query") else "")
    if not chosen:
        messages.error(request, _("Tick at least one sighting."))
        return redirect(back)
    action = request.POST.get("action")
    if action == "notice":
        return redirect(reverse("takedown:notice_new") + "?" + "&".join(f"s={s.pk}" for s in chosen))
    done, failed = 0, []
    if action == "escalate":
        form = EscalateForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Choose where to escalate to."))
            return redirect(back)
        for s in chosen:
            try:
                actions.escalate(actor=user, sightings=[s], **form.cleaned_data)
                done += 1
            except ActionError as exc:
                failed.append(f"{s.url}: {exc}")
    elif action == "assign":
        wanted = request.POST.get("assignee", "")
        officer = next((u for u in _officers(request) if str(u.pk) == wanted), None)
        if officer is None and wanted != "nobody":
            messages.error(request, _("Choose the officer."))
            return redirect(back)
        try:
            done = actions.assign_sightings(actor=user, sightings=chosen, assignee=officer)
        except ActionError as exc:
            failed.append(str(exc))
    elif action in ("capture", "recheck"):
        fetch = actions.fetch_all(u for s in chosen for u in (s.url, s.media_url) if u)
        for s in chosen:
            try:
                if action == "capture":
                    actions.capture_evidence(actor=user, sighting=s, fetch=fetch)
                else:
                    actions.recheck(actor=user, sighting=s, fetch=fetch)
                done += 1
            except ActionError as exc:
                failed.append(str(exc))
    else:
        messages.error(request, _("Choose an action."))
        return redirect(back)
    if done:
        messages.success(
            request, ngettext("Done for %(n)d sighting.", "Done for %(n)d sightings.", done) % {"n": done}
        )
    for text in failed[:10]:
        messages.error(request, text)
    return redirect(back)


@require_GET
@staff_required(Perm.TAKEDOWN)
def sighting_detail(request: HttpRequest, pk: int) -> HttpResponse:
    sighting = _own(request, Sighting, pk)
    return render(
        request,
        "takedown/sighting.html",
        {
            "sighting": sighting,
            "events": [(ev, SightingState(ev.to_state).label) for ev in sighting.events.all()],
            "evidence": sighting.evidence.select_related("matched_item").order_by("-fetched_at", "-id"),
            "notices": sighting.notices.select_related("platform"),
            "escalate_form": EscalateForm(),
            "screenshot_days": settings.HAVEN_EVIDENCE_SCREENSHOT_DAYS,
        },
    )


@require_POST
@staff_required(Perm.TAKEDOWN)
def sighting_action(request: HttpRequest, pk: int) -> HttpResponse:
    sighting = _own(request, Sighting, pk)
    user = staff_user(request)
    action = request.POST.get("action")
    try:
        if action == "capture":
            rows = actions.capture_evidence(actor=user, sighting=sighting)
            messages.success(
                request,
                _("Evidence captured (HTTP %(status)s).")
                % {"status": ", ".join(str(e.status) for e in rows)},
            )
            for e in rows:
                if e.screenshot_error:
                    messages.warning(request, e.screenshot_error)
        elif action == "recheck":
            outcome = actions.recheck(actor=user, sighting=sighting)
            messages.success(request, _("Rechecked: %(reason)s.") % {"reason": outcome.reason})
        elif action == "escalate":
            form = EscalateForm(request.POST)
            if not form.is_valid():
                raise ActionError(_("Choose where to escalate to."))
            actions.escalate(actor=user, sightings=[sighting], **form.cleaned_data)
            messages.success(request, _("Escalated."))
        else:
            raise ActionError(_("Choose an action."))
    except ActionError as exc:
        messages.error(request, str(exc))
    return redirect("takedown:sighting", pk=sighting.pk)


@require_POST
@staff_required(Perm.TAKEDOWN)
def evidence_upload(request: HttpRequest, pk: int) -> HttpResponse:
    """The officer's own screenshot or PDF of a page Haven could not fetch."""
    sighting = _own(request, Sighting, pk)
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, _("Choose the file to upload."))
        return redirect("takedown:sighting", pk=sighting.pk)
    if upload.size is not None and upload.size > actions.UPLOAD_MAX_BYTES:
        messages.error(
            request, _("The file is larger than %(mb)s MB.") % {"mb": actions.UPLOAD_MAX_BYTES // 2**20}
        )
        return redirect("takedown:sighting", pk=sighting.pk)
    try:
        ev = actions.upload_evidence(actor=staff_user(request), sighting=sighting, data=upload.read())
    except ActionError as exc:
        messages.error(request, str(exc))
    else:
        if ev.distance is not None and ev.matches:
            messages.success(request, _("Evidence uploaded: it matches the case's pictures."))
        else:
            messages.success(request, _("Evidence uploaded."))
    return redirect("takedown:sighting", pk=sighting.pk)


@require_GET
@staff_required(Perm.TAKEDOWN)
def evidence_screenshot(request: HttpRequest, pk: int) -> HttpResponse:
    """The screenshot of a page (or the file the officer uploaded), decrypted for this one response;
    never cached, each showing audited."""
    evidence = _own(request, Evidence, pk)
    try:
        data = actions.open_screenshot(actor=staff_user(request), evidence=evidence)
    except NotFound:
        raise Http404 from None
    kind = evidence.sniffed_type if evidence.purpose == "upload" else "image/png"
    if kind not in actions.UPLOAD_TYPES:
        kind = "image/png"
    extension = {"image/jpeg": "jpg", "application/pdf": "pdf"}.get(kind, kind.rsplit("/", 1)[-1])
    response = HttpResponse(data, content_type=kind)
    response["Cache-Control"] = "no-store, private"
    response["Content-Disposition"] = f'inline; filename="evidence-{evidence.pk}.{extension}"'
    return response


# --- notices ---------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@staff_required(Perm.TAKEDOWN)
def notice_new(request: HttpRequest) -> HttpResponse:
    user = staff_user(request)
    ids = [int(x) for x in (request.POST.getlist("s") or request.GET.getlist("s")) if x.isdigit()]
    sightings = list(
        Sighting.objects.filter(
            organisation_id=_org(request), pk__in=ids[: actions.MAX_BULK_URLS]
        ).select_related("case", "platform")
    )
    if not sightings:
        messages.error(request, _("Tick the sightings the notice is about."))
        return redirect("takedown:queue")
    case = sightings[0].case
    platform = sightings[0].platform
    # Refused before the form is filled in: what must happen first (evidence, consent, a platform).
    try:
        actions.notice_preconditions(actor=user, sightings=sightings)
    except ActionError as exc:
        return render(
            request,
            "takedown/notice_new.html",
            {"blocked": str(exc), "sightings": sightings, "case": case, "platform": platform},
            status=409,
        )
    may_name = current_consent(case).get(ConsentScope.IDENTIFY, False)
    organisation = user.organisation
    initial = {
        "regime": actions.default_regime(platform, organisation.country if organisation else ""),
        "language": platform.language if platform else "en",
        "signer": user.get_full_name() or user.username,
        "notifier_email": settings.DEFAULT_FROM_EMAIL,
    }
    form = NoticeForm(request.POST or None, initial=initial, may_name=may_name)
    if request.method == "POST" and form.is_valid():
        try:
            notice = actions.draft_notice(
                actor=user, sightings=sightings, data=actions.NoticeInput(**form.cleaned_data)
            )
        except actions.NoticeIncomplete as exc:
            # Each missing element is said once, at its own field.
            for element in exc.missing:
                form.add_error(
                    NOTICE_FIELDS.get(element),
                    _("Required for this notice: %(what)s.") % {"what": exc.labels[element]},
                )
        except ActionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Notice drafted. Read it, then send it."))
            return redirect("takedown:notice", pk=notice.pk)
    return render(
        request,
        "takedown/notice_new.html",
        {
            "form": form,
            "fields": [(field, " ".join(_regimes_needing(field.name))) for field in form],
            "sightings": sightings,
            "case": case,
            "platform": platform,
            "may_name": may_name,
        },
    )


# The form field that carries each element a regime may require.
NOTICE_FIELDS = {
    "explanation": "explanation",
    "signer": "signer",
    "notifier_email": "notifier_email",
    "good_faith": "good_faith",
    "accurate": "accurate",
    "work": "work",
    "owner_authorised": "owner_authorised",
    "personal_information": "personal_information",
    "data_subject_authorised": "data_subject_authorised",
    "search_queries": "search_queries",
    "search_result_urls": "search_result_urls",
    "contact": "notifier_address",
}


def _regimes_needing(field: str) -> list[str]:
    """The regimes whose notice needs this field, when only some do (the others hide it); empty for
    a field every notice shows."""
    elements = {e for e, name in NOTICE_FIELDS.items() if name == field}
    if field == "notifier_phone":
        elements = {"contact"}
    if not elements:
        return []
    codes = [r.code for r in regimes.REGIMES.values() if elements & set(r.required)]
    return [] if len(codes) == len(regimes.REGIMES) else codes


@require_GET
@staff_required(Perm.TAKEDOWN)
def notice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    notice = _own(request, Notice, pk)
    return render(
        request,
        "takedown/notice.html",
        {
            "notice": notice,
            "body": actions.notice_body(notice),
            "sightings": notice.sightings.all(),
            "replies": notice.replies.all(),
            "reply_form": ReplyForm(),
            "web_form": WebFormSentForm(),
            "by_email": "@" in notice.recipient and not notice.recipient.startswith("http"),
        },
    )


@require_GET
@staff_required(Perm.TAKEDOWN)
def notice_pdf_view(request: HttpRequest, pk: int) -> HttpResponse:
    notice = _own(request, Notice, pk)
    response = HttpResponse(notice_pdf(notice, actions.notice_body(notice)), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="notice-{notice.pk}.pdf"'
    return response


@require_POST
@staff_required(Perm.TAKEDOWN)
def notice_action(request: HttpRequest, pk: int) -> HttpResponse:
    notice = _own(request, Notice, pk)
    user = staff_user(request)
    action = request.POST.get("action")
    try:
        if action == "send":
            actions.send_notice(actor=user, notice=notice)
            messages.success(request, _("Notice sent to %(to)s.") % {"to": notice.recipient})
        elif action == "web_form":
            form = WebFormSentForm(request.POST)
            if not form.is_valid():
                raise ActionError(_("Give the platform's reference (the ticket or confirmation number)."))
            actions.record_web_form(actor=user, notice=notice, reference=form.cleaned_data["reference"])
            messages.success(request, _("Recorded as sent through the web form."))
        elif action == "reply":
            reply = ReplyForm(request.POST)
            if not reply.is_valid():
                raise ActionError(_("Choose what the platform said."))
            actions.log_reply(actor=user, notice=notice, **reply.cleaned_data)
            messages.success(request, _("Reply logged."))
        else:
            raise ActionError(_("Choose an action."))
    except ActionError as exc:
        messages.error(request, str(exc))
    return redirect("takedown:notice", pk=notice.pk)


@require_GET
@staff_required(Perm.TAKEDOWN)
def notice_list(request: HttpRequest) -> HttpResponse:
    rows = Notice.objects.filter(organisation_id=_org(request)).select_related("platform", "case")
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "takedown/notices.html",
        {
            "page": page,
            "figures": records.platform_figures(_org(request), timezone.now()),
            "states": NoticeState,
        },
    )


@require_GET
@staff_required(Perm.TAKEDOWN)
def notice_export(request: HttpRequest, fmt: str) -> HttpResponse:
    if fmt not in ("json", "csv"):
        raise Http404
    user = staff_user(request)
    rows = records.notice_records(
        Notice.objects.filter(organisation_id=_org(request), sent_at__isnull=False).order_by("sent_at", "id")
    )
    append_read(
        actor=user,
        event_type=EventType.NOTICES_EXPORTED,
        organisation=_org(request),
        summary={"format": fmt, "notices": len(rows)},
    )
    if fmt == "csv":
        response = HttpResponse(records.as_csv(rows), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(
            json.dumps(rows, ensure_ascii=False, indent=1), content_type="application/json"
        )
    response["Content-Disposition"] = f'attachment; filename="haven-notices.{fmt}"'
    return response


# --- the platform directory ------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@staff_required(Perm.MANAGE_PLATFORMS)
def platforms(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    user = staff_user(request)
    platform = _own(request, Platform, pk) if pk is not None else None
    if platform is not None:
        initial: dict[str, Any] = {
            "name": platform.name,
            "kind": platform.kind,
            "domains": "\n".join(platform.domains.values_list("domain", flat=True)),
            "abuse_email": platform.abuse_email,
            "web_form_url": platform.web_form_url,
            "country": platform.country,
            "regimes": platform.regimes,
            "language": platform.language,
            "response_hours": platform.response_hours,
            "notes": platform.notes,
        }
    else:
        initial = {"domains": request.GET.get("domain", ""), "response_hours": 72, "language": "en"}
    form = PlatformForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        data["domains"] = [d for d in data["domains"].splitlines() if d.strip()]
        try:
            saved = actions.save_platform(actor=user, data=actions.PlatformInput(**data), platform=platform)
        except ActionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("%(name)s saved.") % {"name": saved.name})
            return redirect("takedown:platforms")
    rows = (
        Platform.objects.filter(organisation_id=_org(request))
        .prefetch_related("domains")
        .annotate(open=Count("sightings", filter=~Q(sightings__state=SightingState.REMOVED)))
    )
    return render(request, "takedown/platforms.html", {"form": form, "platforms": rows, "editing": platform})
