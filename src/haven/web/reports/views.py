"""The report page (a table and a chart per section) and its downloads (CSV, JSON, PDF)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, ngettext, override
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from haven.web.accounts.decorators import staff_required, staff_user
from haven.web.accounts.roles import Perm
from haven.web.audit.chain import append_read
from haven.web.audit.models import EventType
from haven.web.core.access import own_or_404
from haven.web.core.pdf import pdf_language

from .actions import produce_report
from .charts import svg
from .forms import ReportForm
from .models import StoredReport
from .pdf import disclosure_note, render_report_pdf
from .periods import PeriodError
from .pooled import fetch_figures
from .standard import REPORTS, ReportError
from .tables import Report

STORED_SHOWN = 36

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "pdf": "application/pdf",
}


@require_GET
@staff_required(Perm.VIEW_REPORTS)
def report_page(request: HttpRequest) -> HttpResponse:
    user = staff_user(request)
    form = ReportForm(request.GET or None)
    context: dict[str, Any] = {
        "form": form,
        "reports": REPORTS.values(),
        "stored": StoredReport.objects.filter(organisation=user.organisation)[:STORED_SHOWN],
    }
    if form.is_valid():
        try:
            report = produce_report(
                actor=user,
                name=form.cleaned_data["report"],
                period=form.period(),
                filters=form.filters(),
                output="html",
            )
        except (ReportError, PeriodError) as exc:
            form.add_error(None, str(exc))
        else:
            query = {k: v for k, v in request.GET.items() if k in form.fields}
            context.update(
                report=report,
                sections=[
                    {"table": table, "chart": mark_safe(svg(table, f"chart-{n}"))}  # noqa: S308 - escaped in svg()
                    for n, table in enumerate(report.tables)
                ],
                disclosure=disclosure_note(report),
                downloads=[
                    (fmt, f"?{urlencode({**query, 'format': fmt})}") for fmt in ("csv", "json", "pdf")
                ],
            )
    return render(request, "reports/report.html", context)


@require_GET
@staff_required(Perm.VIEW_REPORTS)
def download(request: HttpRequest) -> HttpResponse:
    user = staff_user(request)
    form = ReportForm(request.GET)
    fmt = request.GET.get("format", "")
    if fmt not in CONTENT_TYPES or not form.is_valid():
        return HttpResponse(
            "Unknown report, period, filter or format.\n", status=400, content_type="text/plain"
        )
    # A PDF is made in a language a PDF font can set (core.pdf.FONTS), the others in the page's.
    with override(pdf_language(get_language()) if fmt == "pdf" else get_language()):
        try:
            report = produce_report(
                actor=user,
                name=form.cleaned_data["report"],
                period=form.period(),
                filters=form.filters(),
                output=fmt,
            )
        except (ReportError, PeriodError) as exc:
            return HttpResponse(f"{exc}\n", status=400, content_type="text/plain; charset=utf-8")
        return _file(report, fmt, "-".join([report.name, report.period, *form.filters().values()]))


def _file(report: Report, fmt: str, name: str) -> HttpResponse:
    if fmt == "csv":
        body: bytes = report.to_csv().encode("utf-8-sig")  # a BOM, so spreadsheets read Korean right
    elif fmt == "json":
        body = report.to_json().encode()
    else:
        body = render_report_pdf(report, language=get_language())
    response = HttpResponse(body, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@staff_required(Perm.VIEW_REPORTS)
def stored(request: HttpRequest, pk: int) -> HttpResponse:
    """A monthly report the worker kept, in the page's language where it was made in it."""
    user = staff_user(request)
    kept = own_or_404(user, StoredReport, pk)
    fmt = request.GET.get("format", "")
    if fmt not in CONTENT_TYPES:
        return HttpResponse("Unknown format.\n", status=400, content_type="text/plain")
    language = get_language() or "en"
    if fmt == "pdf":
        language = pdf_language(language)
    report = Report.from_dict(
        kept.data.get(language) or kept.data.get("en") or next(iter(kept.data.values()))
    )
    append_read(
        actor=user,
        event_type=EventType.REPORT_PRODUCED,
        organisation=user.organisation_id,
        summary={
            "report": kept.name,
            "period": kept.period,
            "filters": {},
            "format": fmt,
            "kept": kept.pk,
        },
    )
    with override(language):
        return _file(report, fmt, f"{kept.name}-{kept.period}")


@require_POST
@staff_required(Perm.VIEW_REPORTS)
def fetch_pooled(request: HttpRequest) -> HttpResponse:
    """Ask every peer centre for its figures of the chosen period, then show the pooled report."""
    user = staff_user(request)
    form = ReportForm(request.POST)
    if not form.is_valid() or user.organisation is None:
        messages.error(request, _("Choose a year and a period first."))
        return redirect("reports:report")
    period = form.period()
    results = fetch_figures(actor=user, organisation=user.organisation, period=period)
    for result in results:
        if result.error:
            messages.error(
                request, _("%(centre)s: %(error)s") % {"centre": result.centre, "error": result.error}
            )
    fetched = sum(1 for r in results if not r.error)
    messages.success(
        request,
        ngettext(
            "Figures for %(period)s from %(n)d centre.", "Figures for %(period)s from %(n)d centres.", fetched
        )
        % {"period": period, "n": fetched},
    )
    query = {k: request.POST.get(k, "") for k in ("year", "part")}
    return redirect(
        f"{reverse('reports:report')}?{urlencode({'report': 'gbvims-pooled', **query, 'filter': ''})}"
    )
