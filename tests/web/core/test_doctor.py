"""``haven doctor`` names each problem of a deployment, and passes a sound one."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import override_settings
from django.utils import timezone

from haven.web.core import commands
from haven.web.core.doctor import diagnose
from haven.web.core.models import WorkerHeartbeat
from tests.processes import free_port


@pytest.fixture
def sound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smtp_server: int) -> Iterator[Path]:
    """A deployment as docs/deployment.md sets one up: behind a TLS proxy, secrets in private files,
    a shared cache, a mail server that answers, a live worker."""
    for name in ("HAVEN_SECRET_KEY", "HAVEN_ENCRYPTION_KEYS", "HAVEN_AUDIT_KEYS"):
        monkeypatch.delenv(name, raising=False)
        secret = tmp_path / name.lower()
        secret.write_text("not read here")
        secret.chmod(0o600)
        monkeypatch.setenv(f"{name}_FILE", str(secret))
    data = tmp_path / "data"
    data.mkdir(mode=0o750)
    now = timezone.now()
    WorkerHeartbeat.objects.create(name="worker:1", started_at=now, seen_at=now)
    with override_settings(
        DEBUG=False,
        HAVEN_BEHIND_PROXY=True,
        SECURE_HSTS_SECONDS=31_536_000,
        SESSION_COOKIE_SECURE=True,
        CSRF_COOKIE_SECURE=True,
        ALLOWED_HOSTS=["haven.example.org"],
        DATA_DIR=data,
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=smtp_server,
        EMAIL_USE_TLS=False,
        EMAIL_HOST_USER="",
        DEFAULT_FROM_EMAIL="takedown@centre.example",
        HAVEN_AUDIT_CHECKPOINT_DIR=tmp_path / "checkpoints",
        HAVEN_AUDIT_CHECKPOINT_EMAIL=["auditor@elsewhere.example"],
        HAVEN_EVIDENCE_SCREENSHOTS=False,
        HAVEN_METRICS_TOKEN="",
    ):
        yield tmp_path


def _levels(name: str) -> set[str]:
    return {f.level for f in diagnose() if f.name == name}


def _problems() -> list[str]:
    return [f"{f.name}: {f.message}" for f in diagnose() if f.level == "problem"]


@pytest.mark.django_db
def test_a_sound_deployment_has_no_problem_and_the_command_exits_0(sound: Path) -> None:
    from django.db import connection

    assert _problems() == []
    out = io.StringIO()
    assert commands.doctor(as_json=True, out=out) == 0
    report = json.loads(out.getvalue())
    assert report["problems"] == 0
    # SQLite in production is the one warning this test database cannot avoid.
    expected = 1 if connection.vendor == "sqlite" else 0
    assert report["warnings"] == expected, report


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "name", "words"),
    [
        ({"DEBUG": True}, "debug", "HAVEN_DEBUG is on"),
        ({"HAVEN_BEHIND_PROXY": False, "SECURE_SSL_REDIRECT": False}, "https", "reverse proxy"),
        ({"SESSION_COOKIE_SECURE": False}, "cookies", "not marked Secure"),
        ({"ALLOWED_HOSTS": ["*"]}, "hosts", "any host name"),
        (
            {"CACHES": {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}},
            "cache",
            "per process",
        ),
        (
            {"HAVEN_EVIDENCE_SCREENSHOTS": True, "HAVEN_CHROMIUM": "/nonexistent/chromium"},
            "screenshots",
            "not",
        ),
    ],
)
def test_each_unsafe_setting_is_named_as_a_problem(sound: Path, change: dict, name: str, words: str) -> None:
    with override_settings(**change):
        problems = _problems()
        out = io.StringIO()
        assert commands.doctor(out=out) == 1
    assert any(p.startswith(f"{name}:") and words in p for p in problems), problems
    assert "PROBLEM" in out.getvalue()


@pytest.mark.django_db
def test_a_key_file_others_can_read_is_a_problem(sound: Path) -> None:
    path = Path(os.environ["HAVEN_ENCRYPTION_KEYS_FILE"])
    path.chmod(0o644)
    assert any("HAVEN_ENCRYPTION_KEYS_FILE" in p and "mode 0644" in p for p in _problems())


@pytest.mark.django_db
def test_a_secret_in_the_environment_is_a_warning(sound: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAVEN_EMAIL_PASSWORD", "hunter2hunter2")
    findings = [f for f in diagnose() if f.name == "keys" and f.level == "warning"]
    assert any("HAVEN_EMAIL_PASSWORD_FILE" in f.message for f in findings)


@pytest.mark.django_db
def test_a_mail_server_that_does_not_answer_is_a_problem(sound: Path) -> None:
    with override_settings(EMAIL_PORT=free_port()):
        problems = _problems()
    assert any(p.startswith("mail:") and "does not answer" in p for p in problems), problems


@pytest.mark.django_db
def test_no_live_worker_is_a_problem(sound: Path) -> None:
    WorkerHeartbeat.objects.all().delete()
    assert "problem" in _levels("worker")


@pytest.mark.django_db
def test_a_world_readable_data_directory_is_a_warning(sound: Path) -> None:
    (sound / "data").chmod(0o755)
    assert "warning" in _levels("data")


def test_settings_that_do_not_load_are_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.core.exceptions import ImproperlyConfigured

    def broken(**_: object) -> None:
        raise ImproperlyConfigured("HAVEN_SECRET_KEY (or HAVEN_SECRET_KEY_FILE) must be set with PostgreSQL")

    monkeypatch.setattr(commands, "setup", broken)
    out = io.StringIO()
    assert commands.doctor(out=out) == 1
    assert "PROBLEM  settings  HAVEN_SECRET_KEY" in out.getvalue()
