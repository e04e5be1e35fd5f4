from __future__ import annotations

from django.conf import settings
from django.db import models


class PortalAccess(models.Model):
    """How a survivor gets back to her case without an account: its number and a PIN.

    The PIN is stored only as an Argon2 hash.  Wrong PINs lock the case number for the network
    they came from (:class:`PortalNetworkLock`), and for every network but those the right PIN came
    from once many networks have failed (``failed_attempts``, ``locked_until``), each with a
    growing back-off (see ``portal.actions.check_access``).  The centre can unlock it.
    """

    case = models.OneToOneField("cases.Case", on_delete=models.CASCADE, related_name="portal_access")
    pin_hash = models.CharField(max_length=255)
    failed_attempts = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    last_failed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"portal access to {self.case_id}"


class PortalNetworkLock(models.Model):
    """Wrong PINs for one case from one network (an IPv4 /24, an IPv6 /56): someone who saw her case
    number locks out his own network, not hers.  ``network`` is a keyed hash of the network, so no
    address of hers (or anyone's) is kept; ``known`` marks a network the right PIN came from."""

    access = models.ForeignKey(PortalAccess, on_delete=models.CASCADE, related_name="networks")
    network = models.CharField(max_length=64)
    failures = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    known = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["access", "network"], name="portal_network_lock_once")]

    def __str__(self) -> str:
        return f"network lock on {self.access_id}"


MESSAGE_CONTEXT = "portal.PortalMessage.body"


class PortalMessage(models.Model):
    """One message between a survivor and her centre (the ``portal_messages`` of her case).

    The text is encrypted with the key ring (``MESSAGE_CONTEXT``); the audit trail records that a
    message was written and read, never what it says.  ``read_at`` is when the other side first
    read it: staff for hers, she for the centre's.
    """

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="portal_messages")
    from_survivor = models.BooleanField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    body_encrypted = models.BinaryField(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"message {self.pk} on {self.case_id}"
