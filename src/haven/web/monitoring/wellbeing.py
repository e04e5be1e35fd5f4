"""Reviewer wellbeing: looking at found pictures is the hardest part of the work.  Each reviewer
has a daily limit on pictures shown sharp, a reminder to take a break when she has looked at many
in the last hour, and may see every preview in grayscale.  Counts come from the audit trail (each
sharp showing is an audited event), so they cannot drift from what was actually shown; a
supervisor sees counts only, never which pictures."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from haven.web.accounts.models import User
from haven.web.accounts.roles import Perm
from haven.web.audit.chain import append
from haven.web.audit.models import AuditEvent, EventType
from haven.web.core.access import require, same_organisation
from haven.web.core.errors import ActionError

from .models import Candidate, ReviewerCare

MAX_DAILY_LIMIT = 1000


def care_of(user: User) -> ReviewerCare:
    """Her settings (the defaults until someone changes them; nothing is written by reading)."""
    found = ReviewerCare.objects.filter(user=user).first()
    return found or ReviewerCare(user=user, organisation_id=int(user.organisation_id or 0))


def _day_start(user: User, now: dt.datetime) -> dt.datetime:
    try:
        zone = zoneinfo.ZoneInfo(user.organisation.time_zone if user.organisation else "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    local = now.astimezone(zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _shown(user: User, since: dt.datetime) -> int:
    return AuditEvent.objects.filter(
        actor=user, event_type=EventType.CANDIDATE_VIEWED, created_at__gte=since
    ).count()


@dataclass(frozen=True)
class Load:
    shown_today: int
    shown_last_hour: int
    daily_limit: int
    break_every: int
    grayscale: bool

    @property
    def limit_reached(self) -> bool:
        return self.shown_today >= self.daily_limit

    @property
    def break_due(self) -> bool:
        return self.break_every > 0 and self.shown_last_hour >= self.break_every


def load(user: User, now: dt.datetime | None = None) -> Load:
    now = now or timezone.now()
    care = care_of(user)
    return Load(
        shown_today=_shown(user, _day_start(user, now)),
        shown_last_hour=_shown(user, now - dt.timedelta(hours=1)),
        daily_limit=care.daily_limit,
        break_every=care.break_every,
        grayscale=care.grayscale,
    )


def may_show_sharp(user: User) -> None:
    """Refuse a sharp picture once she has seen her day's number of them."""
    current = load(user)
    if current.limit_reached:
        raise ActionError(
            _(
                "You have seen %(count)s pictures today, your daily limit. Pictures stay blurred until "
                "tomorrow: decide on what you can, or hand the rest to a colleague."
            )
            % {"count": current.shown_today}
        )


def set_grayscale(*, actor: Any, grayscale: bool) -> ReviewerCare:
    require(actor, Perm.REVIEW)
    with transaction.atomic():
        care, _created = ReviewerCare.objects.get_or_create(
            user=actor, defaults={"organisation_id": actor.organisation_id}
        )
        care.grayscale = bool(grayscale)
        care.save(update_fields=["grayscale"])
        append(
            actor=actor,
            event_type=EventType.REVIEWER_CARE_CHANGED,
            organisation=actor.organisation_id,
            obj=actor,
            summary={"grayscale": care.grayscale},
        )
    return care


def set_limits(*, actor: Any, user: User, daily_limit: int, break_every: int) -> ReviewerCare:
    """An administrator sets a reviewer's daily limit and break reminder."""
    require(actor, Perm.MANAGE_USERS)
    same_organisation(actor, user)
    if not 1 <= daily_limit <= MAX_DAILY_LIMIT:
        raise ActionError(
            _("The daily limit is between 1 and %(most)s pictures.") % {"most": MAX_DAILY_LIMIT}
        )
    if not 0 <= break_every <= daily_limit:
        raise ActionError(_("The break reminder comes after 0 (never) to the daily limit of pictures."))
    with transaction.atomic():
        care, _created = ReviewerCare.objects.get_or_create(
            user=user, defaults={"organisation_id": int(user.organisation_id or 0)}
        )
        care.daily_limit, care.break_every = daily_limit, break_every
        care.save(update_fields=["daily_limit", "break_every"])
        append(
            actor=actor,
            event_type=EventType.REVIEWER_CARE_CHANGED,
            organisation=actor.organisation_id,
            obj=user,
            summary={"daily_limit": daily_limit, "break_every": break_every},
        )
    return care


@dataclass(frozen=True)
class ReviewerLoad:
    user: User
    shown_today: int
    shown_week: int
    decided_today: int
    decided_week: int
    daily_limit: int
    break_every: int


def review_load(actor: Any, now: dt.datetime | None = None) -> list[ReviewerLoad]:
    """Counts only, for each member of the organisation who may review."""
    require(actor, Perm.MANAGE_USERS)
    now = now or timezone.now()
    day = _day_start(actor, now)
    week = day - dt.timedelta(days=6)
    rows = []
    for user in User.objects.filter(organisation_id=actor.organisation_id, is_active=True).order_by(
        "username"
    ):
        if not user.can(Perm.REVIEW):
            continue
        care = care_of(user)
        decided = Candidate.objects.filter(decided_by=user)
        rows.append(
            ReviewerLoad(
                user=user,
                shown_today=_shown(user, day),
                shown_week=_shown(user, week),
                decided_today=decided.filter(decided_at__gte=day).count(),
                decided_week=decided.filter(decided_at__gte=week).count(),
                daily_limit=care.daily_limit,
                break_every=care.break_every,
            )
        )
    return rows
