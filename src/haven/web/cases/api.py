"""JSON API for cases, consent, content and lookups (mounted at /api/v1)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from pydantic import StringConstraints

from haven.signals import KINDS, QUALITY_FLOOR, InvalidHashError, Md5, PdqHash, QuerySignal, Sha256
from haven.web.accounts.models import User
from haven.web.accounts.roles import Perm
from haven.web.audit.chain import append_read
from haven.web.audit.models import EventType
from haven.web.core.access import require, same_organisation
from haven.web.core.api import Input
from haven.web.core.errors import ActionError, NotFound

from . import actions
from .classification import AgeBand, HarmType, Relationship, SurvivorSex, TfgbvType
from .matching import FOREIGN_LOOKUPS, content_index
from .models import (
    FOLLOW_UP_TEXT_MAX,
    MAX_VIDEO_FRAMES,
    Case,
    CaseStatus,
    ConsentMethod,
    ConsentScope,
    ContentItem,
    ContentKind,
    FollowUp,
)

router = Router(tags=["cases"])

HEX64 = r"^[0-9a-fA-F]{64}$"
HEX32 = r"^[0-9a-fA-F]{32}$"
# One spelling of a hash for every endpoint that takes one: exactly the hex digits, nothing around
# them (haven.signals' parsers forgive surrounding white space, which a line read from a file has).
PdqHex = Annotated[str, StringConstraints(pattern=HEX64)]
Md5Hex = Annotated[str, StringConstraints(pattern=HEX32)]
Sha256Hex = Annotated[str, StringConstraints(pattern=HEX64)]


class CaseOut(Schema):
    number: str
    status: CaseStatus
    assignee: str | None
    tfgbv_type: str
    gbvims_type: str
    dsa_category: str
    relationship: str
    platforms: str
    minor_when_made: bool
    child_protection: bool
    follow_up_on: dt.date | None
    survivor_sex: str
    survivor_age_band: str
    incident_on: dt.date | None
    harm_types: list[str]
    personal_info_leaked: bool
    reported_elsewhere: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    consent: dict[str, bool]

    @staticmethod
    def of(case: Case) -> CaseOut:
        return CaseOut(
            number=case.number,
            status=CaseStatus(case.status),
            assignee=case.assignee.username if case.assignee else None,
            tfgbv_type=case.tfgbv_type,
            gbvims_type=case.gbvims_type,
            dsa_category=case.dsa_category,
            relationship=case.relationship,
            platforms=case.platforms,
            minor_when_made=case.minor_when_made,
            child_protection=case.child_protection,
            follow_up_on=case.follow_up_on,
            survivor_sex=case.survivor_sex,
            survivor_age_band=case.survivor_age_band,
            incident_on=case.incident_on,
            harm_types=list(case.harm_types or []),
            personal_info_leaked=case.personal_info_leaked,
            reported_elsewhere=case.reported_elsewhere,
            created_at=case.created_at,
            updated_at=case.updated_at,
            consent=actions.current_consent(case),
        )


class CaseIn(Input):
    contact: str = Field("", max_length=2000)
    notes: str = Field("", max_length=20000)
    tfgbv_type: TfgbvType | None = None
    relationship: Relationship | None = None
    platforms: str = Field("", max_length=500)
    minor_when_made: bool = False
    follow_up_on: dt.date | None = None
    assignee: str | None = Field(None, max_length=150)
    survivor_sex: SurvivorSex | None = None
    survivor_age_band: AgeBand | None = None
    incident_on: dt.date | None = None
    harm_types: list[HarmType] = Field(default_factory=list, max_length=len(HarmType.values))
    personal_info_leaked: bool = False
    reported_elsewhere: bool = False


class CasePatch(Input):
    contact: str | None = Field(None, max_length=2000)
    notes: str | None = Field(None, max_length=20000)
    tfgbv_type: TfgbvType | None = None
    relationship: Relationship | None = None
    platforms: str | None = Field(None, max_length=500)
    minor_when_made: bool | None = None
    follow_up_on: dt.date | None = None
    assignee: str | None = Field(None, max_length=150)
    survivor_sex: SurvivorSex | None = None
    survivor_age_band: AgeBand | None = None
    incident_on: dt.date | None = None
    harm_types: list[HarmType] | None = Field(None, max_length=len(HarmType.values))
    personal_info_leaked: bool | None = None
    reported_elsewhere: bool | None = None


class StatusIn(Input):
    status: CaseStatus


class SecretsOut(Schema):
    contact: str
    notes: str


class ConsentIn(Input):
    scope: ConsentScope
    granted: bool
    method: ConsentMethod
    note: str = Field("", max_length=500)


class ConsentRecordOut(Schema):
    scope: str
    granted: bool
    method: str
    recorded_by: str | None
    recorded_at: dt.datetime
    note: str


class ContentIn(Input):
    label: str = Field(..., min_length=1, max_length=100)
    pdq: PdqHex | None = None
    quality: int | None = Field(None, ge=0, le=100)
    pdq_dihedral: list[PdqHex] = Field(default_factory=list, max_length=8)
    md5: Md5Hex | None = None
    sha256: Sha256Hex | None = None
    kind: ContentKind = ContentKind.PHOTO
    # Each frame is [frame, quality, pdq_hex, seconds]; the action checks every field, so
    # that a malformed frame gets a message that names it.
    video_frames: list[Any] = Field(
        default_factory=list,
        max_length=MAX_VIDEO_FRAMES,
        description="for a video: [frame, quality, pdq_hex, seconds] per sampled frame",
    )
    # Checked entry by entry by the action (known kind, 64 hex digits, each kind once), so that
    # a malformed entry gets a message that names it; the bound here only caps the body.
    extra: list[Any] = Field(
        default_factory=list,
        max_length=64,
        description='for a photo: its robust signals, [{"kind", "pdq", "quality"?}] as `haven hash '
        "--robust` prints them; at most one per crop kind",
    )


class ExtraOut(Schema):
    kind: str
    pdq: str
    quality: int | None = None


class ContentOut(Schema):
    id: int
    case: str
    label: str
    pdq: str
    quality: int | None
    md5: str
    sha256: str
    created_at: dt.datetime
    kind: str
    video_frames: list[tuple[int, int, str, float]]
    extra: list[ExtraOut]

    @staticmethod
    def of(item: ContentItem) -> ContentOut:
        return ContentOut(
            id=item.pk,
            case=item.case.number,
            label=item.label,
            pdq=item.pdq,
            quality=item.quality,
            md5=item.md5,
            sha256=item.sha256,
            created_at=item.created_at,
            kind=item.kind,
            video_frames=[tuple(f) for f in item.video_frames or ()],
            extra=[ExtraOut(**e) for e in item.extra or ()],
        )


class FollowUpIn(Input):
    due_on: dt.date
    text: str = Field(..., min_length=1, max_length=FOLLOW_UP_TEXT_MAX)
    assignee: str | None = Field(None, max_length=150, description="username; you when left out")


class FollowUpOut(Schema):
    id: int
    case: str
    due_on: dt.date
    text: str
    assignee: str
    created_by: str | None
    created_at: dt.datetime
    done_at: dt.datetime | None
    done_by: str | None

    @staticmethod
    def of(follow_up: FollowUp) -> FollowUpOut:
        return FollowUpOut(
            id=follow_up.pk,
            case=follow_up.case.number,
            due_on=follow_up.due_on,
            text=follow_up.text,
            assignee=follow_up.assignee.username,
            created_by=follow_up.created_by.username if follow_up.created_by else None,
            created_at=follow_up.created_at,
            done_at=follow_up.done_at,
            done_by=follow_up.done_by.username if follow_up.done_by else None,
        )


MAX_CANDIDATES = 256


class CandidateIn(Input):
    """One normalised candidate of a suspect picture (``haven.signals.query_signals``)."""

    name: str = Field(..., min_length=1, max_length=64, description="returned with a hit")
    hashes: list[PdqHex] = Field(
        ..., min_length=1, max_length=8, description="the hash, or its 8 dihedral variants"
    )
    targets: list[str] | None = Field(
        None, max_length=len(KINDS), description="the stored kinds it may match; null: every kind"
    )


class PictureIn(Input):
    """A suspect picture's query signals: a ``haven hash --robust`` record and/or candidates."""

    pdq: PdqHex | None = Field(None, description="the whole picture; matches every kind")
    pdq_dihedral: list[PdqHex] = Field(default_factory=list, max_length=8)
    extra: list[Any] = Field(
        default_factory=list,
        max_length=64,
        description='[{"kind", "pdq", "quality"?}]: each crop matches only the stored signal of its kind',
    )
    # query_signals makes about 70 candidates for a picture; the cap leaves room for a finer grid.
    candidates: list[CandidateIn] = Field(default_factory=list, max_length=MAX_CANDIDATES)


class LookupIn(Input):
    pdq: list[PdqHex] = Field(default_factory=list, max_length=1000)
    md5: list[Md5Hex] = Field(default_factory=list, max_length=1000)
    sha256: list[Sha256Hex] = Field(default_factory=list, max_length=1000)
    pictures: list[PictureIn] = Field(
        default_factory=list,
        max_length=100,
        description="suspect pictures matched with the robust rules (a threshold per kind, crops by kind)",
    )
    radius: int = Field(31, ge=0, le=64)
    url: str | None = Field(
        None,
        max_length=2000,
        pattern=r"^https?://",
        description="where the suspect content was seen: a match on another centre's imported item "
        "is then reported to that centre",
    )


class ImportedOut(Schema):
    """An item of a bank imported from another centre: whose it is, never whose case."""

    centre: str = Field(description="the peer centre the item came from")
    item: str = Field(description="the centre's reference for the item")
    kind: str
    reported: bool = Field(description="a find was queued for the centre (the lookup gave a url)")


class LookupHit(Schema):
    query_kind: str
    query_index: int
    distance: int
    content: ContentOut | None = Field(None, description="your organisation's matching item")
    imported: ImportedOut | None = Field(
        None, description="or: the matching item of a bank imported from another centre"
    )
    signal: str | None = Field(
        None, description='for a picture: the stored kind that matched ("pdq" or a crop kind)'
    )
    candidate: str | None = Field(None, description="for a picture: the query signal that matched")


class Problem(Schema):
    """Every error response: a readable ``detail``; for invalid input also the field ``errors``."""

    detail: str
    errors: list[dict[str, Any]] | None = None


ERRORS: dict[int, type[Problem]] = {400: Problem, 401: Problem, 403: Problem, 404: Problem, 422: Problem}


def _user(request: HttpRequest) -> User:
    user = getattr(request, "auth", None)
    if not isinstance(user, User) or user.organisation_id is None:
        raise PermissionDenied
    return user


def _org(user: User) -> int:
    if user.organisation_id is None:
        raise PermissionDenied
    return user.organisation_id


def _case(user: User, number: str) -> Case:
    require(user, Perm.VIEW_CASES)
    case = Case.objects.select_related("assignee").filter(number=number.upper()).first()
    if case is None:
        raise NotFound
    same_organisation(user, case)
    return case


def _colleague(user: User, username: str | None) -> User | None:
    if username is None:
        return None
    colleague = User.objects.filter(username=username, organisation_id=_org(user)).first()
    if colleague is None:
        raise ActionError(f"no colleague named {username!r} in your organisation")
    return colleague


@router.get("/cases", response={200: list[CaseOut], **ERRORS})
def list_cases(request: HttpRequest, status: CaseStatus | None = None, limit: int = 100) -> list[CaseOut]:
    user = _user(request)
    require(user, Perm.VIEW_CASES)
    qs = (
        Case.objects.filter(organisation_id=_org(user))
        .select_related("assignee")
        .prefetch_related("consents")
    )
    if status is not None:
        qs = qs.filter(status=status)
    return [CaseOut.of(c) for c in qs[: max(1, min(limit, 500))]]


@router.post("/cases", response={201: CaseOut, **ERRORS})
def create_case(request: HttpRequest, payload: CaseIn) -> Status[CaseOut]:
    user = _user(request)
    data = payload.dict()
    fields: dict[str, Any] = {
        "tfgbv_type": data["tfgbv_type"] or "",
        "relationship": data["relationship"] or "",
        "platforms": data["platforms"],
        "minor_when_made": data["minor_when_made"],
        "follow_up_on": data["follow_up_on"],
        "survivor_sex": data["survivor_sex"] or "",
        "survivor_age_band": data["survivor_age_band"] or "",
        "incident_on": data["incident_on"],
        "harm_types": [str(h) for h in data["harm_types"]],
        "personal_info_leaked": data["personal_info_leaked"],
        "reported_elsewhere": data["reported_elsewhere"],
    }
    require(user, Perm.CREATE_CASE)
    assignee = _colleague(user, data["assignee"])
    if assignee is not None:
        fields["assignee"] = assignee
    case = actions.create_case(actor=user, contact=data["contact"], notes=data["notes"], **fields)
    return Status(201, CaseOut.of(case))


@router.get("/cases/{number}", response={200: CaseOut, **ERRORS})
def read_case(request: HttpRequest, number: str) -> CaseOut:
    return CaseOut.of(_case(_user(request), number))


@router.patch("/cases/{number}", response={200: CaseOut, **ERRORS})
def update_case(request: HttpRequest, number: str, payload: CasePatch) -> CaseOut:
    user = _user(request)
    case = _case(user, number)
    data = payload.dict(exclude_unset=True)
    contact = data.pop("contact", None)
    notes = data.pop("notes", None)
    if "assignee" in data:
        data["assignee"] = _colleague(user, data["assignee"])
    for key in ("tfgbv_type", "relationship", "platforms", "survivor_sex", "survivor_age_band"):
        if key in data and data[key] is None:
            data[key] = ""
    if "harm_types" in data:
        data["harm_types"] = [str(h) for h in data["harm_types"] or ()]
    for key in ("minor_when_made", "personal_info_leaked", "reported_elsewhere"):
        if key in data and data[key] is None:
            del data[key]
    case = actions.update_case(actor=user, case=case, contact=contact, notes=notes, **data)
    return CaseOut.of(case)


@router.post("/cases/{number}/status", response={200: CaseOut, **ERRORS})
def change_status(request: HttpRequest, number: str, payload: StatusIn) -> CaseOut:
    user = _user(request)
    return CaseOut.of(actions.change_status(actor=user, case=_case(user, number), status=payload.status))


@router.get("/cases/{number}/contact", response={200: SecretsOut, **ERRORS})
def read_contact(request: HttpRequest, number: str) -> SecretsOut:
    """Decrypted contact details and notes. Every call is recorded in the audit trail."""
    user = _user(request)
    secrets = actions.reveal_secrets(actor=user, case=_case(user, number))
    return SecretsOut(contact=secrets.contact, notes=secrets.notes)


@router.get("/cases/{number}/consent", response={200: list[ConsentRecordOut], **ERRORS})
def consent_history(request: HttpRequest, number: str) -> list[ConsentRecordOut]:
    case = _case(_user(request), number)
    return [
        ConsentRecordOut(
            scope=r.scope,
            granted=r.granted,
            method=r.method,
            recorded_by=r.recorded_by.username if r.recorded_by else None,
            recorded_at=r.recorded_at,
            note=r.note,
        )
        for r in case.consents.select_related("recorded_by")
    ]


@router.post("/cases/{number}/consent", response={201: CaseOut, **ERRORS})
def record_consent(request: HttpRequest, number: str, payload: ConsentIn) -> Status[CaseOut]:
    """Grant or withdraw one consent scope. Withdrawing monitoring removes the case's hashes from
    matching before the response is sent."""
    user = _user(request)
    case = _case(user, number)
    actions.record_consent(
        actor=user,
        case=case,
        scope=payload.scope,
        granted=payload.granted,
        method=payload.method,
        note=payload.note,
    )
    return Status(201, CaseOut.of(case))


@router.get("/cases/{number}/content", response={200: list[ContentOut], **ERRORS})
def list_content(request: HttpRequest, number: str) -> list[ContentOut]:
    case = _case(_user(request), number)
    return [ContentOut.of(i) for i in case.content.filter(removed_at__isnull=True).select_related("case")]


@router.post("/cases/{number}/content", response={201: list[ContentOut], **ERRORS})
def add_content(request: HttpRequest, number: str, payload: list[ContentIn]) -> Status[list[ContentOut]]:
    """Add hashed pictures and videos to a case; the answer lists the items created.

    An item whose every hash the case already holds on one item (or that repeats an earlier item
    of the same request) is not added again and is missing from the answer, so a retried request
    adds nothing twice.
    """
    user = _user(request)
    case = _case(user, number)
    if len(payload) > 500:
        raise ActionError("at most 500 items per request")
    items = [
        actions.HashInput(
            label=p.label,
            pdq=p.pdq or "",
            quality=p.quality,
            pdq_dihedral=tuple(p.pdq_dihedral),
            md5=p.md5 or "",
            sha256=p.sha256 or "",
            kind=p.kind,
            video_frames=tuple(p.video_frames),  # checked field by field by the action
            extra=tuple(p.extra),  # likewise
        )
        for p in payload
    ]
    created = actions.add_content(actor=user, case=case, items=items)
    return Status(201, [ContentOut.of(i) for i in created])


@router.delete("/content/{item_id}", response={204: None, **ERRORS})
def remove_content(request: HttpRequest, item_id: int) -> Status[None]:
    user = _user(request)
    require(user, Perm.MANAGE_CONTENT)
    item = ContentItem.objects.filter(pk=item_id, removed_at__isnull=True).first()
    if item is None:
        raise NotFound
    actions.remove_content(actor=user, item=item)
    return Status(204, None)


_FOLLOW_UP_RELATED = ("case", "assignee", "created_by", "done_by")


@router.get("/cases/{number}/follow-ups", response={200: list[FollowUpOut], **ERRORS})
def list_follow_ups(request: HttpRequest, number: str) -> list[FollowUpOut]:
    """The case's follow-up tasks, open and done, by due date."""
    case = _case(_user(request), number)
    return [FollowUpOut.of(f) for f in case.follow_ups.select_related(*_FOLLOW_UP_RELATED)]


@router.post("/cases/{number}/follow-ups", response={201: FollowUpOut, **ERRORS})
def add_follow_up(request: HttpRequest, number: str, payload: FollowUpIn) -> Status[FollowUpOut]:
    user = _user(request)
    case = _case(user, number)
    require(user, Perm.EDIT_CASE)
    assignee = _colleague(user, payload.assignee) if payload.assignee is not None else user
    follow_up = actions.add_follow_up(
        actor=user, case=case, due_on=payload.due_on, text=payload.text, assignee=assignee
    )
    return Status(201, FollowUpOut.of(follow_up))


@router.post("/follow-ups/{follow_up_id}/done", response={200: FollowUpOut, **ERRORS})
def complete_follow_up(request: HttpRequest, follow_up_id: int) -> FollowUpOut:
    """Mark a follow-up done; a follow-up already done is returned as it is."""
    user = _user(request)
    require(user, Perm.EDIT_CASE)
    follow_up = FollowUp.objects.filter(pk=follow_up_id, organisation_id=_org(user)).first()
    if follow_up is None:
        raise NotFound
    done = actions.complete_follow_up(actor=user, follow_up=follow_up)
    return FollowUpOut.of(FollowUp.objects.select_related(*_FOLLOW_UP_RELATED).get(pk=done.pk))


def _query_signals(n: int, picture: PictureIn) -> list[QuerySignal]:
    """A picture's query signals, checked; an error names the picture (numbered from 1)."""
    try:
        return _picture_signals(picture)
    except InvalidHashError as exc:
        error = str(exc)
    except ActionError as exc:
        error = str(exc)
    raise ActionError(_("Picture %(n)s: %(error)s") % {"n": n + 1, "error": error})


def _picture_signals(picture: PictureIn) -> list[QuerySignal]:
    signals: list[QuerySignal] = []
    dihedral = tuple(PdqHash.from_hex(h) for h in picture.pdq_dihedral)
    if picture.pdq is not None:
        whole = PdqHash.from_hex(picture.pdq)
        if dihedral and (len(dihedral) != 8 or dihedral[0] != whole):
            raise ActionError(_("Dihedral hashes must be 8, starting with the PDQ hash itself."))
        signals.append(QuerySignal("whole", dihedral or (whole,), 100))
    elif dihedral:
        raise ActionError(_("Dihedral hashes must be 8, starting with the PDQ hash itself."))
    for kind, hex_, quality in actions.clean_extra(picture.extra):
        # The same floor as the stored side: a flat crop says nothing about the picture.
        if quality is None or quality >= QUALITY_FLOOR:
            signal = QuerySignal(
                f"crop:{kind}", (PdqHash.from_hex(hex_),), quality or QUALITY_FLOOR, frozenset({kind})
            )
            signals.append(signal)
    for candidate in picture.candidates:
        unknown = sorted(set(candidate.targets or ()) - set(KINDS))
        if unknown:
            raise ActionError(
                _("Candidate “%(name)s”: unknown kinds %(kinds)s.")
                % {"name": candidate.name, "kinds": ", ".join(u[:40] for u in unknown)}
            )
        hashes = tuple(PdqHash.from_hex(h) for h in candidate.hashes)
        targets = None if candidate.targets is None else frozenset(candidate.targets)
        signals.append(QuerySignal(candidate.name, hashes, 100, targets))
    if not signals:
        raise ActionError(_("Give a PDQ hash, extra signals or query candidates."))
    return signals


@router.post("/lookup", response={200: list[LookupHit], **ERRORS})
def lookup(request: HttpRequest, payload: LookupIn) -> list[LookupHit]:
    """Hashes in, your organisation's matching content out (cases that consent to monitoring).

    ``pictures`` are matched with the robust rules: each stored signal kind has its threshold
    (capped by ``radius``), a crop signal matches only a query signal for its kind, the whole
    picture (with its dihedral variants) every kind.  Their hits say which stored ``signal``
    and which query ``candidate`` matched.

    The banks imported from other centres are searched too: their hits carry ``imported`` (the
    centre and its reference for the item) instead of ``content``.  With ``url``, each such hit
    is reported to its centre as a find.
    """
    user = _user(request)
    require(user, Perm.LOOKUP)
    try:
        pdq = [PdqHash.from_hex(h) for h in payload.pdq]
        md5 = [Md5.from_hex(h) for h in payload.md5]
        sha = [Sha256.from_hex(h) for h in payload.sha256]
    except InvalidHashError as exc:
        raise ActionError(str(exc)) from None
    pictures = [_query_signals(n, p) for n, p in enumerate(payload.pictures)]
    query: dict[str, Any] = {
        "pdq": pdq,
        "md5": md5,
        "sha256": sha,
        "pictures": pictures,
        "radius": payload.radius,
    }
    hits = content_index().lookup(_org(user), **query)
    items = ContentItem.objects.select_related("case").in_bulk([h.item_id for h in hits])
    out = [
        LookupHit(
            query_kind=h.kind,
            query_index=h.query,
            distance=h.distance,
            content=ContentOut.of(items[h.item_id]),
            imported=None,
            signal=h.signal or None,
            candidate=h.candidate or None,
        )
        for h in sorted(hits, key=lambda h: (h.kind, h.query, h.distance, h.item_id))
        if h.item_id in items
    ]
    foreign = []
    for other in FOREIGN_LOOKUPS:
        foreign += other(actor=user, organisation_id=_org(user), url=payload.url, **query)
    append_read(
        actor=user,
        event_type=EventType.LOOKUP,
        organisation=user.organisation_id,
        summary={
            "queries": len(pdq) + len(md5) + len(sha) + len(pictures),
            "hits": len(out),
            **({"imported_hits": len(foreign)} if foreign else {}),
        },
    )
    return out + [
        LookupHit(
            query_kind=f.hit.kind,
            query_index=f.hit.query,
            distance=f.hit.distance,
            content=None,
            imported=ImportedOut(centre=f.centre, item=f.item, kind=f.kind, reported=f.reported),
            signal=f.hit.signal or None,
            candidate=f.hit.candidate or None,
        )
        for f in sorted(foreign, key=lambda f: (f.hit.kind, f.hit.query, f.hit.distance, f.item))
    ]
