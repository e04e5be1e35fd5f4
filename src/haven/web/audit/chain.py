"""Appending to and verifying the audit chain."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import models, transaction
from django.utils import timezone

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
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def compute_digest(event: AuditEvent) -> str:
    return hashlib.sha256(_canonical(event)).hexdigest()


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
    is_user = actor is not None and getattr(actor, "pk", None) is not None
    event = AuditEvent(
        sequence=head.sequence + 1,
        created_at=timezone.now(),
        organisation_id=getattr(organisation, "pk", organisation),
        actor_id=actor.pk if is_user else None,
        actor_label=actor.get_username() if is_user else str(actor or "system"),
        event_type=event_type,
        object_type=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        summary=summary or {},
        previous_digest=head.digest,
    )
    # Round-trip through JSON so that what we hash is what the database will return.
    event.summary = json.loads(json.dumps(event.summary))
    event.digest = compute_digest(event)
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
    expected_sequence = 1
    checked = 0
    for event in _events():
        if event.sequence != expected_sequence:
            return checked, Break(expected_sequence, "event missing (sequence gap)")
        if event.previous_digest != previous:
            return checked, Break(event.sequence, "does not link to the event before it")
        if compute_digest(event) != event.digest:
            return checked, Break(event.sequence, "contents changed after it was written")
        previous = event.digest
        expected_sequence += 1
        checked += 1
    head = ChainHead.objects.filter(pk=1).first()
    if head is not None and (head.sequence != checked or head.digest != previous):
        return checked, Break(checked + 1, "events after this point were deleted")
    return checked, None


def _events() -> Iterator[AuditEvent]:
    return AuditEvent.objects.order_by("sequence").iterator(chunk_size=2000)
