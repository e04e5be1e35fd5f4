"""Background job of the audit trail, run by ``haven worker``: signed checkpoints outside the database."""

from __future__ import annotations

import datetime as dt
import logging

from django_tasks import task

log = logging.getLogger(__name__)


@task()
def sweep() -> int:
    """Write a checkpoint if the chain grew since the last one, then queue the next sweep once."""
    from django.conf import settings

    from haven.web.core.schedule import requeue

    from .checkpoints import CheckpointRefused, write

    every = dt.timedelta(minutes=settings.HAVEN_AUDIT_CHECKPOINT_MINUTES)
    try:
        return 1 if write() is not None else 0
    except CheckpointRefused as exc:
        log.error("audit checkpoint refused: %s", exc)
        return 0
    finally:
        requeue(sweep, every)
