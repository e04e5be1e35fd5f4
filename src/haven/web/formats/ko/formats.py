"""Korean: "2026년 12월 8일 오후 11:38", with 오전/오후 before the time as Koreans write it (Django's own
puts it after: "11:38 오후").  Everything else is Django's."""

from django.conf.locale.ko.formats import *  # type: ignore[import-untyped]  # noqa: F403

DATETIME_FORMAT = "Y년 n월 j일 A g:i"
