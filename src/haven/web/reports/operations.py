"""Reports on the centre's own work rather than on survivors: its notices as a DSA trusted flagger,
and its monitoring.

* ``dsa-trusted-flagger`` -- what Art. 22(3) of the Digital Services Act asks a trusted flagger to
  publish at least once a year: the notices it submitted under Art. 16, by provider of hosting
  services, by type of allegedly illegal content (the DSA transparency database's categories) and
  by the action the provider took.  Notices are about survivors' pictures, so the counts are one
  cube, suppressed like every other report's.
* ``monitoring`` -- the work of finding copies: pictures scanned and pages read (counts of the web,
  not of people: shown as they are), candidate matches by how they matched and what reviewers
  decided (suppressed: each is a copy of a survivor's picture), precision, and the time a reviewer
  spends on a candidate.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from dataclasses import dataclass

from django.db.models.functions import ExtractMonth
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from haven.web.accounts.models import Organisation
from haven.web.cases.classification import DsaCategory

from .cubes import UNKNOWN, Axis, Counter, Cube
from .disclosure import Rules, percentages, published_sum
from .periods import Period
from .standard import NOT_KNOWN, _platform_axis, _quantile, _report, _year, with_copies
from .tables import Report, Row, Table, cube_table, monthly_table

# --- DSA trusted-flagger figures (Art. 22(3)) ----------------------------------------------------

CONTENT = Axis(
    "content",
    gettext_lazy("Type of allegedly illegal content"),
    (*DsaCategory.choices, (UNKNOWN, NOT_KNOWN)),
)
ACTION = Axis(
    "action",
    gettext_lazy("Action taken by the provider"),
    (
        ("removed", gettext_lazy("Removed or disabled")),
        ("partial", gettext_lazy("Partly removed")),
        ("refused", gettext_lazy("No action: refused")),
        ("pending", gettext_lazy("No decision yet")),
    ),
)
DSA_REGIME = "dsa"


def _action(removed: int, refused: bool, members: int, action_taken: str) -> str:
    """What the provider did about a notice, from its copies and what the officer recorded."""
    if action_taken == "yes" or (members and removed == members):
        return "removed"
    if action_taken == "partial" or removed:
        return "partial"
    if action_taken == "no" or refused:
        return "refused"
    return "pending"


def dsa_cube(organisation: Organisation, year: int, rules: Rules) -> Cube:
    """The year's Art. 16 notices, by provider, type of content and action, suppressed once."""
    from haven.web.takedown.models import Notice

    start, end, zone = _year(organisation, Period(year))
    sent = with_copies(
        Notice.objects.filter(
            organisation=organisation, regime=DSA_REGIME, sent_at__gte=start, sent_at__lt=end
        )
    ).annotate(month=ExtractMonth("sent_at", tzinfo=zone))
    tally: dict[tuple[int, str, str, str], int] = defaultdict(int)
    for platform_id, category, action_taken, copies, gone, refused, month in sent.values_list(
        "platform_id", "case__dsa_category", "action_taken", "copies", "gone", "refused", "month"
    ):
        action = _action(gone, bool(refused), copies, action_taken)
        tally[(month, str(platform_id or ""), category or "", action)] += 1
    counter = Counter((_platform_axis(organisation), CONTENT, ACTION))
    for (month, *codes), n in tally.items():
        counter.add(month, codes, n)
    shown = [frozenset({"platform", "action"}), frozenset({"content", "action"})]
    return Cube.of(counter, rules, shown)


def dsa_tables(cube: Cube, period: Period) -> list[Table]:
    count = _("Notices")
    return [
        monthly_table(cube, period, {}, key="notices", title=_("Notices submitted"), count_title=count),
        cube_table(
            cube,
            period,
            {},
            key="provider-action",
            title=_("Notices by provider and action taken"),
            rows="platform",
            columns="action",
        ),
        cube_table(
            cube,
            period,
            {},
            key="content-action",
            title=_("Notices by type of content and action taken"),
            rows="content",
            columns="action",
        ),
    ]


def dsa_trusted_flagger(
    organisation: Organisation, period: Period, filters: dict[str, str], rules: Rules
) -> Report:
    notes = [
        _(
            "Notices sent under Article 16 of the Digital Services Act (legal regime “EU Digital "
            "Services Act”), counted in the month they were sent. The type of content is the "
            "case's DSA category; the action is the provider's, as the copies' removal and the "
            "officers' records show it."
        ),
        _(
            "Article 22(3) also asks for an explanation of the procedures that keep the trusted "
            "flagger independent: add it to the published report."
        ),
    ]
    tables = dsa_tables(dsa_cube(organisation, period.year, rules), period)
    return _report("dsa-trusted-flagger", organisation, period, filters, rules, tables, notes)


# --- Monitoring ----------------------------------------------------------------------------------

MATCH = Axis(
    "match",
    gettext_lazy("How it matched"),
    (
        ("file", gettext_lazy("The same file")),
        ("picture", gettext_lazy("The whole picture")),
        ("video", gettext_lazy("A frame of a video")),
        ("part", gettext_lazy("Part of the picture")),
    ),
)
DECISION = Axis(
    "decision",
    gettext_lazy("Reviewer's decision"),
    (
        ("confirmed", gettext_lazy("Confirmed")),
        ("rejected", gettext_lazy("Rejected")),
        ("pending", gettext_lazy("Waiting for review")),
    ),
)
PAUSE = dt.timedelta(minutes=15)
"""A longer gap between two of a reviewer's decisions is a pause, not time spent on the second."""


def _match(kind: str) -> str:
    return {"md5": "file", "pdq": "picture", "video_frame": "video"}.get(kind, "part")


@dataclass
class MonitoringFigures:
    candidates: Cube
    scans: dict[int, tuple[int, int, int, int]]  # month -> runs done, runs failed, pages, pictures
    seconds: dict[int, list[float]]  # month -> seconds a reviewer spent per decision, where timed


def monitoring_figures(organisation: Organisation, year: int, rules: Rules) -> MonitoringFigures:
    from haven.web.monitoring.models import Candidate, ScanRun

    start, end, zone = _year(organisation, Period(year))
    scans: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    finished = ScanRun.objects.filter(organisation=organisation, finished_at__gte=start, finished_at__lt=end)
    for when, status, stats in finished.values_list("finished_at", "status", "stats"):
        if when is None:  # pragma: no cover - the filter asks for a finishing time
            continue
        row = scans[when.astimezone(zone).month]
        row[0 if status == ScanRun.Status.DONE else 1] += 1
        stats = stats if isinstance(stats, dict) else {}
        row[2] += int(stats.get("pages") or 0)
        row[3] += int(stats.get("hashed") or 0)
    counter = Counter((MATCH, DECISION))
    found = Candidate.objects.filter(organisation=organisation, found_at__gte=start, found_at__lt=end)
    for when, kind, state in found.values_list("found_at", "kind", "state"):
        counter.add(when.astimezone(zone).month, (_match(kind), state))
    # Time per decision: the gap since the same reviewer's previous decision, where it is short
    # enough to have been spent on this one.
    seconds: dict[int, list[float]] = defaultdict(list)
    decided = (
        Candidate.objects.filter(
            organisation=organisation,
            decided_by__isnull=False,
            decided_at__gte=start - PAUSE,
            decided_at__lt=end,
        )
        .order_by("decided_by_id", "decided_at", "id")
        .values_list("decided_by_id", "decided_at")
    )
    previous: tuple[int, dt.datetime] | None = None
    for reviewer, when in decided:
        if when is None:  # pragma: no cover - the filter asks for a decision time
            continue
        if previous is not None and previous[0] == reviewer and when - previous[1] <= PAUSE and when >= start:
            seconds[when.astimezone(zone).month].append((when - previous[1]).total_seconds())
        previous = (reviewer, when)
    return MonitoringFigures(
        candidates=Cube.of(counter, rules, [frozenset({"match", "decision"})]),
        scans={month: (a, b, c, d) for month, (a, b, c, d) in scans.items()},
        seconds=dict(seconds),
    )


def monitoring_tables(figures: MonitoringFigures, period: Period, threshold: int) -> list[Table]:
    months = [f"{period.year}-{m:02d}" for m in period.months]
    scan_rows = []
    totals = [0, 0, 0, 0]
    for code, month in zip(months, period.months, strict=True):
        scanned = figures.scans.get(month, (0, 0, 0, 0))
        totals = [t + v for t, v in zip(totals, scanned, strict=True)]
        scan_rows.append(Row(code, [float(v) for v in scanned], code=code))
    scanning = Table(
        key="scanning",
        title=_("Scanning"),
        row_title=_("Month"),
        columns=[_("Scans done"), _("Scans failed"), _("Pages read"), _("Pictures scanned")],
        rows=scan_rows,
        total=Row(_("Total"), [float(v) for v in totals], code="total"),
        chart="bar",
        note=_("Counts of web pages and pictures, not of people: shown as they are."),
        column_codes=["runs_done", "runs_failed", "pages", "pictures"],
    )
    cube = figures.candidates
    candidates = monthly_table(
        cube, period, {}, key="candidates", title=_("Candidate matches found"), count_title=_("Candidates")
    )
    by_decision = cube_table(
        cube,
        period,
        {},
        key="match-decision",
        title=_("Candidates by how they matched and the reviewer's decision"),
        rows="match",
        columns="decision",
    )
    precision_rows = []
    match = cube.axis("match")
    for code, label in [*match.choices, ("total", _("Total"))]:
        at = {} if code == "total" else {"match": code}
        confirmed = cube.count(period, decision="confirmed", **at)
        decided = published_sum([confirmed, cube.count(period, decision="rejected", **at)])
        share = percentages([confirmed], decided)[0]
        precision_rows.append(Row(str(label), [decided, share], code=code))
    precision = Table(
        key="precision",
        title=_("Precision: the share of decided candidates that were confirmed"),
        row_title=str(match.title),
        columns=[_("Decided"), _("Precision (%)")],
        rows=precision_rows[:-1],
        total=precision_rows[-1],
        chart="bar",
        column_codes=["decided", "precision_percent"],
    )
    timing_rows = []
    every: list[float] = []
    for code, month in zip(months, period.months, strict=True):
        values = figures.seconds.get(month, [])
        every += values
        timing_rows.append(_timing_row(code, code, values, threshold))
    timing = Table(
        key="review-time",
        title=_("Reviewer time per candidate"),
        row_title=_("Month"),
        columns=[_("Decisions timed"), _("Median seconds"), _("90th percentile seconds")],
        rows=timing_rows,
        total=_timing_row(_("Total"), "total", every, threshold),
        chart="",
        note=_(
            "The time from a reviewer's previous decision to this one, where it is under %(minutes)d "
            "minutes (a longer gap is a pause, and the decision after it is not timed). Shown where "
            "at least %(n)d decisions were timed."
        )
        % {"minutes": PAUSE.total_seconds() // 60, "n": threshold},
        column_codes=["timed", "median_seconds", "p90_seconds"],
    )
    return [scanning, candidates, by_decision, precision, timing]


def _timing_row(label: str, code: str, values: list[float], threshold: int) -> Row:
    if len(values) < threshold:
        return Row(label, [float(len(values)), None, None], code=code)
    median = round(statistics.median(values), 1)
    return Row(label, [float(len(values)), median, round(_quantile(values, 0.9), 1)], code=code)


def monitoring_report(
    organisation: Organisation, period: Period, filters: dict[str, str], rules: Rules
) -> Report:
    figures = monitoring_figures(organisation, period.year, rules)
    tables = monitoring_tables(figures, period, rules.threshold)
    notes = [_("Candidates are counted in the month they were found.")]
    return _report("monitoring", organisation, period, filters, rules, tables, notes)
