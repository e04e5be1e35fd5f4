"""A centre's own wording of the awareness pages (every revision kept) and its campaign banners."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

MAX_BODY = 20_000  # characters of Markdown: a long page, far from a denial of service
MAX_TITLE = 200
MAX_BANNER = 300


class Topic(models.TextChoices):
    """The pages, in the order a visitor reads them."""

    ABUSE = "image-based-abuse", _("What image-based abuse is")
    OPTIONS = "what-you-can-do", _("What you can do")
    HELP = "how-the-centre-helps", _("How the centre helps")
    HASHING = "how-hashing-works", _("How hashing keeps your pictures private")
    LAW = "the-law", _("The law where the centre works")


class Revision(models.Model):
    """One saved version of one page in one language.  Rows are never changed or deleted: the page
    shows the newest; an empty body puts the built-in text back."""

    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="awareness_revisions"
    )
    topic = models.CharField(_("page"), max_length=32, choices=Topic.choices)
    language = models.CharField(_("language"), max_length=10)
    title = models.CharField(_("title"), max_length=MAX_TITLE, blank=True)
    body = models.TextField(_("text"), blank=True, max_length=MAX_BODY)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-pk"]
        indexes = [
            models.Index(fields=["organisation", "topic", "language", "-id"], name="awareness_page_newest")
        ]

    def __str__(self) -> str:
        return f"{self.topic} ({self.language}) #{self.pk}"


class Campaign(models.Model):
    """A banner on the centre's awareness pages between two dates (the 16 Days of Activism, say)."""

    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="awareness_campaigns"
    )
    message = models.CharField(_("message"), max_length=MAX_BANNER)
    # "": shown whatever the visitor's language
    language = models.CharField(_("language"), max_length=10, blank=True)
    starts_on = models.DateField(_("first day"))
    ends_on = models.DateField(_("last day"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["starts_on", "pk"]

    def __str__(self) -> str:
        return self.message
