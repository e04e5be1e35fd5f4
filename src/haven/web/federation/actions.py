"""Every write in federation: peers, what is imported from them, and finds in both directions; audited."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from haven.signals import CROPS
from haven.web.accounts.roles import Perm
from haven.web.audit.chain import append
from haven.web.audit.models import EventType
from haven.web.core import crypto
from haven.web.core.access import require, same_organisation
from haven.web.core.errors import ActionError

from . import client
from .models import (
    DEFAULT_EVERY_MINUTES,
    FindHow,
    ImportChange,
    ImportedItem,
    OutgoingFind,
    OutgoingState,
    Peer,
    ReceivedFind,
    ReceivedState,
)

logger = logging.getLogger(__name__)

KEYS_CONTEXT = "federation.Peer.keys"
STALE_CLAIM = dt.timedelta(minutes=10)
"""A fetch claimed longer ago than this was left by a worker that died; another may take it."""
MAX_PAGES_PER_FETCH = 10_000
FETCH_BUDGET_SECONDS = 600
"""A fetch stops after this long and the next one goes on from its checkpoint, so that one slow peer
cannot hold the worker's sweep for ever."""
MAX_WAITING_FINDS = 200
"""Finds of one partner that may wait for review on one case: a partner cannot bury an officer."""
FIND_BATCH = 100  # finds a request: well under the partner APIs' 1 MiB body limit
RETRY_AFTER = (
    dt.timedelta(minutes=1),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=30),
    dt.timedelta(hours=2),
)


# --- peers -------------------------------------------------------------------------------------


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 200 or "\x00" in name:
        raise ActionError(_("A peer needs a name of at most 200 characters."))
    return name


def add_peer(
    *,
    actor: Any,
    organisation: Any,
    name: str,
    url: str,
    keys: Any,
    every_minutes: int = DEFAULT_EVERY_MINUTES,
) -> Peer:
    """Subscribe to another centre's feed with the keys it issued to us as a partner of kind "centre"."""
    if not isinstance(actor, str):
        require(actor, Perm.MANAGE_PARTNERS)
        if actor.organisation_id != organisation.pk:
            raise ActionError(_("You can only add peers for your own organisation."))
    name = _clean_name(name)
    try:
        base = client.check_url(url)
        clean = client.clean_keys(keys)
    except client.PeerError as exc:
        raise ActionError(str(exc)) from None
    if not 1 <= every_minutes <= 24 * 60:
        raise ActionError(_("Fetch at least once a day and at most once a minute."))
    if Peer.objects.filter(organisation=organisation, name=name).exists():
        raise ActionError(_("There is already a peer called %(name)s.") % {"name": name})
    with transaction.atomic():
        peer = Peer.objects.create(
            organisation=organisation,
            name=name,
            url=base,
            keys_encrypted=crypto.encrypt(json.dumps(clean), KEYS_CONTEXT),
            every_minutes=every_minutes,
            next_fetch_at=timezone.now(),
            created_by=None if isinstance(actor, str) else actor,
        )
        append(
            actor=actor,
            event_type=EventType.PEER_ADDED,
            organisation=organisation,
            obj=peer,
            summary={"name": peer.name, "url": peer.url},
        )
    return peer


def peer_keys(peer: Peer) -> dict[str, str]:
    keys: dict[str, str] = json.loads(crypto.decrypt(peer.keys_encrypted, KEYS_CONTEXT))
    return keys


def remove_peer(*, actor: Any, peer: Peer) -> int:
    """Stop importing from a peer and forget its bank; returns how many items left the bank."""
    if not isinstance(actor, str):
        require(actor, Perm.MANAGE_PARTNERS)
        same_organisation(actor, peer)
    with transaction.atomic():
        ids = list(ImportedItem.objects.filter(peer=peer).values_list("pk", flat=True))
        ImportChange.objects.bulk_create([ImportChange(item_id=pk) for pk in ids])
        OutgoingFind.objects.filter(peer=peer, state=OutgoingState.QUEUED).update(state=OutgoingState.DROPPED)
        OutgoingFind.objects.filter(peer=peer).update(signal="")
        # Offers from the peer can no longer be answered to it: they close with it.
        from .transfers import close_offers_of

        close_offers_of(peer)
        append(
            actor=actor,
            event_type=EventType.PEER_REMOVED,
            organisation=peer.organisation_id,
            obj=peer,
            summary={"name": peer.name, "items": len(ids)},
        )
        peer.delete()
    return len(ids)


# --- fetching ----------------------------------------------------------------------------------


@dataclass
class FetchOutcome:
    peer: str
    pages: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    checkpoint: int = 0
    items: int = 0
    error: str = ""
    busy: bool = False
    offers: int = 0
    """New case transfer offers from the peer."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "peer": self.peer,
            "pages": self.pages,
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "checkpoint": self.checkpoint,
            "items": self.items,
            "error": self.error,
            "busy": self.busy,
            "offers": self.offers,
        }


def _claim(peer_id: int, now: dt.datetime) -> bool:
    """Take the peer for one fetch with a conditional UPDATE: two workers never fetch it at once."""
    free = Q(fetching_since__isnull=True) | Q(fetching_since__lt=now - STALE_CLAIM)
    return bool(Peer.objects.filter(free, pk=peer_id, active=True).update(fetching_since=now))


_IMPORT_FIELDS = (
    "organisation_id",
    "case_ref",
    "kind",
    "pdq",
    "quality",
    "md5",
    "extra",
    "video_frames",
    "source_updated_at",
)


def _import_values(peer: Peer, record: client.Record) -> dict[str, Any]:
    values: dict[str, Any] = {
        "organisation_id": peer.organisation_id,
        "case_ref": record.case_ref,
        "kind": record.kind,
        "pdq": "",
        "quality": None,
        "md5": "",
        "extra": [],
        "video_frames": [],
        "source_updated_at": record.updated_at,
    }
    for signal in record.signals:
        if isinstance(signal, client.PdqSignal):
            if signal.crop == "whole":
                values["pdq"], values["quality"] = signal.value, signal.quality
            elif signal.crop in CROPS:  # a kind this version does not know cannot be matched
                entry: dict[str, Any] = {"kind": signal.crop, "pdq": signal.value}
                if signal.quality is not None:
                    entry["quality"] = signal.quality
                values["extra"].append(entry)
        elif isinstance(signal, client.Md5Signal):
            values["md5"] = signal.value
        else:
            values["video_frames"] = [list(frame) for frame in signal.frames]
    return values


def _apply_page(peer_id: int, after: int, page: client.Page, outcome: FetchOutcome) -> bool:
    """Apply one page and move the checkpoint, in one transaction; False when another fetch moved
    the checkpoint meanwhile (the page is then dropped, not applied twice)."""
    with transaction.atomic():
        peer = Peer.objects.select_for_update().get(pk=peer_id)
        if peer.checkpoint != after:
            return False
        # The last record of an item on the page is its state now.
        latest = {record.id: record for record in page.records}
        existing = {row.ref: row for row in ImportedItem.objects.filter(peer=peer, ref__in=list(latest))}
        changed: list[int] = []
        fresh: dict[str, dict[str, Any]] = {}
        for ref, record in latest.items():
            values = _import_values(peer, record) if record.status == "active" else None
            # A record with nothing to match on leaves the bank like a tombstone.
            if values is not None and (values["pdq"] or values["md5"] or values["video_frames"]):
                fresh[ref] = values
        gone = [row.pk for ref, row in existing.items() if ref not in fresh]
        if gone:
            # Before the delete, which would unlink them: finds not yet sent are not sent, and no
            # find keeps a hash of an item its centre withdrew.
            OutgoingFind.objects.filter(item_id__in=gone, state=OutgoingState.QUEUED).update(
                state=OutgoingState.DROPPED
            )
            OutgoingFind.objects.filter(item_id__in=gone).update(signal="")
            ImportedItem.objects.filter(pk__in=gone).delete()
            changed += gone
            outcome.removed += len(gone)
        now = timezone.now()
        updated = []
        for ref, values in fresh.items():
            row = existing.get(ref)
            if row is not None:
                for name, value in values.items():
                    setattr(row, name, value)
                row.imported_at = now
                updated.append(row)
        if updated:
            ImportedItem.objects.bulk_update(updated, [*_IMPORT_FIELDS, "imported_at"])
            changed += [row.pk for row in updated]
            outcome.updated += len(updated)
        # One INSERT a page: a first import of a large bank is thousands of pages.
        created = ImportedItem.objects.bulk_create(
            [
                ImportedItem(peer=peer, ref=ref, **values)
                for ref, values in fresh.items()
                if ref not in existing
            ]
        )
        changed += [row.pk for row in created]
        outcome.added += len(created)
        ImportChange.objects.bulk_create([ImportChange(item_id=pk) for pk in changed])
        peer.checkpoint = int(page.checkpoint)
        peer.records_applied += len(page.records)
        peer.save(update_fields=["checkpoint", "records_applied"])
    outcome.checkpoint = int(page.checkpoint)
    return True


def fetch_peer(peer_id: int, *, actor: Any = "worker") -> FetchOutcome:
    """Fetch the peer's feed from our checkpoint to its end, page by page.

    Each page is applied together with the new checkpoint, so a fetch cut off anywhere (the peer
    dies, the worker is killed) resumes where the last applied page ended, losing and repeating
    nothing.  Errors are recorded on the peer for the network view; nothing else changes.
    """
    peer = Peer.objects.get(pk=peer_id)
    outcome = FetchOutcome(peer=peer.name, checkpoint=peer.checkpoint)
    now = timezone.now()
    if not _claim(peer_id, now):
        outcome.busy = True
        outcome.error = (
            _("Another fetch of this peer is running.") if peer.active else _("The peer is paused.")
        )
        return outcome
    error = ""
    budget = time.monotonic() + FETCH_BUDGET_SECONDS
    try:
        keys = peer_keys(peer)
        checkpoint = peer.checkpoint
        for _page in range(MAX_PAGES_PER_FETCH):
            page = client.fetch_page(peer.url, keys, checkpoint=checkpoint)
            if not _apply_page(peer_id, checkpoint, page, outcome):
                break
            outcome.pages += 1
            checkpoint = int(page.checkpoint)
            if not page.has_more or time.monotonic() > budget:
                break  # the rest with the next fetch, from the checkpoint
        from .transfers import sync_with_peer

        outcome.offers = sync_with_peer(peer, keys)
    except client.PeerError as exc:
        error = str(exc)[:500]
    except Exception as exc:
        # Whatever a peer's answer breaks must not pass for a success, nor stop the worker's sweep
        # for every other peer: it is recorded like any other fetch error, and logged.
        logger.exception("fetch from peer %s failed", peer_id)
        error = f"the fetch failed: {type(exc).__name__}: {exc}"[:500]
    finally:
        _finish_fetch(peer_id, outcome, error, actor)
    return outcome


def _finish_fetch(peer_id: int, outcome: FetchOutcome, error: str, actor: Any) -> None:
    now = timezone.now()
    outcome.error = error
    with transaction.atomic():
        peer = Peer.objects.select_for_update().get(pk=peer_id)
        was_failing = bool(peer.last_error)
        peer.fetching_since = None
        peer.last_attempt_at = now
        peer.next_fetch_at = now + dt.timedelta(minutes=peer.every_minutes)
        if error:
            peer.last_error = error
        else:
            peer.last_error = ""
            peer.last_success_at = now
        peer.save(
            update_fields=[
                "fetching_since",
                "last_attempt_at",
                "next_fetch_at",
                "last_error",
                "last_success_at",
            ]
        )
        outcome.items = ImportedItem.objects.filter(peer_id=peer_id).count()
        # Every change to the bank is audited; a failure once when it starts, not at every retry.
        if outcome.added or outcome.updated or outcome.removed:
            append(
                actor=actor,
                event_type=EventType.PEER_FETCHED,
                organisation=peer.organisation_id,
                obj=peer,
                summary={
                    "name": peer.name,
                    "added": outcome.added,
                    "updated": outcome.updated,
                    "removed": outcome.removed,
                    "checkpoint": outcome.checkpoint,
                },
            )
        if error and not was_failing:
            append(
                actor=actor,
                event_type=EventType.PEER_FETCH_FAILED,
                organisation=peer.organisation_id,
                obj=peer,
                summary={"name": peer.name, "error": error[:200]},
            )


def due_peers(now: dt.datetime | None = None) -> list[int]:
    now = now or timezone.now()
    return list(
        Peer.objects.filter(active=True)
        .filter(Q(next_fetch_at__isnull=True) | Q(next_fetch_at__lte=now))
        .filter(Q(fetching_since__isnull=True) | Q(fetching_since__lt=now - STALE_CLAIM))
        .values_list("pk", flat=True)
    )


# --- finds we make -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Find:
    """A copy of an imported item found here."""

    item_id: int
    url: str
    page_url: str
    found_at: dt.datetime
    match_kind: str
    distance: int
    evidence_sha256: str = ""


def _web_address(url: str) -> bool:
    return (
        url.lower().startswith(("http://", "https://"))
        and len(url) <= 2000
        and not any(ord(c) < 32 or ord(c) == 127 for c in url)
    )


def _item_signal(item: ImportedItem) -> str:
    if item.pdq:
        return item.pdq
    if item.md5:
        return item.md5
    return str(item.video_frames[0][2]) if item.video_frames else ""


def record_finds(*, actor: Any, organisation_id: int, how: str, finds: Sequence[Find]) -> int:
    """Queue reports of copies of peers' items for the worker to send; returns how many are new.

    The peer learns the address, the time, how it matched and our digest of the file: never
    anything about our own cases.
    """
    if how not in FindHow.values:
        raise ActionError(_("Unknown way of finding."))
    items = ImportedItem.objects.filter(organisation_id=organisation_id).in_bulk([f.item_id for f in finds])
    # Only what the other centre's API takes: an address on the web (never a local file path).
    finds = [f for f in finds if _web_address(f.url) and (not f.page_url or _web_address(f.page_url))]
    created = 0
    peers: dict[int, int] = {}
    with transaction.atomic():
        for find in finds:
            item = items.get(find.item_id)
            if item is None:  # withdrawn by its centre meanwhile
                continue
            try:
                with transaction.atomic():
                    OutgoingFind.objects.create(
                        organisation_id=organisation_id,
                        peer_id=item.peer_id,
                        item=item,
                        item_ref=item.ref,
                        signal=_item_signal(item),
                        url=find.url[:2000],
                        page_url=(find.page_url or "")[:2000],
                        found_at=find.found_at,
                        how=how,
                        match_kind=find.match_kind[:32],
                        distance=max(0, min(find.distance, 256)),
                        evidence_sha256=find.evidence_sha256,
                        next_attempt_at=timezone.now(),
                    )
            except IntegrityError:  # already reported: the same file at the same address
                continue
            created += 1
            peers[item.peer_id] = peers.get(item.peer_id, 0) + 1
        for peer_id, count in peers.items():
            append(
                actor=actor,
                event_type=EventType.FINDS_QUEUED,
                organisation=organisation_id,
                obj=Peer(pk=peer_id),
                summary={"peer": peer_id, "finds": count, "how": how},
            )
        if created:
            from .tasks import deliver_finds

            transaction.on_commit(lambda: deliver_finds.enqueue())
    return created


def _find_payload(find: OutgoingFind) -> dict[str, Any]:
    return {
        "item": find.item_ref,
        "signal": find.signal,
        "url": find.url,
        "page_url": find.page_url,
        "found_at": int(find.found_at.timestamp()),
        "how": find.how,
        "match_kind": find.match_kind,
        "distance": find.distance,
        "evidence_sha256": find.evidence_sha256,
    }


@dataclass
class DeliveryOutcome:
    sent: int = 0
    refused: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def deliver_finds(now: dt.datetime | None = None) -> DeliveryOutcome:
    """Send every queued find that is due to its peer, a batch per peer; a peer that cannot be
    reached is tried again later (1, 5, 30 minutes, then every 2 hours)."""
    now = now or timezone.now()
    outcome = DeliveryOutcome()
    # A peer known only by its signed files has no address to send to; its finds wait.
    due = OutgoingFind.objects.filter(state=OutgoingState.QUEUED, next_attempt_at__lte=now).exclude(
        peer__url=""
    )
    for peer_id in sorted(set(due.values_list("peer_id", flat=True))):
        peer = Peer.objects.get(pk=peer_id)
        batch = list(due.filter(peer_id=peer_id).order_by("pk")[:FIND_BATCH])
        try:
            answer = client.send_finds(peer.url, peer_keys(peer), [_find_payload(f) for f in batch])
        except client.PeerError as exc:
            message = str(exc)[:500]
            if exc.status in (400, 413, 422):
                # The centre will never take this batch as it is: stop trying, say why.
                OutgoingFind.objects.filter(pk__in=[f.pk for f in batch]).update(
                    state=OutgoingState.REFUSED, last_error=message, sent_at=now
                )
                outcome.refused += len(batch)
                outcome.errors.append(f"{peer.name}: {message}")
                continue
            outcome.failed += len(batch)
            outcome.errors.append(f"{peer.name}: {message}")
            for find in batch:
                wait = RETRY_AFTER[min(find.attempts, len(RETRY_AFTER) - 1)]
                OutgoingFind.objects.filter(pk=find.pk).update(
                    attempts=find.attempts + 1, last_error=message, next_attempt_at=now + wait
                )
            continue
        sent = refused = 0
        with transaction.atomic():
            for find, result in zip(batch, answer["results"], strict=True):
                ok = isinstance(result, dict) and result.get("status") in ("accepted", "duplicate")
                reason = "" if ok else str(result.get("reason", "") if isinstance(result, dict) else "")[:500]
                OutgoingFind.objects.filter(pk=find.pk).update(
                    state=OutgoingState.SENT if ok else OutgoingState.REFUSED,
                    sent_at=now,
                    attempts=find.attempts + 1,
                    last_error=reason,
                )
                sent += ok
                refused += not ok
            append(
                actor="worker",
                event_type=EventType.FINDS_SENT,
                organisation=peer.organisation_id,
                obj=peer,
                summary={"name": peer.name, "sent": sent, "refused": refused},
            )
        outcome.sent += sent
        outcome.refused += refused
    return outcome


# --- finds we receive --------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportedFind:
    """A find as a partner centre reports it (already checked for shape by the API)."""

    item: str
    signal: str
    url: str
    page_url: str
    found_at: dt.datetime
    how: str
    match_kind: str
    distance: int
    evidence_sha256: str


def receive_finds(*, partner: Any, finds: Sequence[ReportedFind]) -> list[dict[str, str]]:
    """File finds from a partner centre as suggested sightings on our cases, one result per find.

    A find must name an item the partner was sent (its reference for it and one of its hashes) that
    is still shared: a withdrawn item takes no more finds.  The partner learns nothing else.
    """
    from haven.web.sharing.actions import RefMaker
    from haven.web.sharing.models import Delivery, PartnerKind, SharedItem, SharedSignal, ShareStatus

    if partner.kind != PartnerKind.CENTRE:
        raise PermissionDenied("only partner centres report finds; platforms send feedback (opinions)")
    refs = RefMaker(partner.pk)
    results: list[dict[str, str]] = []
    received: dict[int, int] = {}
    with transaction.atomic():
        for find in finds:
            candidates = SharedItem.objects.filter(
                organisation_id=partner.organisation_id,
                pk__in=SharedSignal.objects.filter(
                    organisation_id=partner.organisation_id, value=find.signal
                ).values("item_id"),
            ).filter(pk__in=Delivery.objects.filter(partner_id=partner.pk).values("item_id"))
            row = next((r for r in candidates if refs.item(r.pk) == find.item), None)
            if row is None:
                results.append({"status": "refused", "reason": "no such item was shared with you"})
                continue
            if row.status != ShareStatus.ACTIVE or row.case_id is None:
                results.append({"status": "refused", "reason": "the item is no longer shared"})
                continue
            waiting = ReceivedFind.objects.filter(
                partner=partner, case_id=row.case_id, state=ReceivedState.SUGGESTED
            ).count()
            if waiting >= MAX_WAITING_FINDS:
                results.append(
                    {"status": "refused", "reason": "too many finds wait for review on this item's case"}
                )
                continue
            try:
                with transaction.atomic():
                    ReceivedFind.objects.create(
                        organisation_id=partner.organisation_id,
                        partner=partner,
                        shared_item=row,
                        case_id=row.case_id,
                        content_item_id=row.content_item_id,
                        url=find.url,
                        page_url=find.page_url,
                        found_at=find.found_at,
                        how=find.how,
                        match_kind=find.match_kind,
                        distance=find.distance,
                        evidence_sha256=find.evidence_sha256,
                    )
            except IntegrityError:
                results.append({"status": "duplicate", "reason": ""})
                continue
            results.append({"status": "accepted", "reason": ""})
            received[row.case_id] = received.get(row.case_id, 0) + 1
        from haven.web.cases.models import Case

        for case in Case.objects.filter(pk__in=list(received)):
            append(
                actor=f"centre:{partner.name}"[:150],
                event_type=EventType.FIND_RECEIVED,
                organisation=partner.organisation_id,
                obj=case,
                summary={"case": case.number, "finds": received[case.pk], "partner": partner.name},
            )
    return results


def _suggested(actor: Any, find: ReceivedFind) -> ReceivedFind:
    require(actor, Perm.TAKEDOWN)
    same_organisation(actor, find)
    locked = ReceivedFind.objects.select_for_update(of=("self",)).select_related("case").get(pk=find.pk)
    if locked.state != ReceivedState.SUGGESTED:
        raise ActionError(_("This find has already been decided."))
    return locked


def accept_find(*, actor: Any, find: ReceivedFind) -> Any:
    """The officer accepts the find: its page becomes a sighting on the takedown desk."""
    from haven.web.takedown import addresses
    from haven.web.takedown.actions import insert_sightings
    from haven.web.takedown.models import Sighting, SightingSource

    with transaction.atomic():
        f = _suggested(actor, find)
        page = f.page_url or f.url
        media = f.url if f.page_url and f.page_url != f.url else ""
        result = insert_sightings(
            actor=actor, case=f.case, urls=[page], source=SightingSource.CENTRE, media_url=media
        )
        sighting = (
            result.created[0]
            if result.created
            else Sighting.objects.get(case=f.case, url_key=addresses.url_key(addresses.normalise(page)))
        )
        f.state = ReceivedState.ACCEPTED
        f.decided_by = actor
        f.decided_at = timezone.now()
        f.sighting = sighting
        f.save(update_fields=["state", "decided_by", "decided_at", "sighting"])
        append(
            actor=actor,
            event_type=EventType.FIND_ACCEPTED,
            organisation=f.organisation_id,
            obj=f.case,
            summary={"case": f.case.number, "find": f.pk, "sighting": sighting.pk},
        )
    return sighting


def dismiss_find(*, actor: Any, find: ReceivedFind) -> None:
    with transaction.atomic():
        f = _suggested(actor, find)
        f.state = ReceivedState.DISMISSED
        f.decided_by = actor
        f.decided_at = timezone.now()
        f.save(update_fields=["state", "decided_by", "decided_at"])
        append(
            actor=actor,
            event_type=EventType.FIND_DISMISSED,
            organisation=f.organisation_id,
            obj=f.case,
            summary={"case": f.case.number, "find": f.pk},
        )


def pending_finds(case_ids: Iterable[int]) -> dict[int, int]:
    """Suggested finds waiting per case."""
    out: dict[int, int] = {}
    for case_id in ReceivedFind.objects.filter(
        case_id__in=list(case_ids), state=ReceivedState.SUGGESTED
    ).values_list("case_id", flat=True):
        out[case_id] = out.get(case_id, 0) + 1
    return out
