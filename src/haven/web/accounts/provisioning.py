"""Creating organisations and staff accounts (command line and demo data)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _

from haven.web.audit.chain import append
from haven.web.audit.models import EventType
from haven.web.core.errors import ActionError

from .models import Organisation, User
from .roles import Role


def create_organisation(
    *, actor: Any, name: str, slug: str = "", country: str, time_zone: str = "UTC", languages: str = "en"
) -> Organisation:
    org = Organisation(
        name=name.strip(),
        slug=slug or slugify(name),
        country=country.upper(),
        time_zone=time_zone,
        languages=languages,
    )
    try:
        org.full_clean()
    except ValidationError as exc:
        raise ActionError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
    with transaction.atomic():
        org.save()
        append(actor=actor, event_type=EventType.ORGANISATION_CREATED, organisation=org, obj=org)
    return org


def create_user(
    *,
    actor: Any,
    username: str,
    organisation: Organisation,
    role: str,
    password: str,
    email: str = "",
    check_password: bool = True,
) -> User:
    if role not in Role.values:
        raise ActionError(
            _("Unknown role %(role)s; choose one of %(roles)s.")
            % {"role": role, "roles": ", ".join(Role.values)}
        )
    if User.objects.filter(username=username).exists():
        raise ActionError(_("The username %(name)s is taken.") % {"name": username})
    user = User(username=username, organisation=organisation, role=role, email=email)
    if check_password:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise ActionError(" ".join(exc.messages)) from None
    user.set_password(password)
    with transaction.atomic():
        user.save()
        append(
            actor=actor,
            event_type=EventType.USER_CREATED,
            organisation=organisation,
            obj=user,
            summary={"username": username, "role": role},
        )
    return user
