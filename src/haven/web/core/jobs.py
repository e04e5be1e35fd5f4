"""Jobs a dead worker left running: marked failed, and run again once.

A worker killed in the middle of a job (``kill -9``, a crash, a machine that lost power) leaves
the job's row RUNNING for ever: nobody would finish it.  Every worker says it is alive (its
heartbeat, written by a thread of its own) and runs jobs under the same name, so a RUNNING job
whose worker has not been heard from for ``HAVEN_WORKER_LOST_SECONDS`` is known to be lost.
:func:`recover_lost_jobs` (the ``core.recover`` sweep, every few seconds to a minute) marks it
FAILED, saying which worker stopped, and queues the same job with the same arguments once more.
A job that is lost again is left failed: a job that kills its worker must not do so for ever.

Haven's jobs are written to be run again: each works in transactions and starts from what the
database holds (a key rotation rewrites what is not yet under the new key; a sweep looks at what
is due), so a second run finishes the first one's work without doing any of it twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)

LOST = "haven.web.core.jobs.WorkerLost"
"""The exception class path a lost job is failed with (there is no exception object to keep)."""


class WorkerLost(Exception):
    """The worker running a job stopped before the job finished."""


@dataclass(frozen=True)
class Recovered:
    job: str
    task: str
    worker: str
    retry: str | None
    """The new job's id, or None when the job had been retried once already."""


def lost_after() -> dt.timedelta:
    return dt.timedelta(seconds=settings.HAVEN_WORKER_LOST_SECONDS)


def recover_lost_jobs(now: dt.datetime | None = None) -> list[Recovered]:
    from django_tasks_db.models import DBTaskResult

    from .models import JobRetry, WorkerHeartbeat

    now = now or timezone.now()
    alive = set(
        WorkerHeartbeat.objects.filter(seen_at__gte=now - lost_after()).values_list("name", flat=True)
    )
    out: list[Recovered] = []
    running = DBTaskResult.objects.filter(status="RUNNING", started_at__lt=now - lost_after())
    for job in running.only("id", "worker_ids", "task_path", "args_kwargs", "queue_name", "priority"):
        worker = str(job.worker_ids[-1]) if job.worker_ids else "(unknown)"
        if worker in alive:
            continue
        with transaction.atomic():
            # Whoever flips it from RUNNING recovers it: two workers never both do.
            taken = DBTaskResult.objects.filter(pk=job.pk, status="RUNNING").update(
                status="FAILED",
                finished_at=now,
                exception_class_path=LOST,
                traceback=f"The worker {worker} stopped while running this job (not heard from for "
                f"{settings.HAVEN_WORKER_LOST_SECONDS} s at {now:%Y-%m-%d %H:%M:%S} UTC).",
            )
            if not taken:
                continue
            if JobRetry.objects.filter(retry=str(job.pk)).exists():
                out.append(Recovered(str(job.pk), job.task_path, worker, None))
                continue
            retry = _enqueue_again(job)
            JobRetry.objects.create(original=str(job.pk), retry=retry, task_path=job.task_path[:300])
            out.append(Recovered(str(job.pk), job.task_path, worker, retry))
    for r in out:
        if r.retry:
            log.warning(
                "job %s (%s) was lost with worker %s; running it again as %s",
                r.job,
                r.task,
                r.worker,
                r.retry,
            )
        else:
            log.error(
                "job %s (%s) was lost with worker %s a second time; left failed", r.job, r.task, r.worker
            )
    return out


def _enqueue_again(job: Any) -> str:
    task = import_string(job.task_path)
    arguments = job.args_kwargs or {}
    result = task.using(queue_name=job.queue_name, priority=job.priority).enqueue(
        *arguments.get("args", []), **arguments.get("kwargs", {})
    )
    return str(result.id)
