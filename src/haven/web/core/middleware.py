from __future__ import annotations

import time
import zoneinfo
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

_LAST_SEEN = "haven_last_seen"
PORTAL_PREFIX = "/portal/"


class NoTraceMiddleware:
    """No answer under the survivor portal sets a cookie, whatever view, error page or middleware
    made it; and no error page sets one for a visitor who sent none (a survivor's browser asking for
    ``/favicon.ico``, a mistyped address).  A cookie on her phone would say she was here.

    It is the outermost middleware, so that it sees every answer last, the error pages Django
    renders for exceptions included."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith(PORTAL_PREFIX) or (response.status_code >= 400 and not request.COOKIES):
            response.cookies.clear()
        return response


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


_API_PREFIXES = ("/api/",)
_API_ERRORS = {
    400: "bad request",
    403: "forbidden",
    404: "not found",
    405: "method not allowed",
    413: "the request body is too large",
    500: "server error",
}


def _has_nul(request: HttpRequest) -> bool:
    # The raw query string, not request.GET: parsing it here would raise for too many fields
    # outside the view, where the JSON answer for that is given.
    query = request.META.get("QUERY_STRING", "")
    return "\x00" in request.path or "\x00" in query or "%00" in query


class ApiJsonErrorsMiddleware:
    """Under /api/, every error is JSON like the API's own (``{"detail": ...}``): a 404 for an
    unknown path, a 405 for a wrong method, a body over Django's size limit (413, with the limit),
    too many fields, a refusal or a crash -- never the HTML pages Django gives by default."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
        from django.db import InterfaceError, OperationalError
        from django.http import JsonResponse

        if not request.path.startswith(_API_PREFIXES):
            return None
        if isinstance(exception, RequestDataTooBig):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            return JsonResponse({"detail": f"the request body may be at most {limit} bytes"}, status=413)
        if isinstance(exception, TooManyFieldsSent):
            limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
            return JsonResponse({"detail": f"at most {limit} query or form fields may be sent"}, status=400)
        if isinstance(exception, OperationalError | InterfaceError):
            # The database went away (a restart, a failover): nothing was written, and the same
            # request will work again in a moment. Say so, rather than "server error".
            answer = JsonResponse({"detail": "the database is not answering; try again shortly"}, status=503)
            answer["Retry-After"] = "5"
            return answer
        return None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(_API_PREFIXES) and _has_nul(request):
            from django.http import JsonResponse

            # PostgreSQL cannot compare a text with NUL in it: refused here, for every endpoint.
            return JsonResponse({"detail": "the address must not contain NUL characters"}, status=400)
        response = self.get_response(request)
        detail = _API_ERRORS.get(response.status_code)
        if (
            detail is None
            or not request.path.startswith(_API_PREFIXES)
            or response.get("Content-Type", "").startswith("application/json")
        ):
            return response
        from django.http import JsonResponse

        replaced = JsonResponse({"detail": detail}, status=response.status_code)
        if "Allow" in response:
            replaced["Allow"] = response["Allow"]
        return replaced


PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), bluetooth=()"
"""No page of Haven needs a device: the portal hashes pictures the survivor picks from her files."""


class SecurityHeadersMiddleware:
    """Every answer says the browser may use no camera, microphone or location; API answers, which
    carry case data, are never stored by a browser or a proxy."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        if request.path.startswith(_API_PREFIXES):
            response["Cache-Control"] = "no-store"
        return response


class NoTracebackFor403:
    """A logging filter: a refused request (403) is logged as one line, not with a traceback of the
    PermissionDenied that refused it; it is an expected answer, not an error."""

    def filter(self, record: Any) -> bool:
        if getattr(record, "status_code", None) == 403:
            record.exc_info = None
            record.exc_text = None
        return True
