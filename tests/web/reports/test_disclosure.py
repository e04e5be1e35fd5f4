"""Suppression is safe by construction: an adversary with every published number recovers nothing.

The adversary (tests/web/reports/attack.py) solves linear programmes over the published cells and
non-negativity; random cubes come from Hypothesis, sparse and dense, two to four axes.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from haven.web.reports.disclosure import Rules, percentages, protect, with_margins

from .attack import intervals, recovered

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def cubes(max_axes: int = 3, max_side: int = 5) -> st.SearchStrategy[np.ndarray]:
    shapes = st.lists(st.integers(1, max_side), min_size=2, max_size=max_axes).map(tuple)
    # Mostly small counts (what needs hiding), some zeros and some large ones.
    cell = st.one_of(st.integers(0, 3), st.integers(1, 12), st.integers(10, 60))
    return shapes.flatmap(lambda shape: arrays(np.int64, shape, elements=cell))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cubes())
def test_no_hidden_count_is_recovered_from_the_published_cells(inner: np.ndarray) -> None:
    protected = protect(inner)
    values, hidden = protected.values, protected.hidden
    # Every count under the threshold is hidden, and everything shown is the truth.
    assert not (((values > 0) & (values < 10)) & ~hidden).any()
    shown = protected.published()
    assert np.array_equal(shown[~hidden], values[~hidden])
    leaks = [cell for cell in recovered(shown, values) if values[cell] > 0]
    assert leaks == [], f"recovered {[(c, int(values[c])) for c in leaks]} from\n{shown}"


def test_the_adversary_does_recover_what_primary_suppression_alone_leaves() -> None:
    """The check above can fail: hiding only the small cells of a table with totals gives them away."""
    inner = np.array([[20, 3], [15, 30]])
    values = with_margins(inner)
    naive = values.astype(float)
    naive[0, 1] = np.nan  # the 3, hidden alone
    assert recovered(naive, values) == [(0, 1)]
    # ... and two tables suppressed one by one leak through their difference (a filter).
    everyone, women = np.array([[40, 12], [25, 30]]), np.array([[38, 11], [25, 30]])
    assert protect(everyone).hidden.sum() == 0
    assert protect(women).hidden.sum() == 0
    cube = with_margins(np.stack([women, everyone - women]))  # axis 0: women, the rest, total
    published = cube.astype(float)
    published[1] = np.nan  # "the rest" is never shown on its own, but is everyone minus women
    assert (1, 0, 0) in recovered(published, cube)


def test_a_filter_is_a_slice_of_one_protected_cube_so_differences_reveal_nothing() -> None:
    everyone, women = np.array([[40, 12], [25, 30]]), np.array([[38, 11], [25, 30]])
    protected = protect(np.stack([women, everyone - women]))
    shown = protected.published()
    # The reports: everyone (the total slice) and women (slice 0); "the rest" is not offered.
    published = shown.copy()
    published[1] = np.nan
    secret = protected.hidden & (protected.values > 0)
    assert secret[1, 0, 0]  # the rest's 2 (everyone's 40 minus women's 38) is hidden...
    assert [cell for cell in recovered(published, protected.values) if secret[cell]] == []  # ... and stays so


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cubes(max_axes=3, max_side=4), st.data())
def test_every_combination_of_filtered_reports_is_safe(inner: np.ndarray, data: st.DataObject) -> None:
    """Axis 0 is a filter: a reader may export the unfiltered table and any filtered ones."""
    protected = protect(inner)
    shown = protected.published()
    offered = data.draw(st.sets(st.integers(0, inner.shape[0] - 1)))
    published = np.full(shown.shape, np.nan)
    published[-1] = shown[-1]
    for value in offered:
        published[value] = shown[value]
    # A cell left out only because its filter was not asked for is no secret: it is shown when asked.
    secret = protected.hidden & (protected.values > 0)
    leaks = [cell for cell in recovered(published, protected.values) if secret[cell]]
    assert leaks == []


def test_hidden_zeros_where_a_line_counts_a_few_people() -> None:
    # Row 0 counts 4 people, all in column 0: a shown zero would say none of them is in column 1.
    protected = protect(np.array([[4, 0], [20, 30], [15, 12]]))
    assert protected.hidden[0, 1]
    assert protected.primary[0, 1]
    # A zero in a line of many people says nothing about anyone.
    assert not protect(np.array([[40, 0], [20, 30]])).hidden[0, 1]


def test_unpublished_cells_are_never_shown_and_cost_nothing() -> None:
    inner = np.array([[12, 3], [20, 30], [15, 11]])
    never = np.zeros((4, 3), dtype=bool)
    never[3, :] = True  # the column totals are not part of any report
    protected = protect(inner, unpublished=never)
    assert np.isnan(protected.published()[3]).all()
    secret = protected.hidden & (protected.values > 0)
    assert secret.any()
    assert [c for c in recovered(protected.published(), protected.values) if secret[c]] == []


def test_rounding_and_percentages_follow_the_published_counts() -> None:
    shown = protect(np.array([[12, 13], [23, 31]]), Rules(round_to=5)).published()
    assert shown.tolist() == [[10, 15, 25], [25, 30, 55], [35, 45, 80]]
    hidden = protect(np.array([[12, 3], [23, 31]]), Rules(round_to=5)).published()
    assert np.isnan(hidden[0, 1])
    # A percentage is of published (rounded) counts, and a hidden count hides its percentage.
    assert percentages([shown[0, 0], hidden[0, 1]], shown[0, 2]) == [40.0, None]
    assert percentages([5.0], None) == [None]
    assert percentages([5.0], float("nan")) == [None]


def test_bad_rules_and_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Rules(threshold=0)
    with pytest.raises(ValueError, match="never negative"):
        protect(np.array([[1, -1]]))


def test_intervals_hold_the_truth_for_a_hand_worked_table() -> None:
    inner = np.array([[12, 3, 20], [5, 25, 30]])
    protected = protect(inner)
    for cell, (low, high) in intervals(protected.published()).items():
        assert low <= protected.values[cell] <= high
