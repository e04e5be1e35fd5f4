"""Federation APIs: the finds endpoint partner centres post to, and the staff API for peers and finds.

``/api/federation/v1/finds`` authenticates like every partner API (``Ocp-Apim-Subscription-Key``
plus the partner's feedback key as ``x-functions-key``); the staff endpoints live in ``/api/v1``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, NinjaAPI, Router, Schema, Status
from pydantic import field_validator

from haven import __version__
from haven.web.accounts.roles import Perm
from haven.web.cases.api import ERRORS
from haven.web.cases.models import Case
from haven.web.core.access import organisation_or_404, require, same_organisation
from haven.web.core.api import Input, PeerInput
from haven.web.core.errors import ActionError, NotFound
from haven.web.sharing.api import WRITE_ERRORS, PartnerKey, _handlers, _partner, _user
from haven.web.sharing.models import Endpoint, Partner

from . import actions, identity, keys
from .actions import transfers
from .models import (
    FindHow,
    IncomingTransfer,
    OutgoingFind,
    OutgoingTransfer,
    Peer,
    ReceivedFind,
    TransferPart,
)

MAX_FINDS = 500
_HEX_DIGEST = r"^(?:[0-9a-f]{64})?$"

federation_api = NinjaAPI(
    title="Haven: federation between centres",
    version=__version__,
    description="Where a partner centre reports copies it found of items it was sent. Send the "
    "partner's `Ocp-Apim-Subscription-Key` and its feedback key as `x-functions-key`. See "
    "docs/federation.md.",
    urls_namespace="federation-api",
    docs_url="/docs",
)
_handlers(federation_api)


class FindIn(PeerInput):
    item: str = Field(
        pattern=r"^hvi-[a-z2-7]{1,60}$", description="your reference for the item (its feed id)"
    )
    signal: str = Field(pattern=r"^(?:[0-9a-f]{32}|[0-9a-f]{64})$", description="one of the item's hashes")
    url: str = Field(
        min_length=1, max_length=2000, description="where the copy was seen (the media's address)"
    )
    page_url: str = Field("", max_length=2000)
    found_at: int = Field(ge=0, le=253402300799, description="Unix seconds")
    how: FindHow
    match_kind: str = Field(pattern=r"^[a-z0-9_:]{1,32}$")
    distance: int = Field(ge=0, le=256)
    evidence_sha256: str = Field("", pattern=_HEX_DIGEST)

    @field_validator("url", "page_url")
    @classmethod
    def _http(cls, value: str) -> str:
        if value and not value.lower().startswith(("http://", "https://")):
            raise ValueError("an address starts with http:// or https://")
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ValueError("an address has no control characters")
        return value


class FindsIn(PeerInput):
    finds: list[FindIn] = Field(min_length=1, max_length=MAX_FINDS)


class FindResult(Schema):
    status: str = Field(description="accepted, duplicate or refused")
    reason: str


class FindsOut(Schema):
    results: list[FindResult]


@federation_api.post(
    "/finds",
    response={200: FindsOut, **WRITE_ERRORS},
    auth=PartnerKey(Endpoint.FEEDBACK),
    summary="Copies of shared items that the partner centre found",
)
def post_finds(request: HttpRequest, body: FindsIn) -> FindsOut:
    """Each find becomes a suggested sighting on the case of the item, for an officer to accept.
    One result per find, in order: a find on an item that was withdrawn, or that was never sent
    to the partner, is ``refused``."""
    finds = [
        actions.ReportedFind(
            item=f.item,
            signal=f.signal,
            url=f.url,
            page_url=f.page_url,
            found_at=dt.datetime.fromtimestamp(f.found_at, tz=dt.UTC),
            how=f.how.value,
            match_kind=f.match_kind,
            distance=f.distance,
            evidence_sha256=f.evidence_sha256,
        )
        for f in body.finds
    ]
    results = actions.receive_finds(partner=_partner(request), finds=finds)
    return FindsOut(results=[FindResult(**r) for r in results])


class KeyCardIO(PeerInput):
    centre: str = Field(min_length=1, max_length=200)
    signing_key: str = Field(max_length=100, description="Ed25519 public key, raw, base64")
    exchange_key: str = Field(max_length=100, description="X25519 public key, raw, base64")
    fingerprint: str = Field("", max_length=100)


class Registered(Schema):
    new: bool


class ConflictOut(Schema):
    detail: str
    state: str = Field("", description="the offer's state when it is no longer open")


@federation_api.get(
    "/identity",
    response={200: KeyCardIO, **WRITE_ERRORS},
    auth=PartnerKey(Endpoint.FETCH),
    summary="This centre's public keys (its key card)",
)
def get_identity(request: HttpRequest) -> dict[str, str]:
    return identity.key_card(_partner(request).organisation_id).as_dict()


@federation_api.put(
    "/identity",
    response={200: Registered, 409: ConflictOut, **WRITE_ERRORS},
    auth=PartnerKey(Endpoint.FEEDBACK),
    summary="Register the partner centre's public keys (kept from the first time)",
)
def put_identity(request: HttpRequest, body: KeyCardIO) -> Any:
    try:
        card = keys.KeyCard.from_dict(body.model_dump())
    except keys.KeyProblem as exc:
        raise ActionError(str(exc)) from None
    try:
        return Registered(new=transfers.register_partner_keys(partner=_partner(request), card=card))
    except transfers.TransferConflict as exc:
        return Status(409, ConflictOut(detail=str(exc), state=""))


class OfferOut(Schema):
    offer_id: str
    state: str
    envelope: dict[str, Any] | None = None


@federation_api.get(
    "/transfers",
    response={200: list[OfferOut], **WRITE_ERRORS},
    auth=PartnerKey(Endpoint.FETCH),
    summary="Case transfers offered to the partner centre (open ones, and those revoked lately)",
)
def list_offers(request: HttpRequest) -> list[dict[str, Any]]:
    return transfers.offers_for(_partner(request))


class AnswerIn(PeerInput):
    decision: str = Field(pattern="^(accept|reject)$")
    reference: str = Field("", max_length=64, pattern=r"^(hvt-[0-9a-f]{1,60})?$")


class AnswerOut(Schema):
    state: str


@federation_api.post(
    "/transfers/{offer_id}",
    response={200: AnswerOut, 409: ConflictOut, **WRITE_ERRORS},
    auth=PartnerKey(Endpoint.FEEDBACK),
    summary="Accept or reject a case transfer offered to the partner centre",
)
def answer_offer(request: HttpRequest, offer_id: uuid.UUID, body: AnswerIn) -> Any:
    try:
        t = transfers.answer_transfer(
            partner=_partner(request),
            offer_id=str(offer_id),
            accept=body.decision == "accept",
            reference=body.reference,
        )
    except transfers.TransferConflict as exc:
        return Status(409, ConflictOut(detail=str(exc), state=exc.state))
    return AnswerOut(state=t.state)


# --- staff (mounted in /api/v1) ----------------------------------------------------------------

router = Router(tags=["federation"])


class PeerIn(Input):
    name: str = Field(max_length=200)
    url: str = Field(max_length=500)
    keys: dict[str, str]
    every_minutes: int = Field(5, ge=1, le=1440)


class PeerOut(Schema):
    id: int
    name: str
    url: str
    every_minutes: int
    checkpoint: int
    items: int
    last_attempt_at: dt.datetime | None
    last_success_at: dt.datetime | None
    last_error: str
    finds_queued: int
    finds_sent: int

    @staticmethod
    def of(peer: Peer) -> PeerOut:
        finds = OutgoingFind.objects.filter(peer=peer)
        return PeerOut(
            id=peer.pk,
            name=peer.name,
            url=peer.url,
            every_minutes=peer.every_minutes,
            checkpoint=peer.checkpoint,
            items=peer.items.count(),
            last_attempt_at=peer.last_attempt_at,
            last_success_at=peer.last_success_at,
            last_error=peer.last_error,
            finds_queued=finds.filter(state="queued").count(),
            finds_sent=finds.filter(state="sent").count(),
        )


def _peer(request: HttpRequest, pk: int) -> tuple[Any, Peer]:
    user = _user(request)
    require(user, Perm.MANAGE_PARTNERS)
    peer = Peer.objects.filter(pk=pk).first()
    same_organisation(user, peer)
    if peer is None:
        raise NotFound
    return user, peer


@router.get(
    "/federation/peers", response={200: list[PeerOut], **ERRORS}, summary="Peer centres we import from"
)
def list_peers(request: HttpRequest) -> list[PeerOut]:
    user = _user(request)
    require(user, Perm.MANAGE_PARTNERS)
    return [PeerOut.of(p) for p in Peer.objects.filter(organisation_id=organisation_or_404(user))]


@router.post("/federation/peers", response={201: PeerOut, **ERRORS}, summary="Import another centre's feed")
def add_peer(request: HttpRequest, body: PeerIn) -> Status[PeerOut]:
    user = _user(request)
    peer = actions.add_peer(
        actor=user,
        organisation=user.organisation,
        name=body.name,
        url=body.url,
        keys=body.keys,
        every_minutes=body.every_minutes,
    )
    return Status(201, PeerOut.of(peer))


class FetchOut(Schema):
    peer: str
    pages: int
    added: int
    updated: int
    removed: int
    checkpoint: int
    items: int
    error: str
    busy: bool
    offers: int


@router.post(
    "/federation/peers/{pk}/fetch", response={200: FetchOut, **ERRORS}, summary="Fetch a peer's feed now"
)
def fetch_peer(request: HttpRequest, pk: int) -> FetchOut:
    user, peer = _peer(request, pk)
    return FetchOut(**actions.fetch_peer(peer.pk, actor=user).as_dict())


class ReceivedFindOut(Schema):
    id: int
    centre: str
    url: str
    page_url: str
    found_at: dt.datetime
    received_at: dt.datetime
    how: str
    match_kind: str
    distance: int
    evidence_sha256: str
    content_id: int | None
    state: str
    sighting_id: int | None

    @staticmethod
    def of(f: ReceivedFind) -> ReceivedFindOut:
        return ReceivedFindOut(
            id=f.pk,
            centre=f.partner.name,
            url=f.url,
            page_url=f.page_url,
            found_at=f.found_at,
            received_at=f.received_at,
            how=f.how,
            match_kind=f.match_kind,
            distance=f.distance,
            evidence_sha256=f.evidence_sha256,
            content_id=f.content_item_id,
            state=f.state,
            sighting_id=f.sighting_id,
        )


@router.get(
    "/cases/{number}/finds",
    response={200: list[ReceivedFindOut], **ERRORS},
    summary="Copies of the case's items other centres found",
)
def case_finds(request: HttpRequest, number: str) -> list[ReceivedFindOut]:
    user = _user(request)
    require(user, Perm.VIEW_CASES)
    case = Case.objects.filter(number=number.strip().upper()).first()
    same_organisation(user, case)
    finds = ReceivedFind.objects.filter(case=case).select_related("partner")
    return [ReceivedFindOut.of(f) for f in finds]


class DecisionIn(Input):
    accept: bool


@router.post(
    "/finds/{pk}",
    response={200: ReceivedFindOut, **ERRORS},
    summary="Accept a find into the takedown desk, or dismiss it",
)
def decide_find(request: HttpRequest, pk: int, body: DecisionIn) -> ReceivedFindOut:
    user = _user(request)
    find = ReceivedFind.objects.filter(pk=pk).first()
    same_organisation(user, find)
    if find is None:
        raise NotFound
    if body.accept:
        actions.accept_find(actor=user, find=find)
    else:
        actions.dismiss_find(actor=user, find=find)
    return ReceivedFindOut.of(ReceivedFind.objects.select_related("partner").get(pk=pk))


# --- transfers (staff) --------------------------------------------------------------------------


class TransferIn(Input):
    to: str = Field(max_length=200, description="the partner centre's name (a partner of kind centre)")
    parts: list[TransferPart] = Field(default_factory=lambda: list(transfers.DEFAULT_PARTS), min_length=1)
    note: str = Field("", max_length=500)


class TransferOut(Schema):
    offer_id: str
    direction: str = Field(description="out: offered by us; in: offered to us")
    centre: str
    state: str
    parts: list[str]
    created_at: dt.datetime
    decided_at: dt.datetime | None
    case_number: str | None = Field(
        None, description="our case (the one offered, or the one made on accepting)"
    )

    @staticmethod
    def outgoing(t: OutgoingTransfer) -> TransferOut:
        return TransferOut(
            offer_id=str(t.offer_id),
            direction="out",
            centre=t.partner.name,
            state=t.state,
            parts=list(t.parts),
            created_at=t.created_at,
            decided_at=t.decided_at,
            case_number=t.case.number,
        )

    @staticmethod
    def incoming(t: IncomingTransfer) -> TransferOut:
        return TransferOut(
            offer_id=str(t.offer_id),
            direction="in",
            centre=t.from_centre,
            state=t.state,
            parts=list(t.parts),
            created_at=t.received_at,
            decided_at=t.decided_at,
            case_number=t.case.number if t.case else None,
        )


@router.post(
    "/cases/{number}/transfers",
    response={201: TransferOut, **ERRORS},
    summary="Offer the case to a partner centre",
)
def offer(request: HttpRequest, number: str, body: TransferIn) -> Status[TransferOut]:
    user = _user(request)
    case = Case.objects.filter(number=number.strip().upper()).first()
    same_organisation(user, case)
    partner = Partner.objects.filter(organisation_id=organisation_or_404(user), name=body.to).first()
    if case is None:
        raise NotFound
    if partner is None:
        raise ActionError(_("There is no partner centre called %(name)s.") % {"name": body.to})
    t = transfers.offer_transfer(
        actor=user, case=case, partner=partner, parts=[p.value for p in body.parts], note=body.note
    )
    return Status(201, TransferOut.outgoing(t))


@router.get(
    "/federation/transfers", response={200: list[TransferOut], **ERRORS}, summary="Transfers both ways"
)
def list_transfers(request: HttpRequest) -> list[TransferOut]:
    user = _user(request)
    require(user, Perm.TRANSFER_CASES)
    org = organisation_or_404(user)
    out = [
        TransferOut.outgoing(t)
        for t in OutgoingTransfer.objects.filter(organisation_id=org).select_related("partner", "case")
    ]
    out += [
        TransferOut.incoming(t)
        for t in IncomingTransfer.objects.filter(organisation_id=org).select_related("case")
    ]
    return out


class TransferAction(Input):
    action: str = Field(pattern="^(accept|reject|revoke)$")


@router.post(
    "/federation/transfers/{offer_id}",
    response={200: TransferOut, **ERRORS},
    summary="Accept or reject an offer made to us, or revoke one we made",
)
def act_on_transfer(request: HttpRequest, offer_id: uuid.UUID, body: TransferAction) -> TransferOut:
    user = _user(request)
    org = organisation_or_404(user)
    if body.action == "revoke":
        outgoing = OutgoingTransfer.objects.filter(organisation_id=org, offer_id=offer_id).first()
        if outgoing is None:
            raise NotFound
        t = transfers.revoke_transfer(actor=user, transfer=outgoing)
        return TransferOut.outgoing(OutgoingTransfer.objects.select_related("partner", "case").get(pk=t.pk))
    incoming = IncomingTransfer.objects.filter(organisation_id=org, offer_id=offer_id).first()
    if incoming is None:
        raise NotFound
    if body.action == "accept":
        transfers.accept_transfer(actor=user, transfer=incoming)
    else:
        transfers.reject_transfer(actor=user, transfer=incoming)
    return TransferOut.incoming(IncomingTransfer.objects.select_related("case").get(pk=incoming.pk))
