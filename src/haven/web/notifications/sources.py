"""What the notifications sweep looks for.  Each app adds its own function to ``SOURCES`` from
its ``AppConfig.ready`` (follow-ups are registered by this app, as cases must not import it); a
function gets the time and returns how many notifications it made."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.urls import reverse
from django.utils import timezone

from .actions import notify
from .models import Kind

Source = Callable[[dt.datetime], int]
# Follow-ups that fell due longer ago than this are on the dashboard already: notifying them
# all at the first sweep after an upgrade would bury the new ones.
DUE_WITHIN = dt.timedelta(days=30)
SOURCES: list[Source] = []


def follow_ups_due(now: dt.datetime) -> int:
    """A follow-up task whose day has come, for the person it is assigned to; and an open case's
    own "follow up on" date, for its assignee."""
    from haven.web.cases.models import Case, CaseStatus, FollowUp

    today = timezone.localdate(now)
    since = today - DUE_WITHIN
    made = 0
    tasks = FollowUp.objects.filter(done_at__isnull=True, due_on__lte=today, due_on__gt=since).select_related(
        "case", "assignee"
    )
    for follow_up in tasks.iterator():
        case = follow_up.case
        made += notify(
            users=[follow_up.assignee],
            kind=Kind.FOLLOW_UP_DUE,
            key=f"follow_up:{follow_up.pk}",
            organisation=follow_up.organisation_id,
            case=case,
            params={"case": case.number},
            url=reverse("cases:detail", args=[case.number]) + "#follow-ups-panel",
        )
    cases = (
        Case.objects.filter(follow_up_on__lte=today, follow_up_on__gt=since, assignee__isnull=False)
        .exclude(status__in=[CaseStatus.CLOSED, CaseStatus.TRANSFERRED])
        .select_related("assignee")
    )
    for case in cases.iterator():
        if case.assignee is None or case.assignee.organisation_id != case.organisation_id:
            continue
        made += notify(
            users=[case.assignee],
            kind=Kind.FOLLOW_UP_DUE,
            # A new date set later is a new follow-up.
            key=f"case_follow_up:{case.pk}:{case.follow_up_on}",
            organisation=case.organisation_id,
            case=case,
            params={"case": case.number},
            url=reverse("cases:detail", args=[case.number]),
        )
    return made
