"""Producing a report: the one way figures leave the database, each time recorded in the audit trail."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone, translation

from haven.web.accounts.models import Organisation
from haven.web.accounts.roles import Perm
from haven.web.audit.chain import append, append_read
from haven.web.audit.models import EventType
from haven.web.core.access import require

from .disclosure import Rules
from .periods import Period
from .standard import make_report
from .tables import Report

FORMATS = ("html", "csv", "json", "pdf")


def rules() -> Rules:
    return Rules(threshold=settings.HAVEN_REPORT_THRESHOLD, round_to=settings.HAVEN_REPORT_ROUND_TO)


def produce_report(
    *,
    actor: Any,
    name: str,
    period: str | Period,
    filters: dict[str, str] | None = None,
    output: str = "html",
    organisation: Organisation | None = None,
) -> Report:
    """The report ``name`` for ``period`` of the actor's organisation (``organisation`` for the
    command line, whose actor is not a user). Raises ReportError or PeriodError on bad input."""
    if organisation is None:
        require(actor, Perm.VIEW_REPORTS)
        organisation = actor.organisation
    if organisation is None:
        raise PermissionDenied
    report = make_report(organisation, name, period, dict(filters or {}), rules())
    append_read(
        actor=actor,
        event_type=EventType.REPORT_PRODUCED,
        organisation=organisation,
        summary={"report": name, "period": report.period, "filters": report.filters, "format": output},
    )
    return report


MONTHLY = ("acosav-yearly", "gbvims-monthly")


def previous_month(organisation: Organisation, now: dt.datetime | None = None) -> Period:
    local = timezone.localtime(now or timezone.now(), zoneinfo.ZoneInfo(organisation.time_zone))
    return Period(local.year, month=local.month).previous()


def store_monthly_reports(*, now: dt.datetime | None = None) -> int:
    """On the 1st of a month (or the first sweep after it), make each organisation's reports for the
    month before and keep them for download, in every language; each one is audited.  A centre with
    peer centres fetches their figures first and keeps the pooled tables too.  Returns how many."""
    from .models import StoredReport
    from .pooled import fetch_figures

    made = 0
    for organisation in Organisation.objects.order_by("pk"):
        period = previous_month(organisation, now)
        names = list(MONTHLY)
        if _has_peers(organisation):
            names.append("gbvims-pooled")
        for name in names:
            if StoredReport.objects.filter(organisation=organisation, name=name, period=str(period)).exists():
                continue
            if name == "gbvims-pooled":
                fetch_figures(actor="worker", organisation=organisation, period=period)
            data = {}
            for language, _label in settings.LANGUAGES:
                with translation.override(language):
                    data[language] = make_report(organisation, name, period, {}, rules()).as_dict()
            with transaction.atomic():
                _stored, created = StoredReport.objects.get_or_create(
                    organisation=organisation, name=name, period=str(period), defaults={"data": data}
                )
                if created:
                    append(
                        actor="worker",
                        event_type=EventType.REPORT_PRODUCED,
                        organisation=organisation,
                        summary={"report": name, "period": str(period), "filters": {}, "format": "stored"},
                    )
                    made += 1
    return made


def _has_peers(organisation: Organisation) -> bool:
    from haven.web.federation.models import Peer

    return Peer.objects.filter(organisation=organisation, active=True).exclude(url="").exists()
