"""Every write in monitoring: sources, runs, and review decisions; audited."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import threading
import traceback
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from haven.web.accounts.roles import Perm
from haven.web.audit.chain import append, append_read
from haven.web.audit.models import EventType
from haven.web.cases.models import Case
from haven.web.core import crypto
from haven.web.core.access import require, same_organisation
from haven.web.core.errors import ActionError
from haven.web.notifications.actions import notify, users_who_can
from haven.web.notifications.models import Kind
from haven.web.takedown import addresses
from haven.web.takedown.actions import record_evidence, sighting_for_copy
from haven.web.takedown.models import Sighting, SightingSource

from .bank import QueueSink, ScanBank, region_of, text_work
from .models import (
    IDENTIFIER_CONTEXT,
    MAX_IDENTIFIERS,
    SNIPPET_CONTEXT,
    Candidate,
    CandidateState,
    Identifier,
    IdentifierKind,
    MonitorSource,
    Rejection,
    ScanRun,
    SourceKind,
    TextCandidate,
)

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
    if kind == SourceKind.SEARCH:
        target = target.strip()
        if target.count("{query}") != 1:
            raise ActionError(_("Put {query} once in the address, where the search words go."))
        # Checked as an address with a stand-in for the words; kept with its placeholders.
        addresses.normalise(target.replace("{query}", "q").replace("{page}", "1"))
        return target
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


SEARCH_DELAY_S = 1.0
"""Seconds between the requests of a site-search source."""


def _scan_source(source: MonitorSource, queries: list[str]) -> Any:
    from haven.scan import Crawl, Feed, Sitemap, SiteSearch, UrlList

    if source.kind == SourceKind.SEARCH:
        return SiteSearch(source.target, queries, max_pages=source.max_pages, delay_s=SEARCH_DELAY_S)
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
            text = text_work(run.organisation_id)
            options = ScanOptions(
                policy=FetchPolicy(
                    allow_loopback=getattr(settings, "HAVEN_FETCH_ALLOW_LOOPBACK", False),
                    max_bytes=settings.HAVEN_FETCH_MAX_BYTES,
                    total_timeout_s=settings.HAVEN_FETCH_TIMEOUT_SECONDS,
                )
            )
            if source.kind == SourceKind.SEARCH and not text.queries:
                raise ActionError(
                    _("No case has keywords to search for: mark a keyword with “search for it” on a case.")
                )
            report = scan(
                [_scan_source(source, text.queries)],
                bank,
                options=options,
                scheduler=scheduler or settings.HAVEN_SCAN_SCHEDULER or None,
                text_bank=text.bank,
            )
        except Exception as exc:  # a run that breaks is recorded, not lost: the next one is still scheduled
            run.status = ScanRun.Status.FAILED
            run.failure = "".join(traceback.format_exception_only(exc)).strip()[:500]
        else:
            sink = QueueSink(run)
            for candidate in report.candidates:
                sink.add(candidate)
            for found in report.text_candidates:
                sink.add_text(found)
            reported = sink.report_finds()
            run.status = ScanRun.Status.DONE
            run.stats = report.stats.as_record()
            run.errors = [e.as_record() for e in report.errors[:KEPT_ERRORS]]
            run.error_count = len(report.errors)
            run.candidates = sink.added + sink.text_added
            if sink.text_added:
                run.stats["text_candidates_queued"] = sink.text_added
            if text.skipped:
                run.stats["identifiers_skipped"] = text.skipped
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


_Match = TypeVar("_Match", Candidate, TextCandidate)


def _pending(actor: Any, candidate: _Match) -> _Match:
    """A match (of a picture or of page text) locked for its decision, which is taken once."""
    require(actor, Perm.REVIEW)
    same_organisation(actor, candidate)
    model = type(candidate)
    locked = model.objects.select_for_update(of=("self",)).select_related("case").get(pk=candidate.pk)
    if locked.state != CandidateState.PENDING:
        raise ActionError(_("This match has already been reviewed."))
    return locked


def _decided(c: Candidate | TextCandidate, actor: Any, state: str, sighting: Sighting | None = None) -> None:
    c.state = state
    c.decided_by = actor
    c.decided_at = timezone.now()
    if sighting is not None:
        c.sighting = sighting
    c.save()


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
        _decided(c, actor, CandidateState.CONFIRMED, sighting)
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
        _decided(c, actor, CandidateState.REJECTED)
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
    """Monitoring consent withdrawn: the case's unreviewed matches are deleted, inside the withdrawal,
    and so are her identifiers, the unreviewed pages that showed them, and the text kept around them
    on reviewed ones."""
    deleted, _ = Candidate.objects.filter(case=case, state=CandidateState.PENDING).delete()
    texts, _ = TextCandidate.objects.filter(case=case, state=CandidateState.PENDING).delete()
    # Reviewed pages stay as the record of the decision, without the text around her identifiers.
    TextCandidate.objects.filter(case=case).update(
        snippet_encrypted=crypto.encrypt(json.dumps({"text": "", "spans": []}), SNIPPET_CONTEXT)
    )
    Identifier.objects.filter(case=case).delete()
    return deleted + texts


# --- personal identifiers ----------------------------------------------------------------------

MAX_SPELLINGS = 10
MAX_SPELLING_CHARS = 200


@dataclass
class IdentifierInput:
    kind: str
    value: str
    alone: bool | None = None
    search: bool = False


def _clean_identifier(organisation_id: int, data: IdentifierInput) -> str:
    from haven.scan import PersonalIdentifier, TextBank, TextBankError

    if data.kind not in IdentifierKind.values:
        raise ActionError(_("Unknown kind of identifier."))
    if not isinstance(data.value, str) or "\x00" in data.value:
        raise ActionError(_("The text must not contain NUL characters."))
    lines = [line.strip() for line in data.value.replace("\r\n", "\n").split("\n") if line.strip()]
    if not lines:
        raise ActionError(_("Write the identifier first."))
    if len(lines) > MAX_SPELLINGS:
        raise ActionError(_("At most %(n)d spellings, one a line.") % {"n": MAX_SPELLINGS})
    if any(len(line) > MAX_SPELLING_CHARS for line in lines):
        raise ActionError(_("Keep each spelling to %(n)d characters or fewer.") % {"n": MAX_SPELLING_CHARS})
    if data.search and data.kind not in (IdentifierKind.KEYWORD, IdentifierKind.NAME, IdentifierKind.HANDLE):
        raise ActionError(_("Only names, handles and post titles can be searched for on sites."))
    value = "\n".join(lines)
    region = region_of(organisation_id)
    try:
        TextBank.build([PersonalIdentifier("new", "case", data.kind, value, data.alone, region)])
    except TextBankError:
        if data.kind == IdentifierKind.PHONE:
            raise ActionError(
                _(
                    "This is not a phone number of %(country)s: write it as it is dialled there, or with + "
                    "and its country code."
                )
                % {"country": region}
            ) from None
        if data.kind == IdentifierKind.EMAIL:
            raise ActionError(_("This is not an e-mail address.")) from None
        raise ActionError(
            _(
                "Write it with letters or digits, at most 64 of them a line (a long title: at most "
                "200 characters)."
            )
        ) from None
    return value


def add_identifier(*, actor: Any, case: Case, data: IdentifierInput) -> Identifier:
    """Record one of the survivor's identifiers, encrypted; audited by kind only.  Needs her consent
    to monitoring: identifiers are looked for only while it stands, and go when it is withdrawn."""
    from haven.web.cases.actions import current_consent
    from haven.web.cases.models import ConsentScope

    require(actor, Perm.VIEW_CONTACT)
    require(actor, Perm.EDIT_CASE)
    same_organisation(actor, case)
    value = _clean_identifier(case.organisation_id, data)
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        if not current_consent(case).get(ConsentScope.MONITOR):
            raise ActionError(
                _(
                    "Record the survivor's consent to monitoring first: identifiers are looked for "
                    "only with it."
                )
            )
        if Identifier.objects.filter(case=case).count() >= MAX_IDENTIFIERS:
            raise ActionError(_("At most %(n)d identifiers on a case.") % {"n": MAX_IDENTIFIERS})
        identifier = Identifier.objects.create(
            organisation_id=case.organisation_id,
            case=case,
            kind=data.kind,
            value_encrypted=crypto.encrypt(value, IDENTIFIER_CONTEXT),
            alone=data.alone,
            search=data.search,
            created_by=actor,
        )
        append(
            actor=actor,
            event_type=EventType.IDENTIFIER_ADDED,
            organisation=case.organisation_id,
            obj=case,
            summary={"identifier": identifier.pk, "kind": data.kind, "search": data.search},
        )
    return identifier


def remove_identifier(*, actor: Any, identifier: Identifier) -> None:
    require(actor, Perm.VIEW_CONTACT)
    require(actor, Perm.EDIT_CASE)
    same_organisation(actor, identifier)
    with transaction.atomic():
        case = identifier.case
        pk, kind = identifier.pk, identifier.kind
        identifier.delete()
        append(
            actor=actor,
            event_type=EventType.IDENTIFIER_REMOVED,
            organisation=case.organisation_id,
            obj=case,
            summary={"identifier": pk, "kind": kind},
        )


@dataclass(frozen=True)
class ShownIdentifier:
    identifier: Identifier
    value: str
    alone: bool


def reveal_identifiers(*, actor: Any, case: Case) -> list[ShownIdentifier]:
    """The case's identifiers in plain text; the showing is audited."""
    from haven.scan import default_alone

    require(actor, Perm.VIEW_CONTACT)
    same_organisation(actor, case)
    shown = []
    for row in Identifier.objects.filter(case=case):
        value = crypto.decrypt(row.value_encrypted, IDENTIFIER_CONTEXT)
        alone = default_alone(row.kind, value) if row.alone is None else row.alone
        shown.append(ShownIdentifier(row, value, alone))
    append_read(
        actor=actor, event_type=EventType.IDENTIFIERS_VIEWED, organisation=case.organisation_id, obj=case
    )
    return shown


# --- review of personal information found -----------------------------------------------------


@dataclass(frozen=True)
class Snippet:
    text: str
    spans: list[tuple[int, int]]

    @property
    def masked(self) -> str:
        from haven.scan import mask

        return mask(self.text, self.spans)


def snippet_of(candidate: TextCandidate) -> Snippet:
    data = json.loads(crypto.decrypt(candidate.snippet_encrypted, SNIPPET_CONTEXT))
    return Snippet(str(data["text"]), [(int(a), int(b)) for a, b in data["spans"]])


def reveal_snippet(*, actor: Any, candidate: TextCandidate) -> Snippet:
    """The found page's text around her identifiers, unmasked; audited."""
    require(actor, Perm.REVIEW)
    same_organisation(actor, candidate)
    snippet = snippet_of(candidate)
    append_read(
        actor=actor,
        event_type=EventType.TEXT_CANDIDATE_VIEWED,
        organisation=candidate.organisation_id,
        obj=candidate,
        summary={"case": candidate.case.number},
    )
    return snippet


def confirm_text(*, actor: Any, candidate: TextCandidate, capture: bool = True) -> Sighting:
    """The page does show her personal information: it goes to the takedown desk as a sighting
    marked as personal information (its rechecks also ask whether the text is gone)."""
    with transaction.atomic():
        c = _pending(actor, candidate)
        sighting = sighting_for_copy(
            actor=actor, case=c.case, media_url="", page_url=c.page_url, source=SightingSource.MONITORING
        )
        if not sighting.personal_info:
            sighting.personal_info = True
            sighting.save(update_fields=["personal_info"])
        _decided(c, actor, CandidateState.CONFIRMED, sighting)
        append(
            actor=actor,
            event_type=EventType.TEXT_CANDIDATE_CONFIRMED,
            organisation=c.organisation_id,
            obj=c,
            summary={"case": c.case.number, "kinds": c.kinds, "sighting": sighting.pk},
        )
    if capture and sighting.state == "found":
        with contextlib.suppress(ActionError):
            record_evidence(actor=actor, sighting=sighting)
    return sighting


def reject_text(*, actor: Any, candidate: TextCandidate) -> None:
    """Not her: this page with this text is not raised again for the case (a change to it is)."""
    with transaction.atomic():
        c = _pending(actor, candidate)
        _decided(c, actor, CandidateState.REJECTED)
        append(
            actor=actor,
            event_type=EventType.TEXT_CANDIDATE_REJECTED,
            organisation=c.organisation_id,
            obj=c,
            summary={"case": c.case.number, "kinds": c.kinds},
        )


def personal_info_present(case: Case, body: bytes) -> bool | None:
    """Whether a page still holds the case's identifiers as its rule requires; None when the case
    has none left to look for (withdrawn, removed): a recheck then judges by the page alone."""
    from haven.scan import page_text

    work = text_work(case.organisation_id, [case.pk])
    if work.bank is None:
        return None
    return bool(work.bank.match(page_text(body)))
