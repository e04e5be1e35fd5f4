"""The audit chain: every action appends a linked event; any tampering is found and named."""

from __future__ import annotations

import contextlib
import io
import itertools
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from django.db import IntegrityError, connection, models, transaction

from haven.web.accounts.models import Organisation
from haven.web.audit import chain
from haven.web.audit.chain import append, append_read, verify
from haven.web.audit.models import AuditEvent, ChainHead, EventType
from haven.web.cases import actions
from haven.web.cases.models import Case
from haven.web.core.commands import audit_verify

from ..conftest import Persona

pytestmark = pytest.mark.django_db


def test_events_link_into_an_intact_chain(case: Case, counsellor: Persona) -> None:
    actions.change_status(actor=counsellor.user, case=case, status="active")
    events = list(AuditEvent.objects.order_by("sequence"))
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    for before, after in itertools.pairwise(events):
        assert after.previous_digest == before.digest
    assert verify() == (len(events), None)


@pytest.mark.django_db(transaction=True)
def test_appending_outside_a_transaction_is_refused(counsellor: Persona) -> None:
    with pytest.raises(RuntimeError, match="inside the action's transaction"):
        append(actor=counsellor.user, event_type=EventType.LOOKUP)


def _tamper(sql: str, params: list[object]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_an_edited_event_breaks_the_chain_at_that_event(case: Case, counsellor: Persona) -> None:
    actions.change_status(actor=counsellor.user, case=case, status="active")
    target = AuditEvent.objects.get(event_type=EventType.CASE_CREATED)
    _tamper("UPDATE audit_auditevent SET actor_label = %s WHERE id = %s", ["someone-else", target.pk])
    _, broken = verify()
    assert broken is not None
    assert broken.sequence == target.sequence
    assert "changed" in broken.reason
    out = io.StringIO()
    assert audit_verify(out) == 1
    assert f"#{target.sequence}" in out.getvalue()


def test_a_deleted_event_is_found(case: Case, counsellor: Persona) -> None:
    actions.change_status(actor=counsellor.user, case=case, status="active")
    actions.change_status(actor=counsellor.user, case=case, status="closed")
    middle = AuditEvent.objects.order_by("sequence")[2]
    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [middle.pk])
    _, broken = verify()
    assert broken is not None
    assert broken.sequence == middle.sequence


def test_a_deleted_tail_is_found(case: Case, counsellor: Persona) -> None:
    actions.change_status(actor=counsellor.user, case=case, status="active")
    last = AuditEvent.objects.order_by("-sequence").first()
    assert last is not None
    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [last.pk])
    _, broken = verify()
    assert broken is not None
    assert "deleted" in broken.reason


def test_a_failed_action_leaves_no_event_behind(case: Case, counsellor: Persona) -> None:
    before = AuditEvent.objects.count()
    with pytest.raises(actions.ActionError):
        actions.change_status(actor=counsellor.user, case=case, status="monitoring")
    assert AuditEvent.objects.count() == before

    def crash_mid_operation() -> None:
        with transaction.atomic():
            actions.change_status(actor=counsellor.user, case=case, status="active")
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        crash_mid_operation()
    assert AuditEvent.objects.count() == before
    assert Case.objects.get(pk=case.pk).status == "intake"
    assert verify()[1] is None


def test_summaries_never_hold_survivor_details(case: Case, counsellor: Persona) -> None:
    actions.reveal_secrets(actor=counsellor.user, case=case)
    actions.update_case(actor=counsellor.user, case=case, contact="new phone 010-9999-0000")
    for event in AuditEvent.objects.all():
        text = str(event.summary)
        assert "010" not in text
        assert "first contact" not in text


# --- reads recorded together ----------------------------------------------------------------------


class _Threads:
    """Threads that each record one read and keep what came of it."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []
        self.outcome: dict[str, AuditEvent | BaseException] = {}

    def start(self, label: str, organisation: int | None) -> None:
        def run() -> None:
            try:
                self.outcome[label] = append_read(
                    actor="reader",
                    event_type=EventType.LOOKUP,
                    organisation=organisation,
                    summary={"n": label},
                )
            except BaseException as exc:  # kept for the test to look at
                self.outcome[label] = exc
            finally:
                connection.close()

        thread = threading.Thread(target=run)
        self.threads.append(thread)
        thread.start()

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=60)
            assert not thread.is_alive()


@contextlib.contextmanager
def _head_held() -> Iterator[None]:
    """Another connection holds the chain head's lock until the block ends."""
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                ChainHead.objects.select_for_update().get_or_create(pk=1)
                ChainHead.objects.filter(pk=1).update(sequence=models.F("sequence"))  # SQLite: the write lock
                locked.set()
                release.wait(timeout=60)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(timeout=30)
    try:
        yield
    finally:
        release.set()
        holder.join(timeout=60)


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "the recording threads did not get there"
        time.sleep(0.01)


def _queued_behind_a_writer(threads: _Threads, organisations: dict[str, int | None]) -> None:
    """The first read becomes the writer and waits for the head; the others queue behind it."""
    with _head_held():
        first, *rest = organisations
        threads.start(first, organisations[first])
        _until(lambda: chain._group.writing.locked())
        for label in rest:
            threads.start(label, organisations[label])
        _until(lambda: len(chain._group.queue) == len(rest))
    threads.join()


@pytest.mark.django_db(transaction=True)
def test_reads_from_many_threads_are_each_linked_once(counsellor: Persona) -> None:
    organisation = counsellor.user.organisation_id

    def reads(worker: int) -> None:
        try:
            for n in range(25):
                append_read(
                    actor=counsellor.user,
                    event_type=EventType.LOOKUP,
                    organisation=organisation,
                    summary={"n": f"{worker}-{n}"},
                )
        finally:
            connection.close()

    threads = [threading.Thread(target=reads, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    labels = sorted(
        AuditEvent.objects.filter(event_type=EventType.LOOKUP).values_list("summary__n", flat=True)
    )
    assert labels == sorted(f"{w}-{n}" for w in range(8) for n in range(25))
    checked, broken = verify()
    assert broken is None
    assert checked == AuditEvent.objects.count()


@pytest.mark.django_db(transaction=True)
def test_reads_queued_behind_a_writer_are_committed_together(counsellor: Persona) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("a row's transaction (xmin) is PostgreSQL's; the PostgreSQL run checks this")
    organisation = counsellor.user.organisation_id
    threads = _Threads()
    _queued_behind_a_writer(threads, {label: organisation for label in "abcde"})
    assert all(isinstance(threads.outcome[label], AuditEvent) for label in "abcde")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT summary->>'n', xmin::text FROM audit_auditevent WHERE event_type = %s", [EventType.LOOKUP]
        )
        transaction_of = dict(cursor.fetchall())
    assert sorted(transaction_of) == list("abcde")
    # The first in its own transaction; the four that queued meanwhile in one more.
    assert len({transaction_of[label] for label in "bcde"}) == 1
    assert transaction_of["a"] != transaction_of["b"]
    assert verify()[1] is None


@pytest.mark.django_db(transaction=True)
def test_when_a_group_fails_each_read_is_recorded_on_its_own(counsellor: Persona) -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "the retries write at once, which SQLite's shared in-memory test database refuses "
            "('table is locked') where a database file waits; the PostgreSQL run checks this"
        )
    organisation = counsellor.user.organisation_id
    gone = Organisation.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000
    labels = {"a": organisation, "b": organisation, "bad": gone, "c": organisation}
    threads = _Threads()
    group = chain._group
    # As if another thread were writing: the four queue, then one of them writes them together,
    # and the event of an organisation that does not exist fails that transaction.
    assert group.writing.acquire(timeout=30)
    try:
        for label, owner in labels.items():
            threads.start(label, owner)
        _until(lambda: len(group.queue) == len(labels))
    finally:
        with group.changed:
            group.writing.release()
            group.changed.notify_all()
    threads.join()
    assert isinstance(threads.outcome["bad"], IntegrityError)
    recorded = AuditEvent.objects.filter(event_type=EventType.LOOKUP).values_list("summary__n", flat=True)
    assert sorted(recorded) == ["a", "b", "c"]
    for label in "abc":
        event = threads.outcome[label]
        assert isinstance(event, AuditEvent)
        assert AuditEvent.objects.get(pk=event.pk).digest == event.digest
    checked, broken = verify()
    assert broken is None
    assert checked == AuditEvent.objects.count()


def test_inside_a_transaction_a_read_joins_it(counsellor: Persona) -> None:
    with transaction.atomic():
        event = append_read(actor=counsellor.user, event_type=EventType.LOOKUP)
        transaction.set_rollback(True)
    assert event.sequence
    assert not AuditEvent.objects.filter(event_type=EventType.LOOKUP).exists()
