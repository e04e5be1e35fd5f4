"""Statistical disclosure control for count tables: small-cell suppression that is safe by construction.

A report is a slice of one *cube* of counts: its axes are the report's rows and columns, every filter
a reader may apply, and the period (a year as quarters x month-of-quarter, so that a month, a
quarter and the year are all slices).  :func:`protect` suppresses the cube once, with all its
margins; every table a reader can ask for is then a slice of that one protected array, so no
combination of exported tables, filtered or not, holds more than the cube's published cells.

Rules (docs/reports.md says why):

* **Primary suppression.** A count from 1 to ``threshold - 1`` is hidden.  A zero is hidden where it
  is disclosive: when a line through it (a row, a column, any axis) counts from 1 to
  ``threshold - 1`` people, a published zero would say that all of those few share the other
  attributes.
* **Secondary suppression, by hypercube.** Every hidden cell ``p`` gets a *move*: a set of cells
  whose values can all change by +1 or -1 together (with signs) while every published cell, margins
  included, stays the same.  Per axis, the move either pairs ``p``'s index with another index (the
  other cell takes the opposite sign, so the line's total is unchanged) or takes the line's total
  along (same sign, so the total moves with it).  The move's cells are the product of those choices:
  a hypercube of ``2**axes`` corners, all hidden.  A move is kept only if it can be made in one
  direction at least without a count going below zero: up (every corner of the opposite sign holds
  at least 1) or down (``p`` and every corner of its sign hold at least 1).  Then an adversary who
  knows every published number and that counts are never negative still finds two values for every
  corner: nothing is recovered exactly.  Hiding more cells later only widens what an adversary must
  consider, so each move keeps protecting its cells.  Taking every total along is always possible
  for a count of 1 or more (it moves down, and its totals are at least as large), so every hidden
  count is protected.  A hidden zero gets no move of its own: it is hidden, and often a corner of a
  count's move, but where the published cells imply it a reader can work it out (searching moves
  for zeros cost seconds on sparse cubes and protected few).
* **Rounding** (optional): published counts are rounded to a base (5 by default when asked).
  Percentages are computed from the published counts, so a hidden count hides its percentage.

Only numpy is needed; nothing here knows about cases or Django.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

DEFAULT_THRESHOLD = 10
# At most about this many candidate moves are priced per hidden cell: the cheapest options per axis
# are combined, and taking every total along is always among them.
_COMBINATIONS = 1024
# A move dearer than this (a quarter's or the year's total, say) makes the search look wider.
_DEAR = 50_000.0
_VERY_DEAR = 500_000.0  # a year's total of hundreds: worth a second, wider look

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Rules:
    threshold: int = DEFAULT_THRESHOLD
    round_to: int = 1  # 1: exact counts; 5: base-5 rounding of what is published

    def __post_init__(self) -> None:
        if self.threshold < 1:
            raise ValueError("the suppression threshold is at least 1")
        if self.round_to < 1:
            raise ValueError("the rounding base is at least 1")


def with_margins(inner: npt.ArrayLike) -> IntArray:
    """``inner`` with a total appended along every axis (the last index of each axis is its total),
    so every combination of totals is a cell too."""
    cube = np.asarray(inner, dtype=np.int64)
    if (cube < 0).any():
        raise ValueError("counts are never negative")
    for axis in range(cube.ndim):
        cube = np.concatenate([cube, cube.sum(axis=axis, keepdims=True)], axis=axis)
    return cube


@dataclass
class Protected:
    """A cube with margins, which of its cells are hidden, and why."""

    values: IntArray  # the true counts: never shown, never exported
    hidden: BoolArray
    primary: BoolArray
    unpublished: BoolArray  # cells no report ever shows (hidden from the start, free to use in moves)
    rules: Rules
    moves: int = 0
    _published: IntArray | None = field(default=None, repr=False)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.values.shape)

    def published(self) -> npt.NDArray[np.float64]:
        """The counts a reader may see: hidden cells are NaN, the rest rounded as the rules say."""
        base = self.rules.round_to
        shown = self.values.astype(np.float64)
        if base > 1:
            shown = np.floor(shown / base + 0.5) * base
        shown[self.hidden | self.unpublished] = np.nan
        return shown


def _disclosive_zeros(cube: IntArray, threshold: int) -> BoolArray:
    zero = cube == 0
    out = np.zeros(cube.shape, dtype=bool)
    for axis in range(cube.ndim):
        totals = np.take(cube, [cube.shape[axis] - 1], axis=axis)
        out |= zero & (totals > 0) & (totals < threshold)
    return out


def _axis_options(
    cube: IntArray, hidden: BoolArray, cell: tuple[int, ...], axis: int, budget: int
) -> tuple[list[int], list[float]]:
    """The indices a move may take along ``axis`` besides the cell's own -- another index (the
    line's total is unchanged) or the total (it moves with the cell) -- and what hiding the cell
    there would cost (nothing if it is hidden already; a total four times its count)."""
    total = cube.shape[axis] - 1
    here = cell[axis]
    where: tuple[int | slice, ...] = (*cell[:axis], slice(None), *cell[axis + 1 :])
    line = cube[where]
    line_hidden = hidden[where]
    price = np.where(line_hidden, 0.0, (line + 0.5) * np.where(np.arange(total + 1) == total, 4.0, 1.0))
    inner = np.arange(total + 1) < total
    inner[here] = False
    # The cheapest cells that hold someone, and one that holds no one (a move may raise it).
    filled = np.flatnonzero(inner & (line >= 1))
    empty = np.flatnonzero(inner & (line == 0))
    room = budget - (1 if here != total else 0)  # the total is always an option
    options = [int(i) for i in filled[np.argsort(price[filled], kind="stable")][: max(room - 1, 1)]]
    options += [int(i) for i in empty[: max(room - len(options), 0)]]
    if here != total:
        options.append(total)
    return options, [float(price[i]) for i in options]


def _level_weight(shape: tuple[int, ...]) -> npt.NDArray[np.float64]:
    """Per cell (flat): 4 to the power of the number of axes it is a total on."""
    totals = np.zeros(shape, dtype=np.int64)
    for axis, size in enumerate(shape):
        index: list[slice | int] = [slice(None)] * len(shape)
        index[axis] = size - 1
        totals[tuple(index)] += 1
    weight: npt.NDArray[np.float64] = np.power(4.0, totals).reshape(-1)
    return weight


def _budget(axes: int, wider: int = 0) -> int:
    """Options per axis such that all their combinations (about _COMBINATIONS) are priced in full."""
    budget = min(8, max(3, int(_COMBINATIONS ** (1 / axes) + 1e-9)))
    return budget + wider


def _best_move(
    cube: IntArray,
    hidden: BoolArray,
    cell: tuple[int, ...],
    costs: _Costs,
    budget: int,
) -> tuple[IntArray, float] | None:
    """The flat indices of the cheapest valid move's corners (the cell first) and its cost, or None."""
    per_axis = [_axis_options(cube, hidden, cell, axis, budget)[0] for axis in range(cube.ndim)]
    if any(not options for options in per_axis):
        return None
    # (C, k): the other index per axis, every combination, in itertools.product's order.
    grids = np.meshgrid(*(np.array(options, dtype=np.int64) for options in per_axis), indexing="ij")
    combos = np.stack(grids, axis=-1).reshape(-1, cube.ndim)
    best: tuple[IntArray, float] | None = None
    for start in range(0, len(combos), _COMBINATIONS):
        found = _cheapest(cube.shape, cell, costs, combos[start : start + _COMBINATIONS])
        if found is not None and (best is None or found[1] < best[1]):
            best = found
    return best


@dataclass
class _Costs:
    """Per cell of a cube (flat): whether it holds someone, and what hiding it would cost now
    (nothing if it is hidden already; a total costs four times more per axis it is a total on)."""

    filled: BoolArray
    price: npt.NDArray[np.float64]

    @classmethod
    def of(cls, cube: IntArray, hidden: BoolArray) -> _Costs:
        flat = cube.reshape(-1)
        price = np.where(hidden.reshape(-1), 0.0, (flat + 0.5) * _level_weight(cube.shape))
        return cls(filled=flat >= 1, price=price)

    def hide(self, corners: IntArray) -> None:
        self.price[corners] = 0.0


def _cheapest(
    shape: tuple[int, ...], cell: tuple[int, ...], costs: _Costs, others: IntArray
) -> tuple[IntArray, float] | None:
    """Of the moves that take ``others`` (one other index per axis, per row), the cheapest valid one."""
    k = len(shape)
    strides = np.array([int(np.prod(shape[axis + 1 :])) for axis in range(k)], dtype=np.int64)
    here = np.array(cell, dtype=np.int64)
    totals = np.array(shape, dtype=np.int64) - 1
    steps = (others - here) * strides  # (C, k)
    # A pair (two inner indices) changes sign along its axis; taking the total along does not.
    pairs = (here != totals)[None, :] & (others != totals[None, :])  # (C, k)
    # Corner j of a move is the cell moved along the axes that j's bits select, the first axis
    # the highest bit (corner 0 is the cell); built an axis at a time, doubling the corners.
    corners = np.full((len(others), 1), int((here * strides).sum()), dtype=np.int64)
    opposite = np.zeros((len(others), 1), dtype=bool)
    for axis in reversed(range(k)):
        corners = np.concatenate([corners, corners + steps[:, axis : axis + 1]], axis=1)
        opposite = np.concatenate([opposite, opposite ^ pairs[:, axis : axis + 1]], axis=1)
    # The move must be possible in one direction at least: the cell up by one (the corners of the
    # opposite sign must give one), or down by one (the cell and the corners of its sign give one).
    # Either way every corner changes, so none of them is pinned to one value.
    filled = costs.filled[corners]
    valid = (filled | ~opposite).all(axis=1) | (filled | opposite).all(axis=1)
    if not valid.any():
        return None
    # Hiding a total costs more than hiding a cell of the same count: totals are what readers use
    # most, and one hidden total hides a whole line's sum.
    cost = np.where(valid, costs.price[corners].sum(axis=1), np.inf)
    index = int(np.argmin(cost))
    chosen: IntArray = corners[index]
    return chosen, float(cost[index])


def protect(
    inner: npt.ArrayLike,
    rules: Rules | None = None,
    *,
    unpublished: BoolArray | None = None,
    also_primary: BoolArray | None = None,
) -> Protected:
    """Suppress the cube ``inner`` (without margins) under ``rules``; see the module docstring.

    ``unpublished`` (the shape of the cube *with* margins) marks cells no report shows, such as
    the sum of every quarter's first month: they are never shown and cost nothing to use in a move.
    ``also_primary`` (the same shape) marks cells to hide whatever their count, such as a count of
    people with some attribute when the few *without* it would be given away.
    """
    rules = rules or Rules()
    cube = with_margins(inner)
    never = np.zeros(cube.shape, dtype=bool) if unpublished is None else np.asarray(unpublished, dtype=bool)
    if never.shape != cube.shape:
        raise ValueError(f"unpublished has shape {never.shape}, the cube with margins {cube.shape}")
    small = (cube > 0) & (cube < rules.threshold)
    zeros = _disclosive_zeros(cube, rules.threshold)
    extra = np.zeros(cube.shape, dtype=bool) if also_primary is None else np.asarray(also_primary, dtype=bool)
    if extra.shape != cube.shape:
        raise ValueError(f"also_primary has shape {extra.shape}, the cube with margins {cube.shape}")
    primary = (small | zeros | extra) & ~never
    hidden = primary | never
    protected = np.zeros(cube.shape, dtype=bool)
    costs = _Costs.of(cube, hidden)
    moves = 0
    for flat in np.flatnonzero(primary & (cube > 0)):
        cell = tuple(int(i) for i in np.unravel_index(flat, cube.shape))
        if protected[cell]:
            continue
        found = _best_move(cube, hidden, cell, costs, _budget(cube.ndim))
        if found is not None and found[1] > _DEAR:
            # Only dear moves among the usual options (a total of many people would go): look
            # wider before giving that up.
            for more in (1, 2) if found[1] > _VERY_DEAR else (1,):
                wider = _best_move(cube, hidden, cell, costs, _budget(cube.ndim, wider=more))
                if wider is not None and wider[1] < found[1]:
                    found = wider
                if found[1] <= _DEAR:
                    break
        if found is None:  # pragma: no cover - taking every total along is always a valid move
            raise AssertionError(f"no move protects the count at {cell}")
        corners = found[0]
        moves += 1
        hidden.reshape(-1)[corners] = True
        protected.reshape(-1)[corners] = True
        costs.hide(corners)
    hidden[never] = True
    return Protected(
        values=cube, hidden=hidden & ~never, primary=primary, unpublished=never, rules=rules, moves=moves
    )


def published_sum(counts: Sequence[float | None]) -> float | None:
    """The sum of published counts, or None (hidden) if any of them is hidden."""
    if any(c is None for c in counts):
        return None
    return float(sum(c for c in counts if c is not None))


def percentages(counts: Sequence[float | None], total: float | None) -> list[float | None]:
    """Each published count as a percentage of a published total; hidden in, hidden out."""
    if total is None or total != total or total <= 0:
        return [None] * len(counts)
    return [None if c is None or c != c else round(100.0 * c / total, 1) for c in counts]
