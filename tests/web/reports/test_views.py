"""The report page and its downloads, as an analyst uses them; who may not; bad input."""

from __future__ import annotations

import csv
import io
import json
import zoneinfo

import pytest
from django.test import Client
from django.utils import timezone
from pypdf import PdfReader

from haven.web.accounts.models import Organisation
from haven.web.audit.models import AuditEvent, EventType
from haven.web.reports.synthetic import History
from haven.web.takedown.models import Notice
from tests.web.accounts.twofactor import signed_in
from tests.web.conftest import Persona, _persona

YEAR = {"report": "acosav-yearly", "year": "2025", "part": "", "filter": ""}


def _analyst(persona: Persona) -> Client:
    return signed_in(persona.user)


def test_an_analyst_sees_tables_and_charts_and_it_is_audited(history: History, analyst: Persona) -> None:
    page = _analyst(analyst).get("/reports/", YEAR)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Survivors by age and sex" in html
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') >= 6
    assert "style=" not in html.split('class="report"', 1)[1]  # the CSP forbids inline styles
    assert f">{history.cases:,}<" in html  # the year's survivors, published
    event = AuditEvent.objects.get(event_type=EventType.REPORT_PRODUCED)
    assert event.summary == {"report": "acosav-yearly", "period": "2025", "filters": {}, "format": "html"}
    assert event.actor == analyst.user


def test_the_page_without_a_choice_lists_the_reports(analyst: Persona) -> None:
    page = _analyst(analyst).get("/reports/")
    assert page.status_code == 200
    assert "GBVIMS incident tables" in page.content.decode()
    assert not AuditEvent.objects.filter(event_type=EventType.REPORT_PRODUCED).exists()


def test_csv_json_and_pdf_say_the_same(history: History, analyst: Persona) -> None:
    client = _analyst(analyst)
    query = {**YEAR, "part": "Q2", "filter": "sex=female"}
    data = client.get("/reports/download", {**query, "format": "json"})
    assert data.status_code == 200
    assert data["Content-Type"] == "application/json"
    report = json.loads(data.content)
    assert report["period"] == "2025-Q2"
    assert report["filters"] == {"Sex": "Female"}
    assert report["rules"] == {"threshold": 10, "round_to": 1}
    rows = list(
        csv.DictReader(
            io.StringIO(
                client.get("/reports/download", {**query, "format": "csv"}).content.decode("utf-8-sig")
            )
        )
    )
    survivors = next(t for t in report["tables"] if t["key"] == "survivors")
    total = survivors["total"]["counts"][0]
    (line,) = [r for r in rows if r["table"] == survivors["title"] and r["row"] == "Total"]
    assert line["count"] == ("" if total is None else str(int(total)))
    assert {r["hidden"] for r in rows} == {"yes", "no"}
    assert all(r["count"] == "" for r in rows if r["hidden"] == "yes")
    pdf = client.get("/reports/download", {**query, "format": "pdf"})
    assert pdf["Content-Type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Survivors by age and sex" in text
    assert "2025-Q2" in text
    formats = [e.summary["format"] for e in AuditEvent.objects.filter(event_type=EventType.REPORT_PRODUCED)]
    assert formats == ["json", "csv", "pdf"]


def test_the_korean_pdf_is_set_in_the_korean_font(history: History, analyst: Persona) -> None:
    client = _analyst(analyst)
    client.cookies["django_language"] = "ko"
    pdf = client.get("/reports/download", {**YEAR, "format": "pdf"}, HTTP_ACCEPT_LANGUAGE="ko")
    assert pdf.status_code == 200
    reader = PdfReader(io.BytesIO(pdf.content))
    fonts = {str(f["/BaseFont"]) for page in reader.pages for f in page["/Resources"]["/Font"].values()}
    assert any("HYSMyeongJo" in f for f in fonts), fonts


@pytest.mark.parametrize("persona", ["counsellor", "officer", "reviewer"])
def test_roles_without_reports_get_403(persona: str, request: pytest.FixtureRequest) -> None:
    user: Persona = request.getfixturevalue(persona)
    client = signed_in(user.user)
    assert client.get("/reports/", YEAR).status_code == 403
    assert client.get("/reports/download", {**YEAR, "format": "csv"}).status_code == 403
    assert not AuditEvent.objects.filter(event_type=EventType.REPORT_PRODUCED).exists()


def test_another_organisation_sees_only_its_own_figures(history: History, org_b: Organisation) -> None:
    other = _persona("other-analyst", org_b, "analyst")
    data = signed_in(other.user).get("/reports/download", {**YEAR, "format": "json"}).json()
    survivors = next(t for t in data["tables"] if t["key"] == "survivors")
    assert survivors["total"]["counts"] == [0.0]
    assert data["organisation"] == "Centre B"


@pytest.mark.parametrize(
    "query",
    [
        {**YEAR, "format": "xlsx"},
        {**YEAR, "report": "nope", "format": "csv"},
        {**YEAR, "year": "1999", "format": "csv"},
        {**YEAR, "part": "Q5", "format": "csv"},
        {**YEAR, "filter": "colour=red", "format": "csv"},
        {**YEAR, "report": "gbvims-monthly", "filter": "relationship=stranger", "format": "csv"},
    ],
)
def test_bad_choices_are_refused_and_nothing_is_produced(analyst: Persona, query: dict[str, str]) -> None:
    response = _analyst(analyst).get("/reports/download", query)
    assert response.status_code == 400
    assert not AuditEvent.objects.filter(event_type=EventType.REPORT_PRODUCED).exists()


def test_the_pooled_report_and_its_fetch_button(history: History, analyst: Persona) -> None:
    client = _analyst(analyst)
    page = client.get("/reports/", {**YEAR, "report": "gbvims-pooled"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Pooled from 1 centre:" in html
    assert 'action="/reports/pooled/fetch"' in html
    fetched = client.post("/reports/pooled/fetch", {"report": "gbvims-pooled", "year": "2025", "part": "Q1"})
    assert fetched.status_code == 302
    assert "report=gbvims-pooled" in fetched["Location"]
    assert "part=Q1" in fetched["Location"]
    event = AuditEvent.objects.get(event_type=EventType.FIGURES_POOLED)
    assert event.summary == {"period": "2025-Q1", "centres": [], "failed": []}
    assert client.get("/reports/pooled/fetch").status_code == 405


def test_takedown_performance_by_platform(history: History, analyst: Persona) -> None:
    data = (
        _analyst(analyst)
        .get("/reports/download", {**YEAR, "report": "takedown-platforms", "format": "json"})
        .json()
    )
    tables = {t["key"]: t for t in data["tables"]}
    assert set(tables) == {"platform-outcome", "timing", "regime-outcome", "escalations", "reappeared"}
    outcome = tables["platform-outcome"]
    with timezone.override(zoneinfo.ZoneInfo("Asia/Seoul")):
        sent_in_2025 = Notice.objects.filter(sent_at__year=2025).count()
    assert 0 < sent_in_2025 <= history.notices
    assert outcome["total"]["counts"][-1] == sent_in_2025
    # Medians only where a platform removed copies for at least 10 notices; shares are percentages.
    timing = tables["timing"]["rows"]
    assert any(row["counts"][1] is not None for row in timing)
    for row in timing:
        median, p90, share = row["counts"][1:]
        assert (median is None) == (p90 is None)
        if median is not None:
            assert 0 < median <= p90
        assert share is None or 0 <= share <= 100


def test_csv_cells_never_start_a_spreadsheet_formula(
    history: History, analyst: Persona, org_a: Organisation
) -> None:
    from haven.web.takedown.models import Platform

    Platform.objects.filter(organisation=org_a).update(name='=HYPERLINK("http://evil.example")')
    text = (
        _analyst(analyst)
        .get("/reports/download", {**YEAR, "report": "takedown-platforms", "format": "csv"})
        .content.decode("utf-8-sig")
    )
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows
    assert all(not r[k].startswith(("=", "+", "@")) for r in rows for k in ("table", "row", "column"))
    assert any(r["row"].startswith("'=HYPERLINK") for r in rows)
