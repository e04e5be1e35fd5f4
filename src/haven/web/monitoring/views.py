"""Monitoring pages: sources and their runs, and the review queue (found pictures blurred by default)."""

from __future__ import annotations

import io
from collections import Counter
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from PIL import Image, ImageFilter

from haven.web.accounts.decorators import staff_required, staff_user
from haven.web.accounts.roles import Perm
from haven.web.audit.chain import append_read
from haven.web.audit.models import EventType
from haven.web.core.access import organisation_or_404, own_or_404
from haven.web.core.errors import ActionError

from . import actions, wellbeing
from .forms import IdentifierForm, SourceForm
from .models import (
    Candidate,
    CandidateState,
    Identifier,
    IdentifierKind,
    MonitorSource,
    ScanRun,
    TextCandidate,
)

PREVIEW_SIDE = 320
PREVIEW_MAX_PIXELS = 60_000_000
BLUR_RADIUS = 14


def _org(request: HttpRequest) -> int:
    return organisation_or_404(staff_user(request))


def _own(request: HttpRequest, model: Any, pk: int) -> Any:
    return own_or_404(staff_user(request), model, pk)


@require_http_methods(["GET", "POST"])
@staff_required(Perm.MANAGE_SOURCES)
def sources(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    user = staff_user(request)
    source = _own(request, MonitorSource, pk) if pk is not None else None
    initial: dict[str, Any] = {}
    if source is not None:
        initial = {
            f: getattr(source, f)
            for f in ("name", "kind", "target", "depth", "max_pages", "same_site", "every_hours", "active")
        }
    form = SourceForm(request.POST or None, initial=initial or None)
    if request.method == "POST" and form.is_valid():
        try:
            saved = actions.save_source(
                actor=user, data=actions.SourceInput(**form.cleaned_data), source=source
            )
        except ActionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("%(name)s saved.") % {"name": saved.name})
            return redirect("monitoring:sources")
    rows = []
    for s in MonitorSource.objects.filter(organisation_id=_org(request)):
        rows.append((s, s.runs.first()))
    return render(request, "monitoring/sources.html", {"form": form, "rows": rows, "editing": source})


@require_POST
@staff_required(Perm.MANAGE_SOURCES)
def run_now(request: HttpRequest, pk: int) -> HttpResponse:
    source = _own(request, MonitorSource, pk)
    run = actions.queue_run(actor=staff_user(request), source=source)
    messages.success(
        request, _("Scan of %(name)s queued: the background worker runs it.") % {"name": source.name}
    )
    return redirect("monitoring:run", pk=run.pk)


@require_GET
@staff_required(Perm.MANAGE_SOURCES)
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = _own(request, ScanRun, pk)
    return render(request, "monitoring/run.html", {"run": run, "stats": run.stats, "errors": run.errors})


@require_GET
@staff_required(Perm.REVIEW)
def review(request: HttpRequest) -> HttpResponse:
    """Matches waiting for review, grouped by case: found pictures (blurred until asked for) and
    pages whose text holds her identifiers (masked until asked for), each marked where the other
    kind was found on the same page."""
    org = _org(request)
    pending = Candidate.objects.filter(organisation_id=org, state=CandidateState.PENDING)
    pictures = list(
        pending.select_related("case", "content_item", "run__source").order_by(
            "case__number", "found_at", "id"
        )[:200]
    )
    text_pending = TextCandidate.objects.filter(organisation_id=org, state=CandidateState.PENDING)
    texts = list(
        text_pending.select_related("case", "run__source").order_by("case__number", "found_at", "id")[:200]
    )
    reveal = request.GET.get("reveal", "")
    pictures_on: dict[tuple[int, str], int] = {}
    for row in pending.filter(page_url__in=[t.page_url for t in texts]).values("case_id", "page_url"):
        key = (row["case_id"], row["page_url"])
        pictures_on[key] = pictures_on.get(key, 0) + 1
    text_pages = {(t.case_id, t.page_url) for t in texts}
    groups: dict[int, dict[str, Any]] = {}
    for c in pictures:
        group = groups.setdefault(c.case_id, {"case": c.case, "pictures": [], "texts": []})
        group["pictures"].append({"candidate": c, "text_too": (c.case_id, c.page_url) in text_pages})
    for t in texts:
        if reveal == str(t.pk):
            snippet, shown = actions.reveal_snippet(actor=staff_user(request), candidate=t), True
        else:
            snippet, shown = actions.snippet_of(t), False
        group = groups.setdefault(t.case_id, {"case": t.case, "pictures": [], "texts": []})
        group["texts"].append(
            {
                "candidate": t,
                "snippet": snippet.text if shown else snippet.masked,
                "shown": shown,
                "pictures": pictures_on.get((t.case_id, t.page_url), 0),
            }
        )
    return render(
        request,
        "monitoring/review.html",
        {
            "groups": sorted(groups.values(), key=lambda g: g["case"].number),
            "total": pending.count(),
            "text_total": text_pending.count(),
            "care": wellbeing.load(staff_user(request)),
        },
    )


@require_POST
@staff_required(Perm.REVIEW)
def text_decide(request: HttpRequest, pk: int) -> HttpResponse:
    candidate = _own(request, TextCandidate, pk)
    user = staff_user(request)
    decision = request.POST.get("decision")
    try:
        if decision == "confirm":
            sighting = actions.confirm_text(actor=user, candidate=candidate)
            messages.success(
                request,
                _("Confirmed: on the takedown desk for case %(case)s, as personal information.")
                % {"case": sighting.case.number},
            )
        elif decision == "reject":
            actions.reject_text(actor=user, candidate=candidate)
            messages.success(
                request, _("Rejected: this page is not raised again for this case unless it changes.")
            )
        else:
            raise ActionError(_("Choose confirm or reject."))
    except ActionError as exc:
        messages.error(request, str(exc))
    return redirect(reverse("monitoring:review") + "#review-list")


# --- a case's identifiers (a panel of the case page) ---------------------------------------------


def identifiers_panel(request: HttpRequest, case: Any, forms: dict[str, Any]) -> dict[str, Any]:
    rows = list(Identifier.objects.filter(case=case).values_list("kind", flat=True))
    labels = dict(IdentifierKind.choices)
    counts = Counter(str(labels.get(kind, kind)) for kind in rows)
    return {
        "identifier_form": forms.get("identifier_form") or IdentifierForm(),
        "identifiers_shown": forms.get("identifiers_shown"),
        "identifier_counts": sorted(counts.items()),
        "identifier_total": len(rows),
    }


def _case_page(request: HttpRequest, number: str) -> Any:
    from haven.web.cases.views import _case

    return _case(request, number)


@require_POST
@staff_required(Perm.VIEW_CONTACT)
def identifier_add(request: HttpRequest, number: str) -> HttpResponse:
    from haven.web.cases.views import _case_url, _render_case

    case = _case_page(request, number)
    form = IdentifierForm(request.POST)
    if form.is_valid():
        try:
            actions.add_identifier(
                actor=staff_user(request), case=case, data=actions.IdentifierInput(**form.cleaned_data)
            )
        except ActionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request, _("Recorded. The next scans look for it in the text of the pages they read.")
            )
            return redirect(_case_url(case, "identifiers-panel"))
    return _render_case(request, case, forms={"identifier_form": form})


@require_POST
@staff_required(Perm.VIEW_CONTACT)
def identifiers_show(request: HttpRequest, number: str) -> HttpResponse:
    from haven.web.cases.views import _render_case
    from haven.web.core.crypto import DecryptionError

    case = _case_page(request, number)
    try:
        shown = actions.reveal_identifiers(actor=staff_user(request), case=case)
    except DecryptionError:
        messages.error(
            request, _("The identifiers cannot be decrypted with the current keys. Ask your administrator.")
        )
        return _render_case(request, case)
    return _render_case(request, case, forms={"identifiers_shown": shown})


@require_POST
@staff_required(Perm.VIEW_CONTACT)
def identifier_remove(request: HttpRequest, number: str, pk: int) -> HttpResponse:
    from haven.web.cases.views import _case_url

    case = _case_page(request, number)
    identifier = _own(request, Identifier, pk)
    if identifier.case_id != case.pk:
        raise Http404
    try:
        actions.remove_identifier(actor=staff_user(request), identifier=identifier)
    except ActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Removed: scans no longer look for it."))
    return redirect(_case_url(case, "identifiers-panel"))


def _preview(data: bytes, sharp: bool, grayscale: bool = False) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        if image.width * image.height > PREVIEW_MAX_PIXELS:
            raise ValueError("too many pixels")
        image.draft("RGB", (PREVIEW_SIDE * 2, PREVIEW_SIDE * 2))
        picture = image.convert("L" if grayscale else "RGB")
    picture.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    if not sharp:
        picture = picture.filter(ImageFilter.GaussianBlur(BLUR_RADIUS))
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=80)
    return out.getvalue()


@require_GET
@staff_required(Perm.REVIEW)
def candidate_image(request: HttpRequest, pk: int) -> HttpResponse:
    """The found picture, fetched again now, shrunk and (unless asked) blurred; never stored.

    Showing it unblurred is an audited event.
    """
    from haven.scan import FetchError
    from haven.web.takedown.actions import _fetch

    candidate = _own(request, Candidate, pk)
    user = staff_user(request)
    sharp = request.GET.get("sharp") == "1"
    if sharp:
        try:
            wellbeing.may_show_sharp(user)
        except ActionError as exc:
            return HttpResponse(str(exc), status=429, content_type="text/plain; charset=utf-8")
    try:
        result = _fetch(candidate.media_url)
        if not (200 <= result.status < 300 and result.sniffed_type.startswith("image/")):
            raise ValueError("not a picture now")
        body = _preview(result.body, sharp, grayscale=wellbeing.care_of(user).grayscale)
    except (FetchError, ValueError, OSError, Image.DecompressionBombError):
        return HttpResponse(status=404, content_type="text/plain")
    if sharp:
        append_read(
            actor=user,
            event_type=EventType.CANDIDATE_VIEWED,
            organisation=candidate.organisation_id,
            obj=candidate,
            summary={"case": candidate.case.number},
        )
    response = HttpResponse(body, content_type="image/jpeg")
    response["Cache-Control"] = "no-store, private"
    return response


@require_POST
@staff_required(Perm.REVIEW)
def decide(request: HttpRequest, pk: int) -> HttpResponse:
    candidate = _own(request, Candidate, pk)
    user = staff_user(request)
    decision = request.POST.get("decision")
    try:
        if decision == "confirm":
            sighting = actions.confirm(actor=user, candidate=candidate)
            messages.success(
                request,
                _("Confirmed: on the takedown desk for case %(case)s.") % {"case": sighting.case.number},
            )
        elif decision == "reject":
            actions.reject(actor=user, candidate=candidate)
            messages.success(request, _("Rejected: it will not be raised again for this case."))
        else:
            raise ActionError(_("Choose confirm or reject."))
    except ActionError as exc:
        messages.error(request, str(exc))
    return redirect(reverse("monitoring:review") + "#review-list")


@require_POST
@staff_required(Perm.REVIEW)
def grayscale(request: HttpRequest) -> HttpResponse:
    """Her own choice: every preview (blurred or sharp) in grayscale."""
    care = wellbeing.set_grayscale(actor=staff_user(request), grayscale=request.POST.get("grayscale") == "1")
    messages.success(
        request,
        _("Previews are now in grayscale.") if care.grayscale else _("Previews are now in colour."),
    )
    return redirect("monitoring:review")


@require_http_methods(["GET", "POST"])
@staff_required(Perm.MANAGE_USERS)
def review_load(request: HttpRequest) -> HttpResponse:
    """A supervisor's view of how much each reviewer has looked at (counts only), and their limits."""
    user = staff_user(request)
    if request.method == "POST":
        from haven.web.accounts.models import User

        try:
            reviewer = own_or_404(user, User, int(request.POST.get("user", "")))
        except (ValueError, OverflowError):
            raise Http404 from None
        try:
            wellbeing.set_limits(
                actor=user,
                user=reviewer,
                daily_limit=int(request.POST.get("daily_limit", "")),
                break_every=int(request.POST.get("break_every", "")),
            )
        except (ActionError, ValueError) as exc:
            messages.error(
                request, str(exc) if isinstance(exc, ActionError) else _("Give whole numbers of pictures.")
            )
        else:
            messages.success(request, _("Limits saved for %(name)s.") % {"name": reviewer.username})
        return redirect("monitoring:review_load")
    return render(request, "monitoring/review_load.html", {"rows": wellbeing.review_load(user)})
