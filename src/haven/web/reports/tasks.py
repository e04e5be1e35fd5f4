"""Background jobs of reports, run by ``haven worker``: the monthly reports, made on the 1st."""

from __future__ import annotations

import datetime as dt

from django_tasks import task

SWEEP_EVERY = dt.timedelta(hours=1)


@task()
def sweep() -> int:
    """Make the month before's reports wherever they are missing (so on the 1st, or at the first
    sweep after a worker was down), then queue the next sweep once."""
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from .actions import store_monthly_reports

    try:
        return store_monthly_reports()
    finally:
        pending = DBTaskResult.objects.filter(task_path=sweep.module_path, status="READY").exclude(
            run_after__lte=timezone.now()
        )
        if not pending.exists():
            sweep.using(run_after=timezone.now() + SWEEP_EVERY).enqueue()
