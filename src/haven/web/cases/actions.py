"""Every write to cases, consent and content: atomic, permission-checked, audited."""

from __future__ import annotations

import datetime as dt
import math
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext as _

from haven.signals import CROPS, InvalidHashError, Md5, PdqHash, Sha256
from haven.web.accounts.roles import Perm
from haven.web.audit.chain import append, append_read
from haven.web.audit.models import EventType
from haven.web.core import crypto
from haven.web.core.access import require, same_organisation
from haven.web.core.errors import ActionError

from .classification import MAPPING, AgeBand, HarmType, Relationship, SurvivorSex, TfgbvType
from .models import (
    CASE_NUMBER_ALPHABET,
    FOLLOW_UP_TEXT_MAX,
    MAX_VIDEO_FRAMES,
    NOTE_CONTEXT,
    NOTE_MAX,
    TRANSITIONS,
    Case,
    CaseNote,
    CaseStatus,
    ConsentMethod,
    ConsentRecord,
    ConsentScope,
    ContentItem,
    ContentKind,
    FollowUp,
    IndexChange,
)

consent_withdrawn = Signal()
"""Sent inside the withdrawing transaction with ``case`` and ``scope``: other apps drop what the
consent covered (the matching index, partner sharing) before the transaction commits."""

consent_granted = Signal()
"""Sent inside the granting transaction with ``case`` and ``scope``: other apps take up again what
the consent covers (items already reviewed for sharing go back to partners)."""

content_removed = Signal()
"""Sent inside the removing transaction with ``items`` (content items of one case) and ``erased``
(True for the survivor's "delete my data"): other apps withdraw what they made of them."""

_CONTACT = "cases.Case.contact"
_NOTES = "cases.Case.notes"


def new_case_number() -> str:
    body = "".join(secrets.choice(CASE_NUMBER_ALPHABET) for _ in range(8))
    return f"HV-{body[:4]}-{body[4:]}"


def _classify(case: Case) -> None:
    if case.tfgbv_type and case.tfgbv_type not in TfgbvType.values:
        raise ActionError(_("Unknown type of abuse."))
    if case.relationship and case.relationship not in Relationship.values:
        raise ActionError(_("Unknown relationship."))
    if case.survivor_sex and case.survivor_sex not in SurvivorSex.values:
        raise ActionError(_("Unknown sex."))
    if case.survivor_age_band and case.survivor_age_band not in AgeBand.values:
        raise ActionError(_("Unknown age band."))
    harms = list(case.harm_types or [])
    if any(h not in HarmType.values for h in harms):
        raise ActionError(_("Unknown harm."))
    case.harm_types = sorted(set(harms), key=HarmType.values.index)
    if case.incident_on and case.incident_on > timezone.localdate():
        raise ActionError(_("The abuse cannot have happened after today."))
    gbvims, dsa = MAPPING.get(case.tfgbv_type, ("", ""))
    case.gbvims_type = gbvims
    case.dsa_category = dsa


_EDITABLE = (
    "tfgbv_type",
    "relationship",
    "platforms",
    "minor_when_made",
    "follow_up_on",
    "assignee",
    "survivor_sex",
    "survivor_age_band",
    "incident_on",
    "harm_types",
    "personal_info_leaked",
    "reported_elsewhere",
    "intake_channel",
    "referral_source",
    "risk_level",
    "risk_assessed_on",
)


def create_case(*, actor: Any, contact: str = "", notes: str = "", **fields: Any) -> Case:
    require(actor, Perm.CREATE_CASE)
    unknown = set(fields) - set(_EDITABLE)
    if unknown:
        raise ActionError(_("Unknown fields: %(names)s") % {"names": ", ".join(sorted(unknown))})
    assignee = fields.get("assignee")
    if assignee is not None and assignee.organisation_id != actor.organisation_id:
        raise ActionError(_("Cases can only be assigned to colleagues in your organisation."))
    with transaction.atomic():
        case = Case(organisation_id=actor.organisation_id, created_by=actor, **fields)
        if case.assignee is None:
            case.assignee = actor
        insert_case(case, contact=contact, notes=notes)
        append(
            actor=actor,
            event_type=EventType.CASE_CREATED,
            organisation=case.organisation_id,
            obj=case,
            summary={
                "number": case.number,
                "tfgbv_type": case.tfgbv_type,
                "child_protection": case.child_protection,
            },
        )
    return case


def insert_case(case: Case, *, contact: str = "", notes: str = "") -> Case:
    """Classify, encrypt and save a new case under a fresh number; the caller audits it.

    Shared by every way a case comes in (a counsellor's intake, the survivor portal), inside
    the caller's transaction.
    """
    _classify(case)
    _set_secrets(case, contact, notes)
    for _attempt in range(5):
        case.number = new_case_number()
        try:
            with transaction.atomic():
                case.save()
            break
        except IntegrityError:
            continue
    else:  # pragma: no cover - 31^8 numbers
        raise ActionError(_("Could not allocate a case number; try again."))
    return case


def _set_secrets(case: Case, contact: str | None, notes: str | None) -> None:
    if contact is not None:
        case.contact_encrypted = crypto.encrypt(contact, _CONTACT) if contact else None
    if notes is not None:
        case.notes_encrypted = crypto.encrypt(notes, _NOTES) if notes else None


def update_case(
    *, actor: Any, case: Case, contact: str | None = None, notes: str | None = None, **fields: Any
) -> Case:
    require(actor, Perm.EDIT_CASE)
    same_organisation(actor, case)
    unknown = set(fields) - set(_EDITABLE)
    if unknown:
        raise ActionError(_("Unknown fields: %(names)s") % {"names": ", ".join(sorted(unknown))})
    if (contact is not None or notes is not None) and not actor.can(Perm.VIEW_CONTACT):
        raise ActionError(_("You may not change survivor contact details."))
    assignee = fields.get("assignee")
    if assignee is not None and assignee.organisation_id != actor.organisation_id:
        raise ActionError(_("Cases can only be assigned to colleagues in your organisation."))
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        changed = sorted(name for name, value in fields.items() if getattr(case, name) != value)
        for name, value in fields.items():
            setattr(case, name, value)
        _classify(case)
        _set_secrets(case, contact, notes)
        if contact is not None:
            changed.append("contact")
        if notes is not None:
            changed.append("notes")
        case.save()
        append(
            actor=actor,
            event_type=EventType.CASE_UPDATED,
            organisation=case.organisation_id,
            obj=case,
            summary={"fields": changed},
        )
    return case


def change_status(*, actor: Any, case: Case, status: str) -> Case:
    require(actor, Perm.EDIT_CASE)
    same_organisation(actor, case)
    if status not in CaseStatus.values:
        raise ActionError(_("Unknown status."))
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        if status not in TRANSITIONS[case.status]:
            raise ActionError(
                _("A case cannot go from %(old)s to %(new)s.")
                % {"old": CaseStatus(case.status).label, "new": CaseStatus(status).label}
            )
        old = case.status
        case.status = status
        case.save(update_fields=["status", "updated_at"])
        append(
            actor=actor,
            event_type=EventType.CASE_STATUS_CHANGED,
            organisation=case.organisation_id,
            obj=case,
            summary={"from": old, "to": status},
        )
    return case


@dataclass(frozen=True)
class Note:
    author: str
    created_at: dt.datetime
    text: str


@dataclass(frozen=True)
class Secrets:
    contact: str
    notes: str
    log: tuple[Note, ...] = ()
    safety_plan: str = ""


def reveal_secrets(*, actor: Any, case: Case) -> Secrets:
    """Decrypt a case's contact details, notes and notes log; the reading itself is audited."""
    require(actor, Perm.VIEW_CONTACT)
    same_organisation(actor, case)
    contact = crypto.decrypt(case.contact_encrypted, _CONTACT) if case.contact_encrypted else ""
    notes = crypto.decrypt(case.notes_encrypted, _NOTES) if case.notes_encrypted else ""
    log = tuple(
        Note(
            author=note.author.get_full_name() or note.author.username,
            created_at=note.created_at,
            text=crypto.decrypt(note.body_encrypted, NOTE_CONTEXT),
        )
        for note in CaseNote.objects.filter(case=case).select_related("author")
    )
    plan = crypto.decrypt(case.safety_plan_encrypted, SAFETY_PLAN) if case.safety_plan_encrypted else ""
    # Recorded once everything decrypted: a key that is missing shows nothing and records nothing.
    append_read(actor=actor, event_type=EventType.CONTACT_VIEWED, organisation=case.organisation_id, obj=case)
    return Secrets(contact, notes, log, plan)


SAFETY_PLAN = "cases.Case.safety_plan"
SAFETY_PLAN_MAX = 10_000


def set_safety_plan(*, actor: Any, case: Case, text: str) -> Case:
    """Write (or replace) the survivor's safety plan, encrypted; audited by field name only."""
    require(actor, Perm.VIEW_CONTACT)
    require(actor, Perm.EDIT_CASE)
    same_organisation(actor, case)
    if not isinstance(text, str) or "\x00" in text:
        raise ActionError(_("The text must not contain NUL characters."))
    text = text.replace("\r\n", "\n").strip()
    if len(text) > SAFETY_PLAN_MAX:
        raise ActionError(
            _("Keep the safety plan to %(max)s characters or fewer.") % {"max": SAFETY_PLAN_MAX}
        )
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        case.safety_plan_encrypted = crypto.encrypt(text, SAFETY_PLAN) if text else None
        case.save(update_fields=["safety_plan_encrypted", "updated_at"])
        append(
            actor=actor,
            event_type=EventType.CASE_UPDATED,
            organisation=case.organisation_id,
            obj=case,
            summary={"fields": ["safety_plan"]},
        )
    return case


def add_note(*, actor: Any, case: Case, text: str) -> CaseNote:
    """A dated entry in the case's notes log, by the actor; audited without its text."""
    require(actor, Perm.VIEW_CONTACT)
    require(actor, Perm.EDIT_CASE)
    same_organisation(actor, case)
    if not isinstance(text, str) or not text.strip():
        raise ActionError(_("Write the note first."))
    text = text.replace("\r\n", "\n").strip()
    if "\x00" in text:
        raise ActionError(_("The text must not contain NUL characters."))
    if len(text) > NOTE_MAX:
        raise ActionError(_("Keep a note to %(max)s characters or fewer.") % {"max": NOTE_MAX})
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        note = CaseNote.objects.create(
            case=case, author=actor, body_encrypted=crypto.encrypt(text, NOTE_CONTEXT)
        )
        append(
            actor=actor,
            event_type=EventType.CASE_NOTE_ADDED,
            organisation=case.organisation_id,
            obj=case,
            summary={"note": note.pk},
        )
    return note


def current_consent(case: Case) -> dict[str, bool]:
    """Scope -> granted, from the latest record of each scope (absent scopes: not granted)."""
    state = {scope: False for scope in ConsentScope.values}
    # .all() (not .order_by) so that a prefetch_related("consents") is used.
    for record in sorted(case.consents.all(), key=lambda r: (r.recorded_at, r.pk)):
        state[record.scope] = record.granted
    return state


def record_consent(
    *, actor: Any, case: Case, scope: str, granted: bool, method: str, note: str = ""
) -> ConsentRecord:
    """Grant or withdraw one consent scope. Withdrawal takes effect before this returns."""
    return record_consents(actor=actor, case=case, decisions={scope: granted}, method=method, note=note)[0]


def record_consents(
    *, actor: Any, case: Case, decisions: dict[str, bool], method: str, note: str = ""
) -> list[ConsentRecord]:
    """Several purposes decided at once (the case page's one form): all recorded or none, each
    with its own audit event; a withdrawal takes effect before this returns."""
    require(actor, Perm.MANAGE_CONSENT)
    same_organisation(actor, case)
    if set(decisions) - set(ConsentScope.values):
        raise ActionError(_("Unknown consent scope."))
    if method not in ConsentMethod.values:
        raise ActionError(_("Unknown way of recording consent."))
    records = []
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        for scope in ConsentScope.values:  # in the order of the form, whatever the caller's
            if scope not in decisions:
                continue
            granted = decisions[scope]
            records.append(apply_consent(case, scope, granted, method=method, recorded_by=actor, note=note))
            append(
                actor=actor,
                event_type=EventType.CONSENT_GRANTED if granted else EventType.CONSENT_WITHDRAWN,
                organisation=case.organisation_id,
                obj=case,
                summary={"scope": scope, "method": method},
            )
    return records


def apply_consent(
    case: Case, scope: str, granted: bool, *, method: str, recorded_by: Any = None, note: str = ""
) -> ConsentRecord:
    """Record one grant or withdrawal and its effects, inside the caller's transaction (which
    holds the case locked and appends the audit event): monitoring consent moves the case's
    content in or out of every process's matching index, and a withdrawal is announced."""
    record = ConsentRecord.objects.create(
        case=case, scope=scope, granted=granted, method=method, recorded_by=recorded_by, note=note[:500]
    )
    if scope == ConsentScope.MONITOR:
        for item in case.content.filter(removed_at__isnull=True):
            IndexChange.objects.create(
                content_item=item, op=IndexChange.Op.ADD if granted else IndexChange.Op.REMOVE
            )
    if granted:
        consent_granted.send(sender=Case, case=case, scope=scope)
    else:
        consent_withdrawn.send(sender=Case, case=case, scope=scope)
    return record


VideoFrameRow = tuple[int, int, str, float]
"""One sampled frame of a video: frame number, PDQ quality, PDQ hex, seconds from the start."""

ExtraRow = tuple[str, str, int | None]
"""One robust signal of a photo: its crop kind (``haven.signals.CROPS``), PDQ hex, quality if known."""


@dataclass(frozen=True)
class HashInput:
    label: str
    pdq: str = ""
    quality: int | None = None
    pdq_dihedral: tuple[str, ...] = ()
    md5: str = ""
    sha256: str = ""
    kind: str = ContentKind.PHOTO
    video_frames: tuple[VideoFrameRow, ...] = ()
    extra: Any = ()
    """The robust signals as received (``[{"kind", "pdq", "quality"?}]``, e.g. from
    ``haven hash --robust``); :func:`clean_extra` checks them into :data:`ExtraRow` tuples."""


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _clean_frames(frames: Any) -> tuple[VideoFrameRow, ...]:
    """Check a video's frame list; any JSON may arrive here, so every field is checked."""
    if not isinstance(frames, Sequence) or isinstance(frames, str | bytes) or not frames:
        raise ActionError(_("A video needs the hashes of its frames."))
    if len(frames) > MAX_VIDEO_FRAMES:
        raise ActionError(
            _("A video may have at most %(max)s frame hashes (one a second for an hour).")
            % {"max": MAX_VIDEO_FRAMES}
        )
    clean: list[VideoFrameRow] = []
    for n, row in enumerate(frames, start=1):
        if not isinstance(row, Sequence) or isinstance(row, str | bytes) or len(row) != 4:
            raise ActionError(_("Frame %(n)s must be [frame, quality, PDQ hash, seconds].") % {"n": n})
        frame, quality, pdq, seconds = row
        if not (_whole(frame) and frame >= 0):
            raise ActionError(
                _("Frame %(n)s: the frame number must be a whole number, 0 or more.") % {"n": n}
            )
        if not (_whole(quality) and 0 <= quality <= 100):
            raise ActionError(_("Frame %(n)s: the quality must be between 0 and 100.") % {"n": n})
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds):
            raise ActionError(_("Frame %(n)s: the time must be a number of seconds.") % {"n": n})
        if seconds < 0:
            raise ActionError(_("Frame %(n)s: the time must not be negative.") % {"n": n})
        if clean and (seconds <= clean[-1][3] or frame <= clean[-1][0]):
            raise ActionError(
                _("Frame %(n)s: frames must be in order, each later than the one before.") % {"n": n}
            )
        if not isinstance(pdq, str):
            raise ActionError(_("Frame %(n)s: the PDQ hash must be 64 hexadecimal digits.") % {"n": n})
        try:
            hex_ = str(PdqHash.from_hex(pdq))
        except InvalidHashError as exc:
            raise ActionError(_("Frame %(n)s: %(error)s") % {"n": n, "error": exc}) from None
        clean.append((frame, quality, hex_, round(float(seconds), 3)))
    return tuple(clean)


_EXTRA_KEYS = frozenset({"kind", "pdq", "quality"})


def clean_extra(extra: Any) -> tuple[ExtraRow, ...]:
    """Check a photo's robust signals; any JSON may arrive here, so every field is checked.

    Known crop kinds only, each at most once, a 64-digit hex PDQ hash each and an optional
    quality from 0 to 100.  The rows come back in the order of ``haven.signals.CROPS``.
    """
    if extra is None:
        return ()
    if not isinstance(extra, Sequence) or isinstance(extra, str | bytes):
        raise ActionError(_("The extra signals must be a list of {kind, pdq} entries."))
    if len(extra) > len(CROPS):
        raise ActionError(
            _("A picture has at most %(max)s extra signals, one of each kind.") % {"max": len(CROPS)}
        )
    found: dict[str, ExtraRow] = {}
    for n, entry in enumerate(extra, start=1):
        if (
            not isinstance(entry, Mapping)
            or set(entry) - _EXTRA_KEYS
            or not isinstance(entry.get("kind"), str)
        ):
            raise ActionError(
                _("Extra signal %(n)s must be {kind, pdq}, with an optional quality.") % {"n": n}
            )
        kind = entry["kind"]
        if "\x00" in kind:
            raise ActionError(_("Extra signal %(n)s: the text must not contain NUL characters.") % {"n": n})
        if kind not in CROPS:
            raise ActionError(
                _("Extra signal %(n)s: unknown kind “%(kind)s” (the kinds are %(known)s).")
                % {"n": n, "kind": kind[:40], "known": ", ".join(CROPS)}
            )
        if kind in found:
            raise ActionError(
                _("Extra signal %(n)s: a “%(kind)s” signal was given already; give each kind once.")
                % {"n": n, "kind": kind}
            )
        pdq = entry.get("pdq")
        try:
            if not isinstance(pdq, str):
                raise InvalidHashError("not a string")
            hex_ = str(PdqHash.from_hex(pdq))
        except InvalidHashError:
            raise ActionError(
                _("Extra signal %(n)s (%(kind)s): the PDQ hash must be 64 hexadecimal digits.")
                % {"n": n, "kind": kind}
            ) from None
        quality = entry.get("quality")
        if quality is not None and not (_whole(quality) and 0 <= quality <= 100):
            raise ActionError(
                _("Extra signal %(n)s (%(kind)s): the quality must be between 0 and 100.")
                % {"n": n, "kind": kind}
            )
        found[kind] = (kind, hex_, quality)
    return tuple(found[kind] for kind in CROPS if kind in found)


def extra_json(rows: Sequence[ExtraRow]) -> list[dict[str, Any]]:
    """The stored form of checked robust signals (``quality`` only where it is known)."""
    return [
        {"kind": kind, "pdq": pdq, **({"quality": quality} if quality is not None else {})}
        for kind, pdq, quality in rows
    ]


def _normalise(item: HashInput) -> HashInput:
    try:
        pdq = str(PdqHash.from_hex(item.pdq)) if item.pdq else ""
        dihedral = tuple(str(PdqHash.from_hex(h)) for h in item.pdq_dihedral)
        md5 = str(Md5.from_hex(item.md5)) if item.md5 else ""
        sha = str(Sha256.from_hex(item.sha256)) if item.sha256 else ""
    except InvalidHashError as exc:
        raise ActionError(str(exc)) from None
    if item.kind not in ContentKind.values:
        raise ActionError(_("The kind of content must be “photo” or “video”."))
    frames: tuple[VideoFrameRow, ...] = ()
    if item.kind == ContentKind.VIDEO:
        frames = _clean_frames(item.video_frames)
        if pdq or dihedral or item.quality is not None:
            raise ActionError(_("A video has frame hashes instead of a single PDQ hash."))
    elif item.video_frames:
        raise ActionError(_("Only a video has frame hashes."))
    extra = clean_extra(item.extra)
    if extra and item.kind != ContentKind.PHOTO:
        raise ActionError(_("Only a photo has extra signals."))
    if extra and not pdq:
        raise ActionError(_("Extra signals need the photo’s own PDQ hash as well."))
    if not (pdq or md5 or sha or frames):
        raise ActionError(_("Give at least one hash (PDQ, MD5 or SHA-256)."))
    if dihedral and (len(dihedral) != 8 or not pdq or dihedral[0] != pdq):
        raise ActionError(_("Dihedral hashes must be 8, starting with the PDQ hash itself."))
    if item.quality is not None and not 0 <= item.quality <= 100:
        raise ActionError(_("Quality must be between 0 and 100."))
    label = item.label.strip()[:100]
    if not label:
        raise ActionError(_("Give the item a label, e.g. “photo 1”."))
    return HashInput(label, pdq, item.quality, dihedral, md5, sha, item.kind, frames, extra)


def store_items(
    case: Case, items: list[HashInput], *, monitored: bool, added_by: Any = None
) -> list[ContentItem]:
    """Save already-normalised items on ``case`` (inside the caller's transaction); when the case
    consents to monitoring, queue them for every process's matching index."""
    created = []
    for item in items:
        content = ContentItem.objects.create(
            organisation_id=case.organisation_id,
            case=case,
            label=item.label,
            pdq=item.pdq,
            quality=item.quality,
            pdq_dihedral=list(item.pdq_dihedral),
            md5=item.md5,
            sha256=item.sha256,
            kind=item.kind,
            video_frames=[list(f) for f in item.video_frames],
            extra=extra_json(item.extra),
            added_by=added_by,
        )
        if monitored:
            IndexChange.objects.create(content_item=content, op=IndexChange.Op.ADD)
        created.append(content)
    return created


def _hashes(item: HashInput | ContentItem) -> dict[str, Any]:
    """The hashes an item holds, by kind (empty ones left out)."""
    if isinstance(item, ContentItem):
        frames = tuple(str(row[2]) for row in item.video_frames or ())
    else:
        frames = tuple(row[2] for row in item.video_frames)
    held = {"pdq": item.pdq, "md5": item.md5, "sha256": item.sha256, "frames": frames}
    return {kind: value for kind, value in held.items() if value}


def _adds_nothing(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """Whether every hash of ``new`` is already the same on ``old``: the same picture again."""
    return bool(new) and all(old.get(kind) == value for kind, value in new.items())


def new_items(case: Case, items: list[HashInput]) -> tuple[list[HashInput], list[tuple[int, str]]]:
    """Split ``items`` into those that add a hash the case does not hold on one live item, and the
    rest as (position in ``items``, label of the item already holding them); an item that repeats
    an earlier one of ``items`` counts as held.  Call with the case locked."""
    held = [(c.label, _hashes(c)) for c in case.content.filter(removed_at__isnull=True)]
    fresh: list[HashInput] = []
    duplicates: list[tuple[int, str]] = []
    for position, item in enumerate(items):
        hashes = _hashes(item)
        same = next((label for label, old in held if _adds_nothing(hashes, old)), None)
        if same is not None:
            duplicates.append((position, same))
            continue
        fresh.append(item)
        held.append((item.label, hashes))
    return fresh, duplicates


@dataclass(frozen=True)
class Added:
    created: list[ContentItem]
    duplicates: list[tuple[int, str]]
    """Items left out, as (position in the input, from 0; label of the item already holding them)."""


def add_content_once(*, actor: Any, case: Case, items: list[HashInput]) -> Added:
    """Add hashed content to a case, leaving out any item whose hashes the case already holds on
    one live item (or that repeats an earlier item of the same batch): it is reported, not added
    again.  Invalid input refuses the whole batch."""
    require(actor, Perm.MANAGE_CONTENT)
    same_organisation(actor, case)
    if not items:
        raise ActionError(_("Nothing to add."))
    clean = [_normalise(i) for i in items]
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        fresh, duplicates = new_items(case, clean)
        if not fresh:
            return Added([], duplicates)
        monitored = current_consent(case)[ConsentScope.MONITOR]
        created = store_items(case, fresh, monitored=monitored, added_by=actor)
        append(
            actor=actor,
            event_type=EventType.CONTENT_ADDED,
            organisation=case.organisation_id,
            obj=case,
            summary={
                "items": [c.pk for c in created],
                **({"duplicates": len(duplicates)} if duplicates else {}),
            },
        )
    return Added(created, duplicates)


def add_content(*, actor: Any, case: Case, items: list[HashInput]) -> list[ContentItem]:
    """:func:`add_content_once`, for callers that need only what was created."""
    return add_content_once(actor=actor, case=case, items=items).created


def remove_content(*, actor: Any, item: ContentItem) -> None:
    require(actor, Perm.MANAGE_CONTENT)
    same_organisation(actor, item)
    with transaction.atomic():
        item = ContentItem.objects.select_for_update().get(pk=item.pk)
        if item.removed_at is not None:
            return
        item.removed_at = timezone.now()
        item.save(update_fields=["removed_at"])
        IndexChange.objects.create(content_item=item, op=IndexChange.Op.REMOVE)
        content_removed.send(sender=ContentItem, items=[item], erased=False)
        append(
            actor=actor,
            event_type=EventType.CONTENT_REMOVED,
            organisation=item.organisation_id,
            obj=item.case,
            summary={"items": [item.pk]},
        )


def add_follow_up(*, actor: Any, case: Case, due_on: dt.date, text: str, assignee: Any) -> FollowUp:
    """A task on the case, due on a day, for a colleague who works on cases (or oneself)."""
    require(actor, Perm.EDIT_CASE)
    same_organisation(actor, case)
    text = text.strip()
    if not text:
        raise ActionError(_("Say what is to be done."))
    if len(text) > FOLLOW_UP_TEXT_MAX:
        raise ActionError(
            _("Keep the follow-up to %(max)s characters or fewer.") % {"max": FOLLOW_UP_TEXT_MAX}
        )
    if "\x00" in text:
        raise ActionError(_("The text must not contain NUL characters."))
    if not isinstance(due_on, dt.date) or isinstance(due_on, dt.datetime):
        raise ActionError(_("Give the day the follow-up is due."))
    if assignee is None or assignee.organisation_id != actor.organisation_id:
        raise ActionError(_("Follow-ups can only be assigned to colleagues in your organisation."))
    if not assignee.is_active or not assignee.can(Perm.VIEW_CASES):
        raise ActionError(_("Follow-ups can only be assigned to colleagues who work on cases."))
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        follow_up = FollowUp.objects.create(
            organisation_id=case.organisation_id,
            case=case,
            due_on=due_on,
            text=text,
            assignee=assignee,
            created_by=actor,
        )
        # The text stays out of the audit trail: it may say more about the survivor than it should.
        append(
            actor=actor,
            event_type=EventType.FOLLOW_UP_ADDED,
            organisation=case.organisation_id,
            obj=case,
            summary={"follow_up": follow_up.pk, "due_on": due_on.isoformat(), "assignee": assignee.pk},
        )
    return follow_up


def complete_follow_up(*, actor: Any, follow_up: FollowUp) -> FollowUp:
    """Mark a follow-up done; doing it again changes nothing."""
    require(actor, Perm.EDIT_CASE)
    same_organisation(actor, follow_up)
    with transaction.atomic():
        follow_up = FollowUp.objects.select_for_update().get(pk=follow_up.pk)
        if follow_up.done_at is not None:
            return follow_up
        follow_up.done_at = timezone.now()
        follow_up.done_by = actor
        follow_up.save(update_fields=["done_at", "done_by"])
        append(
            actor=actor,
            event_type=EventType.FOLLOW_UP_DONE,
            organisation=follow_up.organisation_id,
            obj=follow_up.case,
            summary={"follow_up": follow_up.pk},
        )
    return follow_up
