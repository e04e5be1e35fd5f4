"""Producing a report: the one way figures leave the database, each time recorded in the audit trail."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction

from haven.web.accounts.models import Organisation
from haven.web.accounts.roles import Perm
from haven.web.audit.chain import append
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
    with transaction.atomic():
        append(
            actor=actor,
            event_type=EventType.REPORT_PRODUCED,
            organisation=organisation,
            summary={"report": name, "period": report.period, "filters": report.filters, "format": output},
        )
    return report
