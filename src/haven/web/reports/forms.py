"""The report builder's choices: which report, which year and part of it, and at most one filter."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .periods import Period
from .standard import REPORTS

YEARS_BACK = 6


def _parts() -> list[tuple[str, Any]]:
    months = [
        _("January"), _("February"), _("March"), _("April"), _("May"), _("June"),
        _("July"), _("August"), _("September"), _("October"), _("November"), _("December"),
    ]  # fmt: skip
    return [
        ("", _("The whole year")),
        *((f"Q{q}", _("Quarter %(n)d") % {"n": q}) for q in (1, 2, 3, 4)),
        *((f"{m:02d}", name) for m, name in enumerate(months, 1)),
    ]


def _filters() -> list[tuple[str, Any]]:
    choices: list[tuple[str, Any]] = [("", _("Everyone"))]
    seen = set()
    for definition in REPORTS.values():
        for axis in definition.filters:
            for code, label in axis.choices:
                value = f"{axis.key}={code or 'unknown'}"
                if value not in seen:
                    seen.add(value)
                    choices.append((value, f"{axis.title}: {label}"))
    return choices


class ReportForm(forms.Form):
    report = forms.ChoiceField(label=_("Report"), choices=[])
    year = forms.TypedChoiceField(label=_("Year"), coerce=int, choices=[])
    part = forms.ChoiceField(label=_("Period"), required=False, choices=[])
    filter = forms.ChoiceField(label=_("Only"), required=False, choices=[])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        this_year = timezone.localdate().year
        self.fields["report"].choices = [(name, d.title) for name, d in REPORTS.items()]  # type: ignore[attr-defined]
        self.fields["year"].choices = [(y, str(y)) for y in range(this_year, this_year - YEARS_BACK, -1)]  # type: ignore[attr-defined]
        self.fields["part"].choices = _parts()  # type: ignore[attr-defined]
        self.fields["filter"].choices = _filters()  # type: ignore[attr-defined]

    def period(self) -> Period:
        part = self.cleaned_data.get("part") or ""
        return Period.parse(f"{self.cleaned_data['year']}-{part}" if part else str(self.cleaned_data["year"]))

    def filters(self) -> dict[str, str]:
        value = self.cleaned_data.get("filter") or ""
        if not value:
            return {}
        key, _sep, code = value.partition("=")
        return {key: code}
