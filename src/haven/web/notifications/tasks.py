"""Background jobs of notifications, run by ``haven worker``."""

from __future__ import annotations

import datetime as dt

from django_tasks import task

SWEEP_EVERY = dt.timedelta(minutes=5)


@task()
def deliver() -> int:
    """Send the notification e-mails due now (queued when a notification is made)."""
    from .actions import deliver_emails

    return deliver_emails()


@task()
def sweep() -> int:
    """Make the notifications that come with time (follow-ups due, deadlines near or passed),
    send any e-mails still due, delete those read long ago, then queue the next sweep."""
    from django.db import transaction
    from django.utils import timezone

    from haven.web.core.schedule import requeue

    from .actions import deliver_emails, prune
    from .sources import SOURCES

    try:
        made = 0
        now = timezone.now()
        for source in SOURCES:
            with transaction.atomic():
                made += source(now)
        deliver_emails()
        prune(now)
        return made
    finally:
        requeue(sweep, SWEEP_EVERY)
