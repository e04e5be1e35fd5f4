"""Report periods: a year, a quarter or a month, and where each sits in a year's cube.

A year's counts are kept on two axes, quarter (4) and month of the quarter (3), each with its
total, so that a month ``(q, m)``, a quarter ``(q, total)`` and the year ``(total, total)`` are all
cells of one cube and are suppressed together (see :mod:`.disclosure`).  The cells
``(total, m)`` -- every quarter's m-th month added up -- belong to no period and are never shown.

Custom ranges are not offered: two ranges that differ by a day would give that day's counts away.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

QUARTER_AXIS = 4  # four quarters, then the year's total
MONTH_AXIS = 3  # three months of a quarter, then the quarter's total

_FORMS = re.compile(r"^(?P<year>\d{4})(?:-(?:Q(?P<quarter>[1-4])|(?P<month>0[1-9]|1[0-2])))?$")


class PeriodError(ValueError):
    """A period that is not a year, a quarter or a month (the message says what is accepted)."""


@dataclass(frozen=True)
class Period:
    year: int
    quarter: int | None = None  # 1-4, for a quarter
    month: int | None = None  # 1-12, for a month

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _FORMS.match((text or "").strip().upper())
        if not match or not 2000 <= int(match["year"]) <= 2100:
            raise PeriodError(
                f"{text!r} is not a period: give a year (2026), a quarter (2026-Q3) or a month (2026-11)"
            )
        year = int(match["year"])
        if match["quarter"]:
            return cls(year, quarter=int(match["quarter"]))
        if match["month"]:
            return cls(year, month=int(match["month"]))
        return cls(year)

    @property
    def kind(self) -> Literal["year", "quarter", "month"]:
        if self.month is not None:
            return "month"
        return "quarter" if self.quarter is not None else "year"

    def __str__(self) -> str:
        if self.month is not None:
            return f"{self.year}-{self.month:02d}"
        if self.quarter is not None:
            return f"{self.year}-Q{self.quarter}"
        return str(self.year)

    @property
    def months(self) -> list[int]:
        if self.month is not None:
            return [self.month]
        if self.quarter is not None:
            return [3 * (self.quarter - 1) + i for i in (1, 2, 3)]
        return list(range(1, 13))

    @property
    def cell(self) -> tuple[int, int]:
        """Where the period sits on the (quarter, month of quarter) axes of a year's cube."""
        if self.month is not None:
            return month_cell(self.month)
        if self.quarter is not None:
            return (self.quarter - 1, MONTH_AXIS)
        return (QUARTER_AXIS, MONTH_AXIS)

    def bounds(self, time_zone: str) -> tuple[dt.datetime, dt.datetime]:
        """The period's first instant and the instant after it, in the organisation's time zone."""
        zone = zoneinfo.ZoneInfo(time_zone)
        first, last = self.months[0], self.months[-1]
        start = dt.datetime(self.year, first, 1, tzinfo=zone)
        end_day = dt.date(self.year, last, calendar.monthrange(self.year, last)[1]) + dt.timedelta(days=1)
        return start, dt.datetime(end_day.year, end_day.month, end_day.day, tzinfo=zone)

    def previous(self) -> Period:
        if self.month is not None:
            return (
                Period(self.year - 1, month=12)
                if self.month == 1
                else Period(self.year, month=self.month - 1)
            )
        if self.quarter is not None:
            return (
                Period(self.year - 1, quarter=4)
                if self.quarter == 1
                else Period(self.year, quarter=self.quarter - 1)
            )
        return Period(self.year - 1)


def month_cell(month: int) -> tuple[int, int]:
    return ((month - 1) // 3, (month - 1) % 3)


def unpublished_time_cells(shape: tuple[int, ...]) -> npt.NDArray[np.bool_]:
    """For a year's cube with margins (quarter and month-of-quarter axes first): the cells
    ``(year total, m)`` that are no period's."""
    never = np.zeros(shape, dtype=bool)
    never[QUARTER_AXIS, :MONTH_AXIS] = True
    return never
