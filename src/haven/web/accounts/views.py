"""Sign in (password, then the authenticator app), first enrolment of the app, sign out."""

from __future__ import annotations

import base64
import secrets

import django_otp
import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from haven.web.core.errors import ActionError

from . import actions
from .decorators import is_verified, staff_required, staff_user, two_factor_required
from .forms import CentreForm, CodeForm, LoginForm, VerifyForm
from .roles import Perm

_ENROL_KEY = "haven_totp_enrolment_key"


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _has_device(request: HttpRequest) -> bool:
    """Whether the user has a second factor to verify with (an app, or backup codes)."""
    return bool(django_otp.user_has_device(request.user, confirmed=True))


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = _next_url(request)
    if request.user.is_authenticated and (is_verified(request) or not two_factor_required()):
        return HttpResponseRedirect(next_url)
    form = LoginForm(request, data=request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid() and form.user is not None:
        auth.login(request, form.user)
        if two_factor_required():
            return redirect_to_login(next_url, resolve_url("accounts:two_factor"))
        actions.record_login(actor=form.user, two_factor=False)
        return HttpResponseRedirect(next_url)
    context = {
        "form": form,
        "next": next_url,
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "minutes": round(float(settings.AXES_COOLOFF_TIME) * 60),
    }
    return render(request, "accounts/login.html", context)


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def two_factor_view(request: HttpRequest) -> HttpResponse:
    """The second step of signing in: a code from the authenticator app."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), resolve_url(settings.LOGIN_URL))
    next_url = _next_url(request)
    if is_verified(request):
        return HttpResponseRedirect(next_url)
    if not _has_device(request):
        return redirect_to_login(next_url, resolve_url("accounts:two_factor_setup"))
    form = VerifyForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        user = staff_user(request)
        device = actions.check_second_factor(actor=user, code=form.cleaned_data["code"].lower())
        if device is not None:
            django_otp.login(request, device)
            # A new session key for the fully signed-in session: the one the password step handed
            # out must not become privileged (session fixation).
            request.session.cycle_key()
            actions.record_login(actor=user, two_factor=True)
            return HttpResponseRedirect(next_url)
        form.add_error(
            "code",
            _(
                "That code was not accepted. Wait for the next code and try again; "
                "after several wrong codes you must wait a little longer each time."
            ),
        )
    from django_otp.plugins.otp_static.models import StaticToken
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = staff_user(request)
    return render(
        request,
        "accounts/two_factor.html",
        {
            "form": form,
            "next": next_url,
            # Someone with backup codes only (the demo's first login) is told to use one.
            "has_app": TOTPDevice.objects.filter(user=user, confirmed=True).exists(),
            "has_backup_codes": StaticToken.objects.filter(
                device__user=user, device__confirmed=True
            ).exists(),
        },
    )


def _qr_data_uri(url: str) -> str:
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    return "data:image/svg+xml;base64," + base64.b64encode(image.to_string()).decode()


def _grouped(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def two_factor_setup_view(request: HttpRequest) -> HttpResponse:
    """First sign-in: link an authenticator app by scanning a QR code, then prove it with a code.

    The secret lives in the session until a code proves the app has it; nothing is
    stored in the database before that.
    """
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), resolve_url(settings.LOGIN_URL))
    next_url = _next_url(request)
    if _has_device(request):
        return redirect_to_login(next_url, resolve_url("accounts:two_factor"))
    user = staff_user(request)
    key = request.session.get(_ENROL_KEY)
    if not isinstance(key, str) or len(key) != 40:
        key = secrets.token_hex(20)
        request.session[_ENROL_KEY] = key
    form = CodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            device = actions.enrol_totp_device(actor=user, key=key, code=form.cleaned_data["code"])
        except ActionError as exc:
            form.add_error("code", str(exc))
        else:
            del request.session[_ENROL_KEY]
            django_otp.login(request, device)
            request.session.cycle_key()
            actions.record_login(actor=user, two_factor=True)
            messages.success(
                request, _("Your authenticator app is set up. You will need it every time you sign in.")
            )
            return HttpResponseRedirect(next_url)
    unsaved = TOTPDevice(user=user, key=key)
    secret = base64.b32encode(unsaved.bin_key).decode()
    context = {
        "form": form,
        "next": next_url,
        "qr": _qr_data_uri(unsaved.config_url),
        "secret": _grouped(secret),
    }
    return render(request, "accounts/two_factor_setup.html", context)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    auth.logout(request)
    messages.info(request, _("You are signed out."))
    return redirect(settings.LOGOUT_REDIRECT_URL)


@require_http_methods(["GET", "POST"])
@staff_required(Perm.MANAGE_USERS)
def centre_view(request: HttpRequest) -> HttpResponse:
    """The centre's contacts that the survivor portal shows on every page; admins keep them."""
    user = staff_user(request)
    organisation = user.organisation
    if organisation is None:  # pragma: no cover - staff_required lets only members of one through
        raise PermissionDenied
    initial = {name: getattr(organisation, name) for name in actions.CENTRE_FIELDS}
    form = CentreForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            changed = actions.update_centre(actor=user, organisation=organisation, data=form.cleaned_data)
        except ActionError as exc:
            form.add_error(None, str(exc))
        else:
            if changed:
                messages.success(request, _("Saved: the portal shows the new details at once."))
            else:
                messages.info(request, _("Nothing changed."))
            return redirect("accounts:centre")
    return render(request, "accounts/centre.html", {"form": form, "organisation": organisation})
