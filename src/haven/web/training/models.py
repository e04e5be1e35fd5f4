"""The sandbox mailbox: what a training sandbox would have e-mailed, kept for the trainee to read."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class MailKind(models.TextChoices):
    NOTICE = "notice", _("Takedown notice")
    NOTIFICATION = "notification", _("Notification e-mail")
    REPLY = "reply", _("Platform's reply")


class SandboxMail(models.Model):
    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=MailKind.choices)
    sender = models.CharField(max_length=300)
    recipients = models.CharField(max_length=1000)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    attachments = models.JSONField(default=list)  # file names only: the PDF is made again on demand
    message_id = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-pk"]

    def __str__(self) -> str:
        return self.subject


class ExerciseResult(models.Model):
    """A trainee's latest check of one exercise.  Once done, it stays done (a sandbox reset keeps it:
    it is the trainee's record, not practice data)."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="exercise_results")
    code = models.CharField(max_length=32)
    checked_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    missed = models.JSONField(default=list)  # the steps still missing at the last check, as shown

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "code"], name="one_result_per_exercise")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.code}"


class PracticeRemoval(models.Model):
    """A page or picture of a sandbox's practice site that its platform "removed" on a valid notice."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    path = models.CharField(max_length=200)  # within the sandbox's practice site, e.g. "forum/post/3/"
    notice_subject = models.CharField(max_length=300, blank=True)
    removed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "path"], name="practice_removed_once")]

    def __str__(self) -> str:
        return self.path
