"""The reports on the centre's own work: DSA trusted-flagger figures and monitoring."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone

from haven.cli import main
from haven.web.accounts.models import Organisation
from haven.web.cases.classification import MAPPING, DsaCategory
from haven.web.cases.models import Case, ContentItem
from haven.web.monitoring.models import Candidate, CandidateState, ScanRun
from haven.web.reports.actions import rules
from haven.web.reports.disclosure import Rules
from haven.web.reports.operations import PAUSE, dsa_cube, monitoring_figures
from haven.web.reports.periods import Period
from haven.web.reports.standard import ReportError, make_report
from haven.web.reports.synthetic import make_history
from haven.web.takedown.models import ActionTaken, Notice, Sighting, SightingState
from tests.web.conftest import Persona

SEOUL = zoneinfo.ZoneInfo("Asia/Seoul")
EXACT = Rules(threshold=1)  # nothing hidden: the true counts


def _sent_in_2025(**filters: object) -> int:
    with timezone.override(SEOUL):
        return Notice.objects.filter(sent_at__year=2025, **filters).count()


def test_every_dsa_category_of_the_classification_has_a_label() -> None:
    assert {dsa for _gbvims, dsa in MAPPING.values()} <= set(DsaCategory.values)


@pytest.mark.usefixtures("history")
def test_the_dsa_report_counts_the_year_s_article_16_notices_only(org_a: Organisation) -> None:
    report = make_report(org_a, "dsa-trusted-flagger", "2025", {}, rules()).as_dict()
    tables = {t["key"]: t for t in report["tables"]}
    assert set(tables) == {"notices", "provider-action", "content-action"}
    dsa = _sent_in_2025(regime="dsa")
    assert 0 < dsa < _sent_in_2025()  # other regimes' notices are left out
    assert tables["notices"]["total"]["counts"] == [dsa]
    assert tables["provider-action"]["total"]["counts"][-1] == dsa
    content = tables["content-action"]
    assert [r["code"] for r in content["rows"]] == [*DsaCategory.values, "unknown"]
    assert content["columns"][:4] == [
        "Removed or disabled",
        "Partly removed",
        "No action: refused",
        "No decision yet",
    ]
    # The synthetic centre's notices are mostly about shared images.
    shared = next(r for r in content["rows"] if r["code"] == "NON_CONSENSUAL_IMAGE_SHARING")
    assert shared["counts"][-1] is not None
    assert shared["counts"][-1] > dsa / 2
    # A month's report hides its small cells.
    month = make_report(org_a, "dsa-trusted-flagger", "2025-03", {}, rules()).as_dict()
    cells = [c for t in month["tables"] for r in t["rows"] for c in r["counts"]]
    assert None in cells


@pytest.mark.usefixtures("history")
def test_the_action_follows_the_copies_and_the_officer_s_record(org_a: Organisation) -> None:
    def actions() -> dict[str, int]:
        cube = dsa_cube(org_a, 2025, EXACT)
        return {code: int(cube.count(Period(2025), action=code) or 0) for code in cube.axis("action").codes}

    before = actions()
    assert sum(before.values()) == _sent_in_2025(regime="dsa")
    with timezone.override(SEOUL):
        waiting = (
            Notice.objects.filter(
                regime="dsa", sent_at__year=2025, action_taken=ActionTaken.UNKNOWN, escalation_of=None
            )
            .exclude(sightings__removed_at__isnull=False)
            .distinct()
        )
        refused, partly, partly_recorded, removed = list(waiting[:4])
    Notice.objects.filter(pk=refused.pk).update(action_taken=ActionTaken.NO)
    # One copy of several gone, or the officer's record of a partial removal: partly removed.
    first = partly.sightings.first()
    assert first is not None
    another = (
        Sighting.objects.filter(removed_at=None)
        .exclude(pk=first.pk)
        .exclude(notices__in=[refused, partly_recorded, removed])
        .first()
    )
    assert another is not None
    partly.sightings.add(another)
    Sighting.objects.filter(pk=first.pk).update(removed_at=timezone.now(), state=SightingState.REMOVED)
    Notice.objects.filter(pk=partly_recorded.pk).update(action_taken=ActionTaken.PARTIAL)
    # Every copy gone: removed.
    removed.sightings.update(removed_at=timezone.now(), state=SightingState.REMOVED)
    after = actions()
    assert after["pending"] == before["pending"] - 4
    assert after["refused"] == before["refused"] + 1
    assert after["partial"] == before["partial"] + 2
    assert after["removed"] == before["removed"] + 1


def test_the_monitoring_report_counts_scans_candidates_and_reviewer_time(
    org_a: Organisation, analyst: Persona
) -> None:
    history = make_history(org_a, year=2025, cases=400, seed=7, reviewer=analyst.user)
    assert history.candidates > 0
    report = make_report(org_a, "monitoring", "2025", {}, rules()).as_dict()
    tables = {t["key"]: t for t in report["tables"]}
    assert set(tables) == {"scanning", "candidates", "match-decision", "precision", "review-time"}

    with timezone.override(SEOUL):
        runs = ScanRun.objects.filter(organisation=org_a, finished_at__year=2025)
        found = Candidate.objects.filter(organisation=org_a, found_at__year=2025)
        hashed = sum(int(r.stats.get("hashed", 0)) for r in runs)
        done = runs.filter(status=ScanRun.Status.DONE).count()
        n_found = found.count()
        confirmed = found.filter(state=CandidateState.CONFIRMED).count()
        rejected = found.filter(state=CandidateState.REJECTED).count()
    scanning = tables["scanning"]
    assert len(scanning["rows"]) == 12
    assert scanning["total"]["counts"] == [done, runs.count() - done, scanning["total"]["counts"][2], hashed]
    assert hashed > 0
    assert tables["candidates"]["total"]["counts"] == [n_found]
    precision = tables["precision"]["total"]
    assert precision["counts"] == [confirmed + rejected, round(100 * confirmed / (confirmed + rejected), 1)]
    timing = tables["review-time"]["total"]["counts"]
    timed, median, p90 = timing
    assert 0 < timed <= confirmed + rejected
    assert median is not None
    assert p90 is not None
    assert 1 <= median <= p90 <= PAUSE.total_seconds()


def _case_with_item(org: Organisation) -> tuple[Case, ContentItem]:
    case = Case.objects.create(organisation=org, number="HV-T1")
    item = ContentItem.objects.create(organisation=org, case=case, label="photo", pdq="0" * 64)
    return case, item


def test_a_pause_is_not_counted_as_time_spent_and_reviewers_are_timed_apart(
    org_a: Organisation, analyst: Persona, admin: Persona
) -> None:
    case, item = _case_with_item(org_a)
    start = dt.datetime(2025, 5, 6, 10, 0, tzinfo=SEOUL)
    decisions = [
        (analyst, start),
        (analyst, start + dt.timedelta(seconds=30)),
        (admin, start + dt.timedelta(seconds=40)),  # another reviewer: her first, untimed
        (analyst, start + dt.timedelta(seconds=75)),
        (analyst, start + dt.timedelta(seconds=75) + PAUSE + dt.timedelta(seconds=1)),  # after a pause
        (admin, start + dt.timedelta(minutes=2)),
    ]
    for n, (who, when) in enumerate(decisions):
        Candidate.objects.create(
            organisation=org_a,
            case=case,
            content_item=item,
            media_url=f"https://example.org/{n}.jpg",
            distance=4,
            kind="pdq",
            sha256=f"{n:064x}",
            found_at=start - dt.timedelta(hours=1),
            state=CandidateState.REJECTED,
            decided_by=who.user,
            decided_at=when,
        )
    figures = monitoring_figures(org_a, 2025, EXACT)
    assert sorted(figures.seconds[5]) == [30.0, 45.0, 80.0]
    # Fewer timed decisions than the threshold: the count is shown, the times are not.
    report = make_report(org_a, "monitoring", "2025-05", {}, rules()).as_dict()
    timing = next(t for t in report["tables"] if t["key"] == "review-time")
    assert timing["rows"][0]["counts"] == [3, None, None]


@pytest.mark.usefixtures("history")
def test_the_command_makes_both_and_refuses_filters(capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("dsa-trusted-flagger", "monitoring"):
        assert main(["report", name, "--org", "centre-a", "--period", "2025-Q2", "--format", "csv"]) == 0
        assert capsys.readouterr().out.startswith("report,period,filters,table,row,column")
    with pytest.raises(ReportError, match="cannot be filtered"):
        make_report(
            Organisation.objects.get(slug="centre-a"), "monitoring", "2025", {"sex": "female"}, rules()
        )
