"""Writes made while staff sign in: the login record and the enrolment of an authenticator app."""

from __future__ import annotations

import time
from binascii import unhexlify
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from django_otp import devices_for_user
from django_otp.models import Device
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from haven.web.audit.chain import append
from haven.web.audit.models import EventType
from haven.web.core.errors import ActionError

# The window a freshly scanned code is accepted in, in 30-second steps either side: phones' clocks drift.
_TOLERANCE = 1


def record_login(*, actor: Any, two_factor: bool) -> None:
    """Audit a completed sign-in (after the second factor, where one is required)."""
    with transaction.atomic():
        append(
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
