"""Operational state shared by the processes of one deployment (not case data)."""

from __future__ import annotations

from django.db import models


class WorkerHeartbeat(models.Model):
    """A running ``haven worker`` process says it is alive, every :data:`~haven.web.core.health.BEAT`.

    Written by the worker's own heartbeat thread, not by jobs: a long scan keeps the worker busy
    without making it look dead.  Whether jobs move is the job queue's check (its oldest due job).
    This is machine bookkeeping, like the task and cache tables, and so not an audited action."""

    name = models.CharField(max_length=200, unique=True)  # host:pid
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.name


class JobRetry(models.Model):
    """A job lost with its worker and queued again (:mod:`haven.web.core.jobs`): each is retried
    once, and a retry that is lost too is left failed."""

    original = models.CharField(max_length=64, unique=True)  # the lost job's id
    retry = models.CharField(max_length=64, unique=True)  # the new job's id
    task_path = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.task_path}: {self.original} -> {self.retry}"
