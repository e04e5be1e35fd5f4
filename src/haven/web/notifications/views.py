"""A user's notifications: the list, opening one, marking them read, the e-mail choice."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from haven.web.accounts.decorators import staff_required, staff_user

from . import actions
from .models import Notification, Preference

SHOWN = 100


@require_GET
@staff_required(None)
def notification_list(request: HttpRequest) -> HttpResponse:
    user = staff_user(request)
    rows = list(Notification.objects.filter(user=user).order_by("-created_at", "-id")[:SHOWN])
    preference = Preference.objects.filter(user=user).first()
    return render(
        request,
        "notifications/list.html",
        {
            "notifications": [(n, actions.line(n)) for n in rows],
            "unread": sum(1 for n in rows if n.read_at is None),
            "email_on": bool(preference and preference.email),
            "has_address": bool(user.email),
        },
    )


@require_POST
@staff_required(None)
def open_notification(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Mark it read and go where it points (a page of this site only)."""
    user = staff_user(request)
    notification = Notification.objects.filter(pk=notification_id, user=user).first()
    if notification is None:
        raise Http404
    actions.mark_read(actor=user, ids=[notification.pk])
    target = notification.url
    if not target or not url_has_allowed_host_and_scheme(target, allowed_hosts=None):
        return redirect("notifications:list")
    return redirect(target)


@require_POST
@staff_required(None)
def mark_all_read(request: HttpRequest) -> HttpResponse:
    count = actions.mark_read(actor=staff_user(request))
    if count:
        messages.success(request, _("All notifications are marked as read."))
    return redirect("notifications:list")


@require_POST
@staff_required(None)
def email_preference(request: HttpRequest) -> HttpResponse:
    user = staff_user(request)
    wanted = request.POST.get("email") == "on"
    actions.set_email(actor=user, email=wanted)
    if wanted:
        messages.success(request, _("You will also get an e-mail when something new needs you."))
    else:
        messages.success(request, _("You will get no e-mails about notifications."))
    return redirect("notifications:list")
