"""Forms for the awareness pages' editor and campaign banners; actions make the writes."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from haven.web.accounts.forms import StaffForm

from .models import MAX_BANNER, MAX_BODY, MAX_TITLE


class PageForm(StaffForm):
    title = forms.CharField(label=_("Title"), max_length=MAX_TITLE, required=False)
    body = forms.CharField(
        label=_("Text"),
        max_length=MAX_BODY,
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 22, "spellcheck": "true"}),
        help_text=_(
            "Markdown: a blank line between paragraphs, “## ” before a heading, “- ” before a list item, "
            "[words](https://…) for a link. Pictures and HTML are not shown. Leave it empty to show the "
            "built-in text again."
        ),
    )


class CampaignForm(StaffForm):
    message = forms.CharField(
        label=_("Banner message"),
        max_length=MAX_BANNER,
        help_text=_("For example: 16 Days of Activism against Gender-Based Violence: talk to us."),
    )
    language = forms.ChoiceField(label=_("Language"), required=False)
    starts_on = forms.DateField(label=_("First day"), widget=forms.DateInput(attrs={"type": "date"}))
    ends_on = forms.DateField(label=_("Last day"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        language = cast(forms.ChoiceField, self.fields["language"])
        language.choices = [("", _("Every language")), *settings.LANGUAGES]
