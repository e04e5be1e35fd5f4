from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .classification import (
    AgeBand,
    GbvimsType,
    IntakeChannel,
    ReferralSource,
    Relationship,
    RiskLevel,
    SurvivorSex,
    TfgbvType,
)

CASE_NUMBER_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L


class CaseStatus(models.TextChoices):
    INTAKE = "intake", _("Intake")
    ACTIVE = "active", _("Active")
    MONITORING = "monitoring", _("Monitoring")
    CLOSED = "closed", _("Closed")
    TRANSFERRED = "transferred", _("Transferred")


# status -> the statuses it may move to (reopening a closed case is allowed)
TRANSITIONS: dict[str, frozenset[str]] = {
    CaseStatus.INTAKE: frozenset({CaseStatus.ACTIVE, CaseStatus.CLOSED}),
    CaseStatus.ACTIVE: frozenset({CaseStatus.MONITORING, CaseStatus.CLOSED}),
    CaseStatus.MONITORING: frozenset({CaseStatus.ACTIVE, CaseStatus.CLOSED}),
    CaseStatus.CLOSED: frozenset({CaseStatus.ACTIVE}),
    # Only an accepted transfer moves a case here; the centre may take it up again.
    CaseStatus.TRANSFERRED: frozenset({CaseStatus.ACTIVE, CaseStatus.CLOSED}),
}


class Case(models.Model):
    """A survivor's case, under a pseudonymous number. Personal details are encrypted per field."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="cases")
    number = models.CharField(_("case number"), max_length=16, unique=True)
    status = models.CharField(
        _("status"), max_length=16, choices=CaseStatus.choices, default=CaseStatus.INTAKE
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_cases",
        verbose_name=_("assigned to"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Encrypted with the key ring (core.crypto); never logged, never in audit summaries.
    contact_encrypted = models.BinaryField(null=True, editable=False)
    notes_encrypted = models.BinaryField(null=True, editable=False)

    tfgbv_type = models.CharField(_("type of abuse"), max_length=40, choices=TfgbvType.choices, blank=True)
    gbvims_type = models.CharField(
        _("GBVIMS incident type"), max_length=32, choices=GbvimsType.choices, blank=True
    )
    dsa_category = models.CharField(_("DSA category"), max_length=64, blank=True)
    relationship = models.CharField(
        _("relationship to perpetrator"), max_length=32, choices=Relationship.choices, blank=True
    )
    platforms = models.CharField(_("platforms involved"), max_length=500, blank=True)
    minor_when_made = models.BooleanField(
        _("a minor when the content was made"),
        default=False,
        help_text=_("Switches the case to the child-protection path."),
    )
    follow_up_on = models.DateField(_("follow up on"), null=True, blank=True)

    # For anonymised statistics (the reports app); blank or null is "not known".
    survivor_sex = models.CharField(
        _("survivor's sex"), max_length=8, choices=SurvivorSex.choices, blank=True
    )
    survivor_age_band = models.CharField(
        _("survivor's age"), max_length=8, choices=AgeBand.choices, blank=True
    )
    incident_on = models.DateField(_("when the abuse happened"), null=True, blank=True)
    harm_types = models.JSONField(_("harms"), default=list, blank=True)
    personal_info_leaked = models.BooleanField(_("personal information leaked"), default=False)
    reported_elsewhere = models.BooleanField(_("also reported to another centre"), default=False)

    # Intake, and the risk and safety assessment.
    intake_channel = models.CharField(
        _("how she reached the centre"), max_length=16, choices=IntakeChannel.choices, blank=True
    )
    referral_source = models.CharField(
        _("who sent her"), max_length=16, choices=ReferralSource.choices, blank=True
    )
    risk_level = models.CharField(
        _("risk to her safety"), max_length=16, choices=RiskLevel.choices, blank=True
    )
    risk_assessed_on = models.DateField(_("risk assessed on"), null=True, blank=True)
    # Encrypted like the contact details, and read with them.
    safety_plan_encrypted = models.BinaryField(null=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["organisation", "status"]),
            models.Index(fields=["organisation", "created_at"]),  # reports count a year of cases
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def child_protection(self) -> bool:
        return self.minor_when_made or self.tfgbv_type == TfgbvType.CHILD_EXPLOITATION_MATERIAL


FOLLOW_UP_TEXT_MAX = 300


class FollowUp(models.Model):
    """A task on a case with a due date, for one member of the organisation."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="follow_ups")
    due_on = models.DateField(_("due on"))
    text = models.CharField(_("what to do"), max_length=FOLLOW_UP_TEXT_MAX)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="follow_ups",
        verbose_name=_("assigned to"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["due_on", "id"]
        # the dashboard: my open follow-ups, by due date
        indexes = [models.Index(fields=["organisation", "assignee", "done_at", "due_on"])]

    def __str__(self) -> str:
        return f"{self.case.number}: {self.due_on}"


NOTE_MAX = 10_000
NOTE_CONTEXT = "cases.CaseNote.body"


class CaseNote(models.Model):
    """One dated entry in a case's notes log, by its author.  The text is encrypted like the
    contact details (``NOTE_CONTEXT``) and read with them, behind the same audited "show"."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="case_notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body_encrypted = models.BinaryField(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"note {self.pk} on {self.case_id}"


class ConsentScope(models.TextChoices):
    MONITOR = "monitor", _("Keep hashes and monitor for re-uploads")
    TAKEDOWN = "takedown", _("Send takedown notices on the survivor's behalf")
    IDENTIFY = "identify", _("Name the survivor in takedown notices")
    SHARE = "share", _("Share hashes with partner platforms")
    POLICE = "police", _("Refer to police")
    SERVICES = "services", _("Refer to legal, medical or psychological services")
    CONTACT = "contact", _("Contact the survivor")
    TRANSFER = "transfer", _("Pass the case to another centre")
    STATISTICS = "statistics", _("Count the case in anonymised statistics shared beyond the centre")


class ConsentMethod(models.TextChoices):
    IN_PERSON = "in_person", _("In person")
    PHONE = "phone", _("By phone")
    WRITTEN = "written", _("In writing")
    ONLINE = "online", _("Online form")
    PORTAL = "portal", _("Survivor portal")
    TRANSFERRED = "transferred", _("Given at another centre, carried over with the case")


class ConsentRecord(models.Model):
    """One grant or withdrawal: the current consent for a scope is its latest record."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="consents")
    scope = models.CharField(max_length=16, choices=ConsentScope.choices)
    granted = models.BooleanField()
    method = models.CharField(max_length=16, choices=ConsentMethod.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["recorded_at", "id"]
        # The current consent of a scope is the latest record: reports ask it of every case.
        indexes = [models.Index(fields=["case", "scope", "recorded_at"])]

    def __str__(self) -> str:
        return f"{self.scope} {'granted' if self.granted else 'withdrawn'}"


class ContentKind(models.TextChoices):
    PHOTO = "photo", _("Photo")
    VIDEO = "video", _("Video")


# One frame a second for an hour: the longest video a survivor's browser hashes.
MAX_VIDEO_FRAMES = 3600


class ContentItem(models.Model):
    """A piece of a survivor's content, as hashes only. The picture never reaches the server.

    A video is kept as the PDQ hashes of frames sampled from it (``video_frames``: a list of
    ``[frame, quality, pdq_hex, seconds]``, the vPDQ fields); its ``pdq`` stays empty.

    A photo may also keep the submit-side robust signals of ``haven.signals.robust_signals``
    (``extra``: a list of ``{"kind", "pdq", "quality"?}``, at most one per crop kind of
    ``haven.signals.CROPS``), so that a cropped or framed copy still matches.  Like every
    hash here they are not encrypted: they are matched in memory by every process.
    """

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="content")
    label = models.CharField(_("label"), max_length=100)
    kind = models.CharField(_("kind"), max_length=8, choices=ContentKind.choices, default=ContentKind.PHOTO)
    pdq = models.CharField(max_length=64, blank=True)
    quality = models.PositiveSmallIntegerField(null=True, blank=True)
    pdq_dihedral = models.JSONField(default=list, blank=True)
    md5 = models.CharField(max_length=32, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    video_frames = models.JSONField(default=list, blank=True)
    extra = models.JSONField(default=list, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["organisation", "md5"]),
            models.Index(fields=["organisation", "sha256"]),
        ]

    def __str__(self) -> str:
        return f"{self.case.number}: {self.label}"


class IndexChange(models.Model):
    """The change log every server process replays, by version, before it answers a lookup."""

    class Op(models.TextChoices):
        ADD = "add"
        REMOVE = "remove"

    version = models.BigAutoField(primary_key=True)
    # No constraint and no cascade: a row outlives its item, so that deleting items (a training
    # sandbox's reset) still tells every process to drop them.  An item absent from the
    # database leaves the index (``SignalIndex._current``).
    content_item = models.ForeignKey(
        ContentItem, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    op = models.CharField(max_length=8, choices=Op.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"v{self.version} {self.op} {self.content_item_id}"
