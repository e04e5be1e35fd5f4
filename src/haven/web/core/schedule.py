"""Periodic jobs of ``haven worker``: each sweep queues its own next run."""

from __future__ import annotations

import datetime as dt
from typing import Any


def requeue(sweep: Any, every: dt.timedelta) -> None:
    """Queue the next run of ``sweep`` in ``every``, unless one is already due within two
    intervals.  A waiting run further ahead does not count: a row parked years in the future (by
    someone with database access, or a clock that jumped) must not stop the sweep for good."""
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    now = timezone.now()
    # run_after is never NULL (a run queued for "now" carries the largest date, so it does not count).
    pending = DBTaskResult.objects.filter(
        task_path=sweep.module_path, status="READY", run_after__gt=now, run_after__lte=now + 2 * every
    )
    if not pending.exists():
        sweep.using(run_after=now + every).enqueue()
