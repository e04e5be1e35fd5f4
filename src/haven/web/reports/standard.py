"""The standard reports: what they count, on which axes, and the tables they show.

Each report counts one calendar year of one organisation into cubes (:mod:`.cubes`), suppresses
them once, and reads the asked period and filters from them.  Counting is done in the database
(``GROUP BY`` month and the axes' fields) wherever the fields allow it.

* ``acosav-yearly`` -- the figures ACOSAV publishes each year: survivors supported, by sex, age and
  relationship to the perpetrator; harms; services given; deletions by platform kind, requested or
  proactive, domestic or overseas hosting.  Survivors are counted in the month their case was opened;
  deletions in the month the copy was confirmed removed.
* ``gbvims-monthly`` -- the GBVIMS incident tables: incidents by GBVIMS type, age and sex; time from
  incident to report; services referred to.  Only cases whose survivor agreed to be counted in
  statistics shared beyond the centre (consent scope ``statistics``).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models import Case as SqlCase
from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import ExtractMonth
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from haven.web.accounts.models import Organisation
from haven.web.cases.classification import AgeBand, GbvimsType, HarmType, Relationship, SurvivorSex
from haven.web.cases.models import Case, ConsentRecord, ConsentScope
from haven.web.core.db import EpochSeconds
from haven.web.referrals.models import Referral, ReferralStatus, ServiceKind
from haven.web.takedown.models import PlatformKind, Sighting, SightingSource

from .cubes import UNKNOWN, Axis, Counter, Cube, Multi, monthly
from .disclosure import Rules, published_sum
from .periods import Period
from .tables import Report, Row, Table, cube_table, monthly_table, multi_table

NOT_KNOWN = gettext_lazy("Not known")

SEX = Axis("sex", gettext_lazy("Sex"), (*SurvivorSex.choices, (UNKNOWN, NOT_KNOWN)))
AGE = Axis("age", gettext_lazy("Age"), (*AgeBand.choices, (UNKNOWN, NOT_KNOWN)))
RELATIONSHIP = Axis(
    "relationship",
    gettext_lazy("Relationship to the perpetrator"),
    tuple(
        (code, label) if code != Relationship.UNKNOWN else (UNKNOWN, NOT_KNOWN)
        for code, label in Relationship.choices
    ),
)
GBVIMS = Axis("type", gettext_lazy("GBVIMS incident type"), (*GbvimsType.choices, (UNKNOWN, NOT_KNOWN)))
ELSEWHERE = Axis(
    "elsewhere",
    gettext_lazy("Also reported to another centre"),
    (("no", gettext_lazy("No")), ("yes", gettext_lazy("Yes"))),
)
ELAPSED = Axis(
    "elapsed",
    gettext_lazy("Time from incident to report"),
    (
        ("0-3d", gettext_lazy("0–3 days")),
        ("4-5d", gettext_lazy("4–5 days")),
        ("6-14d", gettext_lazy("6–14 days")),
        ("2w-1m", gettext_lazy("2 weeks – 1 month")),
        ("1m+", gettext_lazy("Over 1 month")),
        (UNKNOWN, NOT_KNOWN),
    ),
)
PLATFORM_KIND = Axis(
    "platform", gettext_lazy("Kind of platform"), (*PlatformKind.choices, (UNKNOWN, NOT_KNOWN))
)
REQUEST = Axis(
    "request",
    gettext_lazy("How the copy was found"),
    (
        ("requested", gettext_lazy("Requested by the survivor")),
        ("proactive", gettext_lazy("Found by the centre")),
    ),
)
HOSTING = Axis(
    "hosting",
    gettext_lazy("Where the site is hosted"),
    (
        ("domestic", gettext_lazy("In the country")),
        ("overseas", gettext_lazy("Abroad")),
        (UNKNOWN, NOT_KNOWN),
    ),
)

# Which axes a table breaks down at once, a filter included (one filter at a time).
ACOSAV_SHOWN = (
    frozenset({"sex", "age"}),
    frozenset({"relationship", "sex"}),
    frozenset({"relationship", "age"}),
)
# "elsewhere" (also reported to another centre) is never a row or column: the pooled figures are its
# "no" slice, and it is suppressed with the rest so that the difference between the centre's own
# tables and its pooled ones (the cases reported elsewhere) gives nothing away either.
GBVIMS_SHOWN = (
    frozenset({"type", "age", "sex", "elsewhere"}),
    frozenset({"elapsed", "sex", "elsewhere"}),
    frozenset({"elapsed", "age", "elsewhere"}),
)

_REQUESTED = {SightingSource.SURVIVOR, SightingSource.COUNSELLOR}
_MADE = (ReferralStatus.SENT, ReferralStatus.ACCEPTED, ReferralStatus.COMPLETED)
REFERRAL_KINDS: tuple[tuple[str, str | Promise], ...] = tuple(ServiceKind.choices)


HARM_CATEGORIES: tuple[tuple[str, str | Promise], ...] = (
    *HarmType.choices,
    ("personal_info", gettext_lazy("Personal information leaked")),
)
SERVICE_CATEGORIES: tuple[tuple[str, str | Promise], ...] = (
    ("deletion", gettext_lazy("Deletion support")),
    ("monitoring", gettext_lazy("Monitoring for re-uploads")),
    *((f"referral:{kind}", label) for kind, label in REFERRAL_KINDS),
)


class ReportError(ValueError):
    """A report that cannot be made as asked (unknown name, filter or period), in words."""


@dataclass(frozen=True)
class Definition:
    name: str
    title: Promise
    description: Promise
    filters: tuple[Axis, ...]
    build: Callable[[Organisation, Period, dict[str, str], Rules], Report]


def _year(organisation: Organisation, period: Period) -> tuple[dt.datetime, dt.datetime, zoneinfo.ZoneInfo]:
    start, _end = Period(period.year).bounds(organisation.time_zone)
    end = Period(period.year + 1).bounds(organisation.time_zone)[0]
    return start, end, zoneinfo.ZoneInfo(organisation.time_zone)


def _cases(organisation: Organisation, period: Period) -> tuple[QuerySet[Case], zoneinfo.ZoneInfo]:
    start, end, zone = _year(organisation, period)
    return Case.objects.filter(organisation=organisation, created_at__gte=start, created_at__lt=end), zone


def _current_grants(cases: QuerySet[Case], scope: str) -> QuerySet[ConsentRecord]:
    """The granting records of ``scope`` that no later record of the scope follows: each case's
    current consent, where it is given (an anti-join on the consent index, several times faster
    than asking each case for its latest record)."""
    later = ConsentRecord.objects.filter(case=OuterRef("case"), scope=scope).filter(
        Q(recorded_at__gt=OuterRef("recorded_at"))
        | Q(recorded_at=OuterRef("recorded_at"), pk__gt=OuterRef("pk"))
    )
    return ConsentRecord.objects.filter(case__in=cases, scope=scope, granted=True).exclude(Exists(later))


def _consenting(cases: QuerySet[Case], scope: str) -> QuerySet[Case]:
    return cases.filter(pk__in=_current_grants(cases, scope).values("case_id"))


def _granted_by_month(cases: QuerySet[Case], scope: str, zone: zoneinfo.ZoneInfo) -> np.ndarray:
    """Cases whose current consent grants ``scope``, by the month the case was opened."""
    rows = (
        _current_grants(cases, scope)
        .annotate(month=ExtractMonth("case__created_at", tzinfo=zone))
        .values("month")
        .annotate(n=Count("case_id"))
    )
    return monthly((r["month"], r["n"]) for r in rows)


def _population(cases: QuerySet[Case], zone: zoneinfo.ZoneInfo) -> np.ndarray:
    rows = (
        cases.annotate(month=ExtractMonth("created_at", tzinfo=zone)).values("month").annotate(n=Count("id"))
    )
    return monthly((r["month"], r["n"]) for r in rows)


def _referred(cases: QuerySet[Case], zone: zoneinfo.ZoneInfo) -> dict[str, np.ndarray]:
    """Per kind of service: survivors referred to one, by the month their case was opened."""
    made = Referral.objects.filter(case__in=cases.values("pk"), status__in=_MADE)
    rows = (
        made.annotate(month=ExtractMonth("case__created_at", tzinfo=zone))
        .values("month", "service__kind")
        .annotate(n=Count("case", distinct=True))
    )
    out: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for r in rows:
        out[r["service__kind"]].append((r["month"], r["n"]))
    return {kind: monthly(pairs) for kind, pairs in out.items()}


def _filters(definition: Definition, asked: dict[str, str]) -> dict[str, str]:
    allowed = {axis.key: axis for axis in definition.filters}
    if len(asked) > 1:
        # Two filters at once would break down axes no table shows together, and every such
        # cell would have to be suppressed with the rest.
        raise ReportError(_("Give one filter at a time."))
    clean = {}
    for key, value in asked.items():
        axis = allowed.get(key)
        if axis is None:
            names = ", ".join(sorted(allowed)) or _("none")
            raise ReportError(
                _("%(report)s cannot be filtered by %(key)s; it can be by: %(names)s.")
                % {"report": definition.name, "key": key, "names": names}
            )
        code = "" if value in ("", "unknown") else value
        if code not in axis.codes:
            raise ReportError(
                _("%(value)s is not a value of %(key)s; give one of: %(values)s.")
                % {"value": value, "key": key, "values": ", ".join(c or "unknown" for c in axis.codes)}
            )
        clean[key] = code
    return clean


def _filter_labels(definition: Definition, filters: dict[str, str]) -> dict[str, str]:
    axes = {axis.key: axis for axis in definition.filters}
    return {str(axes[k].title): axes[k].label(v) for k, v in filters.items()}


# --- ACOSAV's yearly figures ---------------------------------------------------------------------


@dataclass
class AcosavCubes:
    people: Cube
    harms: Multi
    services: Multi
    deletions: Cube


def acosav_cubes(organisation: Organisation, year: int, rules: Rules) -> AcosavCubes:
    """One year's counts for ``acosav-yearly``, suppressed: every period and filter reads these."""
    period = Period(year)
    cases, zone = _cases(organisation, period)
    survivors = Counter((SEX, AGE, RELATIONSHIP))
    rows = (
        cases.annotate(month=ExtractMonth("created_at", tzinfo=zone))
        .values("month", "survivor_sex", "survivor_age_band", "relationship")
        .annotate(n=Count("id"))
    )
    population: list[tuple[int, int]] = []
    for r in rows:
        relationship = "" if r["relationship"] in ("", Relationship.UNKNOWN) else r["relationship"]
        survivors.add(r["month"], (r["survivor_sex"], r["survivor_age_band"], relationship), r["n"])
        population.append((r["month"], r["n"]))
    # Harms, leaked personal information and deletion support, grouped in the database by their
    # combination (a few dozen kinds of survivor a month, not one row each).
    combinations = (
        cases.annotate(
            month=ExtractMonth("created_at", tzinfo=zone),
            deleted=Exists(Sighting.objects.filter(case=OuterRef("pk"))),
        )
        .values("month", "harm_types", "personal_info_leaked", "deleted")
        .annotate(n=Count("id"))
    )
    tally: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for combination in combinations:
        month, n = combination["month"], combination["n"]
        for kind in combination["harm_types"] or ():
            tally[kind].append((month, n))
        if combination["personal_info_leaked"]:
            tally["personal_info"].append((month, n))
        if combination["deleted"]:
            tally["deletion"].append((month, n))
    counted = {kind: monthly(pairs) for kind, pairs in tally.items()}
    everyone = monthly(population)
    services = {
        "deletion": counted.pop("deletion", np.zeros((4, 3), dtype=np.int64)),
        "monitoring": _granted_by_month(cases, ConsentScope.MONITOR, zone),
        **{f"referral:{kind}": counts for kind, counts in _referred(cases, zone).items()},
    }
    return AcosavCubes(
        people=Cube.of(survivors, rules, ACOSAV_SHOWN),
        harms=Multi.of(HARM_CATEGORIES, everyone, counted, rules),
        services=Multi.of(SERVICE_CATEGORIES, everyone, services, rules),
        deletions=_deletions(organisation, year, rules),
    )


def acosav_tables(
    cubes: AcosavCubes, period: Period, filters: dict[str, str]
) -> tuple[list[Table], list[str]]:
    people = cubes.people
    tables: list[Table] = [
        monthly_table(
            people,
            period,
            filters,
            key="survivors",
            title=_("Survivors supported"),
            count_title=_("Survivors"),
        ),
        cube_table(
            people,
            period,
            filters,
            key="sex-age",
            title=_("Survivors by age and sex"),
            rows="age",
            columns="sex",
        ),
        cube_table(
            people,
            period,
            filters,
            key="relationship",
            title=_("Relationship to the perpetrator"),
            rows="relationship",
            count_title=_("Survivors"),
        ),
    ]
    if filters:
        note = _(
            "Harms, services and deletions are counted for all survivors only, "
            "so they are left out of a filtered report."
        )
        return tables, [note]
    n = people.count(period)
    tables.append(
        multi_table(
            cubes.harms,
            period,
            n,
            key="harms",
            title=_("Harms"),
            count_title=_("Survivors"),
            note=_("A survivor may report several harms."),
        )
    )
    tables.append(
        multi_table(
            cubes.services,
            period,
            n,
            key="services",
            title=_("Services given"),
            count_title=_("Survivors"),
            note=_("Referrals count those made (sent, accepted or completed), one per kind of service."),
        )
    )
    count = _("Copies removed")
    for key, title, axis in (
        ("deletions-platform", _("Deletions by kind of platform"), "platform"),
        ("deletions-request", _("Requested and proactive deletions"), "request"),
        ("deletions-hosting", _("Deletions by where the site is hosted"), "hosting"),
    ):
        tables.append(
            cube_table(cubes.deletions, period, {}, key=key, title=title, rows=axis, count_title=count)
        )
    return tables, []


def acosav_yearly(
    organisation: Organisation, period: Period, filters: dict[str, str], rules: Rules
) -> Report:
    tables, notes = acosav_tables(acosav_cubes(organisation, period.year, rules), period, filters)
    return _report("acosav-yearly", organisation, period, filters, rules, tables, notes)


def _report(
    name: str,
    organisation: Organisation,
    period: Period,
    filters: dict[str, str],
    rules: Rules,
    tables: list[Table],
    notes: list[str],
) -> Report:
    definition = REPORTS[name]
    return Report(
        name=definition.name,
        title=str(definition.title),
        organisation=organisation.name,
        period=str(period),
        filters=_filter_labels(definition, filters),
        rules=rules,
        tables=tables,
        notes=notes,
    )


def _deletions(organisation: Organisation, year: int, rules: Rules) -> Cube:
    start, end, zone = _year(organisation, Period(year))
    removed = Sighting.objects.filter(organisation=organisation, removed_at__gte=start, removed_at__lt=end)
    counter = Counter((PLATFORM_KIND, REQUEST, HOSTING))
    home = (organisation.country or "").upper()
    rows = (
        removed.annotate(month=ExtractMonth("removed_at", tzinfo=zone))
        .values("month", "platform__kind", "platform__country", "source")
        .annotate(n=Count("id"))
    )
    for r in rows:
        country = (r["platform__country"] or "").upper()
        hosting = "" if not country or not home else ("domestic" if country == home else "overseas")
        request = "requested" if r["source"] in _REQUESTED else "proactive"
        counter.add(r["month"], (r["platform__kind"] or "", request, hosting), r["n"])
    return Cube.of(counter, rules, [frozenset({a.key}) for a in counter.axes])


# --- GBVIMS monthly tables -----------------------------------------------------------------------


def _elapsed(incident: dt.date | None, reported: dt.date) -> str:
    if incident is None or incident > reported:
        return UNKNOWN
    days = (reported - incident).days
    if days <= 3:
        return "0-3d"
    if days <= 5:
        return "4-5d"
    if days <= 14:
        return "6-14d"
    if days <= 31:
        return "2w-1m"
    return "1m+"


@dataclass
class GbvimsCubes:
    incidents: Cube
    services: Multi


def gbvims_cubes(organisation: Organisation, year: int, rules: Rules) -> GbvimsCubes:
    """The GBVIMS incidents of a year, with whether each was also reported to another centre (the
    pooled figures leave those out, so that no survivor is counted twice, as Primero does)."""
    cases, zone = _cases(organisation, Period(year))
    counted = _consenting(cases, ConsentScope.STATISTICS)
    incidents = Counter((GBVIMS, AGE, SEX, ELAPSED, ELSEWHERE))
    tally: dict[tuple[int, str, str, str, str, str], int] = defaultdict(int)
    for created, gbvims, age, sex, incident, elsewhere in counted.values_list(
        "created_at", "gbvims_type", "survivor_age_band", "survivor_sex", "incident_on", "reported_elsewhere"
    ):
        local = created.astimezone(zone)
        tally[
            (local.month, gbvims, age, sex, _elapsed(incident, local.date()), "yes" if elsewhere else "no")
        ] += 1
    for (month, *codes), n in tally.items():
        incidents.add(month, codes, n)
    return GbvimsCubes(
        incidents=Cube.of(incidents, rules, GBVIMS_SHOWN),
        services=Multi.of(REFERRAL_KINDS, _population(counted, zone), _referred(counted, zone), rules),
    )


def gbvims_tables(
    cubes: GbvimsCubes, period: Period, filters: dict[str, str], *, pooled: bool = False
) -> tuple[list[Table], list[str]]:
    """``pooled``: the tables a centre sends for pooling, without the cases reported elsewhere (and
    without services, which are counted for all incidents only)."""
    cube = cubes.incidents
    if pooled:
        filters = {**filters, "elsewhere": "no"}
    tables = [
        monthly_table(
            cube, period, filters, key="incidents", title=_("Incidents reported"), count_title=_("Incidents")
        ),
        cube_table(
            cube,
            period,
            filters,
            key="type-age",
            title=_("Incidents by type and age"),
            rows="type",
            columns="age",
        ),
        cube_table(
            cube,
            period,
            filters,
            key="type-sex",
            title=_("Incidents by type and sex"),
            rows="type",
            columns="sex",
        ),
        cube_table(
            cube,
            period,
            filters,
            key="elapsed",
            title=_("Time from incident to report"),
            rows="elapsed",
            count_title=_("Incidents"),
        ),
    ]
    notes = [_("Only cases whose survivor agreed to be counted in statistics shared beyond the centre.")]
    if pooled:
        return tables, notes
    if filters:
        notes.append(
            _("Services are counted for all incidents only, so they are left out of a filtered report.")
        )
        return tables, notes
    tables.append(
        multi_table(
            cubes.services,
            period,
            cube.count(period),
            key="services",
            title=_("Services referred to"),
            count_title=_("Incidents"),
        )
    )
    return tables, notes


def gbvims_monthly(
    organisation: Organisation, period: Period, filters: dict[str, str], rules: Rules
) -> Report:
    tables, notes = gbvims_tables(gbvims_cubes(organisation, period.year, rules), period, filters)
    return _report("gbvims-monthly", organisation, period, filters, rules, tables, notes)


def _pooled(organisation: Organisation, period: Period, filters: dict[str, str], rules: Rules) -> Report:
    from .pooled import pooled_report

    return pooled_report(organisation, period, rules)


REPORTS: dict[str, Definition] = {
    d.name: d
    for d in (
        Definition(
            "acosav-yearly",
            gettext_lazy("Yearly figures (ACOSAV)"),
            gettext_lazy(
                "Survivors supported, harms, services and deletions, as ACOSAV reports them each year."
            ),
            (SEX, AGE),
            acosav_yearly,
        ),
        Definition(
            "gbvims-monthly",
            gettext_lazy("GBVIMS incident tables"),
            gettext_lazy("Incidents by GBVIMS type, age and sex; time to report; services referred to."),
            (SEX, AGE),
            gbvims_monthly,
        ),
        Definition(
            "gbvims-pooled",
            gettext_lazy("GBVIMS incident tables, pooled across centres"),
            gettext_lazy(
                "This centre's GBVIMS tables added up with those its peer centres sent, each suppressed "
                "at its own centre."
            ),
            (),
            _pooled,
        ),
    )
}


def make_report(
    organisation: Organisation, name: str, period: str | Period, filters: dict[str, str], rules: Rules
) -> Report:
    definition = REPORTS.get(name)
    if definition is None:
        raise ReportError(
            _("There is no report %(name)s; the reports are: %(names)s.")
            % {"name": name, "names": ", ".join(REPORTS)}
        )
    when = period if isinstance(period, Period) else Period.parse(period)
    clean = _filters(definition, filters)
    with counting():
        return definition.build(organisation, when, clean, rules)


COUNTING_WORK_MEM = "64MB"


@contextmanager
def counting() -> Iterator[None]:
    """A transaction for a report's counting queries.  On PostgreSQL, with room to group in memory
    (the default 4 MB of ``work_mem`` sorts a year's cases on disk, since the planner cannot tell
    that a few hundred groups come of them) and without JIT compilation (which costs more than
    these queries' run): together twice as fast on a year of 100,000 cases."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
                cursor.execute(f"SET LOCAL work_mem = '{COUNTING_WORK_MEM}'")
        yield


def parse_filters(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ReportError(_("A filter is key=value, such as sex=female; got %(item)s.") % {"item": item})
        out[key.strip()] = value.strip()
    return out


# --- takedown performance by platform -------------------------------------------------------------

OUTCOME = Axis(
    "outcome",
    gettext_lazy("Outcome"),
    (
        ("in_time", gettext_lazy("Removed in time")),
        ("late", gettext_lazy("Removed after the deadline")),
        ("refused", gettext_lazy("Refused")),
        ("no_response", gettext_lazy("No response by the deadline")),
        ("open", gettext_lazy("Waiting, deadline not passed")),
    ),
)
_PAST_DEADLINE = ("late", "no_response")


def _regime_axis() -> Axis:
    from haven.web.takedown.regimes import choices

    return Axis("regime", gettext_lazy("Legal regime"), (*choices(), (UNKNOWN, NOT_KNOWN)))


def _platform_axis(organisation: Organisation) -> Axis:
    from haven.web.takedown.models import Platform

    platforms = Platform.objects.filter(organisation=organisation).order_by("name").values_list("pk", "name")
    return Axis(
        "platform",
        gettext_lazy("Platform"),
        (*((str(pk), name) for pk, name in platforms), (UNKNOWN, gettext_lazy("Not in the directory"))),
    )


NOTICE_KIND = Axis(
    "kind",
    gettext_lazy("Notice"),
    (("first", gettext_lazy("First notice")), ("escalation", gettext_lazy("Escalation"))),
)


@dataclass
class TakedownCubes:
    notices: Cube
    escalations: Cube
    reappeared: Cube
    hours: dict[str, list[float]]  # platform code -> hours from sending to removal, per removed notice


def with_copies(notices: QuerySet[Any]) -> QuerySet[Any]:
    """Notices with what became of their copies, counted by the database: ``copies``, ``gone``
    (removed), ``refused`` and ``last_gone`` (the last removal)."""
    from haven.web.takedown.models import SightingState

    annotated: QuerySet[Any] = notices.annotate(
        copies=Count("sightings"),
        gone=Count("sightings", filter=Q(sightings__removed_at__isnull=False)),
        refused=Count("sightings", filter=Q(sightings__state=SightingState.REFUSED)),
        last_gone=Max("sightings__removed_at"),
    )
    return annotated


def takedown_cubes(
    organisation: Organisation, year: int, rules: Rules, *, now: dt.datetime | None = None
) -> TakedownCubes:
    from django.utils import timezone

    from haven.web.takedown.models import Notice

    now = now or timezone.now()
    start, end, zone = _year(organisation, Period(year))
    platform, regime = _platform_axis(organisation), _regime_axis()
    counter = Counter((platform, OUTCOME, regime))
    kinds = Counter((platform, NOTICE_KIND))
    hours: dict[str, list[float]] = defaultdict(list)
    # Each notice's outcome is worked out by the database from its copies, and comes back as a
    # word and two whole-second timestamps: a year of a large centre's notices would otherwise
    # build half a million datetime objects.
    every_copy_gone = Q(copies__gt=0, gone=F("copies"))
    outcome = SqlCase(
        When(
            every_copy_gone & (Q(deadline_at__isnull=True) | Q(last_gone__lte=F("deadline_at"))),
            then=Value("in_time"),
        ),
        When(every_copy_gone, then=Value("late")),
        When(Q(action_taken="no") | Q(refused__gt=0), then=Value("refused")),
        When(deadline_at__lt=now, then=Value("no_response")),
        default=Value("open"),
    )
    notices = (
        with_copies(Notice.objects.filter(organisation=organisation, sent_at__gte=start, sent_at__lt=end))
        .annotate(
            outcome=outcome,
            month=ExtractMonth("sent_at", tzinfo=zone),
            sent_s=EpochSeconds("sent_at"),
            gone_s=EpochSeconds("last_gone"),
        )
        .values_list("platform_id", "regime", "escalation_of_id", "outcome", "month", "sent_s", "gone_s")
    )
    tally: dict[tuple[int, str, str, str], int] = defaultdict(int)
    escalated: dict[tuple[int, str, str], int] = defaultdict(int)
    for platform_id, regime_code, escalation_of, result, month, sent_s, gone_s in notices:
        code = str(platform_id or "")
        if result in ("in_time", "late"):
            hours[code].append((gone_s - sent_s) / 3600)
        tally[(month, code, result, regime_code or "")] += 1
        escalated[(month, code, "first" if escalation_of is None else "escalation")] += 1
    for (month, *codes), n in tally.items():
        counter.add(month, codes, n)
    for (month, *codes), n in escalated.items():
        kinds.add(month, codes, n)
    # A copy that came back: a sighting on a platform after an earlier copy of the same case there
    # was removed (found by a recheck, monitoring or anyone).  A copy is removed after it was
    # found, so "removed before this one was found" is enough.
    removed_before = Sighting.objects.filter(case=OuterRef("case"), removed_at__lt=OuterRef("created_at"))
    again = Counter((platform,))
    returned = (
        Sighting.objects.filter(organisation=organisation, created_at__gte=start, created_at__lt=end)
        .filter(
            Exists(removed_before.filter(platform=OuterRef("platform")))
            | (Q(platform__isnull=True) & Exists(removed_before.filter(platform__isnull=True)))
        )
        .annotate(month=ExtractMonth("created_at", tzinfo=zone))
        .values("month", "platform_id")
        .annotate(n=Count("id"))
    )
    for row in returned:
        again.add(row["month"], (str(row["platform_id"] or ""),), row["n"])
    return TakedownCubes(
        notices=Cube.of(
            counter, rules, [frozenset({"platform", "outcome"}), frozenset({"regime", "outcome"})]
        ),
        escalations=Cube.of(kinds, rules, [frozenset({"platform", "kind"})]),
        reappeared=Cube.of(again, rules, [frozenset({"platform"})]),
        hours=dict(hours),
    )


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(round(q * (len(ordered) - 1)), len(ordered) - 1)
    return ordered[index]


def takedown_tables(cubes: TakedownCubes, period: Period, threshold: int) -> tuple[list[Table], list[str]]:
    notices = cubes.notices
    platform = notices.axis("platform")
    by_outcome = cube_table(
        notices,
        period,
        {},
        key="platform-outcome",
        title=_("Notices by platform and outcome"),
        rows="platform",
        columns="outcome",
    )
    by_regime = cube_table(
        notices,
        period,
        {},
        key="regime-outcome",
        title=_("Notices by legal regime and outcome"),
        rows="regime",
        columns="outcome",
    )
    # Past the deadline and time to removal, per platform, from what is published.
    timing_rows = []
    for code in platform.codes:
        sent = notices.count(period, platform=code)
        parts = [notices.count(period, platform=code, outcome=o) for o in _PAST_DEADLINE]
        removed_parts = [notices.count(period, platform=code, outcome=o) for o in ("in_time", "late")]
        past = published_sum(parts)
        removed = published_sum(removed_parts)
        # Hours only for a year's report and a platform with enough removals that one notice's
        # time cannot be told from them (a median of many says nothing about one).
        values = cubes.hours.get(code, []) if period.kind == "year" else []
        median = p90 = None
        # Only where the removed counts are published: hours of fewer notices, or of a row whose
        # late count is hidden, could tell what the hiding keeps (a 90th percentile under the
        # deadline says at most one notice was late).
        if removed is not None and removed >= threshold and len(values) >= threshold:
            median, p90 = round(_quantile(values, 0.5), 1), round(_quantile(values, 0.9), 1)
        share = None if past is None or not sent else round(100.0 * past / sent, 1)
        timing_rows.append(Row(platform.label(code), [removed, median, p90, share], code=code or "unknown"))
    timing = Table(
        key="timing",
        title=_("Time to removal and notices past the legal deadline"),
        row_title=str(platform.title),
        columns=[_("Removed"), _("Median hours"), _("90th percentile hours"), _("Past the deadline (%)")],
        rows=timing_rows,
        chart="",
        note=_(
            "Hours are shown for a year's report only, where a platform removed copies for at least "
            "%(n)d notices and both removal counts are shown. The deadline is each notice's own, from "
            "its legal regime (48 hours under the TAKE IT DOWN Act)."
        )
        % {"n": threshold},
        column_codes=["removed", "median_hours", "p90_hours", "past_deadline_percent"],
    )
    escalations = cube_table(
        cubes.escalations,
        period,
        {},
        key="escalations",
        title=_("Escalations by platform"),
        rows="platform",
        columns="kind",
    )
    reappeared = cube_table(
        cubes.reappeared,
        period,
        {},
        key="reappeared",
        title=_("Copies that came back after a removal"),
        rows="platform",
        count_title=_("Copies"),
    )
    return [by_outcome, timing, by_regime, escalations, reappeared], []


def takedown_platforms(
    organisation: Organisation, period: Period, filters: dict[str, str], rules: Rules
) -> Report:
    tables, notes = takedown_tables(takedown_cubes(organisation, period.year, rules), period, rules.threshold)
    return _report("takedown-platforms", organisation, period, filters, rules, tables, notes)


REPORTS["takedown-platforms"] = Definition(
    "takedown-platforms",
    gettext_lazy("Takedown performance by platform"),
    gettext_lazy(
        "Notices sent and what came of them, per platform and legal regime: removal in time or late, "
        "refusals, no response, time to removal, escalations and copies that came back."
    ),
    (),
    takedown_platforms,
)


def _dsa(organisation: Organisation, period: Period, filters: dict[str, str], rules: Rules) -> Report:
    from .operations import dsa_trusted_flagger

    return dsa_trusted_flagger(organisation, period, filters, rules)


def _monitoring(organisation: Organisation, period: Period, filters: dict[str, str], rules: Rules) -> Report:
    from .operations import monitoring_report

    return monitoring_report(organisation, period, filters, rules)


REPORTS["dsa-trusted-flagger"] = Definition(
    "dsa-trusted-flagger",
    gettext_lazy("Trusted-flagger figures (EU Digital Services Act)"),
    gettext_lazy(
        "Notices sent under Article 16 of the DSA by provider, by type of illegal content and by the "
        "action the provider took, as Article 22(3) asks a trusted flagger to publish."
    ),
    (),
    _dsa,
)
REPORTS["monitoring"] = Definition(
    "monitoring",
    gettext_lazy("Monitoring"),
    gettext_lazy(
        "Pictures scanned, candidate matches and what reviewers decided, precision, and reviewer time "
        "per candidate."
    ),
    (),
    _monitoring,
)
