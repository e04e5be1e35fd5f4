"""Database expressions shared by the apps, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt

import pytest

from haven.web.accounts.models import Organisation
from haven.web.core.db import EpochSeconds

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("when", "seconds"),
    [
        (dt.datetime(2025, 5, 8, 7, 20, 24, 900_000, tzinfo=dt.UTC), 1_746_688_824),  # whole seconds, floored
        (dt.datetime(1970, 1, 1, tzinfo=dt.UTC), 0),
        (dt.datetime(2038, 1, 19, 3, 14, 8, tzinfo=dt.UTC), 2**31),  # past 32 bits
    ],
)
def test_epoch_seconds_are_the_timestamp_s_whole_seconds(
    org_a: Organisation, when: dt.datetime, seconds: int
) -> None:
    """On SQLite the strftime format once lost its % to the driver's placeholder rewriting, and
    every timestamp read as 0 (the StopNCII feed's lastModtimestamp among them)."""
    Organisation.objects.filter(pk=org_a.pk).update(created_at=when)
    value = Organisation.objects.filter(pk=org_a.pk).annotate(s=EpochSeconds("created_at")).get().s
    assert value == seconds
