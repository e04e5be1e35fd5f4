"""Federation APIs: the finds endpoint partner centres post to, and the staff API for peers and finds.

``/api/federation/v1/finds`` authenticates like every partner API (``Ocp-Apim-Subscription-Key``
plus the partner's feedback key as ``x-functions-key``); the staff endpoints live in ``/api/v1``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, NinjaAPI, Router, Schema
from pydantic import field_validator

from haven import __version__
from haven.web.accounts.roles import Perm
from haven.web.cases.api import ERRORS
from haven.web.cases.models import Case
from haven.web.core.access import organisation_or_404, require, same_organisation
from haven.web.core.errors import NotFound
from haven.web.sharing.api import WRITE_ERRORS, Input, PartnerKey, _handlers, _partner, _user
from haven.web.sharing.models import Endpoint

from . import actions
from .models import FindHow, OutgoingFind, Peer, ReceivedFind

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


class FindIn(Input):
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


class FindsIn(Input):
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
def add_peer(request: HttpRequest, body: PeerIn) -> tuple[int, PeerOut]:
    user = _user(request)
    peer = actions.add_peer(
        actor=user,
        organisation=user.organisation,
        name=body.name,
        url=body.url,
        keys=body.keys,
        every_minutes=body.every_minutes,
    )
    return 201, PeerOut.of(peer)


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
