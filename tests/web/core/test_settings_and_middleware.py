"""Settings helpers fail loudly; sessions end when idle; dates follow the organisation's time zone."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django.utils import timezone

from haven.web.config.env import env_bool, env_int, env_list, env_secret
from haven.web.core.middleware import IdleTimeoutMiddleware, OrganisationTimezoneMiddleware

from ..conftest import Persona


@pytest.mark.parametrize("raw", ["maybe", "2", "tru"])
def test_bad_booleans_stop_start_up(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("HAVEN_X", raw)
    with pytest.raises(ImproperlyConfigured, match="HAVEN_X"):
        env_bool("HAVEN_X", False)


def test_environment_helpers_read_typed_values(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HAVEN_B", "Yes")
    monkeypatch.setenv("HAVEN_I", "42")
    monkeypatch.setenv("HAVEN_L", "a, b,,c")
    assert env_bool("HAVEN_B", False) is True
    assert env_int("HAVEN_I", 0, minimum=1) == 42
    assert env_list("HAVEN_L", []) == ["a", "b", "c"]
    monkeypatch.setenv("HAVEN_I", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        env_int("HAVEN_I", 5, minimum=1)
    monkeypatch.setenv("HAVEN_I", "many")
    with pytest.raises(ImproperlyConfigured, match="whole number"):
        env_int("HAVEN_I", 5)


def test_secrets_come_from_the_variable_or_a_file_not_both(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from-file\n")
    monkeypatch.setenv("HAVEN_S_FILE", str(secret))
    assert env_secret("HAVEN_S") == "from-file"
    monkeypatch.setenv("HAVEN_S", "direct")
    with pytest.raises(ImproperlyConfigured, match="not both"):
        env_secret("HAVEN_S")
    monkeypatch.delenv("HAVEN_S")
    monkeypatch.setenv("HAVEN_S_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="cannot read"):
        env_secret("HAVEN_S")


def _request(user: object) -> HttpRequest:
    request = RequestFactory().get("/")
    request.user = user  # type: ignore[assignment]
    request.session = SessionStore()
    return request


@pytest.mark.django_db
def test_an_idle_session_is_logged_out(counsellor: Persona, settings: object) -> None:
    seen: list[bool] = []

    def view(request: HttpRequest) -> HttpResponse:
        seen.append(request.user.is_authenticated)
        return HttpResponse()

    middleware = IdleTimeoutMiddleware(view)
    request = _request(counsellor.user)
    middleware(request)
    request.session["haven_last_seen"] = time.time() - settings.HAVEN_IDLE_TIMEOUT_SECONDS - 5  # type: ignore[attr-defined]
    middleware(request)
    assert seen == [True, False]


@pytest.mark.django_db
def test_dates_are_shown_in_the_organisations_time_zone(counsellor: Persona) -> None:
    zones: list[str] = []

    def view(request: HttpRequest) -> HttpResponse:
        zones.append(str(timezone.get_current_timezone()))
        return HttpResponse()

    middleware = OrganisationTimezoneMiddleware(view)
    middleware(_request(counsellor.user))
    middleware(_request(AnonymousUser()))
    assert zones == ["Asia/Seoul", "UTC"]
