"""Every write the survivor portal makes. There is no signed-in user: the audit actor is "portal"."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.core.cache import cache
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from haven.web.accounts.models import Organisation
from haven.web.accounts.roles import Perm
from haven.web.audit.chain import append, append_read
from haven.web.audit.models import EventType
from haven.web.cases.actions import (
    HashInput,
    _normalise,
    apply_consent,
    content_removed,
    current_consent,
    insert_case,
    new_items,
    store_items,
)
from haven.web.cases.models import (
    MAX_VIDEO_FRAMES,
    Case,
    ConsentMethod,
    ConsentRecord,
    ConsentScope,
    ContentItem,
    ContentKind,
    IndexChange,
)
from haven.web.core import crypto
from haven.web.core.access import require, same_organisation
from haven.web.core.errors import ActionError
from haven.web.notifications.actions import case_team, notify, users_who_can
from haven.web.notifications.models import Kind, Notification

from .models import MESSAGE_CONTEXT, PortalAccess, PortalMessage, PortalNetworkLock

ACTOR = "portal"
MAX_ITEMS = 20
CONTACT_MAX = 1000
PIN_DIGITS = 8
MESSAGE_MAX = 4000  # characters in one message
THREAD_MAX = 500  # messages kept on one case: she can delete the thread and start again
# Frame hashes in one submission: three hours of video at one frame a second.
MAX_SUBMISSION_FRAMES = 3 * MAX_VIDEO_FRAMES

# The scopes a survivor can decide on herself in the portal; police and service referrals need
# a conversation with a counsellor first.
PORTAL_SCOPES = (
    ConsentScope.MONITOR,
    ConsentScope.TAKEDOWN,
    ConsentScope.SHARE,
    ConsentScope.CONTACT,
    ConsentScope.STATISTICS,
)

LOCK_AFTER = 5  # wrong PINs for a case from one network before that network waits
CASE_LOCK_AFTER = 30  # from all networks together, before every network but hers waits
FIRST_LOCK = dt.timedelta(minutes=1)
LONGEST_LOCK = dt.timedelta(hours=24)
CLIENT_LIMIT = 20
CLIENT_WINDOW = dt.timedelta(minutes=10)

# Argon2 explicitly (not the first of PASSWORD_HASHERS): a PIN has only 10^8 values, so each
# guess must be expensive even where a deployment chose a faster hasher for passwords.
_HASHER = Argon2PasswordHasher()


# Verified against when a case number does not exist, so that an unknown number costs the same
# time as a wrong PIN.
@functools.cache
def _dummy_hash() -> str:
    return _HASHER.encode("00000000", _HASHER.salt())


class PortalLocked(Exception):
    """Too many attempts: try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = max(1, retry_after)


def new_pin() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(PIN_DIGITS))


def _label(kind: str, n: int) -> str:
    return (_("video %(n)s") if kind == ContentKind.VIDEO else _("photo %(n)s")) % {"n": n}


def _clean_items(items: Any, *, numbered_from: int = 1) -> list[HashInput]:
    if not isinstance(items, Sequence) or isinstance(items, str | bytes) or not items:
        raise ActionError(_("Choose at least one picture."))
    if len(items) > MAX_ITEMS:
        raise ActionError(_("Send at most %(max)s pictures at a time.") % {"max": MAX_ITEMS})
    clean = []
    counts = {ContentKind.PHOTO: numbered_from - 1, ContentKind.VIDEO: numbered_from - 1}
    for item in items:
        if not isinstance(item, Mapping):
            raise ActionError(_("The pictures’ hashes were not in the expected form."))
        kind = item.get("kind") or ContentKind.PHOTO
        if kind not in counts:
            raise ActionError(_("The pictures’ hashes were not in the expected form."))
        fields: dict[str, Any] = {
            "pdq": item.get("pdq") or "",
            "md5": item.get("md5") or "",
            "sha256": item.get("sha256") or "",
            "quality": item.get("quality"),
            "dihedral": item.get("dihedral") or [],
        }
        text_ok = all(isinstance(fields[k], str) for k in ("pdq", "md5", "sha256"))
        dihedral = fields["dihedral"]
        dihedral_ok = isinstance(dihedral, list) and all(isinstance(h, str) for h in dihedral)
        quality = fields["quality"]
        quality_ok = quality is None or (isinstance(quality, int) and not isinstance(quality, bool))
        if not (text_ok and dihedral_ok and quality_ok):
            raise ActionError(_("The pictures’ hashes were not in the expected form."))
        counts[kind] += 1
        # Labels are the server's own: what the page sends as a label is not kept.
        label = _label(kind, counts[kind])
        if kind == ContentKind.VIDEO:
            frames = item.get("video_frames")
            # _normalise checks each frame; only the shape of the list is read here.
            video_frames = tuple(frames) if isinstance(frames, list) else ()
        else:
            video_frames = ()
            if item.get("video_frames"):
                raise ActionError(_("The pictures’ hashes were not in the expected form."))
        clean.append(
            _normalise(
                HashInput(
                    label=label,
                    pdq=fields["pdq"],
                    quality=quality,
                    pdq_dihedral=tuple(dihedral),
                    md5=fields["md5"],
                    sha256=fields["sha256"],
                    kind=kind,
                    video_frames=video_frames,
                    # Checked entry by entry by _normalise, as from any other client.
                    extra=item.get("extra"),
                )
            )
        )
    if sum(len(i.video_frames) for i in clean) > MAX_SUBMISSION_FRAMES:
        raise ActionError(
            _("Send at most %(hours)s hours of video at a time.") % {"hours": MAX_SUBMISSION_FRAMES // 3600}
        )
    return clean


def _clean_consents(consents: Any) -> dict[str, bool]:
    if not isinstance(consents, Mapping):
        raise ActionError(_("The consent choices were not in the expected form."))
    unknown = set(consents) - set(PORTAL_SCOPES)
    if unknown or not all(isinstance(v, bool) for v in consents.values()):
        raise ActionError(_("The consent choices were not in the expected form."))
    return {scope: bool(consents.get(scope, False)) for scope in PORTAL_SCOPES}


def submit_hashes(
    *,
    organisation: Organisation,
    items: Any,
    consents: Any,
    contact: str = "",
    minor_when_made: bool = False,
    client: str = "",
) -> tuple[Case, str, str]:
    """A survivor's own submission: an intake case with her hashes and choices.

    Returns the case, its number and the PIN, which is shown to her once and kept only as a hash.
    ``client`` (the requester's address) counts against the same per-client limit as PIN checks,
    so that nobody can flood a centre with cases; raises PortalLocked past it.
    """
    if client:
        _count_client_attempt(client)
    clean = _clean_items(items)
    choices = _clean_consents(consents)
    if not isinstance(contact, str) or not isinstance(minor_when_made, bool):
        raise ActionError(_("The form was not in the expected form."))
    contact = contact.strip()
    if "\x00" in contact:
        raise ActionError(_("The text must not contain NUL characters."))
    if len(contact) > CONTACT_MAX:
        raise ActionError(
            _("Keep the contact details to %(max)s characters or fewer.") % {"max": CONTACT_MAX}
        )
    pin = new_pin()
    with transaction.atomic():
        case = insert_case(
            Case(organisation=organisation, minor_when_made=minor_when_made, intake_channel="portal"),
            contact=contact,
        )
        for scope, granted in choices.items():
            ConsentRecord.objects.create(case=case, scope=scope, granted=granted, method=ConsentMethod.PORTAL)
        created = [c.pk for c in store_items(case, clean, monitored=choices[ConsentScope.MONITOR])]
        PortalAccess.objects.create(case=case, pin_hash=_HASHER.encode(pin, _HASHER.salt()))
        # No hashes and no contact details in the trail: just what came in.
        append(
            actor=ACTOR,
            event_type=EventType.CASE_CREATED,
            organisation=organisation,
            obj=case,
            summary={
                "number": case.number,
                "source": "portal",
                "items": created,
                "consents": sorted(s for s, granted in choices.items() if granted),
                "child_protection": case.child_protection,
            },
        )
        case_url = reverse("cases:detail", args=[case.number])
        # Everyone who may take her case on hears of it; the case is nobody's yet.
        notify(
            users=users_who_can(organisation, Perm.VIEW_CONTACT),
            kind=Kind.PORTAL_CASE,
            key=f"portal_case:{case.pk}",
            organisation=organisation,
            case=case,
            params={"case": case.number},
            url=case_url,
        )
    return case, case.number, pin


CASE_ITEMS_MAX = 500  # pictures and videos she may add to one case in the portal, in all


def add_hashes(*, case: Case, items: Any) -> tuple[int, int]:
    """She adds pictures or videos to her own case (hashes only, as on submitting); those whose
    hashes the case already holds are left out.  Returns (added, left out as already there).  Her
    counsellor hears of it.  Her consent to monitoring, as it stands, decides the matching."""
    with transaction.atomic():
        case = Case.objects.select_for_update(of=("self",)).select_related("assignee").get(pk=case.pk)
        if is_deleted(case):
            raise ActionError(
                _(
                    "Your data is deleted, so nothing can be added to this case. "
                    "Send your pictures as a new case."
                )
            )
        held = case.content.count()
        clean = _clean_items(items, numbered_from=held + 1)
        if held + len(clean) > CASE_ITEMS_MAX:
            raise ActionError(_("This case holds as many pictures as it can. Please call the centre."))
        fresh, duplicates = new_items(case, clean)
        if not fresh:
            return 0, len(duplicates)
        # Numbered on from what the case holds, without the gaps the left-out ones would leave.
        fresh = [
            dataclasses.replace(item, label=_label(item.kind, held + n))
            for n, item in enumerate(fresh, start=1)
        ]
        created = store_items(case, fresh, monitored=current_consent(case)[ConsentScope.MONITOR])
        append(
            actor=ACTOR,
            event_type=EventType.CONTENT_ADDED,
            organisation=case.organisation_id,
            obj=case,
            summary={"items": [c.pk for c in created], "by": "survivor", "duplicates": len(duplicates)},
        )
        notify(
            users=case_team(case),
            kind=Kind.SURVIVOR_PICTURES,
            key=f"portal_pictures:{created[0].pk}",
            organisation=case.organisation_id,
            case=case,
            params={"case": case.number},
            url=reverse("cases:detail", args=[case.number]) + "#content-panel",
        )
    return len(created), len(duplicates)


def normalise_case_number(value: str) -> str:
    body = "".join(ch for ch in value.upper() if ch.isalnum())
    if body.startswith("HV"):
        body = body[2:]
    return f"HV-{body[:4]}-{body[4:]}" if len(body) == 8 else ""


def _client_key(client: str) -> str:
    return f"portal:attempts:{client}"


def _count_client_attempt(client: str) -> None:
    key = _client_key(client)
    window = int(CLIENT_WINDOW.total_seconds())
    if cache.add(key, 1, timeout=window):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=window)
            count = 1
    if count > CLIENT_LIMIT:
        raise PortalLocked(window)


def _lock_for(failures: int) -> dt.timedelta:
    if failures < LOCK_AFTER:
        return dt.timedelta(0)
    lock: dt.timedelta = FIRST_LOCK * 2 ** min(failures - LOCK_AFTER, 20)
    return min(lock, LONGEST_LOCK)


def _unknown_keys(number: str, client: str) -> tuple[str, str]:
    network = _network_key(f"unknown:{number}", client)
    return f"portal:unknown:{number or '-'}:{network[:32]}", f"portal:unknown:{number or '-'}"


def _check_unknown(number: str, pin: str, now: dt.datetime, client: str) -> None:
    """Wrong guesses at a number that does not exist lock it just as for a real one: per network,
    then for every network past CASE_LOCK_AFTER (so locks tell no one whether a case exists)."""
    network_key, number_key = _unknown_keys(number, client)
    keep = int(LONGEST_LOCK.total_seconds()) * 2
    failures, locked_until = cache.get(network_key, (0, None))
    if locked_until is not None and locked_until > now:
        raise PortalLocked(int((locked_until - now).total_seconds()) + 1)
    total, case_locked_until = cache.get(number_key, (0, None))
    if case_locked_until is not None and case_locked_until > now:
        raise PortalLocked(int((case_locked_until - now).total_seconds()) + 1)
    _HASHER.verify(pin, _dummy_hash())
    failures, total = failures + 1, total + 1
    lock = _lock_for(failures)
    cache.set(network_key, (failures, now + lock if lock else None), timeout=keep)
    case_lock = _lock_for(total - (CASE_LOCK_AFTER - LOCK_AFTER))
    cache.set(number_key, (total, now + case_lock if case_lock else None), timeout=keep)


def network_of(client: str) -> str:
    """The network a client address belongs to: its IPv4 /24 or IPv6 /56 (one home, one office,
    one mobile carrier's pool), or the text itself when it is not an address."""
    try:
        address = ipaddress.ip_address(client.strip())
    except ValueError:
        return f"other:{client.strip()[:64]}"
    prefix = 24 if address.version == 4 else 56
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def _network_key(case: object, client: str) -> str:
    """A keyed hash of the client's network for one case (or case number): no address is ever
    stored, and the same network hashes differently for each case."""
    message = f"{case}:{network_of(client)}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def check_access(*, case_number: str, pin: str, client: str) -> Case | None:
    """The case for this number and PIN, or None; raises PortalLocked after too many tries.

    Wrong PINs lock the case number for the network they came from (5, then a back-off that doubles
    up to a day), so someone who saw her case number locks out his own network, not hers.  Past 30
    wrong PINs from all networks together, every network waits but those the right PIN came from
    before: guessing from many networks stays as slow.  The centre can unlock (``unlock``).

    A number that does not exist answers exactly as a wrong PIN does, in about the same time.
    ``client`` identifies the requester (its IP address) for the per-client rate limit.
    """
    _count_client_attempt(client)
    now = timezone.now()
    number = normalise_case_number(case_number if isinstance(case_number, str) else "")
    pin = pin.strip() if isinstance(pin, str) else ""
    with transaction.atomic():
        access = (
            PortalAccess.objects.select_for_update()
            .select_related("case")
            .filter(case__number=number)
            .first()
            if number
            else None
        )
        if access is None:
            if number:
                _check_unknown(number, pin, now, client)
            else:  # not even the shape of a case number: no case can be guessed, nothing to lock
                _HASHER.verify(pin, _dummy_hash())
            return None
        network, _new = PortalNetworkLock.objects.select_for_update().get_or_create(
            access=access, network=_network_key(access.pk, client)
        )
        if network.locked_until is not None and network.locked_until > now:
            raise PortalLocked(int((network.locked_until - now).total_seconds()) + 1)
        if not network.known and access.locked_until is not None and access.locked_until > now:
            raise PortalLocked(int((access.locked_until - now).total_seconds()) + 1)
        if _HASHER.verify(pin, access.pin_hash):
            network.failures, network.locked_until, network.known = 0, None, True
            network.save(update_fields=["failures", "locked_until", "known"])
            if access.failed_attempts or access.locked_until:
                access.failed_attempts = 0
                access.locked_until = None
                access.save(update_fields=["failed_attempts", "locked_until"])
            return access.case
        # Failed guesses are counted here, not audited: an attacker could otherwise grow the trail.
        network.failures += 1
        lock = _lock_for(network.failures)
        network.locked_until = now + lock if lock else None
        network.save(update_fields=["failures", "locked_until"])
        access.failed_attempts += 1
        access.last_failed_at = now
        case_lock = _lock_for(access.failed_attempts - (CASE_LOCK_AFTER - LOCK_AFTER))
        access.locked_until = now + case_lock if case_lock else None
        access.save(update_fields=["failed_attempts", "last_failed_at", "locked_until"])
    return None


def unlock(*, actor: Any, case: Case, replace_pin: bool = False) -> str | None:
    """The centre lets her in again after verifying her (by phone, in person): every lock on her
    case number is lifted, and with ``replace_pin`` her PIN is replaced (returned once, to tell her).
    Audited, without the PIN."""
    require(actor, Perm.VIEW_CONTACT)
    same_organisation(actor, case)
    new_pin_value = None
    with transaction.atomic():
        access = PortalAccess.objects.select_for_update().filter(case=case).first()
        if access is None:
            raise ActionError(_("This case was not made in the survivor portal: there is nothing to unlock."))
        access.failed_attempts, access.locked_until = 0, None
        fields = ["failed_attempts", "locked_until"]
        if replace_pin:
            new_pin_value = new_pin()
            access.pin_hash = _HASHER.encode(new_pin_value, _HASHER.salt())
            fields.append("pin_hash")
        access.save(update_fields=fields)
        access.networks.all().delete()
        append(
            actor=actor,
            event_type=EventType.PORTAL_PIN_RESET if replace_pin else EventType.PORTAL_UNLOCKED,
            organisation=case.organisation_id,
            obj=case,
            summary={"case": case.number},
        )
    return new_pin_value


def _withdraw_all(case: Case) -> list[str]:
    """Withdraw every granted scope (inside the caller's transaction); returns the scopes."""
    granted = [scope for scope, on in current_consent(case).items() if on]
    for scope in granted:
        apply_consent(case, scope, False, method=ConsentMethod.PORTAL)
    return granted


def withdraw(*, case: Case) -> list[str]:
    """The survivor withdraws every consent: her hashes leave the matching index at once."""
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        scopes = _withdraw_all(case)
        append(
            actor=ACTOR,
            event_type=EventType.CONSENT_WITHDRAWN,
            organisation=case.organisation_id,
            obj=case,
            summary={"scopes": scopes, "method": ConsentMethod.PORTAL.value},
        )
    return scopes


def change_consent(*, case: Case, scope: Any, granted: Any) -> bool:
    """She gives or withdraws one purpose herself (those of ``PORTAL_SCOPES``); a withdrawal takes
    effect before this returns, as for staff.  Returns whether anything changed: asking for what
    is already so records nothing."""
    if scope not in PORTAL_SCOPES or not isinstance(granted, bool):
        raise ActionError(_("The consent choices were not in the expected form."))
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        if is_deleted(case) and granted:
            raise ActionError(_("Your data is deleted: there is nothing left to use."))
        if current_consent(case)[scope] == granted:
            return False
        apply_consent(case, scope, granted, method=ConsentMethod.PORTAL)
        append(
            actor=ACTOR,
            event_type=EventType.CONSENT_GRANTED if granted else EventType.CONSENT_WITHDRAWN,
            organisation=case.organisation_id,
            obj=case,
            summary={"scope": str(scope), "method": ConsentMethod.PORTAL.value},
        )
    return True


def progress(case: Case) -> dict[str, int]:
    """What has happened to her pictures, in numbers she can read: copies the centre found, removal
    requests it sent, copies removed (partners' blocks are in ``sharing.actions.partner_news``)."""
    from haven.web.takedown.models import Notice, NoticeState, Sighting, SightingState

    sightings = Sighting.objects.filter(case=case)
    return {
        "found": sightings.count(),
        "requests": Notice.objects.filter(case=case, sent_at__isnull=False)
        .exclude(state=NoticeState.READY)
        .count(),
        "removed": sightings.filter(state=SightingState.REMOVED).count(),
    }


def delete_my_data(*, case: Case) -> None:
    """Withdraw, then blank every hash and erase the contact details; an anonymised case remains."""
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        scopes = _withdraw_all(case)
        now = timezone.now()
        items = list(case.content.select_for_update())
        for item in items:
            item.removed_at = item.removed_at or now
            item.pdq = item.md5 = item.sha256 = ""
            item.pdq_dihedral = []
            item.video_frames = []
            item.extra = []
            item.quality = None
            item.save(
                update_fields=[
                    "removed_at",
                    "pdq",
                    "md5",
                    "sha256",
                    "pdq_dihedral",
                    "video_frames",
                    "extra",
                    "quality",
                ]
            )
            IndexChange.objects.create(content_item=item, op=IndexChange.Op.REMOVE)
        content_removed.send(sender=ContentItem, items=items, erased=True)
        case.contact_encrypted = None
        case.save(update_fields=["contact_encrypted", "updated_at"])
        messages_deleted, _by_model = PortalMessage.objects.filter(case=case).delete()
        append(
            actor=ACTOR,
            event_type=EventType.CONTENT_REMOVED,
            organisation=case.organisation_id,
            obj=case,
            summary={
                "items": [item.pk for item in items],
                "withdrawn": scopes,
                "contact_erased": True,
                "messages_deleted": messages_deleted,
                "by": "survivor",
            },
        )


def is_deleted(case: Case) -> bool:
    return case.content.exists() and not case.content.filter(removed_at__isnull=True).exists()


# --- messages between the survivor and her centre ----------------------------------------------


@dataclass(frozen=True)
class Message:
    """A message as either side reads it, decrypted."""

    pk: int
    from_survivor: bool
    author: str  # the staff member's name; blank for hers
    text: str
    created_at: dt.datetime
    read_at: dt.datetime | None


def _clean_message(value: Any) -> str:
    if not isinstance(value, str):
        raise ActionError(_("The message was not in the expected form."))
    text = value.replace("\r\n", "\n").strip()
    if not text:
        raise ActionError(_("Write a message first."))
    if "\x00" in text:
        raise ActionError(_("The text must not contain NUL characters."))
    if len(text) > MESSAGE_MAX:
        raise ActionError(_("Keep a message to %(max)s characters or fewer.") % {"max": MESSAGE_MAX})
    return text


def _store_message(case: Case, text: str, *, author: Any = None) -> PortalMessage:
    if PortalMessage.objects.filter(case=case).count() >= THREAD_MAX:
        raise ActionError(
            _("This conversation is full. Delete it to start a new one, or call the centre.")
            if author is None
            else _("This conversation is full: she can delete it in the portal to start a new one.")
        )
    return PortalMessage.objects.create(
        case=case,
        from_survivor=author is None,
        author=author,
        body_encrypted=crypto.encrypt(text, MESSAGE_CONTEXT),
    )


def survivor_writes(*, case: Case, text: Any) -> PortalMessage:
    """She writes to her centre; her counsellor (or, for a case nobody holds yet, everyone who may
    read it) is notified.  Audited without the text."""
    text = _clean_message(text)
    with transaction.atomic():
        case = Case.objects.select_for_update(of=("self",)).select_related("assignee").get(pk=case.pk)
        message = _store_message(case, text)
        append(
            actor=ACTOR,
            event_type=EventType.PORTAL_MESSAGE_SENT,
            organisation=case.organisation_id,
            obj=case,
            summary={"message": message.pk, "from": "survivor"},
        )
        notify(
            users=case_team(case),
            kind=Kind.SURVIVOR_MESSAGE,
            key=f"portal_message:{message.pk}",
            organisation=case.organisation_id,
            case=case,
            params={"case": case.number},
            url=reverse("portal_staff:messages", args=[case.number]),
        )
    return message


def staff_writes(*, actor: Any, case: Case, text: Any) -> PortalMessage:
    """A counsellor answers.  Nothing is sent to her: she reads it when she next signs in."""
    require(actor, Perm.VIEW_CONTACT)
    same_organisation(actor, case)
    text = _clean_message(text)
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        if not PortalAccess.objects.filter(case=case).exists():
            raise ActionError(
                _("This case was not made in the survivor portal: she cannot read messages there.")
            )
        message = _store_message(case, text, author=actor)
        append(
            actor=actor,
            event_type=EventType.PORTAL_MESSAGE_SENT,
            organisation=case.organisation_id,
            obj=case,
            summary={"message": message.pk, "from": "centre"},
        )
    return message


def _decrypted(rows: Sequence[PortalMessage]) -> list[Message]:
    return [
        Message(
            pk=row.pk,
            from_survivor=row.from_survivor,
            author="" if row.author is None else (row.author.get_full_name() or row.author.username),
            text=crypto.decrypt(row.body_encrypted, MESSAGE_CONTEXT),
            created_at=row.created_at,
            read_at=row.read_at,
        )
        for row in rows
    ]


def thread_for_staff(*, actor: Any, case: Case) -> list[Message]:
    """The conversation, for a member of staff who may read it; the reading is audited (without
    the text), her messages are marked read, and so are the actor's notifications about them."""
    require(actor, Perm.VIEW_CONTACT)
    same_organisation(actor, case)
    rows = list(PortalMessage.objects.filter(case=case).select_related("author"))
    messages = _decrypted(rows)  # before anything is recorded: a DecryptionError changes nothing
    append_read(
        actor=actor,
        event_type=EventType.PORTAL_MESSAGES_VIEWED,
        organisation=case.organisation_id,
        obj=case,
        summary={"messages": len(rows)},
    )
    now = timezone.now()
    PortalMessage.objects.filter(case=case, from_survivor=True, read_at__isnull=True).update(read_at=now)
    Notification.objects.filter(
        user=actor, case=case, kind=Kind.SURVIVOR_MESSAGE, read_at__isnull=True
    ).update(read_at=now)
    return messages


def thread_for_survivor(*, case: Case) -> list[Message]:
    """The conversation as she sees it after signing in; the centre's messages are marked read."""
    rows = list(PortalMessage.objects.filter(case=case).select_related("author"))
    messages = _decrypted(rows)
    PortalMessage.objects.filter(case=case, from_survivor=False, read_at__isnull=True).update(
        read_at=timezone.now()
    )
    return messages


def delete_thread(*, case: Case) -> int:
    """She deletes the whole conversation, both sides of it; returns how many messages went."""
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        count, _by_model = PortalMessage.objects.filter(case=case).delete()
        append(
            actor=ACTOR,
            event_type=EventType.PORTAL_MESSAGES_DELETED,
            organisation=case.organisation_id,
            obj=case,
            summary={"messages": count, "by": "survivor"},
        )
    return count
