"""Times read as people of each language write them."""

from __future__ import annotations

import datetime as dt

from django.utils import translation
from django.utils.formats import date_format


def test_korean_times_put_morning_or_afternoon_first() -> None:
    when = dt.datetime(2026, 12, 8, 23, 38, tzinfo=dt.UTC)
    with translation.override("ko"):
        assert date_format(when, "DATETIME_FORMAT") == "2026년 12월 8일 오후 11:38"
        assert date_format(when.replace(hour=9), "DATETIME_FORMAT") == "2026년 12월 8일 오전 9:38"
    with translation.override("en"):
        assert date_format(when, "DATETIME_FORMAT") == "Dec. 8, 2026, 11:38 p.m."
