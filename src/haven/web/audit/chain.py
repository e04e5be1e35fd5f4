"""Appending to and verifying the audit chain.

Each event's digest is an HMAC-SHA256, under a key kept outside the database (:mod:`.keys`), of the
event's fields and the digest of the event before it.  Someone who can write to the database can
delete or change rows, but cannot make digests that verify: any change, any gap and any rewrite of
the chain is found and named, except cutting off its newest events and moving the head back, which
looks like a shorter, intact chain.  Signed checkpoints written outside the database
(:mod:`.checkpoints`) catch that.

A new key (first in ``HAVEN_AUDIT_KEYS``) starts with an ``audit.key_rotated`` event linked under
it, naming the key before; the chain changes keys nowhere else.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from . import keys
from .models import AuditEvent, ChainHead, EventType

GENESIS = "0" * 64


def _canonical(event: AuditEvent) -> bytes:
    fields = {
        "sequence": event.sequence,
        "created_at": event.created_at.isoformat(),
        "organisation": event.organisation_id,
        "actor": event.actor_id,
        "actor_label": event.actor_label,
        "event_type": event.event_type,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "summary": event.summary,
        "previous_digest": event.previous_digest,
        "key": event.key_id,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def compute_digest(event: AuditEvent, key: keys.AuditKey) -> str:
    return key.link(_canonical(event))


def append(
    *,
    actor: Any,
    event_type: EventType,
    organisation: Any = None,
    obj: models.Model | None = None,
    summary: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event; must run inside the action's transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit events are appended inside the action's transaction")
    head, _ = ChainHead.objects.select_for_update().get_or_create(pk=1)
    key = keys.current()
    if head.sequence:
        last_key = AuditEvent.objects.filter(sequence=head.sequence).values_list("key_id", flat=True).first()
        if last_key != key.id:
            _link(
                head,
                key,
                AuditEvent(
                    actor_label="system",
                    event_type=EventType.AUDIT_KEY_ROTATED,
                    summary={"from": last_key or "", "to": key.id},
                ),
            )
    is_user = actor is not None and getattr(actor, "pk", None) is not None
    event = AuditEvent(
        organisation_id=getattr(organisation, "pk", organisation),
        actor_id=actor.pk if is_user else None,
        actor_label=actor.get_username() if is_user else str(actor or "system"),
        event_type=event_type,
        object_type=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        summary=summary or {},
    )
    return _link(head, key, event)


def _link(head: ChainHead, key: keys.AuditKey, event: AuditEvent) -> AuditEvent:
    event.sequence = head.sequence + 1
    event.created_at = timezone.now()
    event.previous_digest = head.digest
    event.key_id = key.id
    # Round-trip through JSON so that what we hash is what the database will return.
    event.summary = json.loads(json.dumps(event.summary))
    event.digest = compute_digest(event, key)
    event.save()
    head.sequence = event.sequence
    head.digest = event.digest
    head.save(update_fields=["sequence", "digest"])
    return event


@dataclass(frozen=True)
class Break:
    sequence: int
    reason: str


def verify() -> tuple[int, Break | None]:
    """Recompute the chain; return how many events were checked and the first broken link."""
    previous = GENESIS
    previous_key = ""
    order = {key.id: n for n, key in enumerate(keys.keys())}  # 0: the current key
    expected_sequence = 1
    checked = 0
    for event in _events():
        if event.sequence != expected_sequence:
            return checked, Break(expected_sequence, "event missing (sequence gap)")
        if event.previous_digest != previous:
            return checked, Break(event.sequence, "does not link to the event before it")
        key = keys.by_id(event.key_id)
        if key is None:
            reason = (
                f"linked with a key this server does not have (key id {event.key_id})"
                if event.key_id
                else "not linked with a key: written or rewritten outside Haven"
            )
            return checked, Break(event.sequence, reason)
        if compute_digest(event, key) != event.digest:
            return checked, Break(event.sequence, "contents changed after it was written")
        if previous_key and event.key_id != previous_key:
            rotation = event.event_type == EventType.AUDIT_KEY_ROTATED and event.summary == {
                "from": previous_key,
                "to": event.key_id,
            }
            if not rotation:
                return checked, Break(event.sequence, "changes key without a key-rotation event")
            # Keys only ever move forward: to one listed before the key it replaces.  Someone who
            # holds a retired key cannot rotate back to it and write under it again.
            if order.get(event.key_id, len(order)) >= order.get(previous_key, len(order)):
                return checked, Break(event.sequence, "rotates back to a retired key")
        previous = event.digest
        previous_key = event.key_id
        expected_sequence += 1
        checked += 1
    head = ChainHead.objects.filter(pk=1).first()
    if head is not None and (head.sequence != checked or head.digest != previous):
        return checked, Break(checked + 1, "events after this point were deleted")
    return checked, None


def broken_before_keying() -> list[AuditEvent]:
    """The record the keying migration left when the unkeyed trail it linked again was already
    broken: that tampering happened before the key and stays on record."""
    switches = AuditEvent.objects.filter(event_type=EventType.AUDIT_CHAIN_KEYED).order_by("sequence")
    return [event for event in switches if event.summary.get("previous_check") != "intact"]


def _events() -> Iterator[AuditEvent]:
    return AuditEvent.objects.order_by("sequence").iterator(chunk_size=2000)
