"""Signing in: password, then the authenticator app (enrolled on first sign-in), lockout, sign-out."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from haven.web.audit.models import AuditEvent, EventType
from tests.web.conftest import PASSWORD, Persona

from .twofactor import authenticator, code_for, code_for_key, signed_in

LOGIN = reverse("accounts:login")
TWO_FACTOR = reverse("accounts:two_factor")
SETUP = reverse("accounts:two_factor_setup")
DASHBOARD = reverse("cases:dashboard")


def _password_step(client: Client, username: str, password: str = PASSWORD, **extra: str):
    return client.post(LOGIN, {"username": username, "password": password, **extra})


def test_the_login_page_asks_for_username_and_password(db: None) -> None:
    response = Client().get(LOGIN)
    assert response.status_code == 200
    assert b'name="username"' in response.content
    assert b'name="password"' in response.content
    assert b'autocomplete="current-password"' in response.content


def test_a_wrong_password_shows_an_error_and_signs_nobody_in(counsellor: Persona) -> None:
    client = Client()
    response = _password_step(client, "counsellor", "wrong password")
    assert response.status_code == 200
    assert "do not match" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_password_alone_does_not_reach_the_dashboard(counsellor: Persona) -> None:
    authenticator(counsellor.user)
    client = Client()
    response = _password_step(client, "counsellor")
    assert response.status_code == 302
    assert response.url.startswith(TWO_FACTOR)
    response = client.get(DASHBOARD)
    assert response.status_code == 302
    assert response.url.startswith(TWO_FACTOR)
    assert not AuditEvent.objects.filter(event_type=EventType.USER_LOGGED_IN).exists()


def test_password_and_code_sign_in_and_the_login_is_audited(counsellor: Persona) -> None:
    device = authenticator(counsellor.user)
    client = Client()
    _password_step(client, "counsellor")
    response = client.post(TWO_FACTOR, {"code": code_for(device), "next": DASHBOARD})
    assert response.status_code == 302
    assert response.url == DASHBOARD
    assert client.get(DASHBOARD).status_code == 200
    event = AuditEvent.objects.get(event_type=EventType.USER_LOGGED_IN)
    assert event.actor_id == counsellor.user.pk
    assert event.organisation_id == counsellor.user.organisation_id
    assert event.summary == {"two_factor": True}


def test_the_second_factor_gives_the_session_a_new_key(counsellor: Persona) -> None:
    """The session key handed out at the password step must not become the signed-in one."""
    device = authenticator(counsellor.user)
    client = Client()
    _password_step(client, "counsellor")
    half = client.cookies["sessionid"].value
    client.post(TWO_FACTOR, {"code": code_for(device), "next": DASHBOARD})
    full = client.cookies["sessionid"].value
    assert full != half
    assert client.get(DASHBOARD).status_code == 200
    stale = Client()
    stale.cookies["sessionid"] = half  # whoever kept the first cookie
    assert stale.get(DASHBOARD).status_code == 302


def test_a_wrong_code_is_refused(counsellor: Persona) -> None:
    device = authenticator(counsellor.user)
    client = Client()
    _password_step(client, "counsellor")
    wrong = f"{(int(code_for(device)) + 1) % 1_000_000:06d}"
    response = client.post(TWO_FACTOR, {"code": wrong})
    assert response.status_code == 200
    assert "not accepted" in response.content.decode()
    assert client.get(DASHBOARD).status_code == 302


def test_a_code_that_is_not_six_digits_is_refused_with_a_clear_message(counsellor: Persona) -> None:
    authenticator(counsellor.user)
    client = Client()
    _password_step(client, "counsellor")
    response = client.post(TWO_FACTOR, {"code": "12ab56"})
    assert (
        "Enter the 6 digits your app shows, or one of your 8-character backup codes."
        in response.content.decode()
    )


def test_the_sign_in_returns_to_the_page_asked_for(counsellor: Persona, case) -> None:
    device = authenticator(counsellor.user)
    client = Client()
    page = reverse("cases:detail", args=[case.number])
    first = client.get(page)
    assert first.status_code == 302
    assert first.url == f"{LOGIN}?next={page}"
    response = _password_step(client, "counsellor", next=page)
    assert response.url == f"{TWO_FACTOR}?next={page}"
    response = client.post(TWO_FACTOR, {"code": code_for(device), "next": page})
    assert response.url == page


def test_a_next_address_on_another_site_is_ignored(counsellor: Persona) -> None:
    device = authenticator(counsellor.user)
    client = Client()
    _password_step(client, "counsellor", next="https://evil.example/")
    response = client.post(TWO_FACTOR, {"code": code_for(device), "next": "https://evil.example/"})
    assert response.url == DASHBOARD


def test_a_first_sign_in_sets_up_the_authenticator_with_a_qr_code(counsellor: Persona) -> None:
    client = Client()
    response = _password_step(client, "counsellor")
    response = client.get(response.url)
    assert response.status_code == 302
    assert response.url.startswith(SETUP)
    page = client.get(response.url)
    html = page.content.decode()
    assert page.status_code == 200
    assert 'src="data:image/svg+xml;base64,' in html
    assert 'id="totp-secret"' in html
    assert not TOTPDevice.objects.filter(user=counsellor.user).exists()  # nothing saved before the code

    key = client.session["haven_totp_enrolment_key"]
    response = client.post(SETUP, {"code": code_for_key(key)})
    assert response.status_code == 302
    assert response.url == DASHBOARD
    device = TOTPDevice.objects.get(user=counsellor.user)
    assert device.confirmed
    assert device.key == key
    assert client.get(DASHBOARD).status_code == 200
    enrolled = AuditEvent.objects.get(event_type=EventType.TWO_FACTOR_ENROLLED)
    assert enrolled.actor_id == counsellor.user.pk
    assert AuditEvent.objects.filter(event_type=EventType.USER_LOGGED_IN).count() == 1


def test_the_secret_shown_for_manual_entry_matches_the_qr_code(counsellor: Persona) -> None:
    import base64

    client = Client()
    _password_step(client, "counsellor")
    html = client.get(SETUP).content.decode()
    key = client.session["haven_totp_enrolment_key"]
    secret = base64.b32encode(bytes.fromhex(key)).decode()
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    assert grouped in html


def test_enrolment_with_a_wrong_code_saves_nothing(counsellor: Persona) -> None:
    client = Client()
    _password_step(client, "counsellor")
    client.get(SETUP)
    key = client.session["haven_totp_enrolment_key"]
    wrong = f"{(int(code_for_key(key)) + 500_000) % 1_000_000:06d}"
    response = client.post(SETUP, {"code": wrong})
    assert response.status_code == 200
    assert "does not match" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=counsellor.user).exists()
    assert not AuditEvent.objects.filter(event_type=EventType.TWO_FACTOR_ENROLLED).exists()
    assert client.get(DASHBOARD).status_code == 302


def test_a_password_cannot_enrol_a_second_authenticator(counsellor: Persona) -> None:
    authenticator(counsellor.user)
    client = Client()
    _password_step(client, "counsellor")
    response = client.get(SETUP)
    assert response.status_code == 302
    assert response.url.startswith(TWO_FACTOR)
    assert TOTPDevice.objects.filter(user=counsellor.user).count() == 1


@pytest.mark.parametrize("url", [TWO_FACTOR, SETUP])
def test_the_two_factor_pages_send_anonymous_visitors_to_login(db: None, url: str) -> None:
    response = Client().get(url)
    assert response.status_code == 302
    assert response.url.startswith(LOGIN)


def test_five_wrong_passwords_lock_the_account(counsellor: Persona) -> None:
    client = Client()
    for _attempt in range(5):
        _password_step(client, "counsellor", "wrong password")
    response = _password_step(client, "counsellor")
    assert response.status_code == 429
    assert "Signing in is paused" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_four_wrong_passwords_do_not_lock_the_account(counsellor: Persona) -> None:
    authenticator(counsellor.user)
    client = Client()
    for _attempt in range(4):
        _password_step(client, "counsellor", "wrong password")
    response = _password_step(client, "counsellor")
    assert response.status_code == 302
    assert response.url.startswith(TWO_FACTOR)


def test_without_required_two_factor_the_password_signs_in(counsellor: Persona, settings) -> None:
    settings.HAVEN_REQUIRE_TWO_FACTOR = False
    client = Client()
    response = _password_step(client, "counsellor")
    assert response.url == DASHBOARD
    assert client.get(DASHBOARD).status_code == 200
    assert AuditEvent.objects.get(event_type=EventType.USER_LOGGED_IN).summary == {"two_factor": False}


def test_signing_out_takes_a_post_and_ends_the_session(counsellor: Persona) -> None:
    client = signed_in(counsellor.user)
    assert client.get(reverse("accounts:logout")).status_code == 405
    assert client.get(DASHBOARD).status_code == 200
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert response.url == LOGIN
    assert client.get(DASHBOARD).status_code == 302


def test_a_signed_in_user_visiting_login_goes_to_the_dashboard(counsellor: Persona) -> None:
    client = signed_in(counsellor.user)
    response = client.get(LOGIN)
    assert response.status_code == 302
    assert response.url == DASHBOARD


def test_the_login_page_speaks_korean(db: None) -> None:
    response = Client().get(LOGIN, headers={"accept-language": "ko"})
    html = response.content.decode()
    assert '<html lang="ko" dir="ltr">' in html
    assert "로그인" in html
    assert "비밀번호" in html


def test_the_language_switcher_remembers_korean(counsellor: Persona) -> None:
    client = signed_in(counsellor.user)
    response = client.post("/i18n/setlang/", {"language": "ko", "next": DASHBOARD})
    assert response.status_code == 302
    html = client.get(DASHBOARD).content.decode()
    assert '<html lang="ko" dir="ltr">' in html
    assert "대시보드" in html


def test_a_backup_code_signs_in_once(counsellor: Persona) -> None:
    from django_otp.plugins.otp_static.models import StaticDevice

    device = StaticDevice.objects.create(user=counsellor.user, name="backup codes", confirmed=True)
    device.token_set.create(token="abcdefgh")
    client = Client()
    _password_step(client, "counsellor")
    response = client.post(TWO_FACTOR, {"code": "ABCDEFGH", "next": DASHBOARD})
    assert response.status_code == 302
    assert client.get(DASHBOARD).status_code == 200
    again = Client()
    _password_step(again, "counsellor")
    response = again.post(TWO_FACTOR, {"code": "abcdefgh", "next": DASHBOARD})
    assert response.status_code == 200  # refused: each backup code works once
    assert again.get(DASHBOARD).status_code == 302


def test_someone_with_backup_codes_only_is_told_to_use_one(counsellor: Persona) -> None:
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = StaticDevice.objects.create(user=counsellor.user, name="backup codes", confirmed=True)
    device.token_set.create(token="abcdefgh")
    client = Client()
    _password_step(client, "counsellor")
    page = client.get(TWO_FACTOR).content.decode()
    assert "Enter one of your backup codes" in page
    assert "Open the authenticator app" not in page
    TOTPDevice.objects.create(user=counsellor.user, name="phone", confirmed=True)
    page = client.get(TWO_FACTOR).content.decode()
    assert "Open the authenticator app" in page
    assert "No phone at hand?" in page
