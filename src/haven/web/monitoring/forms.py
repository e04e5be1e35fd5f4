from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import IdentifierKind, SourceKind


class SourceForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    kind = forms.ChoiceField(label=_("What to scan"), choices=SourceKind.choices)
    target = forms.CharField(
        label=_("Address"),
        help_text=_(
            "A start page, sitemap or feed URL; for a list, one URL a line; for a site's search, its address "
            "with {query} where the search words go (and {page} for the page number)."
        ),
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


class IdentifierForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=IdentifierKind.choices)
    value = forms.CharField(
        label=_("How it is written"),
        help_text=_(
            "One spelling a line (a nickname, a romanised name, a school's short name). Korean names are "
            "also looked for in their usual romanised spellings; phone numbers in every common format."
        ),
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false", "autocomplete": "off"}),
        max_length=2000,
    )
    alone = forms.TypedChoiceField(
        label=_("Enough on its own?"),
        choices=[
            ("", _("As usual for its kind")),
            ("yes", _("Yes: a page with it alone is a match")),
            ("no", _("No: only with another kind of identifier")),
        ],
        coerce=lambda v: {"yes": True, "no": False}.get(v),
        empty_value=None,
        required=False,
        help_text=_(
            "Usually a phone number, an e-mail address, a long handle or a post title is enough; a name or "
            "a school only together with another kind."
        ),
    )
    search = forms.BooleanField(
        label=_("Also search for it on the sites' own search pages"),
        required=False,
        help_text=_("The searched site then sees these words. Names, handles and post titles only."),
    )
