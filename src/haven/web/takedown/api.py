"""JSON API of the takedown desk (mounted at /api/v1): sightings, evidence, notices, rechecks, platforms."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Path, Router, Schema, Status

from haven.web.accounts.roles import Perm
from haven.web.cases.api import ERRORS, _case, _org, _user
from haven.web.core.access import require, same_organisation
from haven.web.core.api import Input
from haven.web.core.errors import ActionError, NotFound

from . import actions, records, regimes
from .models import (
    OPEN_STATES,
    Evidence,
    Notice,
    NoticeReply,
    Platform,
    PlatformKind,
    Sighting,
    SightingSource,
    SightingState,
)

router = Router(tags=["takedown"])

MAX_ID = 2**63 - 1  # a database id
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]


class SightingsIn(Input):
    urls: list[str] = Field(..., min_length=1, max_length=actions.MAX_BULK_URLS)
    source: SightingSource = SightingSource.COUNSELLOR
    media_url: str = Field("", max_length=2000)


class EvidenceOut(Schema):
    id: int
    kind: str
    purpose: str
    url: str
    final_url: str
    redirects: list[str]
    status: int | None
    headers: dict[str, str]
    sha256: str
    size: int
    content_type: str
    sniffed_type: str
    pdq: str
    quality: int | None
    md5: str
    distance: int | None
    match_kind: str = Field(
        description='the stored signal a robust match went through (a crop kind, or "pdq" for the photo '
        "inside a frame); empty when the plain hashes matched"
    )
    matches: bool
    matched_item: int | None
    error: str
    fetched_at: dt.datetime
    screenshot: bool = Field(
        description="A screenshot of the page is kept (shown to staff on the sighting page, not over the API)"
    )
    screenshot_sha256: str = Field(description="SHA-256 of the screenshot's PNG; kept after it expires")
    screenshot_expires_at: dt.datetime | None = Field(description="When the screenshot is (or was) deleted")
    screenshot_error: str = Field(description="Why no screenshot was taken, when screenshots are on")

    @staticmethod
    def of(e: Evidence) -> EvidenceOut:
        return EvidenceOut(
            id=e.pk,
            kind=e.kind,
            purpose=e.purpose,
            url=e.url,
            final_url=e.final_url,
            redirects=list(e.redirects),
            status=e.status,
            headers=dict(e.headers),
            sha256=e.sha256,
            size=e.size,
            content_type=e.content_type,
            sniffed_type=e.sniffed_type,
            pdq=e.pdq,
            quality=e.quality,
            md5=e.md5,
            distance=e.distance,
            match_kind=e.match_kind,
            matches=e.matches,
            matched_item=e.matched_item_id,
            error=e.error,
            fetched_at=e.fetched_at,
            screenshot=e.screenshot_available,
            screenshot_sha256=e.screenshot_sha256,
            screenshot_expires_at=e.screenshot_expires_at,
            screenshot_error=e.screenshot_error,
        )


class EventOut(Schema):
    at: dt.datetime
    from_state: str
    to_state: str
    note: str
    actor: str


class SightingOut(Schema):
    id: int
    case: str
    url: str
    media_url: str
    host: str
    platform: str | None
    source: str
    state: SightingState
    state_changed_at: dt.datetime
    deadline_at: dt.datetime | None
    overdue: bool
    removed_at: dt.datetime | None
    next_check_at: dt.datetime | None
    created_at: dt.datetime

    @staticmethod
    def of(s: Sighting) -> SightingOut:
        return SightingOut(
            id=s.pk,
            case=s.case.number,
            url=s.url,
            media_url=s.media_url,
            host=s.host,
            platform=s.platform.name if s.platform else None,
            source=s.source,
            state=SightingState(s.state),
            state_changed_at=s.state_changed_at,
            deadline_at=s.deadline_at,
            overdue=bool(
                s.deadline_at and s.deadline_at < timezone.now() and s.state != SightingState.REMOVED
            ),
            removed_at=s.removed_at,
            next_check_at=s.next_check_at,
            created_at=s.created_at,
        )


class SightingDetailOut(SightingOut):
    events: list[EventOut]
    evidence: list[EvidenceOut]
    notices: list[int]


class AddedOut(Schema):
    created: list[SightingOut]
    duplicates: list[str]


class RecheckOut(Schema):
    gone: bool
    reason: str
    sighting: SightingOut
    evidence: list[EvidenceOut]


class EscalateIn(Input):
    sightings: list[Id] = Field(..., min_length=1, max_length=actions.MAX_BULK_URLS)
    target: Literal["hosting", "regulator", "hotline"]
    note: str = Field("", max_length=250)


class NoticeIn(Input):
    sightings: list[Id] = Field(..., min_length=1, max_length=actions.MAX_BULK_URLS)
    regime: str = Field(..., description=", ".join(regimes.REGIMES))
    language: Literal["en", "ko"] | None = None
    recipient: str = Field("", max_length=500)
    explanation: str = Field("", max_length=4000)
    signer: str = Field("", max_length=200)
    notifier_email: str = Field("", max_length=254)
    notifier_address: str = Field("", max_length=500)
    notifier_phone: str = Field("", max_length=50)
    good_faith: bool = False
    accurate: bool = False
    work: str = Field("", max_length=500)
    owner_authorised: bool = False
    personal_information: str = Field(
        "",
        max_length=1000,
        description="what kind of personal information the URLs expose, not the information",
    )
    data_subject_authorised: bool = False
    search_queries: list[Annotated[str, Field(max_length=actions.MAX_SEARCH_QUERY)]] = Field(
        default_factory=list, max_length=actions.MAX_SEARCH_ITEMS
    )
    search_result_urls: list[Annotated[str, Field(max_length=2000)]] = Field(
        default_factory=list, max_length=actions.MAX_SEARCH_ITEMS
    )
    survivor_name: str = Field("", max_length=200)
    escalation_of: Id | None = None


class NoticeOut(Schema):
    id: int
    case: str
    platform: str | None
    regime: str
    language: str
    recipient: str
    subject: str
    body: str
    state: str
    sightings: list[int]
    sent_via: str
    message_id: str
    platform_reference: str
    sent_at: dt.datetime | None
    deadline_at: dt.datetime | None
    acknowledged_at: dt.datetime | None
    closed_at: dt.datetime | None
    action_taken: str

    @staticmethod
    def of(n: Notice) -> NoticeOut:
        return NoticeOut(
            id=n.pk,
            case=n.case.number,
            platform=n.platform.name if n.platform else None,
            regime=n.regime,
            language=n.language,
            recipient=n.recipient,
            subject=n.subject,
            body=actions.notice_body(n),
            state=n.state,
            sightings=sorted(n.sightings.values_list("pk", flat=True)),
            sent_via=n.sent_via,
            message_id=n.message_id,
            platform_reference=n.platform_reference,
            sent_at=n.sent_at,
            deadline_at=n.deadline_at,
            acknowledged_at=n.acknowledged_at,
            closed_at=n.closed_at,
            action_taken=n.action_taken or "unknown",
        )


class WebFormIn(Input):
    reference: str = Field(..., min_length=1, max_length=200)


class ReplyIn(Input):
    outcome: NoticeReply.Outcome
    text: str = Field("", max_length=10000)
    received_at: dt.datetime | None = None


class PlatformIn(Input):
    name: str = Field(..., min_length=1, max_length=200)
    kind: PlatformKind = PlatformKind.OTHER
    domains: list[str] = Field(..., min_length=1, max_length=100)
    abuse_email: str = Field("", max_length=254)
    web_form_url: str = Field("", max_length=500)
    country: str = Field("", max_length=2)
    regimes: list[str] = Field(default_factory=list, max_length=10)
    response_hours: int = Field(72, ge=1, le=24 * 90)
    language: Literal["en", "ko"] = "en"
    notes: str = Field("", max_length=2000)


class PlatformOut(Schema):
    id: int
    name: str
    kind: str
    domains: list[str]
    abuse_email: str
    web_form_url: str
    country: str
    regimes: list[str]
    response_hours: int
    language: str
    notes: str
    example: bool

    @staticmethod
    def of(p: Platform) -> PlatformOut:
        return PlatformOut(
            id=p.pk,
            name=p.name,
            kind=p.kind,
            domains=[d.domain for d in p.domains.all()],
            abuse_email=p.abuse_email,
            web_form_url=p.web_form_url,
            country=p.country,
            regimes=list(p.regimes),
            response_hours=p.response_hours,
            language=p.language,
            notes=p.notes,
            example=p.example,
        )


def _sighting(request: HttpRequest, pk: int) -> Sighting:
    user = _user(request)
    require(user, Perm.TAKEDOWN)
    sighting = Sighting.objects.select_related("case", "platform").filter(pk=pk).first()
    same_organisation(user, sighting)
    if sighting is None:
        raise NotFound
    return sighting


def _sightings(request: HttpRequest, ids: list[int]) -> list[Sighting]:
    user = _user(request)
    rows = {
        s.pk: s
        for s in Sighting.objects.filter(organisation_id=_org(user), pk__in=ids).select_related(
            "case", "platform"
        )
    }
    missing = [i for i in ids if i not in rows]
    if missing:
        raise ActionError(f"no such sightings: {', '.join(map(str, missing[:10]))}")
    return [rows[i] for i in dict.fromkeys(ids)]


def _notice(request: HttpRequest, pk: int) -> Notice:
    user = _user(request)
    require(user, Perm.TAKEDOWN)
    notice = Notice.objects.select_related("case", "platform", "organisation").filter(pk=pk).first()
    same_organisation(user, notice)
    if notice is None:
        raise NotFound
    return notice


@router.get("/sightings", response={200: list[SightingOut], **ERRORS})
def list_sightings(
    request: HttpRequest,
    state: SightingState | None = None,
    case: str | None = None,
    overdue: bool = False,
    limit: int = 200,
) -> list[SightingOut]:
    """Open sightings by deadline (nearest first), or those in one state."""
    user = _user(request)
    require(user, Perm.TAKEDOWN)
    rows = Sighting.objects.filter(organisation_id=_org(user)).select_related("case", "platform")
    rows = rows.filter(state=state) if state else rows.filter(state__in=OPEN_STATES)
    if case:
        rows = rows.filter(case__number=case.upper())
    if overdue:
        rows = rows.filter(deadline_at__lt=timezone.now())
    rows = rows.order_by(F("deadline_at").asc(nulls_last=True), "created_at", "id")
    return [SightingOut.of(s) for s in rows[: max(1, min(limit, 1000))]]


@router.post("/cases/{number}/sightings", response={201: AddedOut, **ERRORS})
def add_sightings(request: HttpRequest, number: str, payload: SightingsIn) -> Status[AddedOut]:
    user = _user(request)
    case = _case(user, number)
    result = actions.add_sightings(
        actor=user, case=case, urls=payload.urls, source=payload.source, media_url=payload.media_url
    )
    return Status(
        201, AddedOut(created=[SightingOut.of(s) for s in result.created], duplicates=result.duplicates)
    )


@router.get("/sightings/{pk}", response={200: SightingDetailOut, **ERRORS})
def read_sighting(request: HttpRequest, pk: PathId) -> SightingDetailOut:
    s = _sighting(request, pk)
    return SightingDetailOut(
        **SightingOut.of(s).dict(),
        events=[
            EventOut(at=e.at, from_state=e.from_state, to_state=e.to_state, note=e.note, actor=e.actor_label)
            for e in s.events.all()
        ],
        evidence=[EvidenceOut.of(e) for e in s.evidence.all()],
        notices=sorted(s.notices.values_list("pk", flat=True)),
    )


@router.post("/sightings/{pk}/capture", response={201: list[EvidenceOut], **ERRORS})
def capture(request: HttpRequest, pk: PathId) -> Status[list[EvidenceOut]]:
    rows = actions.capture_evidence(actor=_user(request), sighting=_sighting(request, pk))
    return Status(201, [EvidenceOut.of(e) for e in rows])


@router.post("/sightings/{pk}/recheck", response={200: RecheckOut, **ERRORS})
def recheck(request: HttpRequest, pk: PathId) -> RecheckOut:
    s = _sighting(request, pk)
    outcome = actions.recheck(actor=_user(request), sighting=s)
    s.refresh_from_db()
    return RecheckOut(
        gone=outcome.gone,
        reason=outcome.reason,
        sighting=SightingOut.of(s),
        evidence=[EvidenceOut.of(e) for e in outcome.evidence],
    )


class BulkIn(Input):
    sightings: list[Id] = Field(..., min_length=1, max_length=actions.MAX_BULK_URLS)


class BulkResult(Schema):
    sighting: int
    ok: bool
    state: SightingState
    detail: str


def _bulk(request: HttpRequest, payload: BulkIn, what: str) -> list[BulkResult]:
    user = _user(request)
    require(user, Perm.TAKEDOWN)
    rows = _sightings(request, payload.sightings)
    fetch = actions.fetch_all(u for s in rows for u in (s.url, s.media_url) if u)
    out = []
    for s in rows:
        try:
            if what == "capture":
                evidence = actions.capture_evidence(actor=user, sighting=s, fetch=fetch)
                detail = ", ".join(f"HTTP {e.status}" for e in evidence)
            else:
                detail = actions.recheck(actor=user, sighting=s, fetch=fetch).reason
            ok = True
        except ActionError as exc:
            ok, detail = False, str(exc)
        s.refresh_from_db(fields=["state"])
        out.append(BulkResult(sighting=s.pk, ok=ok, state=SightingState(s.state), detail=detail))
    return out


@router.post("/captures", response={200: list[BulkResult], **ERRORS})
def capture_many(request: HttpRequest, payload: BulkIn) -> list[BulkResult]:
    """Capture evidence for many sightings at once (fetched concurrently); one result each."""
    return _bulk(request, payload, "capture")


@router.post("/rechecks", response={200: list[BulkResult], **ERRORS})
def recheck_many(request: HttpRequest, payload: BulkIn) -> list[BulkResult]:
    """Recheck many sightings at once; one result each."""
    return _bulk(request, payload, "recheck")


@router.post("/escalations", response={200: list[SightingOut], **ERRORS})
def escalate(request: HttpRequest, payload: EscalateIn) -> list[SightingOut]:
    user = _user(request)
    rows = _sightings(request, payload.sightings)
    actions.escalate(actor=user, sightings=rows, target=payload.target, note=payload.note)
    return [SightingOut.of(Sighting.objects.select_related("case", "platform").get(pk=s.pk)) for s in rows]


@router.post("/notices", response={201: NoticeOut, **ERRORS})
def draft_notice(request: HttpRequest, payload: NoticeIn) -> Status[NoticeOut]:
    user = _user(request)
    require(user, Perm.TAKEDOWN)
    data: dict[str, Any] = payload.dict()
    rows = _sightings(request, data.pop("sightings"))
    escalation_of = data.pop("escalation_of")
    data["language"] = data["language"] or ""
    previous = _notice(request, escalation_of) if escalation_of is not None else None
    notice = actions.draft_notice(
        actor=user, sightings=rows, data=actions.NoticeInput(**data, escalation_of=previous)
    )
    return Status(201, NoticeOut.of(notice))


@router.get("/notices", response={200: list[NoticeOut], **ERRORS})
def list_notices(request: HttpRequest, limit: int = 100) -> list[NoticeOut]:
    user = _user(request)
    require(user, Perm.TAKEDOWN)
    rows = Notice.objects.filter(organisation_id=_org(user)).select_related("case", "platform")
    return [NoticeOut.of(n) for n in rows[: max(1, min(limit, 500))]]


@router.get("/notices/records", response={200: list[dict[str, Any]], **ERRORS})
def notice_records(request: HttpRequest) -> list[dict[str, Any]]:
    """Every sent notice as a Lumen-style record (no survivor details)."""
    user = _user(request)
    require(user, Perm.TAKEDOWN)
    return records.notice_records(
        Notice.objects.filter(organisation_id=_org(user), sent_at__isnull=False).order_by("sent_at", "id")
    )


@router.get("/notices/{pk}", response={200: NoticeOut, **ERRORS})
def read_notice(request: HttpRequest, pk: PathId) -> NoticeOut:
    return NoticeOut.of(_notice(request, pk))


@router.post("/notices/{pk}/send", response={200: NoticeOut, **ERRORS})
def send_notice(request: HttpRequest, pk: PathId) -> NoticeOut:
    notice = actions.send_notice(actor=_user(request), notice=_notice(request, pk))
    return NoticeOut.of(notice)


@router.post("/notices/{pk}/web-form", response={200: NoticeOut, **ERRORS})
def sent_via_web_form(request: HttpRequest, pk: PathId, payload: WebFormIn) -> NoticeOut:
    notice = actions.record_web_form(
        actor=_user(request), notice=_notice(request, pk), reference=payload.reference
    )
    return NoticeOut.of(notice)


@router.post("/notices/{pk}/replies", response={201: NoticeOut, **ERRORS})
def log_reply(request: HttpRequest, pk: PathId, payload: ReplyIn) -> Status[NoticeOut]:
    notice = _notice(request, pk)
    actions.log_reply(
        actor=_user(request),
        notice=notice,
        outcome=payload.outcome,
        text=payload.text,
        received_at=payload.received_at,
    )
    return Status(201, NoticeOut.of(_notice(request, pk)))


class RequiredElementOut(Schema):
    element: str
    label: str


class RegimeOut(Schema):
    code: str
    name: str
    country: str
    recipients: list[str]
    deadline_hours: int | None
    via_web_form: bool
    languages: list[str]
    required: list[RequiredElementOut]
    escalation: str


@router.get("/regimes", response={200: list[RegimeOut], **ERRORS})
def list_regimes(request: HttpRequest) -> list[dict[str, object]]:
    """Every legal regime a notice can be drafted under: what it requires, its deadline, who it goes to."""
    require(_user(request), Perm.TAKEDOWN)
    return [regimes.describe(r) for r in regimes.REGIMES.values()]


@router.get("/platforms", response={200: list[PlatformOut], **ERRORS})
def list_platforms(request: HttpRequest) -> list[PlatformOut]:
    user = _user(request)
    require(user, Perm.TAKEDOWN)
    return [
        PlatformOut.of(p)
        for p in Platform.objects.filter(organisation_id=_org(user)).prefetch_related("domains")
    ]


def _platform_input(payload: PlatformIn) -> actions.PlatformInput:
    return actions.PlatformInput(**payload.dict())


@router.post("/platforms", response={201: PlatformOut, **ERRORS})
def create_platform(request: HttpRequest, payload: PlatformIn) -> Status[PlatformOut]:
    platform = actions.save_platform(actor=_user(request), data=_platform_input(payload))
    return Status(201, PlatformOut.of(platform))


@router.put("/platforms/{pk}", response={200: PlatformOut, **ERRORS})
def update_platform(request: HttpRequest, pk: PathId, payload: PlatformIn) -> PlatformOut:
    user = _user(request)
    platform = Platform.objects.filter(pk=pk).first()
    same_organisation(user, platform)
    if platform is None:
        raise NotFound
    return PlatformOut.of(actions.save_platform(actor=user, data=_platform_input(payload), platform=platform))
