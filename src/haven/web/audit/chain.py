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
import threading
from collections.abc import Iterator, Sequence
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
    return _append_all([_event(actor, event_type, organisation, obj, summary)])[0]


def append_read(
    *,
    actor: Any,
    event_type: EventType,
    organisation: Any = None,
    obj: models.Model | None = None,
    summary: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event that goes with no change (a read: a lookup, a view), committed before this
    returns.

    The chain head is locked from an event's link to its commit, so appends from every process
    queue one behind the other.  Reads that arrive together in this process are linked together,
    in one transaction that one of their threads commits while the others wait: one lock of the
    head for the lot instead of one each.  Should that transaction fail, each waiting thread
    appends its own event again, so that every caller sees its own outcome.  Inside a transaction
    the event is simply appended to it.
    """
    event = _event(actor, event_type, organisation, obj, summary)
    if transaction.get_connection().in_atomic_block:
        return _append_all([event])[0]
    return _group.record(event)


class _Group:
    """Threads recording reads at the same moment: one of them, the writer, commits the events
    queued so far; the others wait for it, and one of them writes whatever queued meanwhile."""

    def __init__(self) -> None:
        self.writing = threading.Lock()
        self.changed = threading.Condition()
        self.queue: list[_Queued] = []

    def record(self, event: AuditEvent) -> AuditEvent:
        mine = _Queued(event)
        with self.changed:
            self.queue.append(mine)
        while True:
            if self.writing.acquire(blocking=False):
                self._write()
            with self.changed:
                if mine.state == "linked":
                    return mine.event
                if mine.state == "failed":
                    break
                if self.writing.locked():
                    self.changed.wait()
        with transaction.atomic():  # the group's transaction failed: on our own, to see why
            return _append_all([event])[0]

    def _write(self) -> None:
        with self.changed:
            group, self.queue = self.queue, []
        state = "failed"
        try:
            with transaction.atomic():
                _append_all([queued.event for queued in group])
            state = "linked"
        except Exception:
            # A queued event may have been given a sequence and a digest that were rolled back.
            for queued in group:
                queued.event.pk = None
        finally:
            with self.changed:
                for queued in group:
                    queued.state = state
                self.writing.release()
                self.changed.notify_all()


@dataclass
class _Queued:
    event: AuditEvent
    state: str = "queued"  # then "linked" or "failed"


_group = _Group()


def _event(
    actor: Any,
    event_type: EventType,
    organisation: Any,
    obj: models.Model | None,
    summary: dict[str, Any] | None,
) -> AuditEvent:
    is_user = actor is not None and getattr(actor, "pk", None) is not None
    return AuditEvent(
        organisation_id=getattr(organisation, "pk", organisation),
        actor_id=actor.pk if is_user else None,
        actor_label=actor.get_username() if is_user else str(actor or "system"),
        event_type=event_type,
        object_type=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        summary=summary or {},
    )


def _append_all(events: Sequence[AuditEvent]) -> list[AuditEvent]:
    """Link ``events`` in order after the chain head, under the current key, in the caller's
    transaction.  The head stays locked until that transaction ends, so on PostgreSQL this takes
    the fewest trips to the database while holding it: one to lock and read the head, one to
    insert the events and move the head."""
    connection = transaction.get_connection()
    if connection.vendor != "postgresql":
        head, _ = ChainHead.objects.select_for_update().get_or_create(pk=1)
        last_key = (
            AuditEvent.objects.filter(sequence=head.sequence).values_list("key_id", flat=True).first()
            if head.sequence
            else None
        )
        linked = _link_all(head, last_key, events)
        AuditEvent.objects.bulk_create(linked)
        head.save(update_fields=["sequence", "digest"])
        return linked[-len(events) :]
    event_table = connection.ops.quote_name(AuditEvent._meta.db_table)
    head_table = connection.ops.quote_name(ChainHead._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT h.sequence, h.digest, e.key_id FROM {head_table} h "  # noqa: S608 - the models' tables
            f"LEFT JOIN {event_table} e ON e.sequence = h.sequence AND h.sequence > 0 "
            "WHERE h.id = 1 FOR UPDATE OF h"
        )
        row = cursor.fetchone()
        if row is None:
            head, _ = ChainHead.objects.select_for_update().get_or_create(pk=1)
            last_key = None
        else:
            head, last_key = ChainHead(pk=1, sequence=row[0], digest=row[1]), row[2]
        linked = _link_all(head, last_key, events)
        fields = [f for f in AuditEvent._meta.concrete_fields if not f.primary_key]
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        placeholders = ", ".join(["(" + ", ".join(["%s"] * len(fields)) + ")"] * len(linked))
        values = [f.get_db_prep_save(getattr(e, f.attname), connection) for e in linked for f in fields]
        cursor.execute(
            f"WITH added AS (INSERT INTO {event_table} ({columns}) VALUES {placeholders} "  # noqa: S608 - see above
            "RETURNING id, sequence), "
            f"moved AS (UPDATE {head_table} SET sequence = %s, digest = %s WHERE id = 1) "
            "SELECT id, sequence FROM added",
            [*values, head.sequence, head.digest],
        )
        ids = dict((sequence, pk) for pk, sequence in cursor.fetchall())
    for event in linked:
        event.pk = ids[event.sequence]
        event._state.adding = False
        event._state.db = connection.alias
    return linked[-len(events) :]


def _link_all(head: ChainHead, last_key: str | None, events: Sequence[AuditEvent]) -> list[AuditEvent]:
    """Link ``events`` after ``head`` under the current key, after a key-rotation event when the
    event at the head (``last_key``: its key) was linked under another."""
    key = keys.current()
    linked: list[AuditEvent] = []
    if head.sequence and last_key != key.id:
        rotated = AuditEvent(
            actor_label="system",
            event_type=EventType.AUDIT_KEY_ROTATED,
            summary={"from": last_key or "", "to": key.id},
        )
        linked.append(_link(head, key, rotated))
    return linked + [_link(head, key, event) for event in events]


def _link(head: ChainHead, key: keys.AuditKey, event: AuditEvent) -> AuditEvent:
    """Give ``event`` the next place in the chain and move ``head`` (neither is saved here)."""
    event.sequence = head.sequence + 1
    event.created_at = timezone.now()
    event.previous_digest = head.digest
    event.key_id = key.id
    # Round-trip through JSON so that what we hash is what the database will return.
    event.summary = json.loads(json.dumps(event.summary))
    event.digest = compute_digest(event, key)
    head.sequence = event.sequence
    head.digest = event.digest
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
