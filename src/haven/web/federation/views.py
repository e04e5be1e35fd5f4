"""Staff pages for federation: the network view, adding a peer, and the finds on the case page."""

from __future__ import annotations

import json
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from haven.web.accounts.decorators import staff_required, staff_user
from haven.web.accounts.roles import Perm
from haven.web.cases.actions import current_consent
from haven.web.cases.models import Case, ConsentScope
from haven.web.core.access import organisation_or_404, own_or_404
from haven.web.core.errors import ActionError
from haven.web.sharing.models import Delivery, Partner, PartnerKind

from . import actions
from .actions import transfers
from .actions.transfers import DEFAULT_PARTS
from .models import (
    DEFAULT_EVERY_MINUTES,
    ImportedItem,
    IncomingTransfer,
    OutgoingFind,
    OutgoingState,
    OutgoingTransfer,
    PartnerIdentity,
    Peer,
    ReceivedFind,
    ReceivedState,
    TransferPart,
    TransferState,
)


def case_panel(request: HttpRequest, case: Case, forms_: dict[str, Any]) -> dict[str, Any]:
    """The case page's panels of this app: finds by other centres, and transfers (registered in
    ``FederationConfig.ready``)."""
    user = staff_user(request)
    finds = list(ReceivedFind.objects.filter(case=case).select_related("partner", "content_item")[:50])
    context: dict[str, Any] = {
        "centre_finds": finds,
        "centre_finds_waiting": sum(f.state == ReceivedState.SUGGESTED for f in finds),
        "transfer_consent": current_consent(case).get(ConsentScope.TRANSFER, False),
        "transfers_out": list(OutgoingTransfer.objects.filter(case=case).select_related("partner")),
        "transfer_open": OutgoingTransfer.objects.filter(case=case, state=TransferState.OFFERED).exists(),
        "transferred_in": IncomingTransfer.objects.filter(case=case).first(),
    }
    if user.can(Perm.TRANSFER_CASES):
        context["transfer_form"] = forms_.get("transfer_form") or TransferForm(
            organisation_id=case.organisation_id, secrets=user.can(Perm.VIEW_CONTACT)
        )
    return context


class TransferForm(forms.Form):
    partner = forms.ModelChoiceField(label=gettext_lazy("Centre"), queryset=Partner.objects.none())
    parts = forms.MultipleChoiceField(
        label=gettext_lazy("What the transfer carries"),
        choices=TransferPart.choices,
        initial=[p.value for p in DEFAULT_PARTS],
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("Only what the survivor agreed to pass on."),
    )
    note = forms.CharField(
        label=gettext_lazy("Note for the other centre"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("No names or contact details here: the note is not encrypted."),
    )

    def __init__(self, *args: Any, organisation_id: int, secrets: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        with_keys = PartnerIdentity.objects.values("partner_id")
        field = cast(forms.ModelChoiceField, self.fields["partner"])  # type: ignore[type-arg]
        field.queryset = Partner.objects.filter(
            organisation_id=organisation_id,
            kind=PartnerKind.CENTRE,
            revoked_at__isnull=True,
            pk__in=with_keys,
        ).order_by("name")
        if not secrets:
            parts = cast(forms.MultipleChoiceField, self.fields["parts"])
            hidden = (TransferPart.CONTACT, TransferPart.NOTES)
            parts.choices = [c for c in TransferPart.choices if c[0] not in hidden]


def _case_anchor(case: Case, panel: str) -> str:
    return reverse("cases:detail", args=[case.number]) + f"#{panel}"


@require_POST
@staff_required(Perm.TRANSFER_CASES)
def offer(request: HttpRequest, number: str) -> HttpResponse:
    from haven.web.cases.views import case_or_404

    user = staff_user(request)
    case = case_or_404(request, number)
    form = TransferForm(
        request.POST, organisation_id=case.organisation_id, secrets=user.can(Perm.VIEW_CONTACT)
    )
    if form.is_valid():
        try:
            made = transfers.offer_transfer(
                actor=user,
                case=case,
                partner=form.cleaned_data["partner"],
                parts=form.cleaned_data["parts"],
                note=form.cleaned_data["note"],
            )
        except ActionError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                _("The case is offered to %(centre)s. It sees the offer with its next fetch.")
                % {"centre": made.partner.name},
            )
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
    return redirect(_case_anchor(case, "transfer-panel"))


@require_POST
@staff_required(Perm.TRANSFER_CASES)
def revoke(request: HttpRequest, pk: int) -> HttpResponse:
    user = staff_user(request)
    transfer = own_or_404(user, OutgoingTransfer, pk)
    try:
        transfers.revoke_transfer(actor=user, transfer=transfer)
        messages.success(request, _("The offer is revoked."))
    except ActionError as exc:
        messages.error(request, str(exc))
    return redirect(_case_anchor(transfer.case, "transfer-panel"))


@require_http_methods(["GET"])
@staff_required(Perm.TRANSFER_CASES)
def transfer_list(request: HttpRequest) -> HttpResponse:
    user = staff_user(request)
    org = organisation_or_404(user)
    return render(
        request,
        "federation/transfers.html",
        {
            "incoming": IncomingTransfer.objects.filter(organisation_id=org).select_related("case")[:200],
            "outgoing": OutgoingTransfer.objects.filter(organisation_id=org).select_related(
                "case", "partner"
            )[:200],
        },
    )


@require_POST
@staff_required(Perm.TRANSFER_CASES)
def answer(request: HttpRequest, pk: int) -> HttpResponse:
    user = staff_user(request)
    transfer = own_or_404(user, IncomingTransfer, pk)
    try:
        if request.POST.get("decision") == "accept":
            case = transfers.accept_transfer(actor=user, transfer=transfer)
            messages.success(request, _("The case is yours now: %(number)s.") % {"number": case.number})
            return redirect("cases:detail", case.number)
        transfers.reject_transfer(actor=user, transfer=transfer)
        messages.success(
            request, _("The offer is rejected; %(centre)s is told.") % {"centre": transfer.from_centre}
        )
    except ActionError as exc:
        messages.error(request, str(exc))
    return redirect("federation:transfers")


@require_POST
@staff_required(Perm.TAKEDOWN)
def decide(request: HttpRequest, pk: int) -> HttpResponse:
    user = staff_user(request)
    find = own_or_404(user, ReceivedFind, pk)
    accept = request.POST.get("decision") == "accept"
    try:
        if accept:
            actions.accept_find(actor=user, find=find)
            messages.success(request, _("The find is on the takedown desk as a sighting."))
        else:
            actions.dismiss_find(actor=user, find=find)
            messages.success(request, _("The find is dismissed."))
    except ActionError as exc:
        messages.error(request, str(exc))
    return redirect(reverse("cases:detail", args=[find.case.number]) + "#finds-panel")


class PeerForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    url = forms.CharField(
        label=gettext_lazy("Address"),
        max_length=500,
        help_text=gettext_lazy("The other centre's Haven, e.g. https://haven.example.org"),
    )
    keys = forms.CharField(
        label=gettext_lazy("Keys"),
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "autocomplete": "off"}),
        help_text=gettext_lazy(
            "The JSON the other centre printed with “haven partner create NAME --kind centre --json”."
        ),
    )
    every_minutes = forms.IntegerField(
        label=gettext_lazy("Fetch every (minutes)"),
        min_value=1,
        max_value=1440,
        initial=DEFAULT_EVERY_MINUTES,
    )

    def clean_keys(self) -> Any:
        try:
            return json.loads(self.cleaned_data["keys"])
        except ValueError:
            raise forms.ValidationError(_("The keys are not valid JSON.")) from None


def _network(org: int) -> dict[str, Any]:
    """What the network view shows: counts and states, never a survivor's data."""
    peers = list(
        Peer.objects.filter(organisation_id=org).annotate(
            imported=Count("items", distinct=True),
            finds_sent=Count("finds", filter=Q(finds__state=OutgoingState.SENT), distinct=True),
            finds_waiting=Count("finds", filter=Q(finds__state=OutgoingState.QUEUED), distinct=True),
            finds_refused=Count("finds", filter=Q(finds__state=OutgoingState.REFUSED), distinct=True),
        )
    )
    centres = list(
        Partner.objects.filter(organisation_id=org, kind=PartnerKind.CENTRE).order_by("revoked_at", "name")
    )
    shared = dict(
        Delivery.objects.filter(partner__in=centres, item__status="active")
        .values_list("partner_id")
        .annotate(n=Count("id"))
        .values_list("partner_id", "n")
    )
    received: dict[tuple[int, str], int] = {}
    for partner_id, state, n in (
        ReceivedFind.objects.filter(organisation_id=org)
        .values_list("partner_id", "state")
        .annotate(n=Count("id"))
        .values_list("partner_id", "state", "n")
    ):
        received[(partner_id, state)] = n
    centre_rows = [
        {
            "partner": p,
            "shared": shared.get(p.pk, 0),
            "suggested": received.get((p.pk, ReceivedState.SUGGESTED), 0),
            "accepted": received.get((p.pk, ReceivedState.ACCEPTED), 0),
            "dismissed": received.get((p.pk, ReceivedState.DISMISSED), 0),
        }
        for p in centres
    ]
    return {
        "peers": peers,
        "centres": centre_rows,
        "imported_total": ImportedItem.objects.filter(organisation_id=org).count(),
        "finds_out": OutgoingFind.objects.filter(organisation_id=org, state=OutgoingState.SENT).count(),
        "finds_in": ReceivedFind.objects.filter(organisation_id=org).count(),
        "offers_out": OutgoingTransfer.objects.filter(organisation_id=org, state=TransferState.OFFERED)
        .select_related("partner")
        .order_by("created_at")[:100],
        "offers_in": IncomingTransfer.objects.filter(
            organisation_id=org, state=TransferState.OFFERED
        ).order_by("received_at")[:100],
    }


@require_http_methods(["GET", "POST"])
@staff_required(Perm.MANAGE_PARTNERS)
def network(request: HttpRequest) -> HttpResponse:
    user = staff_user(request)
    org = organisation_or_404(user)
    form = PeerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            peer = actions.add_peer(
                actor=user,
                organisation=user.organisation,
                name=form.cleaned_data["name"],
                url=form.cleaned_data["url"],
                keys=form.cleaned_data["keys"],
                every_minutes=form.cleaned_data["every_minutes"],
            )
        except ActionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                _("%(name)s is added; the worker fetches its feed within a minute.") % {"name": peer.name},
            )
            return redirect("federation:network")
    return render(request, "federation/network.html", {"form": form, **_network(org)})


@require_POST
@staff_required(Perm.MANAGE_PARTNERS)
def peer_action(request: HttpRequest, pk: int) -> HttpResponse:
    user = staff_user(request)
    peer = own_or_404(user, Peer, pk)
    what = request.POST.get("action", "")
    if what == "fetch":
        outcome = actions.fetch_peer(peer.pk, actor=user)
        if outcome.error:
            messages.error(request, _("%(name)s: %(error)s") % {"name": peer.name, "error": outcome.error})
        else:
            messages.success(
                request,
                _("%(name)s fetched: %(added)d added, %(removed)d removed, %(items)d in the bank.")
                % {
                    "name": peer.name,
                    "added": outcome.added,
                    "removed": outcome.removed,
                    "items": outcome.items,
                },
            )
    elif what == "remove":
        removed = actions.remove_peer(actor=user, peer=peer)
        messages.success(
            request,
            _("%(name)s is removed with its %(n)d imported items.") % {"name": peer.name, "n": removed},
        )
    return redirect("federation:network")
