"""Writes for training: checking a trainee's exercise (atomic, permission-checked, audited)."""

from __future__ import annotations

import secrets
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from haven.web.accounts.models import Organisation, User
from haven.web.accounts.roles import Perm
from haven.web.audit.chain import append
from haven.web.audit.models import EventType
from haven.web.core.access import require
from haven.web.core.errors import ActionError, NotFound

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


# ---- sandboxes a real centre's administrators make and run ---------------------------------------

MAX_SANDBOXES = 20


def _manages(actor: Any, sandbox: Organisation) -> None:
    """Only the administrators of the centre that made a sandbox manage it from outside."""
    require(actor, Perm.MANAGE_USERS)
    if (
        not sandbox.sandbox
        or sandbox.training_for_id is None
        or sandbox.training_for_id != actor.organisation_id
    ):
        raise NotFound


def new_sandbox(*, actor: Any, name: str = "") -> Organisation:
    """One click: a sandbox for the actor's centre, in its country and time zone, seeded."""
    from .sandbox import create_sandbox

    require(actor, Perm.MANAGE_USERS)
    centre = actor.organisation
    if centre is None or centre.sandbox:
        raise ActionError(_("Training sandboxes are made from a real centre."))
    made = Organisation.objects.filter(training_for=centre)
    if made.count() >= MAX_SANDBOXES:
        raise ActionError(
            _("Your centre has %(count)s training sandboxes already.") % {"count": made.count()}
        )
    stem = f"{centre.slug[:38]}-training"
    n = made.count() + 1
    while Organisation.objects.filter(slug=f"{stem}-{n}").exists():
        n += 1
    name = " ".join(name.split())[:150] or _("%(centre)s — training %(n)s") % {"centre": centre.name, "n": n}
    try:
        with transaction.atomic():
            sandbox = create_sandbox(
                actor=actor,
                name=name,
                slug=f"{stem}-{n}",
                country=centre.country,
                time_zone=centre.time_zone,
                training_for=centre,
            )
            _on_centre_trail(actor, sandbox, "created")
    except IntegrityError:  # another administrator took that name at the same moment
        raise ActionError(_("Another sandbox was being made at the same time: try again.")) from None
    return sandbox


def _on_centre_trail(actor: Any, sandbox: Organisation, did: str, **more: str) -> None:
    """What a centre's administrator does to its sandbox is on the centre's own audit trail too
    (the sandbox's trail has the details)."""
    append(
        actor=actor,
        event_type=EventType.SANDBOX_MANAGED,
        organisation=actor.organisation_id,
        obj=sandbox,
        summary={"sandbox": sandbox.slug, "did": did, **more},
    )


def add_trainee(*, actor: Any, sandbox: Organisation, username: str, role: str) -> tuple[User, str]:
    """A trainee's account in a sandbox, with a password shown once (she sets up two-factor on her
    first sign-in, as every member of staff does)."""
    from haven.web.accounts.actions import create_user

    _manages(actor, sandbox)
    password = secrets.token_urlsafe(12)
    with transaction.atomic():
        user = create_user(
            actor=actor,
            username=username.strip(),
            organisation=sandbox,
            role=role,
            password=password,
            check_password=False,
        )
        _on_centre_trail(actor, sandbox, "trainee_added", username=user.username, role=role)
    return user, password


def remove_trainee(*, actor: Any, sandbox: Organisation, user: User) -> User:
    """End a trainee's access to a sandbox (her account stays, inactive, for the audit trail)."""
    _manages(actor, sandbox)
    if user.organisation_id != sandbox.pk or user.username == f"{sandbox.slug}.synthetic":
        raise NotFound
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(is_active=False)
        _on_centre_trail(actor, sandbox, "trainee_removed", username=user.username)
    user.refresh_from_db()
    return user


def reset_sandbox(*, actor: Any, sandbox: Organisation) -> dict[str, int]:
    from .sandbox import reset

    _manages(actor, sandbox)
    with transaction.atomic():
        deleted = reset(actor=actor, organisation=sandbox)
        _on_centre_trail(actor, sandbox, "reset")
    return deleted
