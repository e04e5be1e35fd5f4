"""Background jobs of the takedown desk, run by ``haven worker``."""

from __future__ import annotations

import datetime as dt

from django_tasks import task

from .models import Sighting


@task()
def recheck_sighting(sighting_id: int, scheduled_for: str) -> str:
    """Recheck one sighting when it is due.

    ``scheduled_for`` is the due time the job was queued for: when an officer's action has
    rescheduled the sighting since, this older job finds a different time and does nothing,
    so duplicate jobs are harmless.
    """
    from .actions import recheck

    sighting = Sighting.objects.select_related("case").filter(pk=sighting_id).first()
    if sighting is None or sighting.next_check_at is None:
        return "gone"
    if sighting.next_check_at != dt.datetime.fromisoformat(scheduled_for):
        return "rescheduled"
    outcome = recheck(actor="worker", sighting=sighting)
    return "removed" if outcome.gone else outcome.reason


SWEEP_EVERY = dt.timedelta(minutes=15)


@task()
def expire_screenshots() -> int:
    """Delete evidence screenshots past their expiry; the evidence rows keep their SHA-256."""
    from . import actions

    return actions.expire_screenshots()


@task()
def sweep() -> int:
    """Mark sightings past their notice deadline as unanswered, queue rechecks that are past
    due (after a worker was down) and delete expired evidence screenshots; then queue the next
    sweep, unless one is already waiting."""
    from haven.web.core.schedule import requeue

    from .actions import due_for_recheck, mark_overdue

    # Expired screenshots go within a sweep of their expiry, whatever else this sweep finds.
    expire_screenshots.call()
    count = mark_overdue()
    for pk, when in Sighting.objects.filter(pk__in=due_for_recheck()).values_list("pk", "next_check_at"):
        if when is not None:
            recheck_sighting.enqueue(pk, when.isoformat())
            count += 1
    requeue(sweep, SWEEP_EVERY)
    return count
