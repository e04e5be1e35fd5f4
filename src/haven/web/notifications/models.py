"""A member of staff's notifications: what needs her attention, shown with a badge in the header
and, if she opted in, sent by e-mail (in words that name no survivor and no case)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Kind(models.TextChoices):
    PORTAL_CASE = "portal_case", _("New case from the survivor portal")
    SURVIVOR_MESSAGE = "survivor_message", _("New message from a survivor")
    SURVIVOR_PICTURES = "survivor_pictures", _("New pictures from a survivor")
    FOLLOW_UP_DUE = "follow_up_due", _("Follow-up due")
    DEADLINE_NEAR = "deadline_near", _("Notice deadline near")
    DEADLINE_PASSED = "deadline_passed", _("Notice deadline passed")
    CANDIDATES = "candidates", _("New matches to review")
    SIGHTINGS_ASSIGNED = "sightings_assigned", _("Sightings assigned to you")


class Notification(models.Model):
    """One thing for one user to look at.  ``key`` names what it is about (``follow_up:12``), so
    that a sweep that runs again, or two workers at once, never notify twice; ``params`` fill the
    line shown for ``kind`` in the reader's own language."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    key = models.CharField(max_length=100)
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    params = models.JSONField(default=dict, blank=True)
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    # Set when an e-mail was claimed for it (or when none is due: the user had not opted in).
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="notification_once_per_user")]
        indexes = [
            models.Index(fields=["user", "read_at"]),  # the header's badge
            models.Index(fields=["emailed_at", "created_at"]),  # the e-mail sweep
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id}"


class Preference(models.Model):
    """Whether a user also gets her notifications by e-mail (off until she turns it on)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    email = models.BooleanField(_("also send me an e-mail"), default=False)

    def __str__(self) -> str:
        return f"notification preference of {self.user_id}"
