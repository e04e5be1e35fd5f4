"""Pooled figures: a central centre adds up its peers' already-suppressed GBVIMS tables, fetched over
real HTTP with the keys each centre issued it; a peer that answers garbage changes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pytest
from django.test import Client, override_settings
from pytest_django.live_server_helper import LiveServer

from haven.web.accounts.models import Organisation
from haven.web.audit.models import AuditEvent, EventType
from haven.web.cases.models import Case, ConsentRecord
from haven.web.federation.models import Peer
from haven.web.reports.actions import rules
from haven.web.reports.models import PooledFigures
from haven.web.reports.periods import Period
from haven.web.reports.pooled import (
    FiguresError,
    as_figures,
    fetch_figures,
    own_tables,
    parse_figures,
    pooled_report,
)
from haven.web.reports.standard import gbvims_cubes, gbvims_tables
from haven.web.reports.synthetic import make_history
from haven.web.sharing.actions import create_partner
from tests.web.conftest import Persona
from tests.web.federation.conftest import b_admin, centre_keys, peer_of, private_peers

__all__ = ["b_admin", "centre_keys", "peer_of", "private_peers"]

YEAR = Period(2025)


def _total(report_tables: list, key: str = "incidents") -> float | None:
    table = next(t for t in report_tables if t.key == key)
    return table.total.counts[0]


@pytest.fixture
def two_centres(org_a: Organisation, org_b: Organisation) -> None:
    make_history(org_a, year=2025, cases=400, seed=1)
    make_history(org_b, year=2025, cases=300, seed=2)


@pytest.mark.usefixtures("two_centres")
def test_the_central_centre_adds_up_what_each_centre_published(
    live_server: LiveServer,
    peer_of: Callable[[str], Peer],
    org_a: Organisation,
    org_b: Organisation,
    b_admin: Persona,
) -> None:
    peer_of(live_server.url)
    [fetched] = fetch_figures(actor=b_admin.user, organisation=org_b, period=YEAR)
    assert fetched.error == ""
    kept = PooledFigures.objects.get()
    assert kept.figures == as_figures(own_tables(org_a, YEAR, rules()), YEAR, rules())
    assert "label" not in json.dumps(kept.figures)  # codes and counts only
    a_total, b_total = _total(own_tables(org_a, YEAR, rules())), _total(own_tables(org_b, YEAR, rules()))
    pooled = pooled_report(org_b, YEAR, rules())
    expected = None if a_total is None or b_total is None else a_total + b_total
    assert _total(pooled.tables) == expected
    # Every pooled cell is the sum of the two centres' published cells, or hidden if either hid it.
    a_tables = {t.key: t for t in own_tables(org_a, YEAR, rules())}
    b_tables = {t.key: t for t in own_tables(org_b, YEAR, rules())}
    hidden = published = 0
    for table in pooled.tables:
        for n, row in enumerate([*table.rows, table.total] if table.total else table.rows):
            a_row = (
                [*a_tables[table.key].rows, a_tables[table.key].total]
                if table.total
                else a_tables[table.key].rows
            )[n]
            b_row = (
                [*b_tables[table.key].rows, b_tables[table.key].total]
                if table.total
                else b_tables[table.key].rows
            )[n]
            for mine, a, b in zip(row.counts, a_row.counts, b_row.counts, strict=True):
                if a is None or b is None:
                    assert mine is None
                    hidden += 1
                else:
                    assert mine == a + b
                    published += 1
    assert hidden > 0
    assert published > 0
    # Both sides audited: A sent its figures to B, B fetched them.
    sent = AuditEvent.objects.get(event_type=EventType.FIGURES_SENT)
    assert (sent.organisation_id, sent.summary["partner"]) == (org_a.pk, "Centre B")
    pooled_event = AuditEvent.objects.get(event_type=EventType.FIGURES_POOLED)
    assert pooled_event.summary == {"period": "2025", "centres": ["Centre A"], "failed": []}


@pytest.mark.usefixtures("two_centres")
def test_cases_reported_elsewhere_or_without_statistics_consent_are_not_sent(org_a: Organisation) -> None:
    def consenting(**where: object) -> int:
        return ConsentRecord.objects.filter(
            case__organisation=org_a, scope="statistics", granted=True, **where
        ).count()

    def counted(pooled: bool) -> tuple[float, float | None]:
        """The true year's incidents of the slice, and what its table publishes."""
        cubes = gbvims_cubes(org_a, 2025, rules())
        true = cubes.incidents.protected.values[(4, 3, 7, 7, 4, 6, 0 if pooled else 2)]
        tables, _notes = gbvims_tables(cubes, YEAR, {}, pooled=pooled)
        return float(true), _total(tables)

    assert counted(pooled=True)[0] == consenting(case__reported_elsewhere=False)
    more = list(Case.objects.filter(organisation=org_a, reported_elsewhere=False).order_by("pk")[:30])
    Case.objects.filter(pk__in=[c.pk for c in more]).update(reported_elsewhere=True)
    true, shown = counted(pooled=True)
    assert true == consenting(case__reported_elsewhere=False)
    assert shown in (None, true)
    # The centre's own gbvims-monthly still counts them: only pooling leaves them out.
    true, shown = counted(pooled=False)
    assert true == consenting()
    assert shown in (None, true)
    assert consenting() > consenting(case__reported_elsewhere=False)
    # Both come from one cube suppressed once, so the cases reported elsewhere (the difference)
    # are hidden wherever they are few: no month shows both its total and its pooled total
    # when fewer than 10 of its incidents were reported elsewhere.
    cubes = gbvims_cubes(org_a, 2025, rules())
    values, shown_cells = cubes.incidents.protected.values, cubes.incidents.published
    for q in range(4):
        for m in range(3):
            elsewhere = values[(q, m, 7, 7, 4, 6, 1)]
            both = not np.isnan(shown_cells[(q, m, 7, 7, 4, 6, 0)]) and not np.isnan(
                shown_cells[(q, m, 7, 7, 4, 6, 2)]
            )
            assert not (both and 0 < elsewhere < 10)


def test_the_figures_endpoint_answers_partner_centres_only(
    org_a: Organisation, admin: Persona, centre_keys: dict[str, str]
) -> None:
    make_history(org_a, year=2025, cases=100, seed=4)
    headers = {
        "Ocp-Apim-Subscription-Key": centre_keys["subscription_key"],
        "x-functions-key": centre_keys["fetch_key"],
    }
    client = Client()
    ok = client.get("/api/federation/v1/figures", {"period": "2025-Q1"}, headers=headers)
    assert ok.status_code == 200, ok.content
    assert ok.json()["period"] == "2025-Q1"
    assert client.get("/api/federation/v1/figures", {"period": "2025-Q5"}, headers=headers).status_code == 400
    assert client.get("/api/federation/v1/figures", {"period": "2025"}).status_code == 401
    wrong = {**headers, "x-functions-key": centre_keys["feedback_key"]}
    assert client.get("/api/federation/v1/figures", {"period": "2025"}, headers=wrong).status_code == 401
    _platform, keys = create_partner(actor=admin.user, organisation=org_a, name="Platform", kind="platform")
    platform = {"Ocp-Apim-Subscription-Key": keys.subscription_key, "x-functions-key": keys.fetch_key}
    assert client.get("/api/federation/v1/figures", {"period": "2025"}, headers=platform).status_code == 403
    assert AuditEvent.objects.filter(event_type=EventType.FIGURES_SENT).count() == 1


GOOD = {
    "report": "gbvims-monthly",
    "period": "2025",
    "rules": {"threshold": 10, "round_to": 1},
    "tables": [{"key": "incidents", "columns": ["count"], "rows": [{"code": "total", "counts": [12]}]}],
}


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"report": "acosav-yearly"}, "asked for gbvims-monthly 2025"),
        ({"period": "2024"}, "asked for gbvims-monthly 2025"),
        ({"tables": "none"}, "malformed at tables"),
        (
            {"tables": [{"key": "x", "columns": ["a"], "rows": [{"code": "r", "counts": [1, 2]}]}]},
            "2 counts for 1",
        ),
        (
            {"tables": [{"key": "x", "columns": ["a"], "rows": [{"code": "r", "counts": [-3]}]}]},
            "is not a count",
        ),
        (
            {"tables": [{"key": "x", "columns": ["a"], "rows": [{"code": "r", "counts": [2.5]}]}]},
            "is not a count",
        ),
        ({"tables": [{"key": "x", "columns": ["a"], "rows": [{"code": "r", "counts": ["7"]}]}]}, "malformed"),
        ({"tables": [{"key": "x" * 100, "columns": [], "rows": []}]}, "malformed"),
    ],
)
def test_garbage_from_a_peer_is_refused_with_a_reason(change: dict, why: str) -> None:
    assert parse_figures(GOOD, YEAR)["tables"][0]["rows"][0]["counts"] == [12]
    with pytest.raises(FiguresError, match=why):
        parse_figures({**GOOD, **change}, YEAR)


@pytest.mark.usefixtures("two_centres")
def test_an_unreachable_peer_is_reported_and_changes_nothing(
    peer_of: Callable[[str], Peer], org_b: Organisation, b_admin: Persona
) -> None:
    peer_of("http://127.0.0.1:9")  # nothing listens on the discard port
    with override_settings(HAVEN_PEER_ALLOW_PRIVATE=True):
        [fetched] = fetch_figures(actor=b_admin.user, organisation=org_b, period=YEAR)
    assert fetched.error
    assert not PooledFigures.objects.exists()
    assert pooled_report(org_b, YEAR, rules()).notes[0].startswith("Pooled from 1 centre:")
