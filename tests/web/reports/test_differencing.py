"""An adversary with every table a reader can export -- every period, every filter -- recovers no
hidden count of the underlying survivors.

The adversary knows how the tables are made (which months, sexes and ages each number adds up)
but sees only the exported numbers; it solves a linear programme per hidden number for the
smallest and largest value of that sum over non-negative monthly counts.
"""

from __future__ import annotations

import itertools
import random
import zoneinfo
from collections import defaultdict

import numpy as np
import pytest
from django.utils import timezone
from scipy.optimize import linprog

from haven.web.accounts.models import Organisation
from haven.web.cases.models import Case
from haven.web.reports.actions import rules
from haven.web.reports.periods import Period
from haven.web.reports.standard import AGE, SEX, acosav_cubes, acosav_tables, make_report
from haven.web.reports.synthetic import History

PERIODS = [
    Period(2025),
    *(Period(2025, quarter=q) for q in (1, 2, 3, 4)),
    *(Period(2025, month=m) for m in range(1, 13)),
]
FILTERS = [{}, *({"sex": c} for c in SEX.codes), *({"age": c} for c in AGE.codes)]
TIME_ZONE = "Asia/Seoul"
Form = tuple[frozenset[int], frozenset[int], frozenset[int]]  # months, sex positions, age positions


def _exports(organisation: Organisation) -> list[tuple[Form, float | None]]:
    """Every number of the sex-by-age and month-by-month tables, as (what it adds up, value)."""
    cubes = acosav_cubes(organisation, 2025, rules())
    everyone_sex, everyone_age = frozenset(range(len(SEX.codes))), frozenset(range(len(AGE.codes)))
    out = []
    for period, filters in itertools.product(PERIODS, FILTERS):
        tables = {t.key: t for t in acosav_tables(cubes, period, filters)[0]}
        sexes = frozenset({SEX.codes.index(filters["sex"])}) if "sex" in filters else everyone_sex
        ages = frozenset({AGE.codes.index(filters["age"])}) if "age" in filters else everyone_age
        grid = tables["sex-age"]
        # A filter on age or sex leaves only its own row or column (and the total).
        row_sets = (
            [frozenset({a}) for a in sorted(ages)]
            if "age" in filters
            else [frozenset({a}) for a in everyone_age]
        )
        col_sets = (
            [frozenset({s}) for s in sorted(sexes)]
            if "sex" in filters
            else [frozenset({s}) for s in everyone_sex]
        )
        for row_ages, row in zip([*row_sets, ages], [*grid.rows, grid.total], strict=True):
            for col_sexes, count in zip([*col_sets, sexes], row.counts, strict=True):
                out.append(((frozenset(period.months), col_sexes, row_ages), count))
        monthly = tables["survivors"]
        for month, row in zip([*period.months, None], [*monthly.rows, monthly.total], strict=True):
            months = frozenset(period.months if month is None else [month])
            out.append(((months, sexes, ages), row.counts[0]))
    return out


def _variables() -> dict[tuple[int, int, int], int]:
    cells = itertools.product(range(1, 13), range(len(SEX.codes)), range(len(AGE.codes)))
    return {cell: n for n, cell in enumerate(cells)}


def _row(form: Form, var: dict[tuple[int, int, int], int]) -> np.ndarray:
    row = np.zeros(len(var))
    for cell in itertools.product(*form):
        row[var[cell]] = 1
    return row


def _truth(form: Form) -> int:
    months, sexes, ages = form
    with timezone.override(zoneinfo.ZoneInfo(TIME_ZONE)):  # months as the organisation counts them
        return Case.objects.filter(
            created_at__month__in=months,
            survivor_sex__in=[SEX.codes[s] for s in sexes],
            survivor_age_band__in=[AGE.codes[a] for a in ages],
        ).count()


@pytest.mark.usefixtures("history")
def test_no_combination_of_exports_recovers_a_hidden_count(org_a: Organisation) -> None:
    assert org_a.time_zone == TIME_ZONE
    exports = _exports(org_a)
    var = _variables()
    shown: dict[Form, float] = {}
    hidden: set[Form] = set()
    for form, value in exports:
        if value is None:
            hidden.add(form)
        else:
            assert shown.setdefault(form, value) == value, "one sum, two different published values"
    hidden -= set(shown)  # a number hidden in one table but shown in another is no secret at all
    assert hidden, "the synthetic year must have hidden counts to attack"
    forms = list(shown)
    a_eq = np.array([_row(f, var) for f in forms])
    b_eq = np.array([shown[f] for f in forms])
    # Every published number is the truth.
    for form in random.Random(1).sample(forms, 40):
        assert shown[form] == _truth(form)
    # The small ones first, then a sample of the rest (each needs two linear programmes).
    by_value: dict[bool, list[Form]] = defaultdict(list)
    for form in sorted(hidden, key=lambda f: (len(f[0]), sorted(f[0]), sorted(f[1]), sorted(f[2]))):
        by_value[0 < _truth(form) < 10].append(form)
    targets = by_value[True][:150] + random.Random(2).sample(by_value[False], min(50, len(by_value[False])))
    pinned = []
    for form in targets:
        c = _row(form, var)
        low = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
        high = linprog(-c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
        assert low.status == 0
        assert high.status == 0
        truth = _truth(form)
        assert low.fun - 1e-6 <= truth <= -high.fun + 1e-6
        if truth > 0 and -high.fun - low.fun < 1 - 1e-6:
            pinned.append((form, truth))
    assert pinned == []


@pytest.mark.usefixtures("history")
def test_the_report_reads_the_same_cubes(org_a: Organisation) -> None:
    cubes = acosav_cubes(org_a, 2025, rules())
    for period, filters in [(Period(2025), {}), (Period(2025, month=3), {"sex": "female"})]:
        report = make_report(org_a, "acosav-yearly", period, filters, rules())
        tables, _notes = acosav_tables(cubes, period, filters)
        assert [(t.key, [r.counts for r in t.rows]) for t in report.tables] == [
            (t.key, [r.counts for r in t.rows]) for t in tables
        ]


def test_history_is_invented(history: History) -> None:
    assert history.cases == Case.objects.count()
    assert not Case.objects.exclude(number__startswith="HV-SYN").exists()
