from __future__ import annotations

from django.db import models


class PortalAccess(models.Model):
    """How a survivor gets back to her case without an account: its number and a PIN.

    The PIN is stored only as an Argon2 hash. Wrong PINs lock the case number with a growing
    back-off (see ``portal.actions.check_access``).
    """

    case = models.OneToOneField("cases.Case", on_delete=models.CASCADE, related_name="portal_access")
    pin_hash = models.CharField(max_length=255)
    failed_attempts = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    last_failed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"portal access to {self.case_id}"
