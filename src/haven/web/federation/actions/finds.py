"""Finds in both directions: copies of a peer's items found here, and those partner centres
report to us as suggested sightings; audited."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from haven.web.accounts.roles import Perm
from haven.web.audit.chain import append
from haven.web.audit.models import EventType
from haven.web.core.access import require, same_organisation
from haven.web.core.errors import ActionError

from .. import client
from ..models import (
    FindHow,
    ImportedItem,
    OutgoingFind,
    OutgoingState,
    Peer,
    ReceivedFind,
    ReceivedState,
)
from .peers import peer_keys

MAX_WAITING_FINDS = 200
"""Finds of one partner that may wait for review on one case: a partner cannot bury an officer."""
FIND_BATCH = 100  # finds a request: well under the partner APIs' 1 MiB body limit
RETRY_AFTER = (
    dt.timedelta(minutes=1),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=30),
    dt.timedelta(hours=2),
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
            from ..tasks import deliver_finds

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
    from haven.web.takedown.actions import sighting_for_copy
    from haven.web.takedown.models import SightingSource

    with transaction.atomic():
        f = _suggested(actor, find)
        sighting = sighting_for_copy(
            actor=actor, case=f.case, media_url=f.url, page_url=f.page_url, source=SightingSource.CENTRE
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
