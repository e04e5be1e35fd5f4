"""The sandbox's mailbox: what the sandbox would have e-mailed (notices, notification e-mails)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from haven.web.accounts.decorators import staff_required, staff_user

from .models import SandboxMail


@require_GET
@staff_required(None)
def mailbox(request: HttpRequest) -> HttpResponse:
    user = staff_user(request)
    if user.organisation is None or not user.organisation.sandbox:
        raise Http404  # a real centre's mail leaves by SMTP: it has no mailbox here
    page = Paginator(SandboxMail.objects.filter(organisation=user.organisation), 25).get_page(
        request.GET.get("page")
    )
    return render(request, "training/mailbox.html", {"page": page})
