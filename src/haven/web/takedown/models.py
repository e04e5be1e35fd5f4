"""The takedown desk: where a case's content was seen, the evidence, the notices, and the outcome."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# PDQ distance at or under which found media counts as a case's content (PDQ's own recommended radius).
MATCH_DISTANCE = 31


class PlatformKind(models.TextChoices):
    ADULT = "adult", _("Adult site")
    SEARCH = "search", _("Search engine")
    SOCIAL = "social", _("Social media")
    FILE_SHARING = "file_sharing", _("File sharing")
    FORUM = "forum", _("Forum")
    MESSAGING = "messaging", _("Messaging")
    HOSTING = "hosting", _("Hosting provider")
    OTHER = "other", _("Other")


class Platform(models.Model):
    """A site the centre sends notices to, found from a URL's host by its domain patterns."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(
        _("kind"), max_length=16, choices=PlatformKind.choices, default=PlatformKind.OTHER
    )
    abuse_email = models.EmailField(_("abuse e-mail"), blank=True)
    web_form_url = models.URLField(_("web form"), max_length=500, blank=True)
    country = models.CharField(
        _("country"), max_length=2, blank=True, help_text=_("ISO 3166 two-letter code")
    )
    regimes = models.JSONField(_("legal regimes"), default=list, blank=True)
    response_hours = models.PositiveIntegerField(_("expected response time (hours)"), default=72)
    language = models.CharField(_("notice language"), max_length=2, default="en")
    notes = models.TextField(_("notes"), blank=True, max_length=2000)
    example = models.BooleanField(
        _("example entry"),
        default=False,
        help_text=_("Shipped as an example: check it before relying on it."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PlatformDomain(models.Model):
    """A domain of a platform: it covers the domain itself and every subdomain."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="domains")
    domain = models.CharField(max_length=253)

    class Meta:
        ordering = ["domain"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "domain"], name="takedown_domain_once_per_org")
        ]

    def __str__(self) -> str:
        return self.domain


class SightingSource(models.TextChoices):
    SURVIVOR = "survivor", _("Survivor")
    COUNSELLOR = "counsellor", _("Counsellor")
    MONITORING = "monitoring", _("Monitoring match")
    PARTNER = "partner", _("Partner report")
    CENTRE = "centre", _("Find reported by another centre")


class SightingState(models.TextChoices):
    FOUND = "found", _("Found")
    EVIDENCE = "evidence", _("Evidence captured")
    NOTICE_READY = "notice_ready", _("Notice ready")
    SENT = "sent", _("Sent")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    REMOVED = "removed", _("Removed")
    REFUSED = "refused", _("Refused")
    NO_RESPONSE = "no_response", _("No response")
    ESCALATED = "escalated", _("Escalated")


OPEN_STATES = frozenset(SightingState) - {SightingState.REMOVED}


class Sighting(models.Model):
    """One URL where a case's content was seen, kept once per case by its normalised form."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="sightings")
    url = models.URLField(_("URL"), max_length=2000)
    url_key = models.CharField(max_length=64)  # SHA-256 of the normalised URL: unique per case
    host = models.CharField(max_length=253)
    media_url = models.URLField(_("media URL"), max_length=2000, blank=True)
    personal_info = models.BooleanField(_("her personal information"), default=False)
    """The page shows the survivor's personal information (found by its text); a recheck also
    asks whether that text is gone."""
    source = models.CharField(_("source"), max_length=16, choices=SightingSource.choices)
    platform = models.ForeignKey(
        Platform, on_delete=models.SET_NULL, null=True, blank=True, related_name="sightings"
    )
    state = models.CharField(
        _("state"), max_length=16, choices=SightingState.choices, default=SightingState.FOUND
    )
    state_changed_at = models.DateTimeField()
    deadline_at = models.DateTimeField(_("deadline"), null=True, blank=True)
    removed_at = models.DateTimeField(_("removed at"), null=True, blank=True)
    next_check_at = models.DateTimeField(null=True, blank=True)
    checks_done = models.PositiveIntegerField(default=0)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("officer"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["case", "url_key"], name="takedown_sighting_once_per_case")
        ]
        indexes = [
            models.Index(fields=["organisation", "state", "deadline_at"]),
            models.Index(fields=["next_check_at"]),
        ]

    def __str__(self) -> str:
        return self.url


class Evidence(models.Model):
    """What a fetch of a sighting's page or media saw. Media bytes are hashed and dropped, never kept."""

    class Kind(models.TextChoices):
        PAGE = "page", _("Page")
        MEDIA = "media", _("Media")

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    sighting = models.ForeignKey(Sighting, on_delete=models.CASCADE, related_name="evidence")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    purpose = models.CharField(max_length=16, default="capture")  # capture | recheck
    url = models.URLField(max_length=2000)
    final_url = models.URLField(max_length=2000, blank=True)
    redirects = models.JSONField(default=list, blank=True)
    status = models.PositiveSmallIntegerField(null=True)
    headers = models.JSONField(default=dict, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.PositiveIntegerField(default=0)
    content_type = models.CharField(max_length=100, blank=True)
    sniffed_type = models.CharField(max_length=100, blank=True)
    error = models.CharField(max_length=300, blank=True)  # a fetch that failed, in words
    pdq = models.CharField(max_length=64, blank=True)
    quality = models.PositiveSmallIntegerField(null=True)
    md5 = models.CharField(max_length=32, blank=True)
    distance = models.PositiveSmallIntegerField(null=True)  # to the nearest of the case's content items
    # The stored signal a robust match went through (a crop kind, or "pdq" for the photo found
    # inside a frame or turned); blank when the plain hashes matched, or nothing did.
    match_kind = models.CharField(max_length=16, blank=True)
    matched_item = models.ForeignKey(
        "cases.ContentItem", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    fetched_at = models.DateTimeField()
    captured_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    # A screenshot of the page (HAVEN_EVIDENCE_SCREENSHOTS): its digest stays after the picture
    # itself (EvidenceScreenshot) is deleted at expiry, so the record still says what was captured.
    screenshot_sha256 = models.CharField(max_length=64, blank=True)
    screenshot_expires_at = models.DateTimeField(null=True, blank=True)
    screenshot_error = models.CharField(max_length=300, blank=True)  # why none was taken, in words

    class Meta:
        ordering = ["fetched_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.url} {self.status}"

    @property
    def matches(self) -> bool:
        return self.distance is not None and self.distance <= MATCH_DISTANCE

    @property
    def screenshot_available(self) -> bool:
        """A screenshot was taken and has not expired (one past expiry is refused before the job
        deletes it)."""
        return bool(self.screenshot_sha256) and (
            self.screenshot_expires_at is not None and self.screenshot_expires_at > timezone.now()
        )


class EvidenceScreenshot(models.Model):
    """The picture of a page, encrypted, until it expires; a row of its own so that listing
    evidence never loads it.  The key's context names the evidence row, so a ciphertext moved
    to another row does not decrypt."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    evidence = models.OneToOneField(Evidence, on_delete=models.CASCADE, related_name="screenshot")
    image_encrypted = models.BinaryField(editable=False)
    height = models.PositiveIntegerField()
    clipped = models.BooleanField(default=False)  # the page was longer than the picture
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["expires_at", "id"]

    def __str__(self) -> str:
        return f"screenshot of evidence {self.evidence_id}"

    @staticmethod
    def context(evidence_id: int) -> str:
        return f"takedown.EvidenceScreenshot.image:{evidence_id}"


class NoticeState(models.TextChoices):
    READY = "ready", _("Ready")
    SENT = "sent", _("Sent")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    CLOSED = "closed", _("Closed")


class ActionTaken(models.TextChoices):
    UNKNOWN = "", _("Not yet known")
    YES = "yes", _("Yes")
    NO = "no", _("No")
    PARTIAL = "partial", _("Partial")


class Notice(models.Model):
    """A notice to one platform about one or more URLs, drafted from a legal-regime template.

    The rendered text is the record of what was sent; it is stored encrypted because it may
    name the survivor (only where their consent allows it).
    """

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="notices")
    platform = models.ForeignKey(Platform, on_delete=models.PROTECT, null=True, related_name="notices")
    sightings = models.ManyToManyField(Sighting, related_name="notices")
    regime = models.CharField(_("legal regime"), max_length=32)
    language = models.CharField(_("language"), max_length=2)
    recipient = models.CharField(_("recipient"), max_length=500)
    subject = models.CharField(max_length=300)
    body_encrypted = models.BinaryField(editable=False)
    state = models.CharField(max_length=16, choices=NoticeState.choices, default=NoticeState.READY)
    escalation_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="escalations"
    )
    sent_via = models.CharField(max_length=16, blank=True)  # email | web_form
    message_id = models.CharField(max_length=300, blank=True)
    platform_reference = models.CharField(_("platform's reference"), max_length=200, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    action_taken = models.CharField(max_length=8, choices=ActionTaken.choices, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organisation", "state", "deadline_at"])]

    def __str__(self) -> str:
        return f"{self.regime} → {self.recipient}"


class NoticeReply(models.Model):
    """A reply from the platform, logged by an officer."""

    class Outcome(models.TextChoices):
        NOTE = "note", _("Just a note")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")
        REMOVED = "removed", _("Removed")
        REFUSED = "refused", _("Refused")

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="replies")
    received_at = models.DateTimeField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    text = models.TextField(max_length=10000, blank=True)
    logged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )

    class Meta:
        ordering = ["received_at", "id"]

    def __str__(self) -> str:
        return f"{self.outcome} {self.received_at:%Y-%m-%d}"


class SightingEvent(models.Model):
    """One step in a sighting's timeline (the audit chain holds the same, for the record)."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    sighting = models.ForeignKey(Sighting, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    from_state = models.CharField(max_length=16, blank=True)
    to_state = models.CharField(max_length=16)
    note = models.CharField(max_length=300, blank=True)
    actor_label = models.CharField(max_length=150)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_state} -> {self.to_state}"
