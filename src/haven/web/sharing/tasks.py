"""Background jobs of sharing, run by ``haven worker``."""

from __future__ import annotations

import datetime as dt

from django_tasks import task

SWEEP_EVERY = dt.timedelta(minutes=15)


@task()
def sweep() -> int:
    """Blank the hashes of erased items that no partner needs any more (see
    ``actions.purge_erased``), then queue the next sweep unless one is already waiting."""
    from django.db import transaction

    from haven.web.core.schedule import requeue

    from .actions import purge_erased
    from .models import SharedItem, ShareStatus

    purged = 0
    waiting = SharedItem.objects.filter(status=ShareStatus.DELETED, purged=False)
    for organisation_id in waiting.values_list("organisation_id", flat=True).distinct():
        with transaction.atomic():
            purged += purge_erased(organisation_id)
    requeue(sweep, SWEEP_EVERY)
    return purged
