"""Helpers that sign a persona in the way staff do: password, then a code from their authenticator."""

from __future__ import annotations

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from haven.web.accounts.models import User


def authenticator(user: User) -> TOTPDevice:
    """The user's confirmed authenticator app (made on first use)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def code_for(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """The 6-digit code the phone shows now (or ``steps_ahead`` 30-second steps later)."""
    token = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=steps_ahead)
    return f"{token:06d}"


def code_for_key(key_hex: str, *, steps_ahead: int = 0) -> str:
    """The code an app shows for a secret that is not saved yet (enrolment)."""
    return f"{totp(bytes.fromhex(key_hex), drift=steps_ahead):06d}"


def signed_in(user: User, client: Client | None = None) -> Client:
    """A client whose session passed both steps, without going through the forms."""
    client = client or Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = authenticator(user).persistent_id
    session.save()
    return client
