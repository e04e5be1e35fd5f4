"""Monitoring: sources a centre scans on a schedule, the runs, and the matches waiting for review."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class SourceKind(models.TextChoices):
    CRAWL = "crawl", _("Web pages from a start page")
    SITEMAP = "sitemap", _("A sitemap")
    FEED = "feed", _("An RSS or Atom feed")
    URLS = "urls", _("A list of URLs")
    SEARCH = "search", _("A site's search, for the cases' keywords")


class MonitorSource(models.Model):
    """Somewhere to look for re-uploads. Local folders and WARC files are scanned with
    ``haven scan`` on the command line: the web app never reads the server's own files."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=SourceKind.choices)
    target = models.TextField(_("address"), max_length=200_000)  # a URL, or URLs one a line
    depth = models.PositiveSmallIntegerField(_("link depth"), default=1)
    max_pages = models.PositiveIntegerField(_("at most this many pages"), default=1000)
    same_site = models.BooleanField(_("stay on the same site"), default=True)
    every_hours = models.PositiveIntegerField(
        _("run every (hours)"), default=24, help_text=_("0: only when started by hand.")
    )
    active = models.BooleanField(_("active"), default=True)
    next_run_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["active", "next_run_at"])]

    def __str__(self) -> str:
        return self.name


class ScanRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    source = models.ForeignKey(MonitorSource, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    bank_size = models.PositiveIntegerField(default=0)
    stats = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)  # the first ones, as {url, code, message}
    error_count = models.PositiveIntegerField(default=0)
    candidates = models.PositiveIntegerField(default=0)
    failure = models.CharField(max_length=500, blank=True)
    started_by = models.CharField(max_length=150, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    """Which worker process runs it (host:pid)."""
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    """Renewed while the run is alive: a run whose heartbeat stops was left by a worker that died."""

    class Meta:
        ordering = ["-queued_at", "-id"]

    def __str__(self) -> str:
        return f"{self.source} {self.status}"


class CandidateState(models.TextChoices):
    PENDING = "pending", _("Waiting for review")
    CONFIRMED = "confirmed", _("Confirmed")
    REJECTED = "rejected", _("Rejected")


# How a candidate matched, in an officer's words (Candidate.kind: a digest, plain PDQ, a video frame,
# or the stored crop signal that robust matching found).
MATCH_LABELS = {
    "md5": _("the same file"),
    "pdq": _("the whole picture"),
    "video_frame": _("a frame of the video"),
    "centre80": _("the centre of the picture (80 %)"),
    "centre64": _("the centre of the picture (64 %)"),
    "centre50": _("the centre of the picture (50 %)"),
    "corner60_tl": _("the top-left part of the picture"),
    "corner60_tr": _("the top-right part of the picture"),
    "corner60_bl": _("the bottom-left part of the picture"),
    "corner60_br": _("the bottom-right part of the picture"),
    "top50": _("the top half of the picture"),
    "bottom50": _("the bottom half of the picture"),
    "left50": _("the left half of the picture"),
    "right50": _("the right half of the picture"),
}


class Candidate(models.Model):
    """A found picture that matches a case's content. The picture itself is not kept: the
    review page fetches it again, shrinks and blurs it, and sends it without storing it."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    run = models.ForeignKey(ScanRun, on_delete=models.SET_NULL, null=True, related_name="+")
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="candidates")
    content_item = models.ForeignKey("cases.ContentItem", on_delete=models.CASCADE, related_name="+")
    media_url = models.URLField(max_length=2000)
    page_url = models.URLField(max_length=2000, blank=True)
    distance = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=16)  # md5 | pdq | video_frame | a crop kind (robust match)
    transform = models.CharField(max_length=64, blank=True)  # the query candidate that matched
    sha256 = models.CharField(max_length=64)
    md5 = models.CharField(max_length=32, blank=True)
    pdq = models.CharField(max_length=64, blank=True)
    quality = models.PositiveSmallIntegerField(null=True)
    found_at = models.DateTimeField()
    state = models.CharField(max_length=16, choices=CandidateState.choices, default=CandidateState.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    sighting = models.ForeignKey(
        "takedown.Sighting", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["case_id", "found_at", "id"]
        indexes = [models.Index(fields=["organisation", "state", "case"])]
        constraints = [
            models.UniqueConstraint(fields=["case", "media_url", "sha256"], name="monitoring_candidate_once")
        ]

    def __str__(self) -> str:
        return f"{self.media_url} ~ {self.content_item_id} ({self.distance})"

    @property
    def how_matched(self) -> str:
        return str(MATCH_LABELS.get(self.kind, self.kind))


class Rejection(models.Model):
    """A found picture a reviewer said is not the case's content: neither it (by SHA-256) nor a
    near-copy of it (PDQ within :data:`REJECTED_NEAR` bits) is raised again for that case."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="+")
    sha256 = models.CharField(max_length=64)
    pdq = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["case"])]

    def __str__(self) -> str:
        return self.sha256


REJECTED_NEAR = 10


# --- personal information ------------------------------------------------------------------------


class IdentifierKind(models.TextChoices):
    NAME = "name", _("Name")
    PHONE = "phone", _("Phone number")
    EMAIL = "email", _("E-mail address")
    HANDLE = "handle", _("Social-media handle")
    PLACE = "place", _("School or workplace")
    KEYWORD = "keyword", _("Post title or keywords")


IDENTIFIER_CONTEXT = "monitoring.Identifier.value"
SNIPPET_CONTEXT = "monitoring.TextCandidate.snippet"
MAX_IDENTIFIERS = 50
"""Identifiers on one case."""


class Identifier(models.Model):
    """Something that identifies a survivor (her name, number, school ...), kept encrypted, that
    monitoring looks for in page text while she consents to monitoring.  Scanners receive only
    keyed hashes of it (``haven.scan.TextBank``)."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="identifiers")
    kind = models.CharField(_("kind"), max_length=16, choices=IdentifierKind.choices)
    value_encrypted = models.BinaryField(editable=False)
    alone = models.BooleanField(null=True, blank=True)
    """Whether finding it alone raises a match; None: the kind's default (``haven.scan.default_alone``)."""
    search = models.BooleanField(default=False)
    """Also typed into the site-search sources (the searched site then sees it)."""
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["case_id", "id"]

    def __str__(self) -> str:
        return f"{self.kind} of case {self.case_id}"


class TextCandidate(models.Model):
    """A page whose text holds a case's identifiers as the case's rule requires.  The snippet
    around them is encrypted and shown masked until a reviewer asks (audited)."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    run = models.ForeignKey(ScanRun, on_delete=models.SET_NULL, null=True, related_name="+")
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="text_candidates")
    page_url = models.URLField(max_length=2000)
    kinds = models.JSONField(default=list)
    identifiers = models.JSONField(default=list)  # Identifier pks found
    snippet_encrypted = models.BinaryField(editable=False)
    text_sha256 = models.CharField(max_length=64)
    found_at = models.DateTimeField()
    state = models.CharField(max_length=16, choices=CandidateState.choices, default=CandidateState.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    sighting = models.ForeignKey(
        "takedown.Sighting", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["case_id", "found_at", "id"]
        indexes = [models.Index(fields=["organisation", "state", "case"])]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "page_url", "text_sha256"], name="monitoring_text_candidate_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.page_url} ~ case {self.case_id}"

    @property
    def kind_labels(self) -> list[str]:
        labels = dict(IdentifierKind.choices)
        return [str(labels.get(k, k)) for k in self.kinds]


class ReviewerCare(models.Model):
    """How much of the found pictures one reviewer is shown: a daily limit on pictures shown sharp
    (set by an administrator), a break reminder, and grayscale previews (her own choice)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    daily_limit = models.PositiveIntegerField(_("pictures shown a day"), default=60)
    break_every = models.PositiveIntegerField(_("pictures an hour before a break reminder"), default=20)
    grayscale = models.BooleanField(_("previews in grayscale"), default=False)

    def __str__(self) -> str:
        return f"care of {self.user_id}"
