"""Forms check and shape input for referrals and the service directory; actions make the writes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from haven.web.accounts.forms import StaffForm
from haven.web.accounts.models import User

from .actions import TRANSITIONS
from .models import CONSENT_FOR_KIND, Referral, ReferralStatus, Service, ServiceKind

if TYPE_CHECKING:
    _ServiceChoiceField = forms.ModelChoiceField[Service]
else:
    _ServiceChoiceField = forms.ModelChoiceField


class ServiceChoiceField(_ServiceChoiceField):
    """The organisation's services, each marked when the survivor has not consented to its kind."""

    missing_consent: frozenset[str] = frozenset()

    def label_from_instance(self, obj: Any) -> str:
        if CONSENT_FOR_KIND.get(obj.kind) in self.missing_consent:
            return str(
                _("%(name)s (%(kind)s) — not consented") % {"name": obj.name, "kind": obj.get_kind_display()}
            )
        return str(_("%(name)s (%(kind)s)") % {"name": obj.name, "kind": obj.get_kind_display()})


class ReferForm(StaffForm):
    service = ServiceChoiceField(
        label=_("Service"), queryset=Service.objects.none(), empty_label=_("Choose a service")
    )

    def __init__(self, *args: Any, user: User, consent: dict[str, bool], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(ServiceChoiceField, self.fields["service"])
        field.queryset = Service.objects.filter(organisation=user.organisation, active=True)
        # A service the survivor has not consented to stays in the menu, marked: the action's
        # refusal then says why, rather than the service silently missing.
        field.missing_consent = frozenset(scope for scope, granted in consent.items() if not granted)


class ReferralUpdateForm(StaffForm):
    """Move one referral to one of its next statuses; every referral on the page has its own."""

    status = forms.ChoiceField(label=_("New status"))
    outcome = forms.CharField(
        label=_("Outcome"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("A few words on what came of it. Not encrypted: keep personal details in the notes."),
    )

    def __init__(self, *args: Any, referral: Referral, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"id_referral{referral.pk}_%s")
        kwargs.setdefault("initial", {"outcome": referral.outcome})
        super().__init__(*args, **kwargs)
        allowed = TRANSITIONS.get(referral.status, frozenset())
        self.fields["status"].choices = [  # type: ignore[attr-defined]
            (value, label) for value, label in ReferralStatus.choices if value in allowed
        ]


class ServiceForm(StaffForm):
    kind = forms.ChoiceField(label=_("Kind of service"), choices=ServiceKind.choices)
    name = forms.CharField(label=_("Name"), max_length=200)
    contact = forms.CharField(
        label=_("How to reach them"),
        required=False,
        max_length=500,
        help_text=_("Phone, e-mail, address or opening hours, as counsellors need them."),
    )
    notes = forms.CharField(
        label=pgettext_lazy("service", "Notes"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("For example who to ask for, or what the service needs from the survivor."),
    )
