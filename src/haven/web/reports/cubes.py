"""Counts in cubes, suppressed once, read as tables.

A :class:`Cube` holds one population's counts for one year on the axes quarter x month-of-quarter x
the report's own axes (sex, age band, platform kind ...).  Every table of a report -- whatever the
period, whatever the filters -- reads cells of that one protected cube, so exporting many of them
says no more than the cube's published cells (see :mod:`.disclosure`).

A :class:`Multi` holds a yes-count per category for attributes a person may have several of (harms,
services): each category is its own time-only cube, which shows the count of people with it and
hides it when the few *without* it would be given away.  Those counts are never broken down by a
filter.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from django.utils.functional import Promise

from .disclosure import Protected, Rules, protect, with_margins
from .periods import MONTH_AXIS, QUARTER_AXIS, Period, month_cell, unpublished_time_cells

UNKNOWN = ""  # the code of "not known" on every axis


@dataclass(frozen=True)
class Axis:
    key: str
    title: str | Promise
    choices: tuple[tuple[str, str | Promise], ...]  # (code, label); "" (not known) last, if at all

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(code for code, _ in self.choices)

    def position(self, code: str) -> int:
        positions = self._positions()
        found = positions.get(code)
        if found is None:
            return positions.get(UNKNOWN, -1)
        return found

    def _positions(self) -> dict[str, int]:
        cached: dict[str, int] | None = self.__dict__.get("_cached_positions")
        if cached is None:
            cached = {code: n for n, code in enumerate(self.codes)}
            object.__setattr__(self, "_cached_positions", cached)
        return cached

    def label(self, code: str) -> str:
        return str(dict(self.choices).get(code, code))


class Counter:
    """Accumulates records of one year into the inner cells of a cube."""

    def __init__(self, axes: Sequence[Axis]) -> None:
        self.axes = tuple(axes)
        self.inner = np.zeros((4, 3, *(len(a.choices) for a in self.axes)), dtype=np.int64)

    def add(self, month: int, codes: Sequence[str], count: int = 1) -> None:
        where = [a.position(c) for a, c in zip(self.axes, codes, strict=True)]
        if any(i < 0 for i in where):
            return  # a code no axis knows (a value since removed): not counted anywhere
        self.inner[(*month_cell(month), *where)] += count


@dataclass
class Cube:
    axes: tuple[Axis, ...]
    protected: Protected

    @classmethod
    def of(cls, counter: Counter, rules: Rules, shown: Sequence[frozenset[str]]) -> Cube:
        """Suppress ``counter``'s counts.  ``shown`` lists the sets of axes that some table may
        break down at once (its rows, columns and filter); cells that break down any other set of
        axes are in no table, so they are never published and cost nothing to hide."""
        shape = tuple(n + 1 for n in counter.inner.shape)
        never = unpublished_time_cells(shape)
        keys = [axis.key for axis in counter.axes]
        for pattern in itertools.product((False, True), repeat=len(keys)):
            broken_down = frozenset(k for k, specific in zip(keys, pattern, strict=True) if specific)
            if any(broken_down <= group for group in shown):
                continue
            where: list[slice | int] = [slice(None), slice(None)]
            where += [slice(0, -1) if specific else -1 for specific in pattern]
            never[tuple(where)] = True
        return cls(counter.axes, protect(counter.inner, rules, unpublished=never))

    def _where(self, period: Period | tuple[int, int], at: dict[str, str]) -> tuple[int, ...]:
        time = period.cell if isinstance(period, Period) else period
        index = [*time]
        for axis in self.axes:
            index.append(axis.position(at[axis.key]) if axis.key in at else len(axis.choices))
        return tuple(index)

    def count(self, period: Period | tuple[int, int], **at: str) -> float | None:
        """A published count (None where hidden); axes not named are totals."""
        value = self.published[self._where(period, at)]
        return None if np.isnan(value) else float(value)

    @property
    def published(self) -> np.ndarray:
        if self._published is None:
            self._published = self.protected.published()
        return self._published

    _published: np.ndarray | None = field(default=None, repr=False)

    def axis(self, key: str) -> Axis:
        for axis in self.axes:
            if axis.key == key:
                return axis
        raise KeyError(key)


@dataclass
class Multi:
    """Per category, the people who have it: a yes-count each, suppressed against the population."""

    categories: tuple[tuple[str, str | Promise], ...]
    cubes: dict[str, Protected]

    @classmethod
    def of(
        cls,
        categories: Sequence[tuple[str, str | Promise]],
        population: np.ndarray,
        yes: dict[str, np.ndarray],
        rules: Rules,
    ) -> Multi:
        """``population`` and each ``yes[code]`` are 4 x 3 (quarter x month-of-quarter) counts."""
        people = with_margins(population)
        never = unpublished_time_cells(people.shape)
        cubes = {}
        for code, _label in categories:
            counts = with_margins(yes.get(code, np.zeros((4, 3), dtype=np.int64)))
            without = people - counts
            # The few without an attribute are as disclosive as the few with it.
            extra = (without > 0) & (without < rules.threshold)
            cubes[code] = protect(counts[:4, :3], rules, unpublished=never, also_primary=extra)
        return cls(tuple(categories), cubes)

    def count(self, period: Period, code: str) -> float | None:
        value = self.cubes[code].published()[period.cell]
        return None if np.isnan(value) else float(value)


def monthly(records: Iterable[tuple[int, int]]) -> np.ndarray:
    """(month, count) pairs as a 4 x 3 quarter x month-of-quarter array."""
    out = np.zeros((QUARTER_AXIS, MONTH_AXIS), dtype=np.int64)
    for month, count in records:
        out[month_cell(month)] += count
    return out
