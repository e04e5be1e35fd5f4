"""The partner-facing APIs (StopNCII-compatible and native) and the staff API for sharing.

Partners authenticate as StopNCII's API asks: ``Ocp-Apim-Subscription-Key`` names the partner,
``x-functions-key`` is its key for the endpoint called.  Every error is ``{"detail": ...}`` with
a 4xx status and changes nothing.
"""

from __future__ import annotations

import re
import time
from typing import Any

from django.core.cache import cache
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, NinjaAPI, Query, Router, Schema
from ninja.errors import AuthenticationError, ValidationError
from ninja.security import APIKeyHeader
from pydantic import field_validator, model_validator

from haven import __version__
from haven.web.accounts.models import User
from haven.web.accounts.roles import Perm
from haven.web.cases.api import ERRORS
from haven.web.cases.models import Case
from haven.web.core.access import organisation_or_404, require, same_organisation
from haven.web.core.api import Input, PeerInput, strict_bodies
from haven.web.core.errors import ActionError, NotFound, invalid_input

from . import actions, feed
from .models import (
    MAX_TAG_LENGTH,
    MAX_TAGS,
    Endpoint,
    FeedbackValue,
    Partner,
    QuarantinedHash,
    QuarantineStatus,
    SignalType,
)

MAX_BODY = 2**20  # bytes: a thousand records fit many times over
MAX_BATCH = 1000
SUBSCRIPTION_HEADER = "Ocp-Apim-Subscription-Key"

_HEX = {
    SignalType.PDQ: re.compile(r"^[0-9a-fA-F]{64}$"),
    SignalType.VIDEO_MD5: re.compile(r"^[0-9a-fA-F]{32}$"),
}
_ANY_HEX = re.compile(r"^(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{64})$")

# StopNCII's signal type names, and the spelling pytx's submit_hashes sends (an enum's str()).
_STOPNCII_TYPES = {
    "ImagePDQ": SignalType.PDQ,
    "VideoMD5": SignalType.VIDEO_MD5,
    "StopNCIISignalType.ImagePDQ": SignalType.PDQ,
    "StopNCIISignalType.VideoMD5": SignalType.VIDEO_MD5,
}


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__("rate limited")
        self.retry_after = retry_after


class BodyTooLarge(Exception):
    pass


def _rate_limit(partner: Partner) -> None:
    """A fixed window a minute per partner, in the shared cache (every server process counts)."""
    window = int(time.time() // 60)
    key = f"haven:partner-rate:{partner.pk}:{window}"
    try:
        used = cache.incr(key)
    except ValueError:  # the window's first request (or its key expired a moment ago)
        # add() fails when another request made the key first: count on it then.
        used = 1 if cache.add(key, 1, timeout=120) else cache.incr(key)
    if used > partner.rate_limit:
        raise RateLimited(60 - int(time.time()) % 60)


class PartnerKey(APIKeyHeader):
    """The function key of one endpoint, with the partner's subscription key beside it."""

    param_name = "x-functions-key"

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        super().__init__()

    def authenticate(self, request: HttpRequest, key: str | None) -> Partner | None:
        length = request.META.get("CONTENT_LENGTH") or "0"
        if not length.isdigit() or int(length) > MAX_BODY:
            raise BodyTooLarge
        partner = actions.partner_for_keys(
            request.headers.get(SUBSCRIPTION_HEADER, ""), key or "", self.endpoint
        )
        if partner is None:
            return None
        if not partner.allows(self.endpoint):
            raise PermissionDenied(f"this partner may not use the {self.endpoint} endpoint")
        _rate_limit(partner)
        return partner


def _partner(request: HttpRequest) -> Partner:
    partner = getattr(request, "auth", None)
    if not isinstance(partner, Partner):  # ninja only calls a handler after authenticate() said yes
        raise PermissionDenied
    return partner


def _json(body: bytes) -> HttpResponse:
    return HttpResponse(body, content_type="application/json")


def _handlers(api: NinjaAPI) -> None:
    strict_bodies(api)

    def error(request: HttpRequest, status: int, detail: str, **headers: str) -> HttpResponse:
        response = api.create_response(request, {"detail": detail}, status=status)
        for name, value in headers.items():
            response[name] = value
        return response

    @api.exception_handler(AuthenticationError)
    def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return error(
            request, 401, f"a valid {SUBSCRIPTION_HEADER} and x-functions-key for this endpoint are required"
        )

    @api.exception_handler(PermissionDenied)
    def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
        return error(request, 403, str(exc) or "permission denied")

    @api.exception_handler(RateLimited)
    def _limited(request: HttpRequest, exc: RateLimited) -> HttpResponse:
        return error(request, 429, "too many requests; slow down", **{"Retry-After": str(exc.retry_after)})

    @api.exception_handler(BodyTooLarge)
    def _too_large(request: HttpRequest, exc: BodyTooLarge) -> HttpResponse:
        return error(request, 413, f"the request body may be at most {MAX_BODY} bytes")

    @api.exception_handler(RequestDataTooBig)
    def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        return error(request, 413, f"the request body may be at most {MAX_BODY} bytes")

    @api.exception_handler(feed.FeedError)
    def _feed(request: HttpRequest, exc: feed.FeedError) -> HttpResponse:
        return error(request, 400, str(exc))

    @api.exception_handler(ActionError)
    def _refused(request: HttpRequest, exc: ActionError) -> HttpResponse:
        return error(request, 422, str(exc))

    @api.exception_handler(ValidationError)
    def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        return api.create_response(request, invalid_input(exc), status=422)


Tags = list[str]


def _check_tags(tags: list[str]) -> list[str]:
    if len(tags) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags")
    if any(len(t) > MAX_TAG_LENGTH or "\x00" in t for t in tags):
        raise ValueError(f"a tag is at most {MAX_TAG_LENGTH} characters, without NUL")
    return tags


class Detail(Schema):
    detail: str


READ_ERRORS: dict[int, type[Detail]] = {400: Detail, 401: Detail, 403: Detail, 422: Detail, 429: Detail}
WRITE_ERRORS: dict[int, type[Detail]] = {**READ_ERRORS, 413: Detail}


# --- the StopNCII-compatible API ----------------------------------------------------------------

stopncii_api = NinjaAPI(
    title="Haven: StopNCII-compatible hash sharing",
    version=__version__,
    description="The StopNCII partner API's shape (FetchHashes, SubmitFeedback, SubmitHashes), so that "
    "python-threatexchange, HMA and StopNCII clients fetch Haven unchanged. Send the partner's "
    f"`{SUBSCRIPTION_HEADER}` and the endpoint's `x-functions-key`. See docs/sharing.md.",
    urls_namespace="stopncii",
    docs_url="/docs",
)
_handlers(stopncii_api)


class CSPFeedbackOut(Schema):
    feedbackValue: FeedbackValue
    tags: list[str]
    source: str


class HashRecordOut(Schema):
    lastModtimestamp: int
    signalType: str
    hashValue: str
    hashStatus: str
    caseNumbers: dict[str, str]
    CSPFeedbacks: list[CSPFeedbackOut]


class FetchHashesOut(Schema):
    count: int
    nextPageToken: str | None
    nextSetTimestamp: int
    hasMoreRecords: bool
    hashRecords: list[HashRecordOut]


class FetchParams(Schema):
    startTimestamp: int = Field(10, ge=0, le=253402300799)  # the last second of year 9999
    pageSize: int = Field(800, ge=1, le=feed.PAGE_MAX)
    nextPageToken: str | None = Field(None, max_length=1000)


@stopncii_api.get(
    "/FetchHashes",
    response={200: FetchHashesOut, **READ_ERRORS},
    auth=PartnerKey(Endpoint.FETCH),
    summary="Shared hashes changed at or after startTimestamp, page by page",
)
def fetch_hashes(request: HttpRequest, params: Query[FetchParams]) -> HttpResponse:
    return _json(
        feed.stopncii_page(
            _partner(request),
            start=params.startTimestamp,
            page_size=params.pageSize,
            token=params.nextPageToken or None,
        )
    )


class FeedbackIn(PeerInput):
    hashValue: str = Field(pattern=_ANY_HEX.pattern)
    feedbackValue: FeedbackValue
    tags: list[str] = Field(default_factory=list)

    _tags = field_validator("tags")(_check_tags)


class SubmitFeedbackIn(PeerInput):
    count: int | None = None
    hashFeedbacks: list[FeedbackIn] = Field(min_length=1, max_length=MAX_BATCH)

    @model_validator(mode="after")
    def _counted(self) -> SubmitFeedbackIn:
        if self.count is not None and self.count != len(self.hashFeedbacks):
            raise ValueError("count does not match the number of hashFeedbacks")
        return self


class Accepted(Schema):
    count: int


@stopncii_api.post(
    "/SubmitFeedback",
    response={200: Accepted, **WRITE_ERRORS},
    auth=PartnerKey(Endpoint.FEEDBACK),
    summary="What the partner did about hashes it was sent (Blocked, NotBlocked, PendingReview, ...)",
)
def submit_feedback(request: HttpRequest, body: SubmitFeedbackIn) -> Accepted:
    entries = [
        actions.FeedbackEntry(f.hashValue.lower(), f.feedbackValue.value, tuple(f.tags))
        for f in body.hashFeedbacks
    ]
    return Accepted(count=actions.submit_feedback(partner=_partner(request), entries=entries))


class CSPFeedbackIn(PeerInput):
    feedbackValue: FeedbackValue
    tags: list[str] = Field(default_factory=list)
    source: str = Field("", max_length=200)

    _tags = field_validator("tags")(_check_tags)


class HashRecordIn(PeerInput):
    lastModtimestamp: int | None = None
    signalType: str = Field(max_length=64)
    hashValue: str = Field(max_length=64)
    CSPFeedbacks: list[CSPFeedbackIn] = Field(default_factory=list, max_length=10)

    @model_validator(mode="after")
    def _known(self) -> HashRecordIn:
        kind = _STOPNCII_TYPES.get(self.signalType)
        if kind is None:
            raise ValueError(
                f"signalType {self.signalType[:40]!r} is not accepted here (ImagePDQ or VideoMD5)"
            )
        if not _HEX[kind].match(self.hashValue):
            raise ValueError(f"hashValue is not a {'PDQ' if kind == SignalType.PDQ else 'MD5'} hash in hex")
        return self


class SubmitHashesIn(PeerInput):
    count: int | None = None
    hashRecords: list[HashRecordIn] = Field(min_length=1, max_length=MAX_BATCH)

    @model_validator(mode="after")
    def _counted(self) -> SubmitHashesIn:
        if self.count is not None and self.count != len(self.hashRecords):
            raise ValueError("count does not match the number of hashRecords")
        return self


@stopncii_api.post(
    "/SubmitHashes",
    response={200: Accepted, **WRITE_ERRORS},
    auth=PartnerKey(Endpoint.SUBMIT),
    summary="Hashes the partner found itself: held in quarantine until a reviewer accepts them",
)
def submit_hashes(request: HttpRequest, body: SubmitHashesIn) -> Accepted:
    entries = [
        actions.SubmittedHash(
            _STOPNCII_TYPES[r.signalType],
            r.hashValue.lower(),
            tuple(sorted({t for f in r.CSPFeedbacks for t in f.tags}))[:MAX_TAGS],
            r.CSPFeedbacks[0].feedbackValue.value if r.CSPFeedbacks else "",
        )
        for r in body.hashRecords
    ]
    actions.submit_hashes(partner=_partner(request), entries=entries)
    return Accepted(count=len(entries))


# --- the native exchange ------------------------------------------------------------------------

native_api = NinjaAPI(
    title="Haven: native hash exchange",
    version=__version__,
    description="Haven's own feed: exact checkpoints, tombstones, robust crop signals and vPDQ frames. "
    "The `haven-threatexchange` extension for python-threatexchange speaks it. Same keys as the "
    "StopNCII-compatible API. See docs/sharing.md.",
    urls_namespace="sharing-api",
    docs_url="/docs",
)
_handlers(native_api)


class SignalOut(Schema):
    type: str
    value: str | None = None
    quality: int | None = None
    crop: str | None = None
    frames: list[list[Any]] | None = None


class FeedbackOut(Schema):
    source: str
    value: FeedbackValue
    tags: list[str]


class RecordOut(Schema):
    id: str
    case_ref: str
    status: str
    updated_at: int
    kind: str
    signals: list[SignalOut]
    feedback: list[FeedbackOut]


class FeedOut(Schema):
    checkpoint: str
    has_more: bool
    records: list[RecordOut]


class FeedParams(Schema):
    checkpoint: int = Field(0, ge=0, le=2**62)
    page_size: int = Field(500, ge=1, le=feed.PAGE_MAX)


@native_api.get(
    "/feed",
    response={200: FeedOut, **READ_ERRORS},
    auth=PartnerKey(Endpoint.FETCH),
    summary="Shared items after a checkpoint, tombstones included",
)
def native_feed(request: HttpRequest, params: Query[FeedParams]) -> HttpResponse:
    return _json(
        feed.native_page(_partner(request), checkpoint=params.checkpoint, page_size=params.page_size)
    )


class TypedHashIn(PeerInput):
    type: SignalType
    value: str = Field(max_length=64)
    tags: list[str] = Field(default_factory=list)

    _tags = field_validator("tags")(_check_tags)

    @model_validator(mode="after")
    def _hex(self) -> TypedHashIn:
        if not _HEX[self.type].match(self.value):
            raise ValueError(f"value is not a {self.type.label} hash in hex")
        return self


class OpinionIn(TypedHashIn):
    opinion: FeedbackValue


class OpinionsIn(PeerInput):
    opinions: list[OpinionIn] = Field(min_length=1, max_length=MAX_BATCH)


class Count(Schema):
    accepted: int


@native_api.post(
    "/opinions",
    response={200: Count, **WRITE_ERRORS},
    auth=PartnerKey(Endpoint.FEEDBACK),
    summary="What the partner did about hashes it was sent",
)
def native_opinions(request: HttpRequest, body: OpinionsIn) -> Count:
    entries = [actions.FeedbackEntry(o.value.lower(), o.opinion.value, tuple(o.tags)) for o in body.opinions]
    return Count(accepted=actions.submit_feedback(partner=_partner(request), entries=entries))


class HashIn(TypedHashIn):
    opinion: FeedbackValue | None = None


class HashesIn(PeerInput):
    hashes: list[HashIn] = Field(min_length=1, max_length=MAX_BATCH)


@native_api.post(
    "/hashes",
    response={200: Count, **WRITE_ERRORS},
    auth=PartnerKey(Endpoint.SUBMIT),
    summary="Hashes the partner found itself, into quarantine",
)
def native_hashes(request: HttpRequest, body: HashesIn) -> Count:
    entries = [
        actions.SubmittedHash(
            h.type.value, h.value.lower(), tuple(h.tags), h.opinion.value if h.opinion else ""
        )
        for h in body.hashes
    ]
    actions.submit_hashes(partner=_partner(request), entries=entries)
    return Count(accepted=len(entries))


# --- staff: approving items and the quarantine (mounted in /api/v1) ----------------------------

router = Router(tags=["sharing"])


class ApproveIn(Input):
    items: list[int] | None = Field(
        None, max_length=1000, description="content item ids; leave out to approve every item of the case"
    )


class Skipped(Schema):
    label: str
    reason: str


class ApproveOut(Schema):
    approved: int
    skipped: list[Skipped]


def _user(request: HttpRequest) -> User:
    user = request.auth  # type: ignore[attr-defined]
    if not isinstance(user, User):
        raise PermissionDenied
    return user


@router.post(
    "/cases/{number}/sharing/approve",
    response={200: ApproveOut, **ERRORS},
    summary="Approve a case's items for sharing",
)
def approve(request: HttpRequest, number: str, body: ApproveIn) -> ApproveOut:
    """Mark the case's items as reviewed and fit to share with partners (needs the case's share
    consent). Items too weak to share are named in ``skipped``."""
    user = _user(request)
    require(user, Perm.APPROVE_SHARING)
    case = Case.objects.filter(number=number.strip().upper()).first()
    same_organisation(user, case)
    if case is None:  # same_organisation refuses None already; this tells the type checker
        raise NotFound
    result = actions.approve_items(actor=user, case=case, item_ids=body.items)
    return ApproveOut(
        approved=result.approved,
        skipped=[Skipped(label=label, reason=reason) for label, reason in result.skipped],
    )


class QuarantinedOut(Schema):
    id: int
    partner: str
    signal_type: str
    value: str
    tags: list[str]
    partner_opinion: str
    status: str
    created_at: Any

    @staticmethod
    def of(entry: QuarantinedHash) -> QuarantinedOut:
        return QuarantinedOut(
            id=entry.pk,
            partner=entry.partner.name,
            signal_type=entry.signal_type,
            value=entry.value,
            tags=entry.tags,
            partner_opinion=entry.partner_opinion,
            status=entry.status,
            created_at=entry.created_at,
        )


@router.get(
    "/quarantine", response={200: list[QuarantinedOut], **ERRORS}, summary="Partner hashes waiting for review"
)
def quarantine(request: HttpRequest, status: str = "pending") -> list[QuarantinedOut]:
    user = _user(request)
    require(user, Perm.REVIEW)
    if status not in QuarantineStatus.values:
        raise ActionError(_("Unknown status."))
    rows = (
        QuarantinedHash.objects.filter(organisation_id=organisation_or_404(user), status=status)
        .select_related("partner")
        .order_by("created_at", "id")[:500]
    )
    return [QuarantinedOut.of(r) for r in rows]


class ReviewIn(Input):
    accept: bool


@router.post(
    "/quarantine/{entry_id}",
    response={200: QuarantinedOut, **ERRORS},
    summary="Accept or reject a partner hash",
)
def review(request: HttpRequest, entry_id: int, body: ReviewIn) -> QuarantinedOut:
    user = _user(request)
    require(user, Perm.REVIEW)
    entry = QuarantinedHash.objects.select_related("partner").filter(pk=entry_id).first()
    if entry is None:
        raise NotFound
    entry = actions.review_quarantined(actor=user, entry=entry, accept=body.accept)
    return QuarantinedOut.of(entry)
