"""An adversary for suppressed tables: what every published number and non-negativity imply.

Given one or more tables that are all margins and slices of the same counts, it solves two linear
programmes per hidden cell (the smallest and largest value consistent with everything published)
with SciPy's HiGHS.  A cell whose smallest and largest values agree has been recovered.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt
from scipy.optimize import linprog


def _lines(shape: tuple[int, ...]) -> Iterable[tuple[list[tuple[int, ...]], tuple[int, ...]]]:
    """Each margin constraint of a cube with margins: the inner cells of a line and its total."""
    for axis, size in enumerate(shape):
        others = [range(n) for i, n in enumerate(shape) if i != axis]
        for rest in itertools.product(*others):

            def cell(j: int, rest: tuple[int, ...] = rest, axis: int = axis) -> tuple[int, ...]:
                return (*rest[:axis], j, *rest[axis:])

            yield [cell(j) for j in range(size - 1)], cell(size - 1)


def intervals(
    published: npt.NDArray[np.float64], *, known: list[tuple[tuple[int, ...], float]] = ()
) -> dict[tuple[int, ...], tuple[float, float]]:
    """For every NaN cell of ``published`` (a cube with margins), its [min, max] over every
    non-negative cube that agrees with the published cells (and any ``known`` extra equalities)."""
    shape = published.shape
    hidden = [tuple(int(i) for i in idx) for idx in zip(*np.nonzero(np.isnan(published)), strict=True)]
    if not hidden:
        return {}
    var = {cell: n for n, cell in enumerate(hidden)}
    rows, rhs = [], []
    for inner, total in _lines(shape):
        row = np.zeros(len(hidden))
        const = 0.0
        for cell in inner:
            if cell in var:
                row[var[cell]] += 1
            else:
                const += published[cell]
        if total in var:
            row[var[total]] -= 1
        else:
            const -= published[total]
        if row.any():
            rows.append(row)
            rhs.append(-const)
    for cell, value in known:
        if cell in var:
            row = np.zeros(len(hidden))
            row[var[cell]] = 1
            rows.append(row)
            rhs.append(value)
    a_eq = np.array(rows) if rows else None
    b_eq = np.array(rhs) if rows else None
    out = {}
    for cell, n in var.items():
        c = np.zeros(len(hidden))
        c[n] = 1
        low = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
        high = linprog(-c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
        assert low.status == 0, low.message
        top = np.inf if high.status == 3 else -high.fun  # 3: unbounded
        out[cell] = (low.fun, top)
    return out


def recovered(published: npt.NDArray[np.float64], values: npt.NDArray[np.int64]) -> list[tuple[int, ...]]:
    """The hidden cells an adversary pins to one value (checked against the true ``values``)."""
    found = []
    for cell, (low, high) in intervals(published).items():
        assert low - 1e-6 <= values[cell] <= high + 1e-6, "the adversary's bounds must hold the truth"
        if high - low < 1 - 1e-6:
            found.append(cell)
    return found
