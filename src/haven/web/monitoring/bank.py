"""The web app's side of the scanner's ports: the bank of consenting cases, and the review queue."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from haven.scan import BankEntry, Candidate, PersonalIdentifier, TextBank, TextCandidate
from haven.signals import InvalidHashError, Md5, PdqHash
from haven.web.accounts.models import Organisation
from haven.web.cases.actions import current_consent
from haven.web.cases.matching import extra_signals
from haven.web.cases.models import Case, CaseStatus, ConsentScope, ContentItem
from haven.web.core import crypto

from .models import IDENTIFIER_CONTEXT, REJECTED_NEAR, SNIPPET_CONTEXT, Identifier, Rejection, ScanRun
from .models import Candidate as CandidateRow
from .models import TextCandidate as TextCandidateRow


def monitored_cases(organisation_id: int, among: Iterable[int] | None = None) -> list[int]:
    """Open cases of the organisation (or of ``among`` them) whose current consent covers monitoring."""
    cases = Case.objects.filter(organisation_id=organisation_id).exclude(status=CaseStatus.CLOSED)
    if among is not None:
        cases = cases.filter(pk__in=list(among))
    return [c.pk for c in cases.prefetch_related("consents") if current_consent(c).get(ConsentScope.MONITOR)]


class CaseBank:
    """:class:`haven.scan.BankReader` over one organisation's consenting cases.

    A video contributes the PDQ hash of each sampled frame, under the video's content id; a
    photo brings its robust crop signals (``ContentItem.extra``), so a scan finds its crops.
    """

    def __init__(self, organisation_id: int) -> None:
        self.organisation_id = organisation_id

    def read_bank(self) -> Iterator[BankEntry]:
        items = ContentItem.objects.filter(
            case_id__in=monitored_cases(self.organisation_id), removed_at__isnull=True
        ).only("pk", "case_id", "pdq", "quality", "md5", "video_frames", "extra")
        for item in items:
            yield from bank_entries(item, str(item.pk), str(item.case_id))


def bank_entries(item: Any, content_id: str, case_id: str) -> Iterator[BankEntry]:
    """A stored item as a scan looks for it: its PDQ (with its robust crop signals) and MD5, and a
    video's sampled frames, each under the item's ``content_id``.  ``item`` is a case's content or
    an item imported from another centre (the same fields)."""
    md5 = Md5.from_hex(item.md5) if item.md5 else None
    if item.pdq or md5 is not None:
        yield BankEntry(
            content_id=content_id,
            case_id=case_id,
            pdq=PdqHash.from_hex(item.pdq) if item.pdq else None,
            md5=md5,
            quality=item.quality if item.quality is not None else 100,
            extra=tuple(extra_signals(item)) if item.pdq else (),
        )
    for _frame, quality, hx, _seconds in item.video_frames or ():
        yield BankEntry(content_id=content_id, case_id=case_id, pdq=PdqHash.from_hex(hx), quality=quality)


class ScanBank:
    """What a monitoring run looks for: the organisation's consenting cases, then the banks it
    imported from peer centres (a match there is reported to the centre, not queued here)."""

    def __init__(self, organisation_id: int) -> None:
        self.organisation_id = organisation_id

    def read_bank(self) -> Iterator[BankEntry]:
        from haven.web.federation.matching import ImportedBank

        yield from CaseBank(self.organisation_id).read_bank()
        yield from ImportedBank(self.organisation_id).read_bank()


def region_of(organisation_id: int) -> str:
    """The country phone numbers are dialled in: the organisation's."""
    country = Organisation.objects.filter(pk=organisation_id).values_list("country", flat=True).first()
    return (country or "KR").upper()


def plain_identifiers(rows: Any, region: str) -> list[PersonalIdentifier]:
    return [
        PersonalIdentifier(
            id=str(row.pk),
            case_id=str(row.case_id),
            kind=row.kind,
            value=crypto.decrypt(row.value_encrypted, IDENTIFIER_CONTEXT),
            alone=row.alone,
            region=region,
        )
        for row in rows
    ]


@dataclass
class TextWork:
    """What a run looks for in page text: the bank (keyed hashes, under a key made for this run)
    and what the site-search sources search for."""

    bank: TextBank | None
    queries: list[str]
    skipped: int


def text_work(organisation_id: int, cases: list[int] | None = None) -> TextWork:
    """The identifiers of the organisation's consenting cases (or of ``cases`` among them), hashed
    with a new key; identifiers that can no longer be read as their kind are skipped and counted."""
    rows = list(
        Identifier.objects.filter(
            organisation_id=organisation_id, case_id__in=monitored_cases(organisation_id, cases)
        )
    )
    plain = plain_identifiers(rows, region_of(organisation_id))
    skipped: list[PersonalIdentifier] = []
    bank = TextBank.build(plain, skipped=skipped)
    unusable = {i.id for i in skipped}
    searched = {str(row.pk) for row in rows if row.search} - unusable
    queries = [
        line.strip() for i in plain if i.id in searched for line in i.value.splitlines() if line.strip()
    ]
    return TextWork(bank if len(bank) else None, list(dict.fromkeys(queries)), len(skipped))


class QueueSink:
    """Files a scan's matches into the review queue (a :class:`haven.scan.CandidateSink`).

    It is fed after the scan, from synchronous code (the ORM does not run inside the scan's
    event loop).  Consent is checked again for every match, so a withdrawal during a long
    scan still counts; a match already queued for the case, or rejected before (the same
    file, or a near copy of it), is not raised again.
    """

    def __init__(self, run: ScanRun) -> None:
        self.run = run
        self.added = 0
        self.text_added = 0
        self._rejected: dict[int, list[tuple[str, PdqHash | None]]] = {}
        self.imported: list[tuple[int, Candidate]] = []
        """Matches on items imported from peer centres: reported to them by :meth:`report_finds`."""

    def _monitored(self, case_id: int) -> Case | None:
        """The run's organisation's case, if its consent covers monitoring now (a withdrawal during
        a long scan still counts)."""
        case = (
            Case.objects.filter(pk=case_id, organisation_id=self.run.organisation_id)
            .prefetch_related("consents")
            .first()
        )
        if case is None or not current_consent(case).get(ConsentScope.MONITOR):
            return None
        return case

    def _was_rejected(self, case_id: int, sha256: str, pdq: PdqHash | None) -> bool:
        if case_id not in self._rejected:
            self._rejected[case_id] = [
                (r.sha256, PdqHash.from_hex(r.pdq) if r.pdq else None)
                for r in Rejection.objects.filter(case_id=case_id)
            ]
        for old_sha, old_pdq in self._rejected[case_id]:
            if old_sha == sha256:
                return True
            if pdq is not None and old_pdq is not None and pdq.distance(old_pdq) <= REJECTED_NEAR:
                return True
        return False

    def add(self, candidate: Candidate) -> None:
        from haven.web.federation.matching import imported_item_id

        imported = imported_item_id(candidate.content_id)
        if imported is not None:
            self.imported.append((imported, candidate))
            return
        case_id = int(candidate.case_id)
        if self._monitored(case_id) is None:
            return
        try:
            pdq = PdqHash.from_hex(candidate.pdq) if candidate.pdq else None
        except InvalidHashError:
            pdq = None
        if self._was_rejected(case_id, candidate.sha256, pdq):
            return
        try:
            with transaction.atomic():
                CandidateRow.objects.create(
                    organisation_id=self.run.organisation_id,
                    run=self.run,
                    case_id=case_id,
                    content_item_id=int(candidate.content_id),
                    media_url=candidate.media_url[:2000],
                    page_url=(candidate.page_url or "")[:2000],
                    distance=candidate.distance,
                    kind=candidate.kind[:16],
                    transform=candidate.transform[:64],
                    sha256=candidate.sha256,
                    md5=candidate.md5,
                    pdq=candidate.pdq or "",
                    quality=candidate.quality,
                    found_at=candidate.found_at
                    if candidate.found_at.tzinfo
                    else candidate.found_at.replace(tzinfo=dt.UTC),
                )
        except IntegrityError:  # the same file at the same address, already queued
            return
        self.added += 1

    def add_text(self, candidate: TextCandidate) -> None:
        """A page that holds a case's identifiers: queued with its snippet encrypted, once per case,
        page and text (a page whose text a reviewer rejected is not raised again until it changes)."""
        case = self._monitored(int(candidate.case_id))
        if case is None:
            return
        snippet = json.dumps({"text": candidate.snippet, "spans": [list(s) for s in candidate.spans]})
        try:
            with transaction.atomic():
                TextCandidateRow.objects.create(
                    organisation_id=self.run.organisation_id,
                    run=self.run,
                    case=case,
                    page_url=candidate.page_url[:2000],
                    kinds=list(candidate.kinds),
                    identifiers=[int(i) for i, _kind in candidate.identifiers],
                    snippet_encrypted=crypto.encrypt(snippet, SNIPPET_CONTEXT),
                    text_sha256=candidate.text_sha256,
                    found_at=candidate.found_at,
                )
        except IntegrityError:
            return
        self.text_added += 1

    def report_finds(self) -> int:
        """Report the matches on peers' items to their centres, the best match per item and file."""
        from haven.web.federation.actions import Find, record_finds

        best: dict[tuple[int, str, str], Candidate] = {}
        for item_id, c in self.imported:
            key = (item_id, c.media_url, c.sha256)
            if key not in best or c.distance < best[key].distance:
                best[key] = c
        finds = [
            Find(
                item_id=item_id,
                url=c.media_url,
                page_url=c.page_url or "",
                found_at=c.found_at if c.found_at.tzinfo else c.found_at.replace(tzinfo=dt.UTC),
                match_kind=c.kind,
                distance=c.distance,
                evidence_sha256=c.sha256,
            )
            for (item_id, _url, _sha), c in best.items()
        ]
        if not finds:
            return 0
        return record_finds(
            actor="worker", organisation_id=self.run.organisation_id, how="monitoring", finds=finds
        )
