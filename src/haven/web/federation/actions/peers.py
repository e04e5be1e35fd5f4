"""Peers: adding and removing them, and fetching their feeds into the imported banks; audited."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

from django.db import transaction
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
from haven.web.core.health import worker_name
from haven.web.core.jobs import lost_after
from haven.web.core.models import WorkerHeartbeat

from .. import client
from ..models import (
    DEFAULT_EVERY_MINUTES,
    ImportChange,
    ImportedItem,
    OutgoingFind,
    OutgoingState,
    Peer,
)

logger = logging.getLogger(__name__)

KEYS_CONTEXT = "federation.Peer.keys"
STALE_CLAIM = dt.timedelta(minutes=10)
"""A fetch claimed longer ago than this was left by a worker that died; another may take it."""
MAX_PAGES_PER_FETCH = 10_000
FETCH_BUDGET_SECONDS = 600
"""A fetch stops after this long and the next one goes on from its checkpoint, so that one slow peer
cannot hold the worker's sweep for ever."""

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
    if organisation.sandbox:
        raise ActionError(_("A training sandbox shares nothing: it cannot have peers."))
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
    """Take the peer for one fetch with a conditional UPDATE: two workers never fetch it at once.

    The claim is taken only if it is still as read and :func:`_claim_free` says it may be, so that a
    fetch killed half-way resumes with the next one rather than ten minutes later.  Should two
    fetches ever run at once, each page is still applied once: :func:`_apply_page` moves the
    checkpoint only from where that page began."""
    held = Peer.objects.filter(pk=peer_id, active=True).values_list("fetching_by", "fetching_since").first()
    if held is None or not _claim_free(held[1], held[0], now):
        return False
    taken = Peer.objects.filter(pk=peer_id, active=True, fetching_by=held[0], fetching_since=held[1])
    return bool(taken.update(fetching_since=now, fetching_by=worker_name()))


def _claim_free(since: dt.datetime | None, holder: str, now: dt.datetime) -> bool:
    """A claim is free when none is held, when it is older than :data:`STALE_CLAIM`, or when its
    holder is known to be gone (a process of this host that no longer exists, or a worker not heard
    from for ``HAVEN_WORKER_LOST_SECONDS``)."""
    return since is None or since < now - STALE_CLAIM or _holder_gone(holder, now)


def _holder_gone(holder: str, now: dt.datetime) -> bool:
    """Whether the process that claimed a fetch is known to have stopped (False when unknown)."""
    host, _sep, pid = holder.rpartition(":")
    if not host or not pid.isdigit():
        return False
    if host == worker_name().rpartition(":")[0]:
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except OSError:  # it exists, another user's
            return False
        return False
    seen = WorkerHeartbeat.objects.filter(name=holder).values_list("seen_at", flat=True).first()
    return seen is not None and seen < now - lost_after()


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
        peer.fetching_by = ""
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
                "fetching_by",
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
    """Peers due for a fetch that no live fetch holds."""
    now = now or timezone.now()
    due = Peer.objects.filter(active=True).filter(Q(next_fetch_at__isnull=True) | Q(next_fetch_at__lte=now))
    return [
        pk
        for pk, since, holder in due.values_list("pk", "fetching_since", "fetching_by")
        if _claim_free(since, holder, now)
    ]
