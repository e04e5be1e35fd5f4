"""Field encryption: round trips, key rotation, and refusal of tampered or misplaced values."""

from __future__ import annotations

import base64

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from haven.web.core import crypto

OLD = base64.urlsafe_b64encode(b"o" * 32).decode()
NEW = base64.urlsafe_b64encode(b"n" * 32).decode()


def test_values_round_trip_and_are_not_readable() -> None:
    token = crypto.encrypt("010-1234-5678 한국어", "ctx")
    assert b"010" not in token
    assert crypto.decrypt(token, "ctx") == "010-1234-5678 한국어"
    assert crypto.encrypt("same", "ctx") != crypto.encrypt("same", "ctx")  # fresh nonce each time


def test_a_value_does_not_decrypt_in_another_field() -> None:
    token = crypto.encrypt("secret", "cases.Case.contact")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token, "cases.Case.notes")


def test_tampering_is_detected() -> None:
    token = bytearray(crypto.encrypt("secret", "ctx"))
    token[-1] ^= 1
    with pytest.raises(crypto.DecryptionError, match="tampered"):
        crypto.decrypt(bytes(token), "ctx")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(b"short", "ctx")


def test_keys_rotate_new_first_old_still_decrypts() -> None:
    with override_settings(HAVEN_ENCRYPTION_KEYS=[OLD]):
        old_token = crypto.encrypt("kept", "ctx")
    with override_settings(HAVEN_ENCRYPTION_KEYS=[NEW, OLD]):
        assert crypto.decrypt(old_token, "ctx") == "kept"
        assert not crypto.is_current(old_token)
        assert crypto.is_current(crypto.encrypt("x", "ctx"))
    with (
        override_settings(HAVEN_ENCRYPTION_KEYS=[NEW]),
        pytest.raises(crypto.DecryptionError, match="no longer"),
    ):
        crypto.decrypt(old_token, "ctx")


@pytest.mark.parametrize("keys", [["not base64!"], [base64.urlsafe_b64encode(b"short").decode()], []])
def test_bad_keys_fail_loudly(keys: list[str]) -> None:
    with override_settings(HAVEN_ENCRYPTION_KEYS=keys), pytest.raises(ImproperlyConfigured):
        crypto.encrypt("x", "ctx")
