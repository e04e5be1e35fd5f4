"""Background job of the audit trail, run by ``haven worker``: signed checkpoints outside the database."""

from __future__ import annotations

import datetime as dt

from django_tasks import task


@task()
def sweep() -> int:
    """Write a checkpoint if the chain grew since the last one, then queue the next sweep once."""
    from django.conf import settings
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from .checkpoints import write

    try:
        return 1 if write() is not None else 0
    finally:
        pending = DBTaskResult.objects.filter(task_path=sweep.module_path, status="READY").exclude(
            run_after__lte=timezone.now()
        )
        if not pending.exists():
            every = dt.timedelta(minutes=settings.HAVEN_AUDIT_CHECKPOINT_MINUTES)
            sweep.using(run_after=timezone.now() + every).enqueue()
