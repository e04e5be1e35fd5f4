"""The survivor portal's pages: no account, no session, no cookie.

Each request carries what it needs: the language as ``?lang=`` (or a hidden field), and for her
case the case number and PIN. The views only read and call ``portal.actions``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from csp.decorators import csp_update
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from haven.web.accounts.models import Organisation
from haven.web.cases.actions import current_consent
from haven.web.cases.models import CaseStatus
from haven.web.core.errors import ActionError
from haven.web.sharing.actions import partner_news

from . import actions

# 20 pictures' hashes are about 15 kB; an hour of video (3,600 frame hashes) about 320 kB, and
# actions.MAX_SUBMISSION_FRAMES keeps a submission to about three hours of video.
MAX_BODY = 2 * 1024 * 1024
LANGS = {code for code, _name in settings.LANGUAGES}

View = Callable[..., HttpResponse]


def _language(request: HttpRequest) -> str:
    asked = request.GET.get("lang") or request.POST.get("lang") or ""
    if asked in LANGS:
        return asked
    # Accept-Language only: the portal sets no language cookie and has no URL prefix.
    return translation.get_language_from_request(request) or settings.LANGUAGE_CODE


def portal_page(view: View) -> View:
    """Language from the request; no referrer, nothing cached.  (No cookie leaves any answer under
    /portal/, error pages included: ``core.middleware.NoTraceMiddleware`` drops them.)"""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        lang = _language(request)
        with translation.override(lang):
            request.LANGUAGE_CODE = lang
            response = view(request, *args, **kwargs)
            response["Content-Language"] = lang
        response["Referrer-Policy"] = "no-referrer"
        response["Cache-Control"] = "no-store"
        return response

    return wrapped


def _client(request: HttpRequest) -> str:
    """The requester's address, for the per-client rate limit.

    Behind a reverse proxy (HAVEN_BEHIND_PROXY, which sets SECURE_PROXY_SSL_HEADER) every request
    comes from the proxy, so the address the proxy appended to X-Forwarded-For is used: the last
    one, as anything before it was written by the client and could be forged.
    """
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")[-1].strip()
        if forwarded:
            return forwarded[:64]
    return str(request.META.get("REMOTE_ADDR", "")) or "unknown"


def _organisations() -> list[Organisation]:
    # Training sandboxes are never offered to a survivor: their cases are synthetic.
    return list(Organisation.objects.filter(sandbox=False).order_by("name").only("pk", "name"))


def _locked(request: HttpRequest, error: actions.PortalLocked) -> HttpResponse:
    minutes = max(1, (error.retry_after + 59) // 60)
    response = render(request, "portal/locked.html", {"minutes": minutes}, status=429)
    response["Retry-After"] = str(error.retry_after)
    return response


@require_GET
@portal_page
def landing(request: HttpRequest) -> HttpResponse:
    # Each centre keeps its own child-protection contacts: the right numbers differ by country.
    hotlines = list(
        Organisation.objects.filter(sandbox=False)
        .exclude(child_protection_info="")
        .order_by("name")
        .only("pk", "name", "child_protection_info")
    )
    return render(request, "portal/landing.html", {"hotlines": hotlines})


@require_GET
# The local thumbnails, and the video element that samples her videos' frames: object URLs of
# her own files, read on the device.
@csp_update({"img-src": ["blob:"], "media-src": ["'self'", "blob:"]})
@portal_page
def submit_page(request: HttpRequest) -> HttpResponse:
    organisations = _organisations()
    return render(
        request,
        "portal/submit.html",
        {
            "mode": "new",
            "organisations": organisations,
            "max_items": actions.MAX_ITEMS,
            "contact_max": actions.CONTACT_MAX,
        },
    )


def _bad(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _json_object(request: HttpRequest) -> dict[str, Any] | JsonResponse:
    """The request's JSON object, or the answer that refuses it (too large, not JSON, not an object)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    # Refused before the body is read: Django's own limit would answer with a bare 400.
    if declared > MAX_BODY or len(request.body) > MAX_BODY:
        return _bad(_("That is too much to send at once."), 413)
    try:
        data = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return _bad(_("The request could not be read. Please try again."))
    if not isinstance(data, dict):
        return _bad(_("The request could not be read. Please try again."))
    return data


# Exempt from CSRF because no session and no cookie exist to ride on: this request creates a new
# case from its own body and carries no ambient credential a forged request could use.
@csrf_exempt
@require_http_methods(["POST"])
@portal_page
def submit_api(request: HttpRequest) -> HttpResponse:
    data = _json_object(request)
    if isinstance(data, JsonResponse):
        return data
    organisations = _organisations()
    chosen = data.get("organisation")
    if chosen is None and len(organisations) == 1:
        matches = organisations
    elif isinstance(chosen, int) and not isinstance(chosen, bool):
        matches = [o for o in organisations if o.pk == chosen]
    else:
        matches = []
    if not matches:
        return _bad(_("Choose the centre you want to help you."))
    organisation = matches[0]
    try:
        _case, number, pin = actions.submit_hashes(
            organisation=organisation,
            items=data.get("items"),
            consents=data.get("consents", {}),
            contact=data.get("contact", ""),
            minor_when_made=data.get("minor", False),
            client=_client(request),
        )
    except ActionError as exc:
        return _bad(str(exc))
    except actions.PortalLocked as exc:
        response = _bad(_("Too many tries from here. Please wait a while and try again."), 429)
        response["Retry-After"] = str(exc.retry_after)
        return response
    return JsonResponse({"case_number": number, "pin": pin}, status=201)


# What she may decide in the portal, in the words of the submit page.
CHOICES = (
    (
        "monitor",
        gettext_lazy("Search for copies"),
        gettext_lazy("the centre keeps the fingerprints and looks for copies of your pictures online."),
    ),
    (
        "takedown",
        gettext_lazy("Ask for removal"),
        gettext_lazy("the centre asks websites to take copies down on your behalf. Your name is not given."),
    ),
    (
        "share",
        gettext_lazy("Share with platforms"),
        gettext_lazy(
            "the fingerprints (never the pictures) go to partner platforms so they can block uploads."
        ),
    ),
    ("contact", gettext_lazy("Contact me"), gettext_lazy("a counsellor may get in touch with you.")),
    (
        "statistics",
        gettext_lazy("Count me in shared figures"),
        gettext_lazy(
            "your case is counted, without your name or anything else that could identify you, in the "
            "figures the centre shares with other centres and policy makers. Small numbers are always hidden."
        ),
    ),
)


def _signed_in(request: HttpRequest) -> tuple[Any, str, HttpResponse | None]:
    """The case for the case number and PIN in the form, or the answer to give instead (locked,
    or no match)."""
    number = request.POST.get("case_number", "")[:40]
    pin = request.POST.get("pin", "")[:40]
    try:
        case = actions.check_access(case_number=number, pin=pin, client=_client(request))
    except actions.PortalLocked as exc:
        return None, pin, _locked(request, exc)
    if case is None:
        return (
            None,
            pin,
            render(
                request,
                "portal/status_form.html",
                {"error": _("That case number and PIN do not match. Check them and try again.")},
                status=403,
            ),
        )
    return case, pin, None


# Exempt from CSRF for the reason ``status`` is: the case number and PIN travel in the form.
@csrf_exempt
@require_http_methods(["GET", "POST"])
@csp_update({"img-src": ["blob:"], "media-src": ["'self'", "blob:"]})
@portal_page
def add_page(request: HttpRequest) -> HttpResponse:
    """Choose more pictures for her case; they are hashed on her device like the first ones."""
    if request.method == "GET":
        return render(request, "portal/status_form.html")
    case, pin, refused = _signed_in(request)
    if refused is not None:
        return refused
    return render(
        request, "portal/add.html", {"case_number": case.number, "pin": pin, "max_items": actions.MAX_ITEMS}
    )


# Exempt from CSRF: no session and no cookie exist; the case number and PIN are in the body.
@csrf_exempt
@require_http_methods(["POST"])
@portal_page
def add_api(request: HttpRequest) -> HttpResponse:
    data = _json_object(request)
    if isinstance(data, JsonResponse):
        return data
    if not isinstance(data.get("case_number"), str) or not isinstance(data.get("pin"), str):
        return _bad(_("The request could not be read. Please try again."))
    try:
        case = actions.check_access(
            case_number=data["case_number"][:40], pin=data["pin"][:40], client=_client(request)
        )
    except actions.PortalLocked as exc:
        response = _bad(_("Too many tries from here. Please wait a while and try again."), 429)
        response["Retry-After"] = str(exc.retry_after)
        return response
    if case is None:
        return _bad(_("That case number and PIN do not match. Check them and try again."), 403)
    try:
        added, already = actions.add_hashes(case=case, items=data.get("items"))
    except ActionError as exc:
        return _bad(str(exc))
    return JsonResponse({"added": added, "already_there": already}, status=201 if added else 200)


STAGES = {
    CaseStatus.INTAKE: "received",
    CaseStatus.ACTIVE: "working",
    CaseStatus.MONITORING: "monitoring",
    CaseStatus.CLOSED: "closed",
}


# Exempt from CSRF because each request carries its own credential (case number and PIN) in the
# form; there is no session or cookie a forged request could borrow.
@csrf_exempt
@require_http_methods(["GET", "POST"])
@portal_page
def status(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return render(request, "portal/status_form.html")
    case, pin, refused = _signed_in(request)
    if refused is not None:
        return refused
    do = request.POST.get("do", "")
    confirmed = request.POST.get("confirm") == "yes"
    done = ""
    message_error = ""
    draft = ""
    if do in ("withdraw", "delete", "delete_messages") and not confirmed:
        return render(request, "portal/confirm.html", {"do": do, "case_number": case.number, "pin": pin})
    if do == "withdraw":
        actions.withdraw(case=case)
        done = "withdrawn"
    elif do == "delete":
        actions.delete_my_data(case=case)
        done = "deleted"
    elif do == "message":
        draft = request.POST.get("message", "")
        try:
            actions.survivor_writes(case=case, text=draft)
        except ActionError as exc:
            message_error = str(exc)
        else:
            done, draft = "sent", ""
    elif do in ("grant", "withdraw_one"):
        try:
            changed = actions.change_consent(
                case=case, scope=request.POST.get("scope", ""), granted=do == "grant"
            )
        except ActionError as exc:
            return render(request, "portal/status_form.html", {"error": str(exc)}, status=400)
        done = ("granted" if do == "grant" else "withdrawn_one") if changed else ""
    elif do == "delete_messages":
        actions.delete_thread(case=case)
        done = "messages_deleted"
    consent = current_consent(case)
    context = {
        "choices": [
            {"scope": scope, "title": title, "text": text, "granted": consent[scope]}
            for scope, title, text in CHOICES
        ],
        "progress": actions.progress(case),
        "case_number": case.number,
        "pin": pin,
        "stage": STAGES.get(CaseStatus(case.status), "received"),
        "pictures": case.content.filter(removed_at__isnull=True).count(),
        "monitoring": consent["monitor"],
        "any_consent": any(consent.values()),
        "deleted": actions.is_deleted(case),
        "done": done,
        "partners": partner_news(case),
        "centre": case.organisation,
        "messages": actions.thread_for_survivor(case=case),
        "message_error": message_error,
        "draft": draft[: actions.MESSAGE_MAX],
        "message_max": actions.MESSAGE_MAX,
    }
    # Times as the centre reads them (she is most likely in its country): the portal keeps no
    # setting of hers.
    with timezone.override(case.organisation.time_zone):
        return render(request, "portal/status.html", context, status=400 if message_error else 200)
