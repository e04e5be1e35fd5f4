"""Where survivors are referred: each organisation's directory of services, and referral records."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ServiceKind(models.TextChoices):
    POLICE = "police", _("Police")
    LEGAL = "legal", _("Legal aid")
    MEDICAL = "medical", _("Medical")
    PSYCHOLOGICAL = "psychological", _("Psychological support")
    SHELTER = "shelter", _("Shelter")
    OTHER = "other", _("Other")


class Service(models.Model):
    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="services"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=ServiceKind.choices)
    name = models.CharField(_("name"), max_length=200)
    contact = models.CharField(_("how to reach them"), max_length=500, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return self.name


class ReferralStatus(models.TextChoices):
    PROPOSED = "proposed", _("Proposed")
    SENT = "sent", _("Sent")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    COMPLETED = "completed", _("Completed")


# The consent scope a referral to each kind of service needs.
CONSENT_FOR_KIND: dict[str, str] = {
    ServiceKind.POLICE: "police",
    ServiceKind.LEGAL: "services",
    ServiceKind.MEDICAL: "services",
    ServiceKind.PSYCHOLOGICAL: "services",
    ServiceKind.SHELTER: "services",
    ServiceKind.OTHER: "services",
}


class Referral(models.Model):
    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="referrals")
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="referrals")
    status = models.CharField(
        _("status"), max_length=16, choices=ReferralStatus.choices, default=ReferralStatus.PROPOSED
    )
    outcome = models.CharField(_("outcome"), max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.case.number} -> {self.service.name}"
