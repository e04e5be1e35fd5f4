"""Notice records in the Lumen style, and per-platform removal figures, for export and reports."""

from __future__ import annotations

import csv
import datetime as dt
import io
import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from . import regimes
from .models import Notice, Sighting, SightingState

CSV_FIELDS = (
    "id",
    "type",
    "regime",
    "sender",
    "recipient",
    "platform",
    "case",
    "date_sent",
    "sent_via",
    "message_id",
    "platform_reference",
    "deadline",
    "date_acknowledged",
    "date_closed",
    "action_taken",
    "urls",
    "urls_removed",
)


def notice_record(notice: Notice) -> dict[str, Any]:
    """One notice as a record: what was asked of whom and when, and what the platform did.

    Survivor details never appear: the case is named by its pseudonymous number.
    """
    sightings = list(notice.sightings.all())

    def iso(value: dt.datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": notice.pk,
        "type": "escalation" if notice.escalation_of_id else "takedown",
        "regime": notice.regime,
        "regime_name": str(regimes.REGIMES[notice.regime].name)
        if notice.regime in regimes.REGIMES
        else notice.regime,
        "sender": notice.organisation.name,
        "recipient": notice.recipient,
        "platform": notice.platform.name if notice.platform else None,
        "case": notice.case.number,
        "language": notice.language,
        "date_sent": iso(notice.sent_at),
        "sent_via": notice.sent_via or None,
        "message_id": notice.message_id or None,
        "platform_reference": notice.platform_reference or None,
        "deadline": iso(notice.deadline_at),
        "date_acknowledged": iso(notice.acknowledged_at),
        "date_closed": iso(notice.closed_at),
        "action_taken": notice.action_taken or "unknown",
        "urls": [s.url for s in sightings],
        "urls_removed": [s.url for s in sightings if s.state == SightingState.REMOVED],
    }


def notice_records(notices: QuerySet[Notice]) -> list[dict[str, Any]]:
    rows = notices.select_related("organisation", "platform", "case").prefetch_related("sightings")
    return [notice_record(n) for n in rows]


def as_csv(records: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for record in records:
        row = dict(record)
        row["urls"] = " ".join(record["urls"])
        row["urls_removed"] = " ".join(record["urls_removed"])
        # Cells starting with = + - @ would run as formulas in a spreadsheet.
        writer.writerow(
            {k: f"'{v}" if isinstance(v, str) and v[:1] in "=+-@\t\r" else v for k, v in row.items()}
        )
    return out.getvalue()


@dataclass
class PlatformFigures:
    platform: str
    notices_sent: int
    urls: int
    removed: int
    median_hours_to_removal: float | None
    removed_within_deadline: int
    overdue_open: int

    @property
    def removal_rate(self) -> float:
        return self.removed / self.urls if self.urls else 0.0


def platform_figures(organisation_id: int, now: dt.datetime) -> list[PlatformFigures]:
    """Per platform: notices, URLs, removals, median time from first notice to removal, compliance."""
    sent: dict[int, dt.datetime] = {}
    deadline: dict[int, dt.datetime] = {}
    notices_per_platform: dict[str, int] = defaultdict(int)
    for notice in (
        Notice.objects.filter(organisation_id=organisation_id, sent_at__isnull=False)
        .prefetch_related("sightings")
        .select_related("platform")
    ):
        notices_per_platform[notice.platform.name if notice.platform else "?"] += 1
        if notice.sent_at is None:
            continue
        for s in notice.sightings.all():
            if s.pk not in sent or notice.sent_at < sent[s.pk]:
                sent[s.pk] = notice.sent_at
                if notice.deadline_at:
                    deadline[s.pk] = notice.deadline_at
    by_platform: dict[str, list[Sighting]] = defaultdict(list)
    for s in Sighting.objects.filter(pk__in=sent).select_related("platform"):
        by_platform[s.platform.name if s.platform else "?"].append(s)
    figures = []
    for name, rows in sorted(by_platform.items()):
        hours: list[float] = []
        in_time = overdue = 0
        for s in rows:
            limit = deadline.get(s.pk)
            if s.state == SightingState.REMOVED and s.removed_at is not None:
                hours.append((s.removed_at - sent[s.pk]).total_seconds() / 3600)
                in_time += limit is not None and s.removed_at <= limit
            elif limit is not None and limit < now:
                overdue += 1
        figures.append(
            PlatformFigures(
                platform=name,
                notices_sent=notices_per_platform[name],
                urls=len(rows),
                removed=len(hours),
                median_hours_to_removal=round(statistics.median(hours), 1) if hours else None,
                removed_within_deadline=in_time,
                overdue_open=overdue,
            )
        )
    return figures
