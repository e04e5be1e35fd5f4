"""The awareness pages: public ones under the survivor portal, and the staff editor.

Thin views: the public ones only read; forms check input and ``actions`` make every write."""

from __future__ import annotations

import datetime
import zoneinfo

from django.conf import settings
from django.contrib import messages
from django.db.models import Max
from django.db.models.functions import Length
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from haven.web.accounts.decorators import staff_required, staff_user
from haven.web.accounts.models import Organisation, User
from haven.web.accounts.roles import Perm
from haven.web.core.access import own_or_404
from haven.web.core.errors import ActionError
from haven.web.core.pdf import pdf_language
from haven.web.portal.views import portal_page

from . import actions
from .content import SUMMARIES, built_in
from .forms import CampaignForm, PageForm
from .markup import render as render_markdown
from .models import Campaign, Revision, Topic
from .poster import poster_pdf


def _today(org: Organisation) -> datetime.date:
    try:
        zone = zoneinfo.ZoneInfo(org.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    return timezone.now().astimezone(zone).date()


def _public_context(org: Organisation) -> dict[str, object]:
    return {
        "centre": org,
        "topics": [(topic, label, SUMMARIES[topic]) for topic, label in Topic.choices],
        "campaigns": actions.running(org, get_language(), _today(org)),
    }


# ---- public -------------------------------------------------------------------------------------


@require_GET
@portal_page
def centres(request: HttpRequest) -> HttpResponse:
    organisations = list(
        Organisation.objects.filter(sandbox=False).order_by("name").only("pk", "name", "slug")
    )
    if len(organisations) == 1:
        return index(request, organisations[0].slug)
    return render(request, "awareness/centres.html", {"organisations": organisations})


@require_GET
@portal_page
def index(request: HttpRequest, slug: str) -> HttpResponse:
    org = get_object_or_404(Organisation, slug=slug, sandbox=False)  # a sandbox has no public pages
    return render(request, "awareness/index.html", _public_context(org))


@require_GET
@portal_page
def page_view(request: HttpRequest, slug: str, topic: str) -> HttpResponse:
    org = get_object_or_404(Organisation, slug=slug, sandbox=False)  # a sandbox has no public pages
    if topic not in Topic.values:
        raise Http404
    shown = actions.page(org, topic, get_language())
    return render(
        request,
        "awareness/page.html",
        {**_public_context(org), "topic": topic, "page": shown, "html": render_markdown(shown.body)},
    )


# ---- staff --------------------------------------------------------------------------------------


def _organisation(user: User) -> Organisation:
    if user.organisation is None:  # staff_required lets nobody without one through
        raise Http404
    return user.organisation


def _languages() -> list[tuple[str, str]]:
    return [(code, str(name)) for code, name in settings.LANGUAGES]


@require_http_methods(["GET", "POST"])
@staff_required(Perm.MANAGE_AWARENESS)
def manage(request: HttpRequest) -> HttpResponse:
    """Every page in every language (built-in or edited, when, by whom), the campaigns, the poster."""
    user = staff_user(request)
    org = _organisation(user)
    form = CampaignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            actions.add_campaign(
                actor=user,
                message=data["message"],
                language=data["language"],
                starts_on=data["starts_on"],
                ends_on=data["ends_on"],
            )
        except ActionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Campaign banner added."))
            return redirect("awareness:manage")
    latest: dict[tuple[str, str], Revision] = {}
    newest = (
        Revision.objects.filter(organisation=org)
        .values("topic", "language")
        .annotate(newest=Max("pk"))
        .values_list("newest", flat=True)
    )
    for revision in (
        Revision.objects.filter(pk__in=list(newest)).defer("body").annotate(text_length=Length("body"))
    ):
        latest[(revision.topic, revision.language)] = revision
    rows = [
        (topic, label, [(code, name, latest.get((topic, code))) for code, name in _languages()])
        for topic, label in Topic.choices
    ]
    today = _today(org)
    return render(
        request,
        "awareness/manage.html",
        {
            "rows": rows,
            "languages": _languages(),
            "form": form,
            "campaigns": Campaign.objects.filter(organisation=org, ends_on__gte=today),
            "past_campaigns": Campaign.objects.filter(organisation=org, ends_on__lt=today).order_by(
                "-ends_on"
            )[:20],
            "today": today,
            "centre": org,
        },
    )


@require_http_methods(["GET", "POST"])
@staff_required(Perm.MANAGE_AWARENESS)
def edit(request: HttpRequest, topic: str, language: str) -> HttpResponse:
    """Edit one page in one language, with a preview before publishing and every revision below."""
    user = staff_user(request)
    org = _organisation(user)
    if topic not in Topic.values or language not in actions.LANGUAGES:
        raise Http404
    with translation.override(language):
        shown = actions.page(org, topic, language)
        default = built_in(topic, org)
    preview = None
    form = PageForm(request.POST or None, initial={"title": shown.title, "body": shown.body})
    if request.method == "POST" and form.is_valid():
        title, body = form.cleaned_data["title"], form.cleaned_data["body"]
        if request.POST.get("do") == "preview":
            with translation.override(language):
                preview = render_markdown(body or default.body)
        else:
            try:
                actions.save_page(actor=user, topic=topic, language=language, title=title, body=body)
            except ActionError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("The page is published."))
                return redirect("awareness:edit", topic=topic, language=language)
    revisions = Revision.objects.filter(organisation=org, topic=topic, language=language).select_related(
        "created_by"
    )[:50]
    return render(
        request,
        "awareness/edit.html",
        {
            "topic": topic,
            "topic_label": Topic(topic).label,
            "language": language,
            "language_name": dict(_languages())[language],
            "form": form,
            "preview": preview,
            "revisions": revisions,
            "built_in_shown": shown.built_in,
            "public_url": reverse("learn:page", args=[org.slug, topic]) + f"?lang={language}",
        },
    )


@require_POST
@staff_required(Perm.MANAGE_AWARENESS)
def restore(request: HttpRequest, revision_id: int) -> HttpResponse:
    user = staff_user(request)
    revision = own_or_404(user, Revision, revision_id)
    try:
        actions.restore(actor=user, revision=revision)
    except ActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("The earlier revision is published again."))
    return redirect("awareness:edit", topic=revision.topic, language=revision.language)


@require_POST
@staff_required(Perm.MANAGE_AWARENESS)
def remove_campaign(request: HttpRequest, campaign_id: int) -> HttpResponse:
    user = staff_user(request)
    campaign = own_or_404(user, Campaign, campaign_id)
    actions.remove_campaign(actor=user, campaign=campaign)
    messages.success(request, _("Campaign banner removed."))
    return redirect("awareness:manage")


@require_GET
@staff_required(Perm.MANAGE_AWARENESS)
def poster(request: HttpRequest) -> HttpResponse:
    """The poster PDF in ``?lang=`` (else the page language), with a QR code to the portal."""
    user = staff_user(request)
    org = _organisation(user)
    asked = request.GET.get("lang") or get_language()
    if asked not in actions.LANGUAGES:
        raise Http404
    language = pdf_language(asked)
    base = (
        str(getattr(settings, "HAVEN_BASE_URL", "") or "").rstrip("/") or request.build_absolute_uri("/")[:-1]
    )
    url = f"{base}{reverse('portal:landing')}?lang={language}"
    with translation.override(language):
        data = poster_pdf(org, portal_url=url, language=language)
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="poster-{org.slug}-{language}.pdf"'
    return response
