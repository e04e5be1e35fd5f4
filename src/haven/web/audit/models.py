"""The audit trail: an append-only, hash-chained log of every change and every sensitive read."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class EventType(models.TextChoices):
    ORGANISATION_CREATED = "organisation.created", _("Organisation created")
    ORGANISATION_UPDATED = "organisation.updated", _("Organisation's details changed")
    AUDIT_KEY_ROTATED = "audit.key_rotated", _("Audit key changed")
    AUDIT_CHAIN_KEYED = "audit.chain_keyed", _("Audit trail linked under a key")
    PORTAL_UNLOCKED = "portal.unlocked", _("Survivor portal access unlocked")
    PORTAL_PIN_RESET = "portal.pin_reset", _("Survivor portal PIN replaced")
    PORTAL_MESSAGE_SENT = "portal.message_sent", _("Message sent in the survivor portal")
    PORTAL_MESSAGES_VIEWED = "portal.messages_viewed", _("Messages with the survivor read")
    PORTAL_MESSAGES_DELETED = "portal.messages_deleted", _("Messages with the survivor deleted")
    NOTIFICATION_EMAIL_CHANGED = "user.notification_email", _("Notification e-mails turned on or off")
    USER_CREATED = "user.created", _("User created")
    USER_LOGGED_IN = "user.logged_in", _("Logged in")
    TWO_FACTOR_ENROLLED = "user.two_factor_enrolled", _("Two-factor device enrolled")
    TOKEN_CREATED = "token.created", _("API token created")
    TOKEN_REVOKED = "token.revoked", _("API token revoked")
    CASE_CREATED = "case.created", _("Case created")
    CASE_UPDATED = "case.updated", _("Case updated")
    CASE_STATUS_CHANGED = "case.status_changed", _("Case status changed")
    CONTACT_VIEWED = "case.contact_viewed", _("Contact details viewed")
    CASE_NOTE_ADDED = "case.note_added", _("Case note added")
    CASES_EXPORTED = "case.exported", _("Case list exported")
    CASE_PRINTED = "case.printed", _("Case summary printed")
    CONSENT_GRANTED = "consent.granted", _("Consent granted")
    CONSENT_WITHDRAWN = "consent.withdrawn", _("Consent withdrawn")
    CONTENT_ADDED = "content.added", _("Content hashes added")
    CONTENT_REMOVED = "content.removed", _("Content hashes removed")
    LOOKUP = "content.lookup", _("Hash lookup")
    SERVICE_ADDED = "service.added", _("Service added to the directory")
    SERVICE_DEACTIVATED = "service.deactivated", _("Service taken out of the directory")
    SERVICE_REACTIVATED = "service.reactivated", _("Service put back in the directory")
    REFERRAL_CREATED = "referral.created", _("Referral made")
    REFERRAL_UPDATED = "referral.updated", _("Referral updated")
    FOLLOW_UP_ADDED = "follow_up.added", _("Follow-up added")
    FOLLOW_UP_DONE = "follow_up.done", _("Follow-up done")
    PLATFORM_SAVED = "platform.saved", _("Platform saved in the directory")
    SIGHTING_ADDED = "sighting.added", _("Sighting added")
    SIGHTING_STATE_CHANGED = "sighting.state_changed", _("Sighting state changed")
    SIGHTING_ASSIGNED = "sighting.assigned", _("Sighting assigned to an officer")
    EVIDENCE_CAPTURED = "evidence.captured", _("Evidence captured")
    SCREENSHOT_VIEWED = "evidence.screenshot_viewed", _("Evidence screenshot viewed")
    SCREENSHOTS_EXPIRED = "evidence.screenshots_expired", _("Expired evidence screenshots deleted")
    SIGHTING_RECHECKED = "sighting.rechecked", _("Sighting rechecked")
    NOTICE_DRAFTED = "notice.drafted", _("Notice drafted")
    NOTICE_SENT = "notice.sent", _("Notice sent")
    NOTICE_REPLY = "notice.reply", _("Reply to a notice logged")
    NOTICE_CLOSED = "notice.closed", _("Notice closed")
    NOTICES_EXPORTED = "notice.exported", _("Notice records exported")
    SOURCE_SAVED = "source.saved", _("Monitoring source saved")
    SCAN_QUEUED = "scan.queued", _("Scan started")
    SCAN_FINISHED = "scan.finished", _("Scan finished")
    CANDIDATE_VIEWED = "candidate.viewed", _("Found picture shown unblurred")
    CANDIDATE_CONFIRMED = "candidate.confirmed", _("Match confirmed")
    CANDIDATE_REJECTED = "candidate.rejected", _("Match rejected")
    IDENTIFIER_ADDED = "identifier.added", _("Personal identifier recorded")
    IDENTIFIER_REMOVED = "identifier.removed", _("Personal identifier removed")
    IDENTIFIERS_VIEWED = "identifier.viewed", _("Personal identifiers shown")
    TEXT_CANDIDATE_VIEWED = "text_candidate.viewed", _("Personal information on a found page shown")
    TEXT_CANDIDATE_CONFIRMED = "text_candidate.confirmed", _("Personal information match confirmed")
    TEXT_CANDIDATE_REJECTED = "text_candidate.rejected", _("Personal information match rejected")
    PARTNER_CREATED = "partner.created", _("Sharing partner registered")
    PARTNER_KEY_ROTATED = "partner.key_rotated", _("Sharing partner key replaced")
    PARTNER_REVOKED = "partner.revoked", _("Sharing partner revoked")
    SHARING_APPROVED = "sharing.approved", _("Approved for sharing with partners")
    SHARING_WITHDRAWN = "sharing.withdrawn", _("Withdrawn from partners")
    SHARING_PURGED = "sharing.purged", _("Shared copies of erased pictures blanked")
    PARTNER_FETCHED = "partner.fetched", _("Partner fetched shared hashes")
    PARTNER_FEEDBACK = "partner.feedback", _("Feedback from a partner")
    PARTNER_HASHES_SUBMITTED = "partner.hashes_submitted", _("Partner hashes received into quarantine")
    QUARANTINE_REVIEWED = "quarantine.reviewed", _("Partner hash reviewed")
    PEER_ADDED = "peer.added", _("Peer centre added")
    PEER_REMOVED = "peer.removed", _("Peer centre removed")
    PEER_FETCHED = "peer.fetched", _("Imported bank updated from a peer centre")
    PEER_FETCH_FAILED = "peer.fetch_failed", _("Fetch from a peer centre failed")
    FINDS_QUEUED = "find.queued", _("Copies of a peer centre's items found")
    FINDS_SENT = "find.sent", _("Finds reported to a peer centre")
    FIND_RECEIVED = "find.received", _("Find reported by another centre")
    FIND_ACCEPTED = "find.accepted", _("Reported find accepted as a sighting")
    FIND_DISMISSED = "find.dismissed", _("Reported find dismissed")
    CENTRE_KEYS_REGISTERED = "partner.centre_keys", _("Partner centre's public keys registered")
    TRANSFER_OFFERED = "transfer.offered", _("Case offered to another centre")
    TRANSFER_REVOKED = "transfer.revoked", _("Case transfer offer revoked")
    TRANSFER_ACCEPTED = "transfer.accepted", _("Case transfer accepted")
    TRANSFER_REJECTED = "transfer.rejected", _("Case transfer rejected")
    TRANSFER_RECEIVED = "transfer.received", _("Case transfer offer received")
    TRANSFER_EXPORTED = "transfer.exported", _("Case transfer written to a file")
    SHARING_EXPORTED = "sharing.exported", _("Shared hashes written to a signed file")
    SHARING_IMPORTED = "sharing.imported", _("Signed file of shared hashes imported")
    KEYS_ROTATED = "system.keys_rotated", _("Encrypted values rewritten with the current key")
    REPORT_PRODUCED = "report.produced", _("Report produced")
    FIGURES_POOLED = "report.figures_pooled", _("Figures fetched from other centres for pooling")
    FIGURES_SENT = "report.figures_sent", _("Figures sent to another centre for pooling")
    AWARENESS_PAGE_SAVED = "awareness.page_saved", _("Awareness page published")
    AWARENESS_CAMPAIGN_ADDED = "awareness.campaign_added", _("Awareness campaign banner added")
    AWARENESS_CAMPAIGN_REMOVED = "awareness.campaign_removed", _("Awareness campaign banner removed")
    SANDBOX_RESET = "training.sandbox_reset", _("Training sandbox reset to a fresh state")
    SANDBOX_MANAGED = "training.sandbox_managed", _("Training sandbox made, reset or given a trainee")
    EXERCISE_COMPLETED = "training.exercise_completed", _("Training exercise completed")
    REVIEWER_CARE_CHANGED = (
        "monitoring.reviewer_care_changed",
        _("Reviewer's limits or preview settings changed"),
    )


class AuditEvent(models.Model):
    """One audited action.  ``digest`` chains it to the event before it.

    ``summary`` never holds sensitive content (no contact details, no notes, no hashes
    of a survivor's pictures): just what happened to which object.
    """

    sequence = models.BigIntegerField(unique=True)
    created_at = models.DateTimeField()
    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, null=True, related_name="+"
    )
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    actor_label = models.CharField(max_length=150)
    event_type = models.CharField(max_length=64, choices=EventType.choices)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    summary = models.JSONField(default=dict)
    previous_digest = models.CharField(max_length=64)
    key_id = models.CharField(max_length=16, blank=True, default="")  # which audit key linked it
    digest = models.CharField(max_length=64)

    class Meta:
        ordering = ["sequence"]
        indexes = [models.Index(fields=["organisation", "sequence"])]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.event_type} {self.object_type}:{self.object_id}"


class ChainHead(models.Model):
    """A single row locked while an event is appended, so the chain never forks."""

    sequence = models.BigIntegerField(default=0)
    digest = models.CharField(max_length=64, default="0" * 64)

    def __str__(self) -> str:
        return f"head #{self.sequence}"
