"""Every write to accounts: organisations, staff, API tokens, sign-in records and authenticator apps."""

from __future__ import annotations

import secrets
import time
from binascii import unhexlify
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django_otp import devices_for_user
from django_otp.models import Device
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from haven.web.audit.chain import append, append_read
from haven.web.audit.models import EventType
from haven.web.core.access import require
from haven.web.core.errors import ActionError

from .models import ApiToken, Organisation, User
from .roles import Perm, Role
from .tokens import PREFIX, token_digest

# The window a freshly scanned code is accepted in, in 30-second steps either side: phones' clocks drift.
_TOLERANCE = 1


def record_login(*, actor: Any, two_factor: bool) -> None:
    """Audit a completed sign-in (after the second factor, where one is required)."""
    append_read(
        actor=actor,
        event_type=EventType.USER_LOGGED_IN,
        organisation=actor.organisation_id,
        obj=actor,
        summary={"two_factor": two_factor},
    )


def check_second_factor(*, actor: Any, code: str) -> Device | None:
    """The actor's confirmed device that accepts ``code``, if any: an authenticator app's
    current code, or one of the actor's single-use backup codes.

    django-otp throttles each device after a wrong code, so guessing is slowed down
    per device; a code once used is not accepted again.
    """
    code = code.strip().replace(" ", "")
    with transaction.atomic():
        for device in devices_for_user(actor, confirmed=True, for_verify=True):
            if device.verify_token(code):
                return device
    return None


def enrol_totp_device(*, actor: Any, key: str, code: str) -> TOTPDevice:
    """Save an authenticator app for ``actor`` once it has produced a valid code for ``key``.

    Only a user without a confirmed device may enrol: replacing a lost device is an
    administrator's job, so a stolen password alone can never add a second factor.
    """
    try:
        token = int(code.strip().replace(" ", ""))
        totp = TOTP(unhexlify(key.encode()))
    except ValueError:
        raise ActionError(_("Enter the 6-digit code your app shows.")) from None
    totp.time = time.time()
    if not totp.verify(token, tolerance=_TOLERANCE):
        raise ActionError(_("That code does not match. Check the time on your phone and try the next code."))
    with transaction.atomic():
        if TOTPDevice.objects.select_for_update().filter(user=actor, confirmed=True).exists():
            raise ActionError(_("You already have an authenticator app. Ask an administrator to replace it."))
        device = TOTPDevice.objects.create(
            user=actor,
            name=_("Authenticator app"),
            key=key,
            confirmed=True,
            drift=totp.drift,
            last_t=totp.t(),
        )
        append(
            actor=actor,
            event_type=EventType.TWO_FACTOR_ENROLLED,
            organisation=actor.organisation_id,
            obj=actor,
            summary={"device": device.pk, "kind": "totp"},
        )
    return device


def create_organisation(
    *,
    actor: Any,
    name: str,
    slug: str = "",
    country: str,
    time_zone: str = "UTC",
    languages: str = "en",
    child_protection_info: str = "",
    sandbox: bool = False,
    training_for: Organisation | None = None,
) -> Organisation:
    org = Organisation(
        sandbox=sandbox,
        training_for=training_for,
        name=name.strip(),
        slug=slug or slugify(name),
        country=country.upper(),
        time_zone=time_zone,
        languages=languages,
        child_protection_info=child_protection_info.strip(),
    )
    try:
        org.full_clean()
    except ValidationError as exc:
        raise ActionError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
    with transaction.atomic():
        org.save()
        append(
            actor=actor,
            event_type=EventType.ORGANISATION_CREATED,
            organisation=org,
            obj=org,
            summary={"sandbox": True} if sandbox else None,
        )
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
    try:  # required, at most 150 characters, letters, digits and @.+-_ only
        User._meta.get_field("username").clean(username, None)
    except ValidationError as exc:
        raise ActionError(" ".join(exc.messages)) from None
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


def create_token(*, actor: Any, user: User, name: str = "") -> str:
    """Create a token for ``user`` and return it; only its digest is kept."""
    token = PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        record = ApiToken.objects.create(
            user=user, name=name[:100], prefix=token[:12], digest=token_digest(token)
        )
        append(
            actor=actor,
            event_type=EventType.TOKEN_CREATED,
            organisation=user.organisation_id,
            obj=record,
            summary={"user": user.username},
        )
    return token


CENTRE_FIELDS = ("phone", "opening_hours", "emergency_numbers", "child_protection_info", "portal_exit_url")


def update_centre(*, actor: Any, organisation: Organisation, data: dict[str, str]) -> list[str]:
    """Change how survivors reach the centre (shown on the portal).  Returns the fields changed;
    the change is audited by field name, without the values."""
    require(actor, Perm.MANAGE_USERS)
    if getattr(actor, "organisation_id", None) != organisation.pk:
        raise ActionError(_("You can change only your own organisation's details."))
    unknown = set(data) - set(CENTRE_FIELDS)
    if unknown:
        raise ActionError(_("Unknown fields: %(names)s.") % {"names": ", ".join(sorted(unknown))})
    exit_url = (data.get("portal_exit_url") or "").strip()
    if exit_url and not exit_url.lower().startswith("https://"):
        raise ActionError(_("The quick-exit address must start with https://."))
    changed = []
    for name, value in data.items():
        value = (value or "").strip()
        if getattr(organisation, name) != value:
            setattr(organisation, name, value)
            changed.append(name)
    if not changed:
        return []
    try:
        organisation.full_clean()
    except ValidationError as exc:
        organisation.refresh_from_db()
        raise ActionError("; ".join(" ".join(v) for v in exc.message_dict.values())) from None
    with transaction.atomic():
        organisation.save(update_fields=changed)
        append(
            actor=actor,
            event_type=EventType.ORGANISATION_UPDATED,
            organisation=organisation,
            obj=organisation,
            summary={"fields": sorted(changed)},
        )
    return changed
