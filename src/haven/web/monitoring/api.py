"""JSON API of monitoring (mounted at /api/v1): sources, runs, the review queue and decisions."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, TypeVar

from django.http import HttpRequest
from ninja import Field, Path, Router, Schema, Status

from haven.web.accounts.roles import Perm
from haven.web.cases.api import ERRORS, _org, _user
from haven.web.core.access import require, same_organisation
from haven.web.core.api import Input
from haven.web.core.errors import ActionError, NotFound

from . import actions
from .models import Candidate, CandidateState, MonitorSource, ScanRun, SourceKind, TextCandidate

router = Router(tags=["monitoring"])

PathId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class SourceIn(Input):
    name: str = Field(..., min_length=1, max_length=200)
    kind: SourceKind
    target: str = Field(..., min_length=1, max_length=200_000)
    depth: int = Field(1, ge=0, le=5)
    max_pages: int = Field(1000, ge=1, le=100_000)
    same_site: bool = True
    every_hours: int = Field(24, ge=0, le=24 * 365)
    active: bool = True


class SourceOut(Schema):
    id: int
    name: str
    kind: str
    target: str
    depth: int
    max_pages: int
    same_site: bool
    every_hours: int
    active: bool
    next_run_at: dt.datetime | None

    @staticmethod
    def of(s: MonitorSource) -> SourceOut:
        return SourceOut(
            id=s.pk,
            name=s.name,
            kind=s.kind,
            target=s.target,
            depth=s.depth,
            max_pages=s.max_pages,
            same_site=s.same_site,
            every_hours=s.every_hours,
            active=s.active,
            next_run_at=s.next_run_at,
        )


class RunOut(Schema):
    id: int
    source: int
    status: str
    queued_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    bank_size: int
    stats: dict[str, object]
    errors: list[dict[str, object]]
    error_count: int
    candidates: int
    failure: str

    @staticmethod
    def of(r: ScanRun) -> RunOut:
        return RunOut(
            id=r.pk,
            source=r.source_id,
            status=r.status,
            queued_at=r.queued_at,
            started_at=r.started_at,
            finished_at=r.finished_at,
            bank_size=r.bank_size,
            stats=dict(r.stats),
            errors=list(r.errors),
            error_count=r.error_count,
            candidates=r.candidates,
            failure=r.failure,
        )


class CandidateOut(Schema):
    id: int
    case: str
    content_item: int
    media_url: str
    page_url: str
    distance: int
    kind: str
    transform: str
    sha256: str
    pdq: str
    found_at: dt.datetime
    state: str
    sighting: int | None

    @staticmethod
    def of(c: Candidate) -> CandidateOut:
        return CandidateOut(
            id=c.pk,
            case=c.case.number,
            content_item=c.content_item_id,
            media_url=c.media_url,
            page_url=c.page_url,
            distance=c.distance,
            kind=c.kind,
            transform=c.transform,
            sha256=c.sha256,
            pdq=c.pdq,
            found_at=c.found_at,
            state=c.state,
            sighting=c.sighting_id,
        )


class DecisionIn(Input):
    decision: str = Field(..., pattern="^(confirm|reject)$")


_Match = TypeVar("_Match", Candidate, TextCandidate)


def _to_review(request: HttpRequest, model: type[_Match], pk: int) -> tuple[Any, _Match]:
    """The reviewer and a match (of a picture or of page text) of her organisation, or 404."""
    user = _user(request)
    require(user, Perm.REVIEW)
    candidate = model.objects.filter(pk=pk).select_related("case").first()
    same_organisation(user, candidate)
    if candidate is None:
        raise NotFound
    return user, candidate


def _source(request: HttpRequest, pk: int) -> MonitorSource:
    user = _user(request)
    require(user, Perm.MANAGE_SOURCES)
    source = MonitorSource.objects.filter(pk=pk).first()
    same_organisation(user, source)
    if source is None:
        raise NotFound
    return source


@router.get("/sources", response={200: list[SourceOut], **ERRORS})
def list_sources(request: HttpRequest) -> list[SourceOut]:
    user = _user(request)
    require(user, Perm.MANAGE_SOURCES)
    return [SourceOut.of(s) for s in MonitorSource.objects.filter(organisation_id=_org(user))]


@router.post("/sources", response={201: SourceOut, **ERRORS})
def create_source(request: HttpRequest, payload: SourceIn) -> Status[SourceOut]:
    source = actions.save_source(actor=_user(request), data=actions.SourceInput(**payload.dict()))
    return Status(201, SourceOut.of(source))


@router.put("/sources/{pk}", response={200: SourceOut, **ERRORS})
def update_source(request: HttpRequest, pk: PathId, payload: SourceIn) -> SourceOut:
    source = _source(request, pk)
    return SourceOut.of(
        actions.save_source(actor=_user(request), data=actions.SourceInput(**payload.dict()), source=source)
    )


@router.post("/sources/{pk}/runs", response={201: RunOut, **ERRORS})
def start_run(request: HttpRequest, pk: PathId) -> Status[RunOut]:
    """Queue a run now; ``haven worker`` runs it. Poll ``GET /runs/{id}``."""
    run = actions.queue_run(actor=_user(request), source=_source(request, pk))
    return Status(201, RunOut.of(run))


@router.get("/runs/{pk}", response={200: RunOut, **ERRORS})
def read_run(request: HttpRequest, pk: PathId) -> RunOut:
    user = _user(request)
    require(user, Perm.MANAGE_SOURCES)
    run = ScanRun.objects.filter(pk=pk).first()
    same_organisation(user, run)
    if run is None:
        raise NotFound
    return RunOut.of(run)


@router.get("/candidates", response={200: list[CandidateOut], **ERRORS})
def list_candidates(
    request: HttpRequest, state: CandidateState = CandidateState.PENDING, limit: int = 200
) -> list[CandidateOut]:
    user = _user(request)
    require(user, Perm.REVIEW)
    rows = Candidate.objects.filter(organisation_id=_org(user), state=state).select_related("case")
    return [CandidateOut.of(c) for c in rows[: max(1, min(limit, 1000))]]


@router.post("/candidates/{pk}/decision", response={200: CandidateOut, **ERRORS})
def decide(request: HttpRequest, pk: PathId, payload: DecisionIn) -> CandidateOut:
    user, candidate = _to_review(request, Candidate, pk)
    if payload.decision == "confirm":
        actions.confirm(actor=user, candidate=candidate)
    elif payload.decision == "reject":
        actions.reject(actor=user, candidate=candidate)
    else:  # pragma: no cover - the schema's pattern refuses it first
        raise ActionError("decision is confirm or reject")
    return CandidateOut.of(Candidate.objects.select_related("case").get(pk=pk))


class TextCandidateOut(Schema):
    id: int
    case: str
    page_url: str
    kinds: list[str]
    snippet: str = Field(..., description="The page's text around her identifiers, each replaced by ●●●.")
    text_sha256: str
    found_at: dt.datetime
    state: str
    sighting: int | None

    @staticmethod
    def of(c: TextCandidate) -> TextCandidateOut:
        return TextCandidateOut(
            id=c.pk,
            case=c.case.number,
            page_url=c.page_url,
            kinds=list(c.kinds),
            snippet=actions.snippet_of(c).masked,
            text_sha256=c.text_sha256,
            found_at=c.found_at,
            state=c.state,
            sighting=c.sighting_id,
        )


@router.get("/text-candidates", response={200: list[TextCandidateOut], **ERRORS})
def list_text_candidates(
    request: HttpRequest, state: CandidateState = CandidateState.PENDING, limit: int = 200
) -> list[TextCandidateOut]:
    """Pages whose text holds a case's personal identifiers, masked (the web page shows them, audited)."""
    user = _user(request)
    require(user, Perm.REVIEW)
    rows = TextCandidate.objects.filter(organisation_id=_org(user), state=state).select_related("case")
    return [TextCandidateOut.of(c) for c in rows[: max(1, min(limit, 1000))]]


@router.post("/text-candidates/{pk}/decision", response={200: TextCandidateOut, **ERRORS})
def decide_text(request: HttpRequest, pk: PathId, payload: DecisionIn) -> TextCandidateOut:
    user, candidate = _to_review(request, TextCandidate, pk)
    if payload.decision == "confirm":
        actions.confirm_text(actor=user, candidate=candidate)
    else:
        actions.reject_text(actor=user, candidate=candidate)
    return TextCandidateOut.of(TextCandidate.objects.select_related("case").get(pk=pk))
