"""Writes for training: checking a trainee's exercise (atomic, permission-checked, audited)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from haven.web.audit.chain import append
from haven.web.audit.models import EventType
from haven.web.core.errors import ActionError

from .exercises import BY_CODE
from .models import ExerciseResult


def _in_sandbox(actor: Any) -> None:
    organisation = getattr(actor, "organisation", None)
    if organisation is None or not organisation.sandbox or not actor.is_active:
        raise ActionError(_("Exercises are done in a training sandbox."))


def check_exercise(*, actor: Any, code: str) -> ExerciseResult:
    """Check what the trainee has done for exercise ``code`` and record it."""
    _in_sandbox(actor)
    exercise = BY_CODE.get(code)
    if exercise is None:
        raise ActionError(_("Unknown exercise."))
    missed = [str(step) for step in exercise.check(actor)]
    now = timezone.now()
    with transaction.atomic():
        result, _created = ExerciseResult.objects.select_for_update().get_or_create(
            user=actor,
            code=code,
            defaults={"organisation_id": actor.organisation_id, "checked_at": now},
        )
        result.checked_at = now
        result.missed = missed
        newly_done = not missed and result.completed_at is None
        if newly_done:
            result.completed_at = now
        result.save()
        if newly_done:
            append(
                actor=actor,
                event_type=EventType.EXERCISE_COMPLETED,
                organisation=actor.organisation_id,
                obj=result,
                summary={"exercise": code},
            )
    return result
