"""The worker's monthly reports: made once for the month before, in every language, audited, and
downloadable afterwards exactly as they were made."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zoneinfo

import pytest
from django.conf import settings
from django.utils import translation
from django_tasks_db.models import DBTaskResult

from haven.web.accounts.models import Organisation
from haven.web.audit.models import AuditEvent, EventType
from haven.web.cases.models import Case
from haven.web.reports.actions import previous_month, store_monthly_reports
from haven.web.reports.models import StoredReport
from haven.web.reports.periods import Period
from haven.web.reports.synthetic import History
from haven.web.reports.tasks import sweep
from tests.web.accounts.twofactor import signed_in
from tests.web.conftest import Persona, _persona

SEOUL = zoneinfo.ZoneInfo("Asia/Seoul")
NEW_YEAR = dt.datetime(2026, 1, 1, 0, 30, tzinfo=SEOUL)  # half an hour into 2026 in Seoul, still 2025 in UTC


def test_the_month_before_is_the_organisations_month(org_a: Organisation) -> None:
    assert previous_month(org_a, NEW_YEAR) == Period(2025, month=12)
    assert previous_month(org_a, dt.datetime(2026, 3, 15, tzinfo=SEOUL)) == Period(2026, month=2)


def test_the_reports_are_made_once_in_every_language_and_audited(
    history: History, org_a: Organisation
) -> None:
    assert store_monthly_reports(now=NEW_YEAR) == 2
    kept = {r.name: r for r in StoredReport.objects.all()}
    assert set(kept) == {"acosav-yearly", "gbvims-monthly"}
    report = kept["acosav-yearly"]
    assert report.period == "2025-12"
    assert set(report.data) == {code for code, _name in settings.LANGUAGES}
    assert report.data["en"]["tables"][0]["title"] == "Survivors supported"
    assert report.data["ko"]["tables"][0]["title"] == "지원한 피해자"
    with translation.override("ar"):
        arabic = translation.gettext("Survivors supported")
    assert arabic != "Survivors supported"
    assert report.data["ar"]["tables"][0]["title"] == arabic
    events = AuditEvent.objects.filter(event_type=EventType.REPORT_PRODUCED)
    assert {(e.actor_label, e.summary["format"]) for e in events} == {("worker", "stored")}
    assert store_monthly_reports(now=NEW_YEAR) == 0  # kept already: not made again


def test_a_kept_report_stays_as_it_was_made(history: History, org_a: Organisation, analyst: Persona) -> None:
    store_monthly_reports(now=NEW_YEAR)
    kept = StoredReport.objects.get(name="acosav-yearly")
    Case.objects.filter(organisation=org_a).delete()  # later changes do not alter a kept report
    client = signed_in(analyst.user)
    page = client.get("/reports/")
    assert f'href="/reports/kept/{kept.pk}?format=csv"' in page.content.decode()
    download = client.get(f"/reports/kept/{kept.pk}", {"format": "csv"})
    assert download.status_code == 200
    assert download["Content-Disposition"] == 'attachment; filename="acosav-yearly-2025-12.csv"'
    rows = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    total = kept.data["en"]["tables"][0]["total"]["counts"][0]
    assert [r["count"] for r in rows if r["table"] == "Survivors supported" and r["row"] == "Total"] == [
        "" if total is None else str(int(total))
    ]
    client.cookies["django_language"] = "ko"
    korean = client.get(f"/reports/kept/{kept.pk}", {"format": "csv"}).content.decode("utf-8-sig")
    assert "지원한 피해자" in korean
    assert client.get(f"/reports/kept/{kept.pk}", {"format": "exe"}).status_code == 400
    assert AuditEvent.objects.filter(event_type=EventType.REPORT_PRODUCED, summary__kept=kept.pk).count() == 2


def test_another_organisation_cannot_download_a_kept_report(history: History, org_b: Organisation) -> None:
    store_monthly_reports(now=NEW_YEAR)
    kept = StoredReport.objects.filter(organisation__slug="centre-a").first()
    assert kept is not None
    other = _persona("other-analyst", org_b, "analyst")
    assert signed_in(other.user).get(f"/reports/kept/{kept.pk}", {"format": "csv"}).status_code == 404


@pytest.mark.django_db
def test_the_sweep_requeues_itself_once() -> None:
    sweep.call()
    sweep.call()
    assert DBTaskResult.objects.filter(task_path=sweep.module_path, status="READY").count() == 1
