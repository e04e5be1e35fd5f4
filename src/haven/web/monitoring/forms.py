from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import SourceKind


class SourceForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    kind = forms.ChoiceField(label=_("What to scan"), choices=SourceKind.choices)
    target = forms.CharField(
        label=_("Address"),
        help_text=_("A start page, sitemap or feed URL; for a list, one URL a line."),
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        max_length=200_000,
    )
    depth = forms.IntegerField(label=_("Link depth (web pages)"), min_value=0, max_value=5, initial=1)
    max_pages = forms.IntegerField(
        label=_("At most this many pages a run"), min_value=1, max_value=100_000, initial=1000
    )
    same_site = forms.BooleanField(label=_("Stay on the same site"), required=False, initial=True)
    every_hours = forms.IntegerField(
        label=_("Run every (hours)"),
        min_value=0,
        max_value=24 * 365,
        initial=24,
        help_text=_("0: only when started by hand."),
    )
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)
