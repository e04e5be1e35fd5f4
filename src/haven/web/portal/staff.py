"""The survivor portal as staff see it on the case page: whether her case number is locked, and
letting her in again after verifying her (registered in ``PortalConfig.ready``)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from haven.web.accounts.decorators import staff_required, staff_user
from haven.web.accounts.roles import Perm
from haven.web.cases.models import Case
from haven.web.cases.views import _case, _case_url, _render_case
from haven.web.core.crypto import DecryptionError
from haven.web.core.errors import ActionError

from . import actions
from .models import PortalAccess, PortalMessage

PANEL = "portal-panel"
NEW_PIN = "portal_new_pin"  # passed to the page once, never kept (not in a message: sessions keep those)


def case_panel(request: HttpRequest, case: Case, forms: dict[str, Any]) -> dict[str, Any]:
    access = PortalAccess.objects.filter(case=case).first()
    if access is None:
        return {"portal": None}
    now = timezone.now()
    networks = access.networks.filter(locked_until__gt=now).count()
    thread = PortalMessage.objects.filter(case=case)
    return {
        "portal": {
            "messages": thread.count(),
            "unread": thread.filter(from_survivor=True, read_at__isnull=True).count(),
            "failed": access.failed_attempts,
            "case_locked_until": access.locked_until
            if access.locked_until and access.locked_until > now
            else None,
            "networks_locked": networks,
            "new_pin": forms.get(NEW_PIN),
        }
    }


@require_POST
@staff_required(Perm.VIEW_CONTACT)
def unlock(request: HttpRequest, number: str) -> HttpResponse:
    case = _case(request, number)
    replace = request.POST.get("new_pin") == "1"
    try:
        pin = actions.unlock(actor=staff_user(request), case=case, replace_pin=replace)
    except ActionError as exc:
        messages.error(request, str(exc))
        return redirect(_case_url(case, PANEL))
    if pin is None:
        messages.success(request, _("Unlocked: she can sign in to the portal again with her PIN."))
        return redirect(_case_url(case, PANEL))
    response = _render_case(request, case, forms={NEW_PIN: pin})
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "POST"])
@staff_required(Perm.VIEW_CONTACT)
def messages_page(request: HttpRequest, number: str) -> HttpResponse:
    """The conversation with the survivor: reading it is audited, and a reply is kept for her to
    read when she next signs in (nothing is sent to her)."""
    user = staff_user(request)
    case = _case(request, number)
    if not PortalAccess.objects.filter(case=case).exists():
        messages.error(
            request, _("This case was not made in the survivor portal: she cannot read messages there.")
        )
        return redirect(_case_url(case))
    draft, error = "", ""
    if request.method == "POST":
        draft = request.POST.get("message", "")
        try:
            actions.staff_writes(actor=user, case=case, text=draft)
        except ActionError as exc:
            error = str(exc)
        else:
            messages.success(
                request, _("Your answer is saved. She will see it when she next signs in to the portal.")
            )
            return redirect("portal_staff:messages", number=case.number)
    try:
        thread = actions.thread_for_staff(actor=user, case=case)
    except DecryptionError:
        messages.error(
            request,
            _("The messages cannot be decrypted with the current keys. Ask your administrator."),
        )
        return redirect(_case_url(case, PANEL))
    return render(
        request,
        "portal/messages.html",
        {
            "case": case,
            "thread": thread,
            "draft": draft[: actions.MESSAGE_MAX],
            "error": error,
            "message_max": actions.MESSAGE_MAX,
        },
        status=400 if error else 200,
    )
