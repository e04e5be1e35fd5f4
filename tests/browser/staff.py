"""Signing a member of staff in through the real pages (password, then the six-digit code)."""

from __future__ import annotations

from typing import Any


def sign_in(page: Any, url: str, username: str, password: str, device: Any) -> None:
    from django_otp.oath import totp

    page.goto(f"{url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("6-digit code").fill(f"{totp(device.bin_key):06d}")
    page.get_by_role("button", name="Verify and sign in").click()
