from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from . import regimes
from .actions import ESCALATION_TARGETS, MAX_BULK_URLS, MAX_SEARCH_ITEMS, MAX_SEARCH_QUERY
from .models import NoticeReply, PlatformKind, SightingSource, SightingState

LANGUAGE_CHOICES = [("en", _("English")), ("ko", _("Korean"))]


class SightingsForm(forms.Form):
    urls = forms.CharField(
        label=_("URLs where the content was seen"),
        help_text=_("One a line, up to %(n)d at a time. Duplicates of URLs already on the case are skipped.")
        % {"n": MAX_BULK_URLS},
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "autocomplete": "off"}),
        max_length=MAX_BULK_URLS * 2001,
    )
    media_url = forms.CharField(
        label=_("Media URL (optional, for a single page)"),
        help_text=_("The address of the picture or video itself, so that its hash can be compared."),
        required=False,
        max_length=2000,
    )
    source = forms.ChoiceField(
        label=_("Reported by"), choices=SightingSource.choices, initial=SightingSource.COUNSELLOR
    )


class QueueFilterForm(forms.Form):
    state = forms.ChoiceField(
        label=_("State"),
        required=False,
        choices=[("", _("All open")), ("overdue", _("Overdue")), *SightingState.choices],
    )
    platform = forms.CharField(label=_("Platform or host"), required=False, max_length=200)
    case = forms.CharField(label=_("Case number"), required=False, max_length=20)
    mine = forms.BooleanField(label=_("Assigned to me"), required=False)


BULK_ACTIONS = [
    ("capture", _("Capture evidence")),
    ("notice", _("Draft a notice")),
    ("recheck", _("Recheck now")),
    ("escalate", _("Escalate")),
    ("assign", _("Assign to")),
]


class NoticeForm(forms.Form):
    regime = forms.ChoiceField(label=_("Legal regime"), choices=regimes.choices)
    language = forms.ChoiceField(label=_("Language of the notice"), choices=LANGUAGE_CHOICES)
    recipient = forms.CharField(
        label=_("Recipient"),
        required=False,
        max_length=500,
        help_text=_("Leave empty for the platform's abuse address or web form."),
    )
    explanation = forms.CharField(
        label=_("Why the content is unlawful"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "Required for a Digital Services Act notice and for requests to delete personal information: "
            "a substantiated explanation in your own words."
        ),
    )
    signer = forms.CharField(label=_("Signed by"), max_length=200)
    notifier_email = forms.EmailField(label=_("Reply-to e-mail address"))
    notifier_address = forms.CharField(label=_("Postal address"), required=False, max_length=500)
    notifier_phone = forms.CharField(label=_("Telephone"), required=False, max_length=50)
    work = forms.CharField(
        label=_("The survivor's work (DMCA only)"),
        required=False,
        max_length=500,
        help_text=_("For example: a photograph the survivor took of themselves in 2023."),
    )
    owner_authorised = forms.BooleanField(
        label=_("The survivor owns the copyright and has authorised us to act (DMCA only)"), required=False
    )
    personal_information = forms.CharField(
        label=_("The personal information these URLs expose (personal-information requests)"),
        required=False,
        max_length=1000,
        help_text=_(
            "Say what kind of information it is, for example: their full name, mobile number and school. "
            "Do not copy the information itself."
        ),
    )
    data_subject_authorised = forms.BooleanField(
        label=_(
            "The survivor has authorised us to ask for their personal information to be deleted "
            "(personal-information requests)"
        ),
        required=False,
    )
    search_queries = forms.CharField(
        label=_("Search terms that bring up the results (search engines)"),
        required=False,
        max_length=MAX_SEARCH_ITEMS * (MAX_SEARCH_QUERY + 1),
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "autocomplete": "off"}),
        help_text=_("One a line, as typed into the search engine."),
    )
    search_result_urls = forms.CharField(
        label=_("URLs of the search results pages (search engines)"),
        required=False,
        max_length=MAX_SEARCH_ITEMS * 2001,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "autocomplete": "off"}),
        help_text=_("One a line: the address of the results page for each search term."),
    )
    survivor_name = forms.CharField(
        label=_("Survivor's name (only with their consent to be named)"), required=False, max_length=200
    )
    good_faith = forms.BooleanField(
        label=_("I confirm the good-faith statement in this notice"), required=False
    )
    accurate = forms.BooleanField(
        label=_(
            "I confirm the notice is accurate and that we are authorised to act "
            "(under penalty of perjury for DMCA)"
        ),
        required=False,
    )

    def __init__(self, *args: Any, may_name: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not may_name:
            del self.fields["survivor_name"]

    # One a line, as NoticeInput takes them (the action checks each one).
    def clean_search_queries(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["search_queries"].splitlines() if line.strip()]

    def clean_search_result_urls(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["search_result_urls"].splitlines() if line.strip()]


class ReplyForm(forms.Form):
    outcome = forms.ChoiceField(label=_("What the platform said"), choices=NoticeReply.Outcome.choices)
    text = forms.CharField(
        label=_("Their reply"), required=False, max_length=10000, widget=forms.Textarea(attrs={"rows": 3})
    )


class WebFormSentForm(forms.Form):
    reference = forms.CharField(label=_("The platform's reference"), max_length=200)


class EscalateForm(forms.Form):
    target = forms.ChoiceField(
        label=_("Escalate to"),
        choices=list(
            zip(
                ESCALATION_TARGETS,
                [_("Hosting provider"), _("National regulator"), _("Partner hotline")],
                strict=True,
            )
        ),
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=250)


class PlatformForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=PlatformKind.choices)
    domains = forms.CharField(
        label=_("Domains"),
        help_text=_("One a line; each covers its subdomains too."),
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        max_length=5000,
    )
    abuse_email = forms.EmailField(label=_("Abuse e-mail"), required=False)
    web_form_url = forms.URLField(label=_("Web form"), required=False, max_length=500, assume_scheme="https")
    country = forms.CharField(
        label=_("Country"), required=False, max_length=2, help_text=_("ISO 3166 two-letter code")
    )
    regimes = forms.MultipleChoiceField(
        label=_("Legal regimes"), choices=regimes.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    language = forms.ChoiceField(label=_("Notice language"), choices=LANGUAGE_CHOICES)
    response_hours = forms.IntegerField(
        label=_("Expected response time (hours)"), min_value=1, max_value=24 * 90
    )
    notes = forms.CharField(
        label=_("Notes"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
