"""Headers every answer carries, and how a refused request is logged."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from tests.web.accounts.twofactor import signed_in
from tests.web.conftest import Persona

pytestmark = pytest.mark.django_db


def test_api_answers_are_never_stored(counsellor: Persona) -> None:
    response = counsellor.api().get("/api/v1/cases")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert Client().get("/api/v1/cases")["Cache-Control"] == "no-store"  # errors too


@pytest.mark.parametrize("path", ["/accounts/login/", "/portal/", "/api/v1/openapi.json"])
def test_no_page_may_use_a_camera_microphone_or_location(db: None, path: str) -> None:
    policy = Client().get(path)["Permissions-Policy"]
    assert "camera=()" in policy
    assert "microphone=()" in policy
    assert "geolocation=()" in policy


def test_a_refused_request_is_logged_without_a_traceback(
    analyst: Persona, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert signed_in(analyst.user).get("/cases/").status_code == 403
    refused = [
        r for r in caplog.records if r.name == "django.request" and getattr(r, "status_code", 0) == 403
    ]
    assert refused
    assert all(r.exc_info is None for r in refused)
