"""What a report is once computed: tables of published counts, ready for a page, CSV, JSON or PDF.

Nothing here holds a true count: hidden cells are None from the moment a table is made.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from django.utils.translation import gettext as _

from .cubes import Axis, Cube, Multi
from .disclosure import Rules, percentages
from .periods import Period, month_cell

Chart = Literal["bar", "line", ""]


@dataclass
class Row:
    label: str
    counts: list[float | None]
    percents: list[float | None] = field(default_factory=list)
    code: str = ""  # what the row counts, in the language of no one: "female", "2026-03", "total"


@dataclass
class Table:
    key: str
    title: str
    row_title: str
    columns: list[str]
    rows: list[Row]
    total: Row | None = None
    chart: Chart = "bar"
    note: str = ""
    column_codes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return all(c is None or c == 0 for r in self.rows for c in r.counts)


@dataclass
class Report:
    name: str
    title: str
    organisation: str
    period: str
    filters: dict[str, str]
    rules: Rules
    tables: list[Table]
    notes: list[str] = field(default_factory=list)
    generated_at: str = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    )

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["rules"] = {"threshold": self.rules.threshold, "round_to": self.rules.round_to}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """A report from :meth:`as_dict` (a kept monthly report)."""

        def row(r: dict[str, Any]) -> Row:
            return Row(
                label=r["label"], counts=r["counts"], percents=r.get("percents", []), code=r.get("code", "")
            )

        tables = [
            Table(
                key=t["key"],
                title=t["title"],
                row_title=t["row_title"],
                columns=t["columns"],
                rows=[row(r) for r in t["rows"]],
                total=row(t["total"]) if t.get("total") else None,
                chart=t.get("chart", "bar"),
                note=t.get("note", ""),
                column_codes=t.get("column_codes", []),
            )
            for t in data["tables"]
        ]
        return cls(
            name=data["name"],
            title=data["title"],
            organisation=data["organisation"],
            period=data["period"],
            filters=data.get("filters", {}),
            rules=Rules(**data["rules"]),
            tables=tables,
            notes=data.get("notes", []),
            generated_at=data.get("generated_at", ""),
        )

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=2) + "\n"

    def to_csv(self) -> str:
        """One line per published cell: hidden cells have no count and say so."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(
            ["report", "period", "filters", "table", "row", "column", "count", "percent", "hidden"]
        )
        filters = ";".join(f"{k}={v}" for k, v in self.filters.items())
        for table in self.tables:
            for row in [*table.rows, *([table.total] if table.total else [])]:
                for n, column in enumerate(table.columns):
                    count = row.counts[n]
                    percent = row.percents[n] if n < len(row.percents) else None
                    writer.writerow(
                        [
                            self.name,
                            self.period,
                            _cell_text(filters),
                            _cell_text(table.title),
                            _cell_text(row.label),
                            _cell_text(column),
                            "" if count is None else _number(count),
                            "" if percent is None else f"{percent:.1f}",
                            "yes" if count is None else "no",
                        ]
                    )
        return buffer.getvalue()


def _cell_text(text: str) -> str:
    """Text a spreadsheet will not run as a formula (a platform's name is typed by staff)."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def cube_table(
    cube: Cube,
    period: Period,
    filters: dict[str, str],
    *,
    key: str,
    title: str,
    rows: str,
    columns: str | None = None,
    count_title: str = "",
    chart: Chart = "bar",
    note: str = "",
) -> Table:
    """Rows (and columns) of one axis each, everything else at its total or at its filter value."""
    row_axis = cube.axis(rows)
    col_axis: Axis | None = cube.axis(columns) if columns else None
    # Filtered by the rows' (or columns') own axis: only the chosen value's row (or column).
    row_codes = [filters[rows]] if rows in filters else list(row_axis.codes)
    shown_cols = (
        [] if col_axis is None else [filters[columns]] if columns in filters else list(col_axis.codes)
    )
    col_codes: list[str | None] = [*shown_cols, None]
    headers = [*(col_axis.label(c) for c in shown_cols)] if col_axis else []
    headers.append(_("Total") if col_axis else (count_title or _("Count")))

    def line(row_code: str | None) -> list[float | None]:
        out = []
        for col_code in col_codes:
            at = dict(filters)
            if row_code is not None:
                at[rows] = row_code
            if col_axis is not None and col_code is not None:
                at[col_axis.key] = col_code
            out.append(cube.count(period, **at))
        return out

    total = Row(_("Total"), line(None), code="total")
    table_rows = [Row(row_axis.label(code), line(code), code=code or "unknown") for code in row_codes]
    for row in [*table_rows, total]:
        # A share of the grand total, for one-column tables; of the row's total, for two-way ones.
        base = total.counts[-1] if col_axis is None else row.counts[-1]
        row.percents = percentages(row.counts, base)
    return Table(
        key=key,
        title=title,
        row_title=str(row_axis.title),
        columns=headers,
        rows=table_rows,
        total=total,
        chart=chart,
        note=note,
        column_codes=[*(c or "unknown" for c in shown_cols), "total"] if col_axis else ["count"],
    )


def monthly_table(
    cube: Cube, period: Period, filters: dict[str, str], *, key: str, title: str, count_title: str
) -> Table:
    """The period month by month (a single row for a month's report)."""
    rows = [
        Row(f"{period.year}-{m:02d}", [cube.count(month_cell(m), **filters)], code=f"{period.year}-{m:02d}")
        for m in period.months
    ]
    total = Row(_("Total"), [cube.count(period, **filters)], code="total")
    return Table(
        key=key,
        title=title,
        row_title=_("Month"),
        columns=[count_title],
        rows=rows,
        total=total,
        chart="line" if len(rows) > 3 else "bar",
        column_codes=["count"],
    )


def multi_table(
    multi: Multi,
    period: Period,
    population: float | None,
    *,
    key: str,
    title: str,
    count_title: str,
    note: str = "",
) -> Table:
    rows = []
    for code, label in multi.categories:
        count = multi.count(period, code)
        rows.append(Row(str(label), [count], percentages([count], population), code=code))
    return Table(
        key=key,
        title=title,
        row_title="",
        columns=[count_title],
        rows=rows,
        total=None,
        chart="bar",
        note=note,
        column_codes=["count"],
    )
