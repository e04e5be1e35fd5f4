"""Background jobs of reports, run by ``haven worker``: the monthly reports, made on the 1st."""

from __future__ import annotations

import datetime as dt

from django_tasks import task

SWEEP_EVERY = dt.timedelta(hours=1)


@task()
def sweep() -> int:
    """Make the month before's reports wherever they are missing (so on the 1st, or at the first
    sweep after a worker was down), then queue the next sweep once."""
    from haven.web.core.schedule import requeue

    from .actions import store_monthly_reports

    try:
        return store_monthly_reports()
    finally:
        requeue(sweep, SWEEP_EVERY)
