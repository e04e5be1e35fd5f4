"""Partners, their keys, the shared feed and what partners send back.

The feed (:class:`SharedItem`) is one row per content item that was ever approved for sharing.
Each change to a row (shared, withdrawn, shared again, deleted) gives it the organisation's next
position ``seq``, taken under a lock on the organisation's :class:`FeedHead`: positions become
visible in the order they were given, so a partner's checkpoint never skips a row that commits
late.  ``modified_at`` never goes backwards along ``seq``, which is what lets a StopNCII-style
client page by timestamp.

What each partner was sent is recorded (:class:`Delivery`): a row that leaves the feed is shown,
as a tombstone, exactly to the partners that were sent it while it was active, however often it
was shared and withdrawn since, and never to a partner that was not.

A row keeps a copy of the hashes it shared, because the tombstone of a withdrawn item must still
say which hash to delete after the item itself was blanked by "delete my data". The copy of an
erased item is blanked (``purged``) once every partner that had it has fetched past its tombstone.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class PartnerKind(models.TextChoices):
    PLATFORM = "platform", _("Platform")
    HOTLINE = "hotline", _("Hotline")
    CENTRE = "centre", _("Centre")


class Endpoint(models.TextChoices):
    FETCH = "fetch", _("Fetch shared hashes")
    FEEDBACK = "feedback", _("Send feedback")
    SUBMIT = "submit", _("Submit hashes")


class KeyKind(models.TextChoices):
    FETCH = "fetch", _("Fetch key")
    FEEDBACK = "feedback", _("Feedback key")
    SUBMIT = "submit", _("Submit key")
    SUBSCRIPTION = "subscription", _("Subscription key")


DEFAULT_RATE_LIMIT = 3000  # requests a minute: a full first sync of a million hashes in about 20 minutes


class Partner(models.Model):
    """A platform, hotline or centre that fetches the organisation's shared hashes."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=PartnerKind.choices)
    contact = models.CharField(_("contact"), max_length=300, blank=True)
    allow_fetch = models.BooleanField(_("may fetch hashes"), default=True)
    allow_feedback = models.BooleanField(_("may send feedback"), default=True)
    allow_submit = models.BooleanField(_("may submit hashes"), default=True)
    rate_limit = models.PositiveIntegerField(_("requests a minute"), default=DEFAULT_RATE_LIMIT)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    acked_seq = models.BigIntegerField(default=0)
    """The furthest feed position this partner has asked to continue after: what lies at or below it,
    it has received and processed (a tombstone there may be forgotten)."""

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="sharing_partner_unique_name")
        ]

    def __str__(self) -> str:
        return self.name

    def allows(self, endpoint: str) -> bool:
        allowed: dict[str, bool] = {
            Endpoint.FETCH: self.allow_fetch,
            Endpoint.FEEDBACK: self.allow_feedback,
            Endpoint.SUBMIT: self.allow_submit,
        }
        return allowed.get(endpoint, False)


class PartnerKey(models.Model):
    """One key of a partner. Only its SHA-256 is stored; the key is shown once."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="keys")
    kind = models.CharField(max_length=16, choices=KeyKind.choices)
    prefix = models.CharField(max_length=12)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.partner.name} {self.kind} {self.prefix}…"


class ShareStatus(models.TextChoices):
    ACTIVE = "active", _("Shared")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    DELETED = "deleted", _("Deleted")


class FeedHead(models.Model):
    """The organisation's last feed position and time, locked while a row changes."""

    organisation = models.OneToOneField(
        "accounts.Organisation", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    seq = models.BigIntegerField(default=0)
    last_time = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"feed head {self.seq}"


class SharedItem(models.Model):
    """A content item approved for sharing, as partners see it (see the module's docstring)."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    content_item = models.OneToOneField(
        "cases.ContentItem", on_delete=models.SET_NULL, null=True, related_name="shared"
    )
    case = models.ForeignKey("cases.Case", on_delete=models.SET_NULL, null=True, related_name="+")
    case_key = models.BigIntegerField()
    """The case's id when it was shared: the seed of its opaque per-partner reference."""
    kind = models.CharField(max_length=8)
    pdq = models.CharField(max_length=64, blank=True)
    quality = models.PositiveSmallIntegerField(null=True)
    md5 = models.CharField(max_length=32, blank=True)
    extra = models.JSONField(default=list)
    video_frames = models.JSONField(default=list)
    stopncii_type = models.CharField(max_length=16, blank=True)
    """"ImagePDQ" or "VideoMD5" where the item has a hash StopNCII's shape can carry, else blank."""
    stopncii_value = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=ShareStatus.choices)
    seq = models.BigIntegerField()
    modified_at = models.DateTimeField()
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    reviewed_at = models.DateTimeField()
    approved = models.BooleanField(default=True)
    """False once staff withdrew the item from partners: consent given again does not re-share it."""
    purged = models.BooleanField(default=False)
    """An erased item's hashes are blanked here and no partner is sent the row any more."""

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "seq"], name="sharing_item_unique_seq")
        ]
        indexes = [
            # where a startTimestamp falls: the last position before it, ties by position
            models.Index(fields=["organisation", "modified_at", "seq"]),
            models.Index(fields=["organisation", "status", "purged"]),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.status}"


class Delivery(models.Model):
    """This partner was sent this row while it was active: it is told when the row leaves the feed."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey(SharedItem, on_delete=models.CASCADE, related_name="deliveries")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["partner", "item"], name="sharing_delivery_unique")]

    def __str__(self) -> str:
        return f"{self.partner_id}:{self.item_id}"


class SharedSignal(models.Model):
    """Each hash value a row shares (the whole PDQ, its crops, a video's MD5), to find rows by hash:
    feedback names a hash, and an item with the same hash as a withdrawn one is sent again."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey(SharedItem, on_delete=models.CASCADE, related_name="signals")
    value = models.CharField(max_length=64)

    class Meta:
        indexes = [models.Index(fields=["organisation", "value"])]

    def __str__(self) -> str:
        return self.value


class FeedbackValue(models.TextChoices):
    """StopNCII's CSP feedback values, spelled as its API spells them."""

    UNKNOWN = "Unknown", _("Unknown")
    NONE = "None", _("No state")
    QUALITY_UNKNOWN = "QualityUnknown", _("Quality unknown")
    PENDING_REVIEW = "PendingReview", _("Found, under review")
    BLOCKED = "Blocked", _("Blocked")
    NOT_BLOCKED = "NotBlocked", _("Not blocked")
    WITHDRAWN = "Withdrawn", _("Withdrawn")
    DELETED = "Deleted", _("Deleted")


MAX_TAGS = 20
MAX_TAG_LENGTH = 100


class Feedback(models.Model):
    """What a partner said about a shared item (found a copy, blocked it, ...): its latest word."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="feedback")
    item = models.ForeignKey(SharedItem, on_delete=models.CASCADE, related_name="feedback")
    value = models.CharField(max_length=16, choices=FeedbackValue.choices)
    tags = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["partner", "item"], name="sharing_feedback_unique")]

    def __str__(self) -> str:
        return f"{self.partner_id} {self.value}"


class SignalType(models.TextChoices):
    PDQ = "pdq", "PDQ"
    VIDEO_MD5 = "video_md5", _("Video MD5")


class QuarantineStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for review")
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")


class QuarantinedHash(models.Model):
    """A hash a partner found itself. It matches nothing until a reviewer accepts it."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="submitted")
    signal_type = models.CharField(max_length=16, choices=SignalType.choices)
    value = models.CharField(max_length=64)
    tags = models.JSONField(default=list)
    partner_opinion = models.CharField(max_length=16, choices=FeedbackValue.choices, blank=True)
    status = models.CharField(
        max_length=16, choices=QuarantineStatus.choices, default=QuarantineStatus.PENDING
    )
    created_at = models.DateTimeField(auto_now_add=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "signal_type", "value"], name="sharing_quarantine_unique"
            )
        ]
        indexes = [models.Index(fields=["organisation", "status"])]

    def __str__(self) -> str:
        return f"{self.signal_type}:{self.value[:8]}… {self.status}"
