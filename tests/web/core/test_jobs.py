"""Jobs a stopped worker left running are failed and run again once (``haven.web.core.jobs``)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from haven.web.core.jobs import LOST, recover_lost_jobs
from haven.web.core.models import JobRetry, WorkerHeartbeat
from haven.web.core.tasks import reencrypt_with_current_key

pytestmark = pytest.mark.django_db

LONG_AGO = dt.timedelta(minutes=30)


def _running(worker: str, started_ago: dt.timedelta = LONG_AGO, batch_size: int = 50) -> DBTaskResult:
    result = reencrypt_with_current_key.enqueue(batch_size=batch_size)
    DBTaskResult.objects.filter(pk=result.id).update(
        status="RUNNING", started_at=timezone.now() - started_ago, worker_ids=[worker]
    )
    return DBTaskResult.objects.get(pk=result.id)


def _beat(name: str, ago: dt.timedelta) -> None:
    now = timezone.now()
    WorkerHeartbeat.objects.create(name=name, started_at=now - LONG_AGO, seen_at=now - ago)


def test_a_dead_workers_job_is_failed_and_queued_again_with_its_arguments() -> None:
    _beat("host:1", ago=dt.timedelta(minutes=20))
    lost = _running("host:1", batch_size=77)
    (recovered,) = recover_lost_jobs()
    lost.refresh_from_db()
    assert lost.status == "FAILED"
    assert lost.exception_class_path == LOST
    assert "The worker host:1 stopped" in lost.traceback
    again = DBTaskResult.objects.get(pk=recovered.retry)
    assert again.status == "READY"
    assert again.task_path == lost.task_path
    assert again.args_kwargs == {"args": [], "kwargs": {"batch_size": 77}}
    assert JobRetry.objects.get().original == str(lost.pk)


def test_a_live_workers_job_and_a_job_just_started_are_left_alone() -> None:
    _beat("host:2", ago=dt.timedelta(seconds=5))
    long_job = _running("host:2")
    fresh = _running("host:3", started_ago=dt.timedelta(seconds=10))
    assert recover_lost_jobs() == []
    assert set(
        DBTaskResult.objects.filter(pk__in=[long_job.pk, fresh.pk]).values_list("status", flat=True)
    ) == {"RUNNING"}


def test_a_job_lost_twice_is_left_failed() -> None:
    _running("gone:1")
    (first,) = recover_lost_jobs()
    assert first.retry is not None
    DBTaskResult.objects.filter(pk=first.retry).update(
        status="RUNNING", started_at=timezone.now() - LONG_AGO, worker_ids=["gone:2"]
    )
    (second,) = recover_lost_jobs()
    assert second.retry is None
    assert DBTaskResult.objects.get(pk=first.retry).status == "FAILED"
    assert DBTaskResult.objects.filter(status="READY").count() == 0


def test_recovering_twice_queues_one_retry() -> None:
    _running("gone:3")
    assert len(recover_lost_jobs()) == 1
    assert recover_lost_jobs() == []
    assert JobRetry.objects.count() == 1
    assert DBTaskResult.objects.filter(status="READY").count() == 1
