from __future__ import annotations

import time
import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

_LAST_SEEN = "haven_last_seen"


class IdleTimeoutMiddleware:
    """Log a signed-in user out after HAVEN_IDLE_TIMEOUT_SECONDS without a request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = time.time()
            last = request.session.get(_LAST_SEEN)
            if last is not None and now - float(last) > settings.HAVEN_IDLE_TIMEOUT_SECONDS:
                logout(request)
            else:
                request.session[_LAST_SEEN] = now
        return self.get_response(request)


class OrganisationTimezoneMiddleware:
    """Show dates in the user's organisation's time zone."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        org = getattr(request.user, "organisation", None) if request.user.is_authenticated else None
        if org is not None:
            try:
                timezone.activate(zoneinfo.ZoneInfo(org.time_zone))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        else:
            timezone.deactivate()
        return self.get_response(request)
