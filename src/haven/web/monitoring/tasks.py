"""Background jobs of monitoring, run by ``haven worker``."""

from __future__ import annotations

import datetime as dt

from django_tasks import task

from .models import ScanRun

SWEEP_EVERY = dt.timedelta(minutes=5)


@task()
def run_source(run_id: int) -> str:
    from django.utils import timezone

    from .actions import execute_run

    # Claim the run with a conditional UPDATE, so that two workers never scan the same run.
    claimed = ScanRun.objects.filter(pk=run_id, status=ScanRun.Status.QUEUED).update(
        status=ScanRun.Status.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return "gone"
    return execute_run(ScanRun.objects.select_related("source").get(pk=run_id)).status


@task()
def sweep() -> int:
    """Queue a run of every source whose schedule has come; then queue the next sweep once."""
    from haven.web.core.schedule import requeue

    from .actions import due_sources, fail_abandoned_runs, queue_run

    fail_abandoned_runs()
    due = due_sources()
    for source in due:
        queue_run(actor="scheduler", source=source)
    requeue(sweep, SWEEP_EVERY)
    return len(due)
