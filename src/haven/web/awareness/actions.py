"""Writes to the awareness pages and campaigns: atomic, permission-checked, audited."""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from haven.web.accounts.models import Organisation
from haven.web.accounts.roles import Perm
from haven.web.audit.chain import append
from haven.web.audit.models import EventType
from haven.web.core.access import require, same_organisation
from haven.web.core.errors import ActionError

from .content import Page, built_in
from .models import MAX_BANNER, MAX_BODY, MAX_TITLE, Campaign, Revision, Topic

LANGUAGES = frozenset(code for code, _name in settings.LANGUAGES)
LONGEST_CAMPAIGN = datetime.timedelta(days=366)


def _check_page(topic: str, language: str) -> None:
    if topic not in Topic.values:
        raise ActionError(_("Unknown page."))
    if language not in LANGUAGES:
        raise ActionError(_("Unknown language."))


def current(org: Organisation, topic: str, language: str) -> Revision | None:
    """The newest revision of the page in that language, if the centre ever saved one."""
    return Revision.objects.filter(organisation=org, topic=topic, language=language).first()


def page(org: Organisation, topic: str, language: str) -> Page:
    """What a visitor sees: the centre's newest text, else the built-in one (active language)."""
    saved = current(org, topic, language)
    if saved is None or not saved.body.strip():
        return built_in(topic, org)
    return Page(title=saved.title or str(Topic(topic).label), body=saved.body, built_in=False)


def save_page(*, actor: Any, topic: str, language: str, title: str, body: str) -> Revision:
    """Publish a new revision of one page in one language; an empty text puts the built-in one back."""
    require(actor, Perm.MANAGE_AWARENESS)
    _check_page(topic, language)
    title, body = title.strip(), body.replace("\r\n", "\n").strip()
    if len(title) > MAX_TITLE or len(body) > MAX_BODY:
        raise ActionError(
            _("The title may have at most %(title)s characters and the text at most %(body)s.")
            % {"title": MAX_TITLE, "body": MAX_BODY}
        )
    if "\x00" in title or "\x00" in body:
        raise ActionError(_("The text holds characters that cannot be saved."))
    with transaction.atomic():
        latest = current(actor.organisation, topic, language)
        if latest is not None and (latest.title, latest.body) == (title, body):
            raise ActionError(_("Nothing changed: the page already says this."))
        revision = Revision.objects.create(
            organisation_id=actor.organisation_id,
            topic=topic,
            language=language,
            title=title,
            body=body,
            created_by=actor,
        )
        append(
            actor=actor,
            event_type=EventType.AWARENESS_PAGE_SAVED,
            organisation=actor.organisation_id,
            obj=revision,
            summary={"topic": topic, "language": language, "built_in": not body, "characters": len(body)},
        )
    return revision


def restore(*, actor: Any, revision: Revision) -> Revision:
    """Publish an earlier revision again, as a new one: the history only grows."""
    require(actor, Perm.MANAGE_AWARENESS)
    same_organisation(actor, revision)
    return save_page(
        actor=actor,
        topic=revision.topic,
        language=revision.language,
        title=revision.title,
        body=revision.body,
    )


def add_campaign(
    *, actor: Any, message: str, starts_on: datetime.date, ends_on: datetime.date, language: str = ""
) -> Campaign:
    require(actor, Perm.MANAGE_AWARENESS)
    message = " ".join(message.split())
    if not message:
        raise ActionError(_("Write the banner's message."))
    if len(message) > MAX_BANNER:
        raise ActionError(_("A banner may have at most %(count)s characters.") % {"count": MAX_BANNER})
    if language and language not in LANGUAGES:
        raise ActionError(_("Unknown language."))
    if ends_on < starts_on:
        raise ActionError(_("The last day comes before the first day."))
    if ends_on - starts_on > LONGEST_CAMPAIGN:
        raise ActionError(_("A campaign may last at most a year."))
    with transaction.atomic():
        campaign = Campaign.objects.create(
            organisation_id=actor.organisation_id,
            message=message,
            language=language,
            starts_on=starts_on,
            ends_on=ends_on,
            created_by=actor,
        )
        append(
            actor=actor,
            event_type=EventType.AWARENESS_CAMPAIGN_ADDED,
            organisation=actor.organisation_id,
            obj=campaign,
            summary={
                "starts_on": starts_on.isoformat(),
                "ends_on": ends_on.isoformat(),
                "language": language,
            },
        )
    return campaign


def remove_campaign(*, actor: Any, campaign: Campaign) -> None:
    require(actor, Perm.MANAGE_AWARENESS)
    same_organisation(actor, campaign)
    with transaction.atomic():
        append(
            actor=actor,
            event_type=EventType.AWARENESS_CAMPAIGN_REMOVED,
            organisation=actor.organisation_id,
            obj=campaign,
            summary={"message": campaign.message[:80]},
        )
        campaign.delete()


def running(org: Organisation, language: str, today: datetime.date) -> list[Campaign]:
    """The campaigns to show today (in the centre's own time zone, worked out by the caller)."""
    return list(
        Campaign.objects.filter(organisation=org, starts_on__lte=today, ends_on__gte=today)
        .filter(language__in=["", language])
        .order_by("starts_on", "pk")
    )
