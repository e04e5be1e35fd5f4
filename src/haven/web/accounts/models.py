from __future__ import annotations

import zoneinfo

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from .roles import Perm, Role, allowed


def _valid_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("%(value)s is not a known time zone."), params={"value": value})


class Organisation(models.Model):
    """A support centre: every case, user and record belongs to exactly one."""

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("short name"), unique=True)
    country = models.CharField(_("country"), max_length=2, help_text=_("ISO 3166 two-letter code"))
    languages = models.CharField(_("languages"), max_length=100, default="en")
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC", validators=[_valid_time_zone])
    child_protection_info = models.TextField(
        _("child-protection contacts"),
        blank=True,
        max_length=1000,
        help_text=_(
            "Shown on the survivor portal to people who were under 18: hotlines and how to reach them."
        ),
    )
    # How a survivor reaches the centre: on every page of the portal.
    phone = models.CharField(_("phone number"), max_length=40, blank=True)
    opening_hours = models.CharField(
        _("opening hours"), max_length=200, blank=True, help_text=_("For example: Mon–Fri 9:00–18:00")
    )
    emergency_numbers = models.TextField(
        _("emergency numbers"),
        blank=True,
        max_length=500,
        help_text=_("Police, crisis lines: one a line, such as “Police: 112”."),
    )
    portal_exit_url = models.URLField(
        _("quick-exit address"),
        blank=True,
        max_length=300,
        help_text=_(
            "Where the portal's Quick exit button goes: an ordinary, harmless page (https). "
            "Empty: a weather search."
        ),
    )
    # A training sandbox: synthetic cases only, its mail kept in a built-in mailbox, no partners
    # or peers, hidden from the survivor portal.  Fixed for the organisation's whole life: a
    # database trigger refuses any change (migration accounts 0004), so no code path, not
    # even a bulk update, can turn a sandbox's practice rows into a real centre's records.
    sandbox = models.BooleanField(_("training sandbox"), default=False, editable=False)
    # The real centre whose administrators made the sandbox (from its Training page) and manage it.
    training_for = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, editable=False, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="users", null=True, blank=True
    )
    role = models.CharField(_("role"), max_length=32, choices=Role.choices, default=Role.COUNSELLOR)

    def can(self, perm: Perm) -> bool:
        return bool(self.is_active and self.organisation_id and allowed(self.role, perm))


class ApiToken(models.Model):
    """A bearer token for the JSON API. Only its SHA-256 is stored; the token is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=12)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user.username})"
