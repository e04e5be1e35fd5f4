"""Every write of the notifications app.

A notification is derived from something already audited (a portal submission, a survivor's
message, a follow-up falling due, a notice's deadline, a scan's matches), so creating one and
marking one read append no audit event of their own; changing whether a user gets e-mails does.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from haven.web.accounts.models import User
from haven.web.accounts.roles import Perm
from haven.web.audit.chain import append
from haven.web.audit.models import EventType
from haven.web.training.mailbox import deliver
from haven.web.training.models import MailKind

from .models import Kind, Notification, Preference

log = logging.getLogger(__name__)

# An e-mail is sent for a notification at most this long after it was made: a worker that was
# down for a week does not send a week of stale news.
EMAIL_WITHIN = dt.timedelta(days=1)
EMAIL_BATCH = 500


def users_who_can(organisation: Any, perm: Perm) -> list[User]:
    """The organisation's active users whose role grants ``perm``."""
    users = User.objects.filter(organisation=organisation, is_active=True).order_by("pk")
    return [user for user in users if user.can(perm)]


def case_team(case: Any) -> list[User]:
    """Who should hear about a survivor's case: her assigned counsellor, when that person may read
    what she writes (``Perm.VIEW_CONTACT``); otherwise everyone at the centre who may."""
    assignee = case.assignee
    if (
        assignee is not None
        and assignee.organisation_id == case.organisation_id
        and assignee.can(Perm.VIEW_CONTACT)
    ):
        return [assignee]
    return users_who_can(case.organisation_id, Perm.VIEW_CONTACT)


def notify(
    *,
    users: Iterable[User],
    kind: Kind,
    key: str,
    organisation: Any,
    case: Any = None,
    params: dict[str, Any] | None = None,
    url: str = "",
) -> int:
    """Notify each user once about ``key`` (a second call with the same key does nothing for a
    user who has it already); returns how many were new.  Runs in the caller's transaction, so a
    rolled-back action notifies no one."""
    users = [u for u in users if u.is_active]
    if not users:
        return 0
    organisation_id = getattr(organisation, "pk", organisation)
    opted_in = set(Preference.objects.filter(user__in=users, email=True).values_list("user_id", flat=True))
    now = timezone.now()
    existing = set(Notification.objects.filter(user__in=users, key=key).values_list("user_id", flat=True))
    rows = [
        Notification(
            organisation_id=organisation_id,
            user=user,
            kind=kind,
            key=key[:100],
            case=case,
            params=params or {},
            url=url,
            # No e-mail is due to a user who has not asked for them.
            emailed_at=None if user.pk in opted_in and user.email else now,
        )
        for user in users
        if user.pk not in existing
    ]
    # ignore_conflicts: a second worker running the same sweep at once loses quietly.
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    if any(row.emailed_at is None for row in rows):
        transaction.on_commit(_queue_delivery)
    return len(rows)


def _queue_delivery() -> None:
    from .tasks import deliver

    try:
        deliver.enqueue()
    except Exception:  # the sweep sends it later; the action that notified has committed
        log.exception("could not queue the notification e-mails")


def mark_read(*, actor: User, ids: Iterable[int] | None = None) -> int:
    """Mark the actor's own notifications read: those in ``ids``, or all of them."""
    unread = Notification.objects.filter(user=actor, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=list(ids))
    return unread.update(read_at=timezone.now())


# Read notifications are deleted this long after they were read.  Nothing is raised again for it:
# the sweep's sources look back 30 days at most, and a scan's matches are notified when it ends.
KEEP_READ = dt.timedelta(days=90)


def prune(now: dt.datetime | None = None) -> int:
    """Delete notifications read longer ago than :data:`KEEP_READ`; returns how many."""
    now = now or timezone.now()
    deleted, _by_model = Notification.objects.filter(read_at__lt=now - KEEP_READ).delete()
    return deleted


def set_email(*, actor: User, email: bool) -> Preference:
    with transaction.atomic():
        preference, _created = Preference.objects.select_for_update().get_or_create(user=actor)
        if preference.email != email:
            preference.email = email
            preference.save(update_fields=["email"])
            append(
                actor=actor,
                event_type=EventType.NOTIFICATION_EMAIL_CHANGED,
                organisation=actor.organisation_id,
                obj=actor,
                summary={"email": email},
            )
    return preference


def line(notification: Notification) -> str:
    """What a notification says, in the active language."""
    params = notification.params if isinstance(notification.params, dict) else {}
    case = str(params.get("case", ""))
    if notification.kind == Kind.PORTAL_CASE:
        return _("A survivor opened case %(case)s in the portal.") % {"case": case}
    if notification.kind == Kind.SURVIVOR_MESSAGE:
        return _("The survivor of case %(case)s wrote a message.") % {"case": case}
    if notification.kind == Kind.SURVIVOR_PICTURES:
        return _("The survivor of case %(case)s added pictures in the portal.") % {"case": case}
    if notification.kind == Kind.FOLLOW_UP_DUE:
        return _("A follow-up on case %(case)s is due.") % {"case": case}
    if notification.kind == Kind.DEADLINE_NEAR:
        return _("A notice on case %(case)s reaches its deadline within a day.") % {"case": case}
    if notification.kind == Kind.DEADLINE_PASSED:
        return _("A notice on case %(case)s is past its deadline without an answer.") % {"case": case}
    if notification.kind == Kind.SIGHTINGS_ASSIGNED:
        count = int(params.get("count") or 0)
        return ngettext(
            "%(count)s sighting was assigned to you.", "%(count)s sightings were assigned to you.", count
        ) % {"count": count}
    if notification.kind == Kind.CANDIDATES:
        count = int(params.get("count") or 0)
        return ngettext(
            "A scan found %(count)s match to review.", "A scan found %(count)s matches to review.", count
        ) % {"count": count}
    return str(Kind(notification.kind).label) if notification.kind in Kind.values else notification.kind


def _language(user: User) -> str:
    codes = {code for code, _name in settings.LANGUAGES}
    organisation = user.organisation
    for code in (organisation.languages if organisation else "").replace(" ", "").split(","):
        if code in codes:
            return code
    return str(settings.LANGUAGE_CODE)


def _email(user: User, kinds: list[str]) -> tuple[str, str]:
    """The e-mail for a user's new notifications: what kinds, how many, and where to look; never
    a case number or anything about a survivor (e-mail leaves the centre's hands)."""
    with translation.override(_language(user)):
        count = len(kinds)
        subject = ngettext(
            "Haven: %(count)s new notification", "Haven: %(count)s new notifications", count
        ) % {"count": count}
        counts: dict[str, int] = defaultdict(int)
        for kind in kinds:
            counts[kind] += 1
        lines = [f"- {Kind(kind).label} ({n})" for kind, n in sorted(counts.items())]
        base = str(getattr(settings, "HAVEN_BASE_URL", "") or "").rstrip("/")
        where = (
            _("Sign in to Haven to see them: %(url)s") % {"url": base + reverse("notifications:list")}
            if base
            else _("Sign in to Haven to see them.")
        )
        body = "\n".join(
            [
                _("You have new notifications in Haven:"),
                "",
                *lines,
                "",
                where,
                "",
                _(
                    "You get these e-mails because you turned them on. "
                    "You can turn them off on the notifications page."
                ),
            ]
        )
    return subject, body


def deliver_emails() -> int:
    """Send the e-mails due, one per user for all her new notifications; returns how many were sent.

    Notifications are claimed (``emailed_at`` set) and committed before sending, so two workers
    never send the same ones; a user whose e-mail fails gets hers back for the next try.  A worker
    killed between the claim and the send loses that e-mail (the notification stays in the app).
    """
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(emailed_at__isnull=True, created_at__gte=now - EMAIL_WITHIN)
            .order_by("pk")[:EMAIL_BATCH]
        )
        Notification.objects.filter(pk__in=[row.pk for row in rows]).update(emailed_at=now)
    by_user: dict[int, list[Notification]] = defaultdict(list)
    for row in rows:
        by_user[row.user_id].append(row)
    users = User.objects.select_related("organisation").in_bulk(list(by_user))
    opted_in = set(
        Preference.objects.filter(user__in=list(by_user), email=True).values_list("user_id", flat=True)
    )
    sent = 0
    for user_id, notifications in by_user.items():
        user = users.get(user_id)
        # She may have turned e-mails off, or lost her address, since.
        if user is None or not user.is_active or not user.email or user_id not in opted_in:
            continue
        subject, body = _email(user, [n.kind for n in notifications])
        try:
            deliver(
                EmailMessage(subject, body, None, [user.email]),
                organisation_id=user.organisation_id,
                kind=MailKind.NOTIFICATION,
            )
        except Exception:
            log.warning("notification e-mail to user %s failed; it is tried again", user_id, exc_info=True)
            Notification.objects.filter(pk__in=[n.pk for n in notifications]).update(emailed_at=None)
            continue
        sent += 1
    return sent
