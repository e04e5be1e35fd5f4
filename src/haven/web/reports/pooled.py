"""Pooled figures across a federation: national GBVIMS tables without a row of another centre's data.

Each centre answers its peers' ``GET /api/federation/v1/figures?period=…`` (with the keys it issued
them, as for its feed) with its own GBVIMS tables for the period, **already suppressed** and without
labels: codes and counts only, cases also reported to another centre left out so that no survivor
is counted twice.  The central centre fetches them (`haven report pooled-fetch`, *Fetch figures* on
the report page, or the worker each month), keeps each centre's answer, and adds them up with its
own: a cell is the sum of every centre's published count, and hidden if any centre hid it.  A sum of
published numbers says nothing a centre did not publish, so pooling needs no suppression of its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from haven.web.accounts.models import Organisation
from haven.web.audit.chain import append
from haven.web.audit.models import EventType

from .disclosure import Rules, percentages, published_sum
from .periods import Period
from .standard import counting, gbvims_cubes, gbvims_tables
from .tables import Report, Table

REPORT = "gbvims-monthly"
_MAX_COUNT = 10**9


def own_tables(organisation: Organisation, period: Period, rules: Rules) -> list[Table]:
    with counting():
        cubes = gbvims_cubes(organisation, period.year, rules)
    tables, _notes = gbvims_tables(cubes, period, {}, pooled=True)
    return tables


def as_figures(tables: list[Table], period: Period, rules: Rules) -> dict[str, Any]:
    """What a centre sends: codes and published counts only (no labels, no percentages)."""
    return {
        "report": REPORT,
        "period": str(period),
        "rules": {"threshold": rules.threshold, "round_to": rules.round_to},
        "tables": [
            {
                "key": t.key,
                "columns": t.column_codes,
                "rows": [
                    {"code": r.code, "counts": r.counts} for r in [*t.rows, *([t.total] if t.total else [])]
                ],
            }
            for t in tables
        ],
    }


# --- what a peer sends, checked before it is kept ---------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class _Row(_Strict):
    code: str = Field(max_length=64)
    counts: list[float | int | None] = Field(max_length=64)


class _Table(_Strict):
    key: str = Field(max_length=64)
    columns: list[str] = Field(max_length=64)
    rows: list[_Row] = Field(max_length=64)


class Figures(_Strict):
    report: str
    period: str = Field(max_length=7)
    rules: dict[str, int]
    tables: list[_Table] = Field(max_length=32)


class FiguresError(ValueError):
    """A peer's answer that is not a centre's figures for the period asked (in words)."""


def parse_figures(data: Any, period: Period) -> dict[str, Any]:
    try:
        figures = Figures.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise FiguresError(
            f"the figures are malformed at {where or 'the top'}: {first.get('msg', '')}"
        ) from None
    if figures.report != REPORT or figures.period != str(period):
        raise FiguresError(f"asked for {REPORT} {period}, got {figures.report} {figures.period}")
    for table in figures.tables:
        for row in table.rows:
            if len(row.counts) != len(table.columns):
                raise FiguresError(
                    f"table {table.key}: row {row.code} has {len(row.counts)} counts "
                    f"for {len(table.columns)} columns"
                )
            for count in row.counts:
                if count is not None and (
                    not math.isfinite(count) or count < 0 or count > _MAX_COUNT or count != int(count)
                ):
                    raise FiguresError(f"table {table.key}: {count!r} is not a count")
    return figures.model_dump()


# --- fetching, at the central centre -----------------------------------------------------------------


@dataclass(frozen=True)
class Fetched:
    centre: str
    error: str = ""


def fetch_figures(*, actor: Any, organisation: Organisation, period: Period) -> list[Fetched]:
    """Ask every active peer for its figures for ``period`` and keep each answer; audited."""
    from haven.web.federation import client
    from haven.web.federation.actions.peers import peer_keys
    from haven.web.federation.models import Peer

    from .models import PooledFigures

    results = []
    for peer in Peer.objects.filter(organisation=organisation, active=True).exclude(url="").order_by("name"):
        try:
            keys = peer_keys(peer)
            answer = client.get_json(peer.url, keys, f"figures?period={period}", "fetch_key")
            figures = parse_figures(answer, period)
        except (client.PeerError, FiguresError) as exc:
            results.append(Fetched(peer.name, str(exc)[:300]))
            continue
        PooledFigures.objects.update_or_create(
            peer=peer,
            period=str(period),
            defaults={"organisation": organisation, "figures": figures, "fetched_at": timezone.now()},
        )
        results.append(Fetched(peer.name))
    with transaction.atomic():
        append(
            actor=actor,
            event_type=EventType.FIGURES_POOLED,
            organisation=organisation,
            summary={
                "period": str(period),
                "centres": [r.centre for r in results if not r.error],
                "failed": [r.centre for r in results if r.error],
            },
        )
    return results


def pooled_report(organisation: Organisation, period: Period, rules: Rules) -> Report:
    """The centre's own pooled tables added up with every peer's kept figures for the period."""
    from .models import PooledFigures

    tables = own_tables(organisation, period, rules)
    kept = list(
        PooledFigures.objects.filter(organisation=organisation, period=str(period)).select_related("peer")
    )
    lookup: list[dict[tuple[str, str, str], float | None]] = []
    for row in kept:
        cells: dict[tuple[str, str, str], float | None] = {}
        for table in row.figures["tables"]:
            for line in table["rows"]:
                for column, count in zip(table["columns"], line["counts"], strict=True):
                    cells[(table["key"], line["code"], column)] = count
        lookup.append(cells)
    for table in tables:
        for line in [*table.rows, *([table.total] if table.total else [])]:
            summed: list[float | None] = []
            for column, own in zip(table.column_codes, line.counts, strict=True):
                values = [own, *(cells.get((table.key, line.code, column)) for cells in lookup)]
                summed.append(published_sum(values))
            line.counts = summed
        base = table.total.counts[-1] if table.total else None
        for line in [*table.rows, *([table.total] if table.total else [])]:
            line.percents = percentages(
                line.counts, base if len(table.column_codes) == 1 else line.counts[-1]
            )
    centres = [
        organisation.name,
        *(f"{k.peer.name} ({timezone.localtime(k.fetched_at):%Y-%m-%d %H:%M})" for k in kept),
    ]
    notes = [
        ngettext(
            "Pooled from %(n)d centre: %(names)s.", "Pooled from %(n)d centres: %(names)s.", len(centres)
        )
        % {"n": len(centres), "names": "; ".join(centres)},
        _(
            "Each centre's figures were suppressed there; a count hidden at any centre is hidden here. "
            "Cases also reported to another centre are left out, so that no survivor is counted twice."
        ),
    ]
    return Report(
        name="gbvims-pooled",
        title=_("GBVIMS incident tables, pooled across centres"),
        organisation=organisation.name,
        period=str(period),
        filters={},
        rules=rules,
        tables=tables,
        notes=notes,
    )


def answer_for_partner(partner: Any, period: Period, rules: Rules) -> dict[str, Any]:
    """What this centre sends a peer that asks for its figures; the answer is audited."""
    figures = as_figures(own_tables(partner.organisation, period, rules), period, rules)
    with transaction.atomic():
        append(
            actor=f"partner {partner.name}",
            event_type=EventType.FIGURES_SENT,
            organisation=partner.organisation_id,
            summary={"partner": partner.name, "report": REPORT, "period": str(period)},
        )
    return figures
