"""Background jobs, run by `haven worker` (django-tasks with its database backend).

Jobs are plain functions that take ids, not objects, so that they can be retried
and run in any worker process.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from django.db import models, transaction
from django_tasks import task

from haven.web.audit.chain import append
from haven.web.audit.models import EventType
from haven.web.cases.models import NOTE_CONTEXT, Case, CaseNote
from haven.web.core import crypto

_CASE_FIELDS: tuple[tuple[str, Callable[[Any], str]], ...] = (
    ("contact_encrypted", lambda _: "cases.Case.contact"),
    ("notes_encrypted", lambda _: "cases.Case.notes"),
    ("safety_plan_encrypted", lambda _: "cases.Case.safety_plan"),
)


@task()
def reencrypt_with_current_key(batch_size: int = 200) -> int:
    """Rewrite every encrypted value that is not under the current (first) key; return how many.

    Run after putting a new key first in HAVEN_ENCRYPTION_KEYS; once it reports 0, the old
    keys can be removed.
    """
    from haven.web.takedown.actions import NOTICE_BODY
    from haven.web.takedown.models import EvidenceScreenshot, Notice

    rewritten = _reencrypt_rows(Case, _CASE_FIELDS, batch_size)
    case_notes = _reencrypt_rows(CaseNote, (("body_encrypted", lambda _: NOTE_CONTEXT),), batch_size)
    # A screenshot's key context names its evidence row, so it is computed per row.
    screenshots = _reencrypt_rows(
        EvidenceScreenshot,
        (("image_encrypted", lambda shot: EvidenceScreenshot.context(shot.evidence_id)),),
        batch_size,
    )
    # A notice's text is the record of what was sent, and may name the survivor.
    notices = _reencrypt_rows(Notice, (("body_encrypted", lambda _: NOTICE_BODY),), batch_size)
    # What survivors and counsellors wrote to each other in the portal.
    from haven.web.portal.models import MESSAGE_CONTEXT, PortalMessage

    messages = _reencrypt_rows(PortalMessage, (("body_encrypted", lambda _: MESSAGE_CONTEXT),), batch_size)
    # A survivor's identifiers, and the found text around them.
    from haven.web.monitoring.models import IDENTIFIER_CONTEXT, SNIPPET_CONTEXT, Identifier, TextCandidate

    identifiers = _reencrypt_rows(
        Identifier, (("value_encrypted", lambda _: IDENTIFIER_CONTEXT),), batch_size
    )
    identifiers += _reencrypt_rows(
        TextCandidate, (("snippet_encrypted", lambda _: SNIPPET_CONTEXT),), batch_size
    )
    # Federation: the keys peers issued to us, and the centre's own private keys.
    from haven.web.federation.actions import KEYS_CONTEXT
    from haven.web.federation.identity import EXCHANGE_CONTEXT, SIGNING_CONTEXT
    from haven.web.federation.models import CentreIdentity, Peer

    federation = _reencrypt_rows(Peer, (("keys_encrypted", lambda _: KEYS_CONTEXT),), batch_size)
    federation += _reencrypt_rows(
        CentreIdentity,
        (
            ("signing_private_encrypted", lambda _: SIGNING_CONTEXT),
            ("exchange_private_encrypted", lambda _: EXCHANGE_CONTEXT),
        ),
        batch_size,
    )
    if rewritten or case_notes or screenshots or notices or messages or federation or identifiers:
        summary = {
            "cases": rewritten,
            **({"case_notes": case_notes} if case_notes else {}),
            **({"screenshots": screenshots} if screenshots else {}),
            **({"notices": notices} if notices else {}),
            **({"portal_messages": messages} if messages else {}),
            **({"federation": federation} if federation else {}),
            **({"personal_information": identifiers} if identifiers else {}),
        }
        with transaction.atomic():
            append(actor="worker", event_type=EventType.KEYS_ROTATED, summary=summary)
    return rewritten + case_notes + screenshots + notices + messages + federation + identifiers


def _reencrypt_rows(
    model: type[models.Model], fields: Sequence[tuple[str, Callable[[Any], str]]], batch_size: int
) -> int:
    """Rewrite a model's encrypted fields that are not under the current key; return how many rows changed.

    Rows are taken in primary-key order, a batch at a time, each batch under its row locks.
    ``fields`` pairs each field with the function giving a row's key context for it.
    """
    rewritten = 0
    last_pk = 0
    while True:
        with transaction.atomic():
            rows = list(
                model._default_manager.select_for_update().filter(pk__gt=last_pk).order_by("pk")[:batch_size]
            )
            if not rows:
                break
            for row in rows:
                changed = []
                for field, context_of in fields:
                    value = getattr(row, field)
                    if value and not crypto.is_current(value):
                        context = context_of(row)
                        setattr(
                            row, field, crypto.encrypt_bytes(crypto.decrypt_bytes(value, context), context)
                        )
                        changed.append(field)
                if changed:
                    row.save(update_fields=changed)
                    rewritten += 1
            last_pk = rows[-1].pk
    return rewritten


@task()
def recover() -> int:
    """Fail the jobs of workers that stopped and queue each once more; then queue the next look."""
    from django.conf import settings

    from .jobs import recover_lost_jobs
    from .schedule import requeue

    every = dt.timedelta(seconds=min(60, max(2, settings.HAVEN_WORKER_LOST_SECONDS // 2)))
    try:
        return len(recover_lost_jobs())
    finally:
        requeue(recover, every)


@task()
def demo_takedown(sighting_ids: list[int], officer_id: int) -> str:
    """The demo's takedown story, run by the worker once the server listens: capture the practice
    forum's pages as evidence, send a notice through its "web form", and recheck, which finds the
    removed post gone.  Every step is the real action, over loopback."""
    from haven.web.accounts.models import User
    from haven.web.core.errors import ActionError
    from haven.web.takedown.actions import (
        NoticeInput,
        capture_evidence,
        draft_notice,
        recheck,
        record_web_form,
    )
    from haven.web.takedown.models import Sighting

    officer = User.objects.get(pk=officer_id)
    sightings = list(
        Sighting.objects.select_related("case", "platform").filter(pk__in=sighting_ids).order_by("pk")
    )
    try:
        for sighting in sightings:
            capture_evidence(actor=officer, sighting=sighting)
        sightings = [Sighting.objects.select_related("case", "platform").get(pk=s.pk) for s in sightings]
        notice = draft_notice(
            actor=officer,
            sightings=sightings,
            data=NoticeInput(regime="policy", language="en", good_faith=True, accurate=True),
        )
        record_web_form(actor=officer, notice=notice, reference="DEMO-1001")
        for sighting in sightings:
            recheck(actor="worker", sighting=Sighting.objects.select_related("case").get(pk=sighting.pk))
    except ActionError as exc:  # the demo goes on without it; the reason shows in the worker's log
        return f"stopped: {exc}"
    return "done"
