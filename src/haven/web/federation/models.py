"""Federation between centres: the peers a centre imports banks from, what it imported, and the
finds that travel back to the centre that owns an item.

A centre B *peers* with centre A by holding the keys A issued to B as a sharing partner of kind
"centre" (``haven partner create B --kind centre`` on A).  B's worker reads A's native feed
page by page into an :class:`ImportedItem` bank that B matches like its own cases' content
but can never edit; A's tombstones delete B's copies.  When B finds a copy of an imported item
(a scan, a lookup with the URL where it was seen), B files an :class:`OutgoingFind` that its
worker delivers to A; A keeps it as a :class:`ReceivedFind` on the case, a suggested sighting
for A's officer.  B never learns who A's survivor is: the feed carries hashes and opaque
references only.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

DEFAULT_EVERY_MINUTES = 5


class CentreIdentity(models.Model):
    """The organisation's own keys (see :mod:`.keys`): created on first use, private halves encrypted."""

    organisation = models.OneToOneField(
        "accounts.Organisation", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    signing_private_encrypted = models.BinaryField()
    exchange_private_encrypted = models.BinaryField()
    signing_public = models.CharField(max_length=64)
    exchange_public = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"keys of {self.organisation_id}"


class Peer(models.Model):
    """Another Haven server whose native feed this organisation imports (over its API, or from
    signed files when ``url`` is blank)."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("name"), max_length=200)
    url = models.URLField(_("address"), max_length=500, blank=True)
    keys_encrypted = models.BinaryField()
    """The keys the peer issued to us (JSON of the four StopNCII-style keys), encrypted."""
    signing_key = models.CharField(max_length=64, blank=True)
    exchange_key = models.CharField(max_length=64, blank=True)
    """The peer centre's public keys (base64), pinned the first time they are seen: a peer whose
    keys change is refused until an administrator removes and adds it again."""
    every_minutes = models.PositiveIntegerField(_("fetch every (minutes)"), default=DEFAULT_EVERY_MINUTES)
    active = models.BooleanField(default=True)
    checkpoint = models.BigIntegerField(default=0)
    """The position in the peer's feed up to which every record is applied here."""
    next_fetch_at = models.DateTimeField(null=True, blank=True)
    fetching_since = models.DateTimeField(null=True, blank=True)
    """Set while a worker fetches (claimed with a conditional UPDATE); a stale claim is taken over."""
    fetching_by = models.CharField(max_length=64, blank=True, default="")
    """Who holds the claim (``host:pid``): a claim of a process known to be gone is taken over at once."""
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    records_applied = models.BigIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="federation_peer_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class ImportedItem(models.Model):
    """One active record of a peer's feed: hashes to match, attributed to the peer, never edited
    here.  The attribute names follow ``cases.ContentItem`` so one index class serves both."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    peer = models.ForeignKey(Peer, on_delete=models.CASCADE, related_name="items")
    ref = models.CharField(max_length=64)
    """The peer's opaque reference for the item (``hvi-…``): what a find names."""
    case_ref = models.CharField(max_length=64)
    kind = models.CharField(max_length=8)
    pdq = models.CharField(max_length=64, blank=True)
    quality = models.PositiveSmallIntegerField(null=True)
    md5 = models.CharField(max_length=32, blank=True)
    extra = models.JSONField(default=list)
    video_frames = models.JSONField(default=list)
    source_updated_at = models.BigIntegerField()
    imported_at = models.DateTimeField(auto_now=True)

    sha256 = ""  # a feed carries no SHA-256; the index reads the attribute

    class Meta:
        constraints = [models.UniqueConstraint(fields=["peer", "ref"], name="federation_item_unique_ref")]
        indexes = [models.Index(fields=["organisation"])]

    def __str__(self) -> str:
        return self.ref


class ImportChange(models.Model):
    """The change log of imported banks, replayed by every process's index (like
    ``cases.IndexChange``); the item may be gone, so it is named by id, not by key."""

    version = models.BigAutoField(primary_key=True)
    item_id = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"v{self.version} {self.item_id}"


class FindHow(models.TextChoices):
    MONITORING = "monitoring", _("Monitoring scan")
    LOOKUP = "lookup", _("Hash lookup")
    EVIDENCE = "evidence", _("Evidence capture")


class FindFields(models.Model):
    """What a find says, on both sides: where and when, how it matched, the finder's digest."""

    url = models.URLField(max_length=2000)
    page_url = models.URLField(max_length=2000, blank=True)
    found_at = models.DateTimeField()
    how = models.CharField(max_length=16, choices=FindHow.choices)
    match_kind = models.CharField(max_length=32)
    distance = models.PositiveSmallIntegerField()
    evidence_sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        abstract = True


class OutgoingState(models.TextChoices):
    QUEUED = "queued", _("Waiting to be sent")
    SENT = "sent", _("Sent")
    REFUSED = "refused", _("Refused by the centre")
    DROPPED = "dropped", _("Dropped (the item was withdrawn)")


class OutgoingFind(FindFields):
    """A copy of a peer's item found here, to report to the peer."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    peer = models.ForeignKey(Peer, on_delete=models.CASCADE, related_name="finds")
    item = models.ForeignKey(ImportedItem, on_delete=models.SET_NULL, null=True, related_name="+")
    item_ref = models.CharField(max_length=64)
    signal = models.CharField(max_length=64)
    """One hash of the item, as the peer sent it: the peer finds its item by it."""
    state = models.CharField(max_length=16, choices=OutgoingState.choices, default=OutgoingState.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["peer", "item_ref", "url", "evidence_sha256"], name="federation_outgoing_once"
            )
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.item_ref} at {self.url}"


class ReceivedState(models.TextChoices):
    SUGGESTED = "suggested", _("Suggested")
    ACCEPTED = "accepted", _("Accepted into the takedown desk")
    DISMISSED = "dismissed", _("Dismissed")


class ReceivedFind(FindFields):
    """Another centre found a copy of one of our shared items: a suggested sighting on the case."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    partner = models.ForeignKey("sharing.Partner", on_delete=models.CASCADE, related_name="+")
    shared_item = models.ForeignKey("sharing.SharedItem", on_delete=models.CASCADE, related_name="+")
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="received_finds")
    content_item = models.ForeignKey(
        "cases.ContentItem", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    received_at = models.DateTimeField(auto_now_add=True)
    state = models.CharField(max_length=16, choices=ReceivedState.choices, default=ReceivedState.SUGGESTED)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    sighting = models.ForeignKey(
        "takedown.Sighting", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "shared_item", "url", "evidence_sha256"], name="federation_received_once"
            )
        ]
        indexes = [models.Index(fields=["organisation", "state"])]

    def __str__(self) -> str:
        return f"{self.url} ({self.state})"


class PartnerIdentity(models.Model):
    """A partner centre's public keys, as it registered them with us (pinned on first sight)."""

    partner = models.OneToOneField(
        "sharing.Partner", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    signing_key = models.CharField(max_length=64)
    exchange_key = models.CharField(max_length=64)
    centre = models.CharField(max_length=200)
    received_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.centre


class TransferState(models.TextChoices):
    OFFERED = "offered", _("Offered")
    DECIDING = "deciding", _("Being answered")
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")
    REVOKED = "revoked", _("Revoked")


class TransferPart(models.TextChoices):
    """What a transfer may carry; the survivor's ``transfer`` consent and the counsellor's choice
    decide which parts a bundle holds."""

    HASHES = "hashes", _("Content hashes")
    CLASSIFICATION = "classification", _("Incident classification")
    CONSENT = "consent", _("Consent given")
    SIGHTINGS = "sightings", _("Addresses where the content was seen")
    CONTACT = "contact", _("Contact details")
    NOTES = "notes", _("Case notes")


class OutgoingTransfer(models.Model):
    """A case we offered to another centre (a partner of kind centre)."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    offer_id = models.UUIDField(unique=True)
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="transfers_out")
    partner = models.ForeignKey("sharing.Partner", on_delete=models.PROTECT, related_name="+")
    parts = models.JSONField(default=list)
    envelope = models.BinaryField()
    """The signed, sealed bundle (JSON): only the receiving centre can open it."""
    state = models.CharField(max_length=16, choices=TransferState.choices, default=TransferState.OFFERED)
    note = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    their_reference = models.CharField(max_length=64, blank=True)
    """The receiving centre's opaque reference for the case it made (never its case number)."""
    exported_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["partner", "state"])]

    def __str__(self) -> str:
        return f"{self.offer_id} {self.state}"

    @property
    def part_labels(self) -> list[str]:
        return [str(TransferPart(p).label) for p in self.parts if p in TransferPart.values]


class IncomingTransfer(models.Model):
    """A case another centre offered us; opened only when we accept it."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    offer_id = models.UUIDField()
    peer = models.ForeignKey(Peer, on_delete=models.SET_NULL, null=True, blank=True, related_name="transfers")
    from_centre = models.CharField(max_length=200)
    sender_signing_key = models.CharField(max_length=64)
    envelope = models.BinaryField()
    parts = models.JSONField(default=list)
    items = models.PositiveIntegerField(default=0)
    note = models.CharField(max_length=500, blank=True)
    """The offering centre's note (not encrypted there either: never names or contact details)."""
    offered_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    state = models.CharField(max_length=16, choices=TransferState.choices, default=TransferState.OFFERED)
    case = models.ForeignKey("cases.Case", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "offer_id"], name="federation_incoming_once")
        ]

    def __str__(self) -> str:
        return f"{self.offer_id} from {self.from_centre} {self.state}"

    @property
    def part_labels(self) -> list[str]:
        return [str(TransferPart(p).label) for p in self.parts if p in TransferPart.values]
