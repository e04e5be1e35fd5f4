"""Every write of the sharing app: partners and keys, approving items, the feed, feedback, quarantine.

The feed's rules (see ``models``): each change takes the organisation's next position under the
lock of its :class:`FeedHead`; a row that leaves the feed is a tombstone for the partners whose
:class:`Delivery` says they were sent it, decided when a partner reads the row, so that a fetch
running at the same moment as a withdrawal needs no lock to get it right.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from haven.signals import QUALITY_FLOOR
from haven.web.accounts.models import Organisation, User
from haven.web.accounts.roles import Perm
from haven.web.audit.chain import append
from haven.web.audit.models import EventType
from haven.web.cases.actions import current_consent
from haven.web.cases.models import Case, ConsentScope, ContentItem, ContentKind
from haven.web.core.access import require, same_organisation
from haven.web.core.errors import ActionError

from .models import (
    DEFAULT_RATE_LIMIT,
    Delivery,
    Endpoint,
    Feedback,
    FeedHead,
    KeyKind,
    Partner,
    PartnerKey,
    PartnerKind,
    QuarantinedHash,
    QuarantineStatus,
    SharedItem,
    SharedSignal,
    ShareStatus,
    SignalType,
)

SHARE_QUALITY_FLOOR = 50
"""Hashes of weaker pictures (flat, dark, tiny) match unrelated pictures; they are never shared."""

_KEY_PREFIX = {
    KeyKind.FETCH: "hvf_",
    KeyKind.FEEDBACK: "hvb_",
    KeyKind.SUBMIT: "hvs_",
    KeyKind.SUBSCRIPTION: "hvk_",
}


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class PartnerKeys:
    """A partner's keys in plain text: returned once, when they are made."""

    fetch_key: str
    feedback_key: str
    submit_key: str
    subscription_key: str

    def as_dict(self) -> dict[str, str]:
        return {
            "fetch_key": self.fetch_key,
            "feedback_key": self.feedback_key,
            "submit_key": self.submit_key,
            "subscription_key": self.subscription_key,
        }


def _new_key(partner: Partner, kind: str) -> str:
    key = _KEY_PREFIX[KeyKind(kind)] + secrets.token_urlsafe(32)
    PartnerKey.objects.create(partner=partner, kind=kind, prefix=key[:12], digest=key_digest(key))
    return key


def _clean_text(value: str, limit: int, what: str) -> str:
    value = value.strip()
    if "\x00" in value:
        raise ActionError(_("The text must not contain NUL characters."))
    if len(value) > limit:
        raise ActionError(_("The %(what)s may be at most %(max)s characters.") % {"what": what, "max": limit})
    return value


def create_partner(
    *,
    actor: Any,
    organisation: Organisation,
    name: str,
    kind: str,
    contact: str = "",
    allowed: Iterable[str] = (Endpoint.FETCH, Endpoint.FEEDBACK, Endpoint.SUBMIT),
    rate_limit: int = DEFAULT_RATE_LIMIT,
) -> tuple[Partner, PartnerKeys]:
    """Register a partner and make its four keys; only their digests are kept."""
    if not isinstance(actor, str):
        require(actor, Perm.MANAGE_PARTNERS)
        if actor.organisation_id != organisation.pk:
            raise ActionError(_("Partners can only be registered for your own organisation."))
    if organisation.sandbox:
        raise ActionError(_("A training sandbox shares nothing: it cannot have partners."))
    name = _clean_text(name, 200, _("name"))
    if not name:
        raise ActionError(_("Give the partner a name."))
    contact = _clean_text(contact, 300, _("contact"))
    if kind not in PartnerKind.values:
        raise ActionError(_("The kind of partner must be platform, hotline or centre."))
    allowed = set(allowed)
    if allowed - set(Endpoint.values):
        raise ActionError(_("Unknown endpoint: %(names)s") % {"names": ", ".join(sorted(allowed))})
    if not 1 <= rate_limit <= 1_000_000:
        raise ActionError(_("The rate limit must be between 1 and 1,000,000 requests a minute."))
    with transaction.atomic():
        if Partner.objects.filter(organisation=organisation, name=name).exists():
            raise ActionError(_("A partner called “%(name)s” is registered already.") % {"name": name})
        partner = Partner.objects.create(
            organisation=organisation,
            name=name,
            kind=kind,
            contact=contact,
            allow_fetch=Endpoint.FETCH in allowed,
            allow_feedback=Endpoint.FEEDBACK in allowed,
            allow_submit=Endpoint.SUBMIT in allowed,
            rate_limit=rate_limit,
        )
        keys = PartnerKeys(
            fetch_key=_new_key(partner, KeyKind.FETCH),
            feedback_key=_new_key(partner, KeyKind.FEEDBACK),
            submit_key=_new_key(partner, KeyKind.SUBMIT),
            subscription_key=_new_key(partner, KeyKind.SUBSCRIPTION),
        )
        append(
            actor=actor,
            event_type=EventType.PARTNER_CREATED,
            organisation=organisation.pk,
            obj=partner,
            summary={"name": name, "kind": kind, "allowed": sorted(allowed)},
        )
    return partner, keys


def _may_manage(actor: Any, partner: Partner) -> None:
    if not isinstance(actor, str):
        require(actor, Perm.MANAGE_PARTNERS)
        same_organisation(actor, partner)


def rotate_key(*, actor: Any, partner: Partner, kind: str) -> str:
    """Replace one of the partner's keys: the old one stops working at once."""
    _may_manage(actor, partner)
    if kind not in KeyKind.values:
        raise ActionError(_("Unknown kind of key."))
    with transaction.atomic():
        partner = Partner.objects.select_for_update().get(pk=partner.pk)
        if partner.revoked_at is not None:
            raise ActionError(_("This partner is revoked; register it again instead."))
        PartnerKey.objects.filter(partner=partner, kind=kind, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        key = _new_key(partner, kind)
        append(
            actor=actor,
            event_type=EventType.PARTNER_KEY_ROTATED,
            organisation=partner.organisation_id,
            obj=partner,
            summary={"kind": kind},
        )
    return key


def revoke_partner(*, actor: Any, partner: Partner) -> None:
    """Revoke every key of the partner; it can fetch, report and submit nothing more."""
    _may_manage(actor, partner)
    with transaction.atomic():
        partner = Partner.objects.select_for_update().get(pk=partner.pk)
        if partner.revoked_at is not None:
            return
        now = timezone.now()
        partner.revoked_at = now
        partner.save(update_fields=["revoked_at"])
        PartnerKey.objects.filter(partner=partner, revoked_at__isnull=True).update(revoked_at=now)
        append(
            actor=actor,
            event_type=EventType.PARTNER_REVOKED,
            organisation=partner.organisation_id,
            obj=partner,
            summary={"name": partner.name},
        )


def partner_for_keys(subscription_key: str, function_key: str, endpoint: str) -> Partner | None:
    """The active partner these two keys belong to, if ``function_key`` is its key for ``endpoint``."""
    if not subscription_key or not function_key or len(subscription_key) > 200 or len(function_key) > 200:
        return None
    subscription = (
        PartnerKey.objects.select_related("partner", "partner__organisation")
        .filter(digest=key_digest(subscription_key), kind=KeyKind.SUBSCRIPTION, revoked_at__isnull=True)
        .first()
    )
    if subscription is None or subscription.partner.revoked_at is not None:
        return None
    function = PartnerKey.objects.filter(
        partner_id=subscription.partner_id,
        digest=key_digest(function_key),
        kind=endpoint,
        revoked_at__isnull=True,
    ).first()
    if function is None:
        return None
    now = timezone.now()
    partner = subscription.partner
    # "Last seen" to the minute: a write per request would slow a fetch of a million hashes.
    for row in (subscription, function, partner):
        if row.last_seen_at is None or (now - row.last_seen_at).total_seconds() > 60:
            type(row).objects.filter(pk=row.pk).update(last_seen_at=now)
            row.last_seen_at = now
    return partner


# --- opaque references ------------------------------------------------------------------------


def _ref_key() -> bytes:
    return hashlib.sha256(b"haven.sharing.refs:" + settings.SECRET_KEY.encode()).digest()


class RefMaker:
    """Opaque references for one partner, computed once per case in a page."""

    def __init__(self, partner_id: int) -> None:
        self.partner_id = partner_id
        self._key = _ref_key()
        self._cases: dict[int, str] = {}

    def _make(self, prefix: str, value: int) -> str:
        mac = hmac.new(self._key, f"{prefix}:{self.partner_id}:{value}".encode(), hashlib.sha256).digest()
        return f"{prefix}-{base64.b32encode(mac[:15]).decode().lower()}"

    def case(self, case_key: int) -> str:
        ref = self._cases.get(case_key)
        if ref is None:
            ref = self._cases[case_key] = self._make("hvc", case_key)
        return ref

    def item(self, item_id: int) -> str:
        return self._make("hvi", item_id)


# --- the feed -----------------------------------------------------------------------------------


def _next_position(organisation_id: int) -> tuple[int, dt.datetime]:
    """The organisation's next feed position and its time (never earlier than the last one)."""
    head, _created = FeedHead.objects.select_for_update().get_or_create(organisation_id=organisation_id)
    now = timezone.now()
    if head.last_time is not None and head.last_time > now:
        now = head.last_time
    head.seq += 1
    head.last_time = now
    head.save(update_fields=["seq", "last_time"])
    return head.seq, now


@dataclass
class Shareable:
    kind: str
    pdq: str = ""
    quality: int | None = None
    md5: str = ""
    extra: list[dict[str, Any]] = field(default_factory=list)
    video_frames: list[list[Any]] = field(default_factory=list)

    @property
    def stopncii(self) -> tuple[str, str]:
        if self.kind == ContentKind.PHOTO and self.pdq:
            return "ImagePDQ", self.pdq
        if self.kind == ContentKind.VIDEO and self.md5:
            return "VideoMD5", self.md5
        return "", ""


def shareable(item: ContentItem) -> Shareable:
    """What of an item may be shared, or an :class:`ActionError` saying why nothing may."""
    if item.removed_at is not None:
        raise ActionError(_("Removed pictures are not shared."))
    if item.kind == ContentKind.PHOTO:
        if not item.pdq:
            raise ActionError(_("Only a photo's PDQ hash is shared, and this photo has none."))
        if item.quality is None:
            raise ActionError(
                _("The PDQ quality of this photo is not known; hash it with Haven to share it.")
            )
        if item.quality < SHARE_QUALITY_FLOOR:
            raise ActionError(
                _("The hash of this photo is too weak to share (quality %(quality)s, at least %(floor)s).")
                % {"quality": item.quality, "floor": SHARE_QUALITY_FLOOR}
            )
        extra = [
            entry
            for entry in item.extra or ()
            if entry.get("quality", QUALITY_FLOOR) >= max(QUALITY_FLOOR, SHARE_QUALITY_FLOOR)
        ]
        return Shareable(ContentKind.PHOTO, pdq=item.pdq, quality=item.quality, extra=extra)
    frames = [list(f) for f in item.video_frames or () if f[1] >= SHARE_QUALITY_FLOOR]
    if not item.md5 and not frames:
        raise ActionError(_("This video has no hash strong enough to share."))
    return Shareable(ContentKind.VIDEO, md5=item.md5, video_frames=frames)


def _activate(row: SharedItem, what: Shareable) -> None:
    seq, now = _next_position(row.organisation_id)
    row.kind = what.kind
    row.pdq, row.quality, row.md5 = what.pdq, what.quality, what.md5
    row.extra, row.video_frames = what.extra, what.video_frames
    row.stopncii_type, row.stopncii_value = what.stopncii
    row.status = ShareStatus.ACTIVE
    row.seq = seq
    row.modified_at = now
    row.save()
    # Deliveries stay: a partner that was sent the row before is told again when it leaves again.
    SharedSignal.objects.filter(item=row).delete()
    values = {what.pdq, what.md5, *(entry["pdq"] for entry in what.extra)} - {""}
    SharedSignal.objects.bulk_create(
        SharedSignal(organisation_id=row.organisation_id, item=row, value=value) for value in sorted(values)
    )


def _deactivate(rows: Sequence[SharedItem], status: str) -> None:
    """Take rows out of the feed as ``status``: the partners that were sent them see the tombstone."""
    if not rows:
        return
    for row in rows:
        seq, now = _next_position(row.organisation_id)
        row.status = status
        row.seq = seq
        row.modified_at = now
        row.save(update_fields=["status", "seq", "modified_at"])
    # Erased rows are blanked later (purge_erased, from fetches and the worker), never here: that
    # would lock erased rows after the audit head, the other way round from a fetch.
    _touch(_twins(rows))


def _touch(rows: Iterable[SharedItem]) -> None:
    """Give rows a new position without changing them otherwise, so that every partner fetches them
    again: their feedback changed, or a twin's tombstone may have deleted their hash at a client."""
    for row in rows:
        seq, now = _next_position(row.organisation_id)
        row.seq = seq
        row.modified_at = now
        row.save(update_fields=["seq", "modified_at"])


def _twins(rows: Sequence[SharedItem]) -> list[SharedItem]:
    """Active rows that carry a hash of ``rows`` (the same picture in another case or item).

    A client keyed by hash deletes the hash when one of them is withdrawn; sending the active one
    again after the tombstone puts it back.
    """
    organisation_id = rows[0].organisation_id
    values = SharedSignal.objects.filter(item__in=[row.pk for row in rows]).values("value")
    twins = SharedSignal.objects.filter(organisation_id=organisation_id, value__in=values)
    return list(
        SharedItem.objects.select_for_update(of=("self",))
        .filter(organisation_id=organisation_id, status=ShareStatus.ACTIVE)
        .filter(pk__in=twins.values("item_id"))
        .exclude(pk__in=[row.pk for row in rows])
        .order_by("seq")
    )


ERASE_GRACE = dt.timedelta(minutes=10)
"""How long an erased row no partner was sent keeps its hashes: a fetch that read the row while it
was still active may commit its delivery a moment after the erasure."""


def purge_erased(organisation_id: int) -> int:
    """Blank the hashes of erased rows that no partner needs any more: those no active partner was
    sent (after :data:`ERASE_GRACE`), or whose every partner has asked to continue past the
    tombstone. Returns how many."""
    rows = list(
        SharedItem.objects.select_for_update()
        .filter(organisation_id=organisation_id, status=ShareStatus.DELETED, purged=False)
        .order_by("seq")
    )
    if not rows:
        return 0
    waiting: dict[int, int] = {}
    for item_id, acked in Delivery.objects.filter(
        item__in=[row.pk for row in rows], partner__revoked_at__isnull=True
    ).values_list("item_id", "partner__acked_seq"):
        waiting[item_id] = min(acked, waiting.get(item_id, acked))
    settled = timezone.now() - ERASE_GRACE
    done = [
        row
        for row in rows
        if (row.pk in waiting and waiting[row.pk] >= row.seq)
        or (row.pk not in waiting and row.modified_at <= settled)
    ]
    for row in done:
        row.pdq = row.md5 = row.stopncii_value = ""
        row.quality = None
        row.extra = []
        row.video_frames = []
        row.purged = True
        row.save(update_fields=["pdq", "md5", "stopncii_value", "quality", "extra", "video_frames", "purged"])
    Delivery.objects.filter(item__in=[row.pk for row in done]).delete()
    SharedSignal.objects.filter(item__in=[row.pk for row in done]).delete()
    if done:
        append(
            actor="worker",
            event_type=EventType.SHARING_PURGED,
            organisation=organisation_id,
            summary={"items": len(done)},
        )
    return len(done)


@dataclass(frozen=True)
class Approval:
    approved: int
    skipped: list[tuple[str, str]]
    """(label, reason) of the items that could not be shared."""


def approve_items(*, actor: Any, case: Case, item_ids: Iterable[int] | None = None) -> Approval:
    """Mark a case's items as fit to share (all its items when ``item_ids`` is None).

    Needs the case's share consent. Items that cannot be shared (too weak, removed) are skipped
    and named; approving one such item by id is refused with the reason.
    """
    require(actor, Perm.APPROVE_SHARING)
    same_organisation(actor, case)
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        if not current_consent(case)[ConsentScope.SHARE]:
            raise ActionError(
                _("The survivor has not agreed to share hashes with partners; record that consent first.")
            )
        # The items are locked too: a removal committing meanwhile must not leave a removed item shared.
        items = (
            case.content.select_for_update(of=("self",))
            .filter(removed_at__isnull=True)
            .select_related("shared")
        )
        wanted = None if item_ids is None else set(item_ids)
        if wanted is not None:
            items = items.filter(pk__in=wanted)
            if len(items) != len(wanted):
                raise ActionError(_("No such picture on this case."))
        approved: list[int] = []
        skipped: list[tuple[str, str]] = []
        now = timezone.now()
        for item in items:
            try:
                what = shareable(item)
            except ActionError as exc:
                if wanted is not None and len(wanted) == 1:
                    raise
                skipped.append((item.label, str(exc)))
                continue
            row = getattr(item, "shared", None)
            if row is not None and row.status == ShareStatus.ACTIVE:
                continue
            if row is None:
                row = SharedItem(
                    organisation_id=case.organisation_id, content_item=item, case=case, case_key=case.pk
                )
            row.reviewed_by = actor if isinstance(actor, User) else None
            row.reviewed_at = now
            row.approved = True
            _activate(row, what)
            approved.append(item.pk)
        if approved:
            append(
                actor=actor,
                event_type=EventType.SHARING_APPROVED,
                organisation=case.organisation_id,
                obj=case,
                summary={"items": approved},
            )
    return Approval(len(approved), skipped)


def approve_case(*, actor: Any, case: Case) -> int:
    """Approve every shareable item of a case; returns how many were newly shared."""
    return approve_items(actor=actor, case=case).approved


def unshare_item(*, actor: Any, item: ContentItem) -> None:
    """Take one item back from partners, and keep it from going back when the survivor gives share
    consent again (consent itself stays as it is)."""
    require(actor, Perm.APPROVE_SHARING)
    same_organisation(actor, item)
    with transaction.atomic():
        row = SharedItem.objects.select_for_update().filter(content_item=item).first()
        if row is None or not row.approved:
            return
        row.approved = False
        row.save(update_fields=["approved"])
        if row.status == ShareStatus.ACTIVE:
            _deactivate([row], ShareStatus.WITHDRAWN)
        append(
            actor=actor,
            event_type=EventType.SHARING_WITHDRAWN,
            organisation=item.organisation_id,
            obj=item.case,
            summary={"items": [item.pk]},
        )


def withdraw_case(case: Case) -> None:
    """Share consent withdrawn: every item of the case leaves the feed (caller's transaction)."""
    rows = list(
        SharedItem.objects.select_for_update().filter(case=case, status=ShareStatus.ACTIVE).order_by("seq")
    )
    _deactivate(rows, ShareStatus.WITHDRAWN)


def reshare_case(case: Case) -> None:
    """Share consent granted again: the items reviewed before go back to partners (inside the
    granting transaction, which audits the consent; the items are named in an event of their own)."""
    rows = (
        SharedItem.objects.select_for_update(of=("self",))
        .filter(case=case, approved=True)
        .exclude(status=ShareStatus.ACTIVE)
    )
    shared: list[int] = []
    for row in rows.select_related("content_item").order_by("seq"):
        item = row.content_item
        if item is None or item.removed_at is not None or row.status == ShareStatus.DELETED:
            continue
        try:
            what = shareable(item)
        except ActionError:
            continue
        _activate(row, what)
        shared.append(item.pk)
    if shared:
        append(
            actor="consent given again",
            event_type=EventType.SHARING_APPROVED,
            organisation=case.organisation_id,
            obj=case,
            summary={"items": shared},
        )


def withdraw_items(items: Sequence[ContentItem], *, erased: bool) -> None:
    """Items removed (``erased``: "delete my data"): they leave the feed as Withdrawn or Deleted."""
    ids = [item.pk for item in items]
    status = ShareStatus.DELETED if erased else ShareStatus.WITHDRAWN
    rows = SharedItem.objects.select_for_update().filter(content_item_id__in=ids).order_by("seq")
    # A row already withdrawn still becomes Deleted, so that its tombstone says the survivor erased it.
    rows = rows.exclude(status=ShareStatus.DELETED) if erased else rows.filter(status=ShareStatus.ACTIVE)
    _deactivate(list(rows), status)


# --- what partners send -----------------------------------------------------------------------


@dataclass(frozen=True)
class FeedbackEntry:
    hash_value: str
    value: str
    tags: tuple[str, ...] = ()


def _sent_rows(partner: Partner, values: set[str]) -> dict[str, list[SharedItem]]:
    """The rows this partner was sent that carry each of ``values`` (a whole PDQ, a crop, an MD5)."""
    signals = SharedSignal.objects.filter(
        organisation_id=partner.organisation_id,
        value__in=values,
        item__deliveries__partner=partner,
        item__purged=False,
    ).select_related("item", "item__case")
    found: dict[str, list[SharedItem]] = {}
    for signal in signals:
        found.setdefault(signal.value, []).append(signal.item)
    return found


def submit_feedback(*, partner: Partner, entries: Sequence[FeedbackEntry]) -> int:
    """Feedback on hashes the partner was sent; all entries or none. Each partner's latest word on
    an item is kept (sending the same again changes nothing); a change lands on the case."""
    if not entries:
        raise ActionError(_("No feedback given."))
    latest = {e.hash_value: e for e in entries}
    found = _sent_rows(partner, set(latest))
    unknown = sorted(set(latest) - set(found))
    if unknown:
        raise ActionError(
            _("These hashes were never sent to you: %(hashes)s")
            % {"hashes": ", ".join(h[:16] + "…" for h in unknown[:5])}
        )
    with transaction.atomic():
        changed: dict[int, tuple[SharedItem, str]] = {}
        for value, entry in latest.items():
            for row in found[value]:
                tags = sorted(set(entry.tags))
                current = Feedback.objects.select_for_update().filter(partner=partner, item=row).first()
                if current is not None and (current.value, current.tags) == (entry.value, tags):
                    continue
                if current is None:
                    Feedback.objects.create(
                        organisation_id=partner.organisation_id,
                        partner=partner,
                        item=row,
                        value=entry.value,
                        tags=tags,
                    )
                else:
                    current.value, current.tags = entry.value, tags
                    current.save(update_fields=["value", "tags", "updated_at"])
                changed[row.pk] = (row, entry.value)
        # The feedback is part of the record partners see (CSPFeedbacks): the rows move up the feed.
        _touch(SharedItem.objects.select_for_update().filter(pk__in=list(changed)).order_by("seq"))
        per_case: dict[int | None, list[tuple[SharedItem, str]]] = {}
        for row, value in changed.values():
            per_case.setdefault(row.case_id, []).append((row, value))
        for case_id, pairs in per_case.items():
            append(
                actor=f"partner:{partner.name}",
                event_type=EventType.PARTNER_FEEDBACK,
                organisation=partner.organisation_id,
                obj=pairs[0][0].case if case_id is not None else None,
                summary={
                    "partner": partner.name,
                    "values": sorted({value for _row, value in pairs}),
                    "items": sorted({row.content_item_id or 0 for row, _value in pairs}),
                },
            )
    return len(entries)


@dataclass(frozen=True)
class SubmittedHash:
    signal_type: str
    value: str
    tags: tuple[str, ...] = ()
    opinion: str = ""


def submit_hashes(*, partner: Partner, entries: Sequence[SubmittedHash]) -> int:
    """Hashes a partner found itself, into quarantine; a hash sent again changes nothing."""
    if not entries:
        raise ActionError(_("No hashes given."))
    with transaction.atomic():
        added = 0
        for entry in entries:
            if entry.signal_type not in SignalType.values:
                raise ActionError(_("Unknown signal type."))
            _row, created = QuarantinedHash.objects.get_or_create(
                partner=partner,
                signal_type=entry.signal_type,
                value=entry.value,
                defaults={
                    "organisation_id": partner.organisation_id,
                    "tags": list(entry.tags),
                    "partner_opinion": entry.opinion,
                },
            )
            added += created
        append(
            actor=f"partner:{partner.name}",
            event_type=EventType.PARTNER_HASHES_SUBMITTED,
            organisation=partner.organisation_id,
            obj=partner,
            summary={"received": len(entries), "new": added},
        )
    return added


def review_quarantined(*, actor: Any, entry: QuarantinedHash, accept: bool) -> QuarantinedHash:
    """A reviewer accepts a partner's hash (it may match from now on) or rejects it."""
    require(actor, Perm.REVIEW)
    same_organisation(actor, entry)
    with transaction.atomic():
        entry = QuarantinedHash.objects.select_for_update().get(pk=entry.pk)
        if entry.status != QuarantineStatus.PENDING:
            raise ActionError(_("This hash was reviewed already."))
        entry.status = QuarantineStatus.ACCEPTED if accept else QuarantineStatus.REJECTED
        entry.reviewed_by = actor
        entry.reviewed_at = timezone.now()
        entry.save(update_fields=["status", "reviewed_by", "reviewed_at"])
        append(
            actor=actor,
            event_type=EventType.QUARANTINE_REVIEWED,
            organisation=entry.organisation_id,
            obj=entry,
            summary={"partner": entry.partner_id, "status": entry.status},
        )
    return entry


def _record_deliveries(partner_id: int, item_ids: Sequence[int]) -> None:
    if not item_ids:
        return
    if connection.vendor == "postgresql":
        # One statement for a thousand rows: bulk_create would build and bind a model per row.
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {Delivery._meta.db_table} (partner_id, item_id) "  # table name only
                "SELECT %s, unnest(%s::bigint[]) ON CONFLICT DO NOTHING",
                [partner_id, list(item_ids)],
            )
        return
    Delivery.objects.bulk_create(
        [Delivery(partner_id=partner_id, item_id=item_id) for item_id in item_ids], ignore_conflicts=True
    )


def record_fetch(*, partner: Partner, low: int, sent: Sequence[int], count: int) -> None:
    """After a page was read (in its transaction): remember which active rows the partner was sent,
    that it asked to continue after ``low``, and audit every page that held records."""
    _record_deliveries(partner.pk, sent)
    if low > partner.acked_seq:
        Partner.objects.filter(pk=partner.pk, acked_seq__lt=low).update(acked_seq=low)
        partner.acked_seq = low
        purge_erased(partner.organisation_id)
    if count:
        append(
            actor=f"partner:{partner.name}",
            event_type=EventType.PARTNER_FETCHED,
            organisation=partner.organisation_id,
            obj=partner,
            summary={"after": low, "records": count},
        )


@dataclass(frozen=True)
class PartnerNews:
    """What the survivor's portal says about sharing, in counts only."""

    shared: int
    blocked: int
    found: int


def partner_news(case: Case) -> PartnerNews:
    """Shared pictures and what partners reported on them, for the survivor's status page."""
    from .models import Feedback, FeedbackValue

    shared = SharedItem.objects.filter(case=case, status=ShareStatus.ACTIVE).count()
    # One word per partner and picture: a partner that repeats itself is counted once.
    values = list(Feedback.objects.filter(item__case=case).values_list("value", flat=True))
    blocked = sum(1 for v in values if v == FeedbackValue.BLOCKED)
    found = sum(1 for v in values if v in (FeedbackValue.PENDING_REVIEW, FeedbackValue.NOT_BLOCKED))
    return PartnerNews(shared, blocked, found)
