"""Notice deadlines for the notifications sweep (registered in ``TakedownConfig.ready``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.urls import reverse

from haven.web.accounts.roles import Perm
from haven.web.notifications.actions import notify, users_who_can
from haven.web.notifications.models import Kind

from .models import Notice, NoticeState

NEAR = dt.timedelta(hours=24)
# A deadline that passed longer ago than this is old news, not a notification (the first sweep
# after an upgrade, or after a long stop, would otherwise raise every old notice at once).
PASSED_WITHIN = dt.timedelta(days=7)


def _officers(notice: Notice) -> list[Any]:
    """Whoever sent the notice (or drafted it), while they may still work on takedowns; otherwise
    everyone at the centre who may."""
    for user in (notice.sent_by, notice.created_by):
        if user is not None and user.organisation_id == notice.organisation_id and user.can(Perm.TAKEDOWN):
            return [user]
    return users_who_can(notice.organisation_id, Perm.TAKEDOWN)


def deadlines(now: dt.datetime) -> int:
    """A sent notice whose deadline is less than a day away, and one whose deadline passed with no
    answer (still "sent": neither acknowledged nor closed)."""
    made = 0
    waiting = (
        Notice.objects.filter(
            state__in=[NoticeState.SENT, NoticeState.ACKNOWLEDGED],
            deadline_at__gt=now - PASSED_WITHIN,
            deadline_at__lte=now + NEAR,
        )
        .select_related("case", "sent_by", "created_by")
        .order_by("deadline_at", "pk")
    )
    for notice in waiting.iterator():
        if notice.deadline_at is None:  # filtered above; this tells the type checker
            continue
        passed = notice.deadline_at <= now
        if passed and notice.state != NoticeState.SENT:
            continue  # acknowledged: the platform answered
        made += notify(
            users=_officers(notice),
            kind=Kind.DEADLINE_PASSED if passed else Kind.DEADLINE_NEAR,
            # A deadline moved later is a new deadline.
            key=f"notice:{notice.pk}:{'passed' if passed else 'near'}:{notice.deadline_at:%Y%m%d%H%M}",
            organisation=notice.organisation_id,
            case=notice.case,
            params={"case": notice.case.number},
            url=reverse("takedown:notice", args=[notice.pk]),
        )
    return made
