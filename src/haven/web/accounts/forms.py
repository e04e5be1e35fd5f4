from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import authenticate
from django.core.validators import RegexValidator
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .models import User


class StaffForm(forms.Form):
    """Labels without Django's trailing colon: the layout sets labels apart already."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class LoginForm(StaffForm):
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        widget=forms.TextInput(
            attrs={"autocomplete": "username", "autocapitalize": "none", "autofocus": True}
        ),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request = request
        self.user: User | None = None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        username, password = cleaned.get("username"), cleaned.get("password")
        if username and password:
            # Passing the request lets django-axes count failures and lock the account.
            user = authenticate(request=self.request, username=username, password=password)
            if not isinstance(user, User) or not user.is_active:
                raise forms.ValidationError(
                    _("That username and password do not match. Both are case-sensitive."), code="invalid"
                )
            self.user = user
        return cleaned


class CodeForm(StaffForm):
    code = forms.CharField(
        label=_("6-digit code"),
        max_length=8,
        validators=[RegexValidator(r"^\s*\d{3}\s?\d{3}\s*$", _("Enter the 6 digits your app shows."))],
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autofocus": True,
                "size": 8,
            }
        ),
    )


class VerifyForm(StaffForm):
    """The sign-in's second step: the app's 6-digit code, or one of the user's backup codes."""

    code = forms.CharField(
        label=_("6-digit code, or a backup code"),
        max_length=12,
        validators=[
            RegexValidator(
                r"^\s*(\d{3}\s?\d{3}|[a-zA-Z2-7]{8})\s*$",
                _("Enter the 6 digits your app shows, or one of your 8-character backup codes."),
            )
        ],
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True, "size": 10}),
    )


class CentreForm(StaffForm):
    """How survivors reach the centre: shown on every page of the survivor portal."""

    phone = forms.CharField(label=_("Phone number"), max_length=40, required=False)
    opening_hours = forms.CharField(
        label=_("Opening hours"),
        max_length=200,
        required=False,
        help_text=_("For example: Mon–Fri 9:00–18:00"),
    )
    emergency_numbers = forms.CharField(
        label=_("Emergency numbers"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Police, crisis lines: one a line, such as “Police: 112”."),
    )
    child_protection_info = forms.CharField(
        label=_("Child-protection contacts"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Shown to people who were under 18 when the pictures were made: hotlines and how to reach them."
        ),
    )
    portal_exit_url = forms.URLField(
        label=_("Quick-exit address"),
        max_length=300,
        required=False,
        assume_scheme="https",
        help_text=_(
            "Where the portal's Quick exit button goes: an ordinary, harmless page (https). "
            "Empty: a weather search."
        ),
    )
