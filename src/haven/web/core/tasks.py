"""Background jobs, run by `haven worker` (django-tasks with its database backend).

Jobs are plain functions that take ids, not objects, so that they can be retried
and run in any worker process.
"""

from __future__ import annotations

from django.db import transaction
from django_tasks import task

from haven.web.audit.chain import append
from haven.web.audit.models import EventType
from haven.web.cases.models import Case
from haven.web.core import crypto

_FIELDS = (("contact_encrypted", "cases.Case.contact"), ("notes_encrypted", "cases.Case.notes"))


@task()
def reencrypt_with_current_key(batch_size: int = 200) -> int:
    """Rewrite every encrypted value that is not under the current (first) key; return how many.

    Run after putting a new key first in HAVEN_ENCRYPTION_KEYS; once it reports 0, the old
    keys can be removed.
    """
    rewritten = 0
    last_pk = 0
    while True:
        with transaction.atomic():
            cases = list(Case.objects.select_for_update().filter(pk__gt=last_pk).order_by("pk")[:batch_size])
            if not cases:
                break
            for case in cases:
                changed = []
                for field, context in _FIELDS:
                    value = getattr(case, field)
                    if value and not crypto.is_current(value):
                        setattr(case, field, crypto.encrypt(crypto.decrypt(value, context), context))
                        changed.append(field)
                if changed:
                    case.save(update_fields=changed)
                    rewritten += 1
            last_pk = cases[-1].pk
    screenshots = _reencrypt_screenshots(batch_size)
    notices = _reencrypt_notices(batch_size)
    if rewritten or screenshots or notices:
        summary = {
            "cases": rewritten,
            **({"screenshots": screenshots} if screenshots else {}),
            **({"notices": notices} if notices else {}),
        }
        with transaction.atomic():
            append(actor="worker", event_type=EventType.KEYS_ROTATED, summary=summary)
    return rewritten + screenshots + notices


def _reencrypt_screenshots(batch_size: int) -> int:
    """Evidence screenshots: their key context names the evidence row, so it is computed per row."""
    from haven.web.takedown.models import EvidenceScreenshot

    rewritten = 0
    last_pk = 0
    while True:
        with transaction.atomic():
            shots = list(
                EvidenceScreenshot.objects.select_for_update()
                .filter(pk__gt=last_pk)
                .order_by("pk")[:batch_size]
            )
            if not shots:
                break
            for shot in shots:
                if not crypto.is_current(shot.image_encrypted):
                    context = EvidenceScreenshot.context(shot.evidence_id)
                    plain = crypto.decrypt_bytes(shot.image_encrypted, context)
                    shot.image_encrypted = crypto.encrypt_bytes(plain, context)
                    shot.save(update_fields=["image_encrypted"])
                    rewritten += 1
            last_pk = shots[-1].pk
    return rewritten


def _reencrypt_notices(batch_size: int) -> int:
    """Takedown notices: the text that was sent, which may name the survivor."""
    from haven.web.takedown.actions import NOTICE_BODY
    from haven.web.takedown.models import Notice

    rewritten = 0
    last_pk = 0
    while True:
        with transaction.atomic():
            notices = list(
                Notice.objects.select_for_update().filter(pk__gt=last_pk).order_by("pk")[:batch_size]
            )
            if not notices:
                break
            for notice in notices:
                if notice.body_encrypted and not crypto.is_current(notice.body_encrypted):
                    body = crypto.decrypt(notice.body_encrypted, NOTICE_BODY)
                    notice.body_encrypted = crypto.encrypt(body, NOTICE_BODY)
                    notice.save(update_fields=["body_encrypted"])
                    rewritten += 1
            last_pk = notices[-1].pk
    return rewritten
