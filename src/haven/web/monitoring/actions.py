"""Every write in monitoring: sources, runs, and review decisions; audited."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import threading
import traceback
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from haven.web.accounts.roles import Perm
from haven.web.audit.chain import append
from haven.web.audit.models import EventType
from haven.web.cases.models import Case
from haven.web.core.access import require, same_organisation
from haven.web.core.errors import ActionError
from haven.web.notifications.actions import notify, users_who_can
from haven.web.notifications.models import Kind
from haven.web.takedown import addresses
from haven.web.takedown.actions import record_evidence, sighting_for_copy
from haven.web.takedown.models import Sighting, SightingSource

from .bank import QueueSink, ScanBank
from .models import Candidate, CandidateState, MonitorSource, Rejection, ScanRun, SourceKind

MAX_LISTED_URLS = 10_000
KEPT_ERRORS = 50


@dataclass
class SourceInput:
    name: str
    kind: str
    target: str
    depth: int = 1
    max_pages: int = 1000
    same_site: bool = True
    every_hours: int = 24
    active: bool = True


def _clean_target(kind: str, target: str) -> str:
    if kind == SourceKind.URLS:
        lines = [
            line.strip() for line in target.splitlines() if line.strip() and not line.strip().startswith("#")
        ]
        if not lines:
            raise ActionError(_("Give at least one URL."))
        if len(lines) > MAX_LISTED_URLS:
            raise ActionError(_("At most %(n)d URLs in a list.") % {"n": MAX_LISTED_URLS})
        return "\n".join(addresses.normalise(u) for u in lines)
    return addresses.normalise(target)


def save_source(*, actor: Any, data: SourceInput, source: MonitorSource | None = None) -> MonitorSource:
    require(actor, Perm.MANAGE_SOURCES)
    if source is not None:
        same_organisation(actor, source)
    if data.kind not in SourceKind.values:
        raise ActionError(_("Unknown kind of source."))
    if not data.name.strip():
        raise ActionError(_("A source needs a name."))
    if not 0 <= data.depth <= 5:
        raise ActionError(_("The link depth is 0 to 5."))
    if not 1 <= data.max_pages <= 100_000:
        raise ActionError(_("At most 100,000 pages a run."))
    if not 0 <= data.every_hours <= 24 * 365:
        raise ActionError(_("Run at most once a year and at least once an hour, or 0 for by hand only."))
    target = _clean_target(data.kind, data.target)
    with transaction.atomic():
        source = source or MonitorSource(organisation_id=actor.organisation_id, created_by=actor)
        source.name = data.name.strip()[:200]
        source.kind = data.kind
        source.target = target
        source.depth = data.depth
        source.max_pages = data.max_pages
        source.same_site = data.same_site
        source.every_hours = data.every_hours
        source.active = data.active
        if data.every_hours and data.active and source.next_run_at is None:
            source.next_run_at = timezone.now()
        if not data.every_hours or not data.active:
            source.next_run_at = None
        source.save()
        append(
            actor=actor,
            event_type=EventType.SOURCE_SAVED,
            organisation=source.organisation_id,
            obj=source,
            summary={"name": source.name, "kind": source.kind, "every_hours": source.every_hours},
        )
    return source


def queue_run(*, actor: Any, source: MonitorSource) -> ScanRun:
    """Start a run of the source in the background (``haven worker``)."""
    from .tasks import run_source

    if not isinstance(actor, str):
        require(actor, Perm.MANAGE_SOURCES)
        same_organisation(actor, source)
    with transaction.atomic():
        run = ScanRun.objects.create(
            organisation_id=source.organisation_id,
            source=source,
            started_by=actor if isinstance(actor, str) else actor.get_username(),
        )
        append(
            actor=None if isinstance(actor, str) else actor,
            event_type=EventType.SCAN_QUEUED,
            organisation=source.organisation_id,
            obj=source,
            summary={"run": run.pk, "name": source.name},
        )
        pk = run.pk
        transaction.on_commit(lambda: run_source.enqueue(pk))
    return run


def _scan_source(source: MonitorSource) -> Any:
    from haven.scan import Crawl, Feed, Sitemap, UrlList

    if source.kind == SourceKind.CRAWL:
        return Crawl(
            source.target, depth=source.depth, max_pages=source.max_pages, same_site=source.same_site
        )
    if source.kind == SourceKind.SITEMAP:
        return Sitemap(source.target, max_pages=source.max_pages)
    if source.kind == SourceKind.FEED:
        return Feed(source.target, max_items=source.max_pages)
    return UrlList(source.target.splitlines())


def execute_run(run: ScanRun, *, scheduler: str | None = None) -> ScanRun:
    """Scan the run's source against the organisation's bank and file the matches for review."""
    from haven.scan import BankSnapshot, FetchPolicy, ScanOptions, scan

    source = run.source
    run.status = ScanRun.Status.RUNNING
    run.started_at = timezone.now()
    run.worker = f"{socket.gethostname()}:{os.getpid()}"[:200]
    run.heartbeat_at = run.started_at
    run.save(update_fields=["status", "started_at", "worker", "heartbeat_at"])
    heartbeat = _Heartbeat(run.pk)
    heartbeat.start()
    try:
        try:
            bank = BankSnapshot.from_reader(ScanBank(run.organisation_id))
            run.bank_size = len(bank)
            options = ScanOptions(
                policy=FetchPolicy(
                    allow_loopback=getattr(settings, "HAVEN_FETCH_ALLOW_LOOPBACK", False),
                    max_bytes=settings.HAVEN_FETCH_MAX_BYTES,
                    total_timeout_s=settings.HAVEN_FETCH_TIMEOUT_SECONDS,
                )
            )
            report = scan(
                [_scan_source(source)],
                bank,
                options=options,
                scheduler=scheduler or settings.HAVEN_SCAN_SCHEDULER or None,
            )
        except Exception as exc:  # a run that breaks is recorded, not lost: the next one is still scheduled
            run.status = ScanRun.Status.FAILED
            run.failure = "".join(traceback.format_exception_only(exc)).strip()[:500]
        else:
            sink = QueueSink(run)
            for candidate in report.candidates:
                sink.add(candidate)
            reported = sink.report_finds()
            run.status = ScanRun.Status.DONE
            run.stats = report.stats.as_record()
            run.errors = [e.as_record() for e in report.errors[:KEPT_ERRORS]]
            run.error_count = len(report.errors)
            run.candidates = sink.added
            if reported:
                run.stats["reported_to_centres"] = reported
    finally:
        heartbeat.stop()
    run.finished_at = timezone.now()
    with transaction.atomic():
        run.save()
        if source.every_hours and source.active:
            MonitorSource.objects.filter(pk=source.pk).update(
                next_run_at=run.finished_at + dt.timedelta(hours=source.every_hours)
            )
        append(
            actor=None,
            event_type=EventType.SCAN_FINISHED,
            organisation=run.organisation_id,
            obj=source,
            summary={
                "run": run.pk,
                "by": "worker",
                "status": run.status,
                "candidates": run.candidates,
                "errors": run.error_count,
            },
        )
        if run.candidates:
            notify(
                users=reviewers(run.organisation_id),
                kind=Kind.CANDIDATES,
                key=f"scan_run:{run.pk}",
                organisation=run.organisation_id,
                params={"count": run.candidates},
                url=reverse("monitoring:review"),
            )
    return run


def reviewers(organisation: Any) -> list[Any]:
    """Who hears of new matches: the roles whose work is the review queue (reviewers, deletion
    officers); where a centre has none, everyone who may review."""
    able = users_who_can(organisation, Perm.REVIEW)
    return [u for u in able if not u.can(Perm.VIEW_CONTACT)] or able


HEARTBEAT_EVERY = dt.timedelta(seconds=30)
ABANDONED_AFTER = dt.timedelta(minutes=3)
"""A running scan whose heartbeat is older than this was left by a worker that died (killed, the
machine restarted): it is failed with a reason and its source scheduled again."""


class _Heartbeat:
    """Renews the run's ``heartbeat_at`` from a thread while the scan runs (the scan itself holds
    no database connection)."""

    def __init__(self, run_id: int) -> None:
        self.run_id = run_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"scan-heartbeat-{run_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join(10)

    def _beat(self) -> None:
        from django.db import connection

        try:
            while not self._stop.wait(HEARTBEAT_EVERY.total_seconds()):
                ScanRun.objects.filter(pk=self.run_id, status=ScanRun.Status.RUNNING).update(
                    heartbeat_at=timezone.now()
                )
        finally:
            connection.close()


def fail_abandoned_runs(now: dt.datetime | None = None) -> int:
    """Fail every running scan whose worker stopped beating, and schedule its source again."""
    now = now or timezone.now()
    stale = ScanRun.objects.filter(status=ScanRun.Status.RUNNING, heartbeat_at__lt=now - ABANDONED_AFTER)
    failed = 0
    for run in stale.select_related("source"):
        with transaction.atomic():
            claimed = ScanRun.objects.filter(pk=run.pk, status=ScanRun.Status.RUNNING).update(
                status=ScanRun.Status.FAILED,
                finished_at=now,
                failure=_(
                    "The worker running this scan stopped (%(worker)s, last seen %(when)s); it runs again."
                )
                % {
                    "worker": run.worker or "?",
                    "when": run.heartbeat_at.isoformat() if run.heartbeat_at else "?",
                },
            )
            if not claimed:
                continue
            if run.source.active and run.source.every_hours:
                MonitorSource.objects.filter(pk=run.source_id).update(next_run_at=now)
            append(
                actor=None,
                event_type=EventType.SCAN_FINISHED,
                organisation=run.organisation_id,
                obj=run.source,
                summary={"run": run.pk, "by": "sweep", "status": ScanRun.Status.FAILED, "abandoned": True},
            )
            failed += 1
    return failed


def due_sources(now: dt.datetime | None = None) -> list[MonitorSource]:
    now = now or timezone.now()
    busy = ScanRun.objects.filter(status__in=[ScanRun.Status.QUEUED, ScanRun.Status.RUNNING]).values(
        "source_id"
    )
    return list(
        MonitorSource.objects.filter(active=True, every_hours__gt=0, next_run_at__lte=now).exclude(
            pk__in=busy
        )
    )


# --- review ------------------------------------------------------------------------------------


def _pending(actor: Any, candidate: Candidate) -> Candidate:
    require(actor, Perm.REVIEW)
    same_organisation(actor, candidate)
    locked = Candidate.objects.select_for_update(of=("self",)).select_related("case").get(pk=candidate.pk)
    if locked.state != CandidateState.PENDING:
        raise ActionError(_("This match has already been reviewed."))
    return locked


def confirm(*, actor: Any, candidate: Candidate, capture: bool = True) -> Sighting:
    """The reviewer confirms: the page (and the media) become a sighting on the takedown desk,
    and evidence is captured at once when the page can still be fetched."""
    with transaction.atomic():
        c = _pending(actor, candidate)
        sighting = sighting_for_copy(
            actor=actor,
            case=c.case,
            media_url=c.media_url,
            page_url=c.page_url,
            source=SightingSource.MONITORING,
        )
        c.state = CandidateState.CONFIRMED
        c.decided_by = actor
        c.decided_at = timezone.now()
        c.sighting = sighting
        c.save()
        append(
            actor=actor,
            event_type=EventType.CANDIDATE_CONFIRMED,
            organisation=c.organisation_id,
            obj=c,
            summary={"case": c.case.number, "distance": c.distance, "sighting": sighting.pk},
        )
    if capture and sighting.state == "found":
        # If the page cannot be fetched now the sighting stands; the officer captures again from the desk.
        with contextlib.suppress(ActionError):
            record_evidence(actor=actor, sighting=sighting)
    return sighting


def reject(*, actor: Any, candidate: Candidate) -> None:
    """Not the case's content: this file (and near copies) will not be raised again for the case."""
    with transaction.atomic():
        c = _pending(actor, candidate)
        c.state = CandidateState.REJECTED
        c.decided_by = actor
        c.decided_at = timezone.now()
        c.save()
        Rejection.objects.create(organisation_id=c.organisation_id, case=c.case, sha256=c.sha256, pdq=c.pdq)
        # The same file found elsewhere for this case goes too.
        others = Candidate.objects.filter(case=c.case, sha256=c.sha256, state=CandidateState.PENDING)
        dropped = others.update(state=CandidateState.REJECTED, decided_by=actor, decided_at=c.decided_at)
        append(
            actor=actor,
            event_type=EventType.CANDIDATE_REJECTED,
            organisation=c.organisation_id,
            obj=c,
            summary={"case": c.case.number, "distance": c.distance, "also": dropped},
        )


def drop_pending(case: Case) -> int:
    """Monitoring consent withdrawn: the case's unreviewed matches are deleted, inside the withdrawal."""
    deleted, _ = Candidate.objects.filter(case=case, state=CandidateState.PENDING).delete()
    return deleted
