"""The one gate in front of every staff page: signed in, second factor passed, permission held."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.utils.cache import add_never_cache_headers

from .models import User
from .roles import Perm

View = TypeVar("View", bound=Callable[..., HttpResponse])


def two_factor_required() -> bool:
    return bool(getattr(settings, "HAVEN_REQUIRE_TWO_FACTOR", True))


def is_verified(request: HttpRequest) -> bool:
    """Whether this session passed the second factor (django-otp's middleware sets ``is_verified``)."""
    check = getattr(request.user, "is_verified", None)
    return bool(check and check())


def staff_user(request: HttpRequest) -> User:
    """The signed-in staff member; only called behind :func:`staff_required`."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user


def staff_required(perm: Perm | None) -> Callable[[View], View]:
    """Let through signed-in staff who passed the second factor and hold ``perm``.

    ``perm=None`` asks only for a signed-in member of an organisation (the dashboard,
    which every role lands on).  Anonymous visitors go to the login page, sessions
    without the second factor to the two-factor step, and the rest get 403.
    Staff pages are never cached: they show survivors' cases.
    """

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), resolve_url(settings.LOGIN_URL))
            if two_factor_required() and not is_verified(request):
                return redirect_to_login(request.get_full_path(), resolve_url("accounts:two_factor"))
            user = staff_user(request)
            request.haven_staff = True  # type: ignore[attr-defined]  # the header shows the staff menu
            if user.organisation is None or not user.is_active:
                raise PermissionDenied
            if perm is not None and not user.can(perm):
                raise PermissionDenied
            response = view(request, *args, **kwargs)
            add_never_cache_headers(response)
            return response

        wrapper.required_perm = perm  # type: ignore[attr-defined]
        return cast(View, wrapper)

    return decorate
