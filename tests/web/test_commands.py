"""The `haven` web subcommands: serve, createorg, createuser, token create, audit verify."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from haven.cli import main
from haven.web.accounts.models import Organisation, User
from haven.web.accounts.tokens import user_for_token
from haven.web.audit.chain import verify
from haven.web.cases.models import Case
from haven.web.core.demo import seed_demo

pytestmark = pytest.mark.django_db


def test_the_suite_runs_on_the_database_it_was_asked_for() -> None:
    wanted = os.environ.get("HAVEN_TEST_DATABASE_URL", "")
    assert connection.vendor == ("postgresql" if wanted.startswith("postgres") else "sqlite")


def test_organisations_users_and_tokens_are_created_from_the_command_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (
        main(["createorg", "seoul", "--name", "Seoul Centre", "--country", "kr", "--time-zone", "Asia/Seoul"])
        == 0
    )
    assert Organisation.objects.get(slug="seoul").country == "KR"
    monkeypatch.setattr(sys, "stdin", io.StringIO("a long enough passphrase 42\n"))
    assert main(["createuser", "jiwoo", "--org", "seoul", "--role", "counsellor", "--password-stdin"]) == 0
    user = User.objects.get(username="jiwoo")
    assert user.check_password("a long enough passphrase 42")
    capsys.readouterr()
    assert main(["token", "create", "jiwoo", "--name", "laptop"]) == 0
    token = capsys.readouterr().out.strip()
    assert user_for_token(token) == user
    assert main(["audit", "verify"]) == 0
    assert "intact" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (
            ["createuser", "x", "--org", "nowhere", "--role", "counsellor", "--password-stdin"],
            "pw long enough 123\n",
            "no organisation",
        ),
        (
            ["createuser", "x", "--org", "seoul", "--role", "counsellor", "--password-stdin"],
            "short\n",
            "too short",
        ),
        (["token", "create", "nobody"], "", "no active user"),
        (["createorg", "bad", "--name", "B", "--country", "KR", "--time-zone", "Mars/Base"], "", "time zone"),
    ],
)
def test_bad_command_line_input_is_refused_clearly(
    argv: list[str],
    stdin: str,
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    Organisation.objects.create(name="Seoul", slug="seoul", country="KR")
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    users = User.objects.count()
    assert main(argv) == 1
    assert message in capsys.readouterr().err
    assert User.objects.count() == users


def test_demo_data_is_synthetic_complete_and_created_once() -> None:
    login = seed_demo()
    assert login is not None
    assert User.objects.get(username="demo").check_password(login.password)
    assert len(login.backup_codes) == 5
    assert Case.objects.exclude(number__startswith="HV-SYN").count() == 14
    assert Case.objects.filter(number__startswith="HV-SYN").count() > 420  # the reports' year of history
    assert {c.status for c in Case.objects.all()} >= {"intake", "active"}
    assert verify()[1] is None
    assert seed_demo() is None


def test_demo_is_refused_on_a_production_database(capsys: pytest.CaptureFixture[str]) -> None:
    if connection.vendor == "sqlite":
        pytest.skip("the refusal applies to non-SQLite databases; this run is on SQLite")
    assert main(["serve", "--demo", "--port", "8999"]) == 2
    assert "refused" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.django_db(transaction=True)
def test_serve_demo_starts_a_working_server(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HAVEN_", "DJANGO_"))}
    env["HAVEN_DATA_DIR"] = str(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "haven", "serve", "--demo", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = []
        assert proc.stdout is not None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "running at" in line or proc.poll() is not None:
                break
        output = "".join(lines)
        assert "Log in as:   demo" in output, output
        assert f"http://127.0.0.1:{port}/" in output
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=10) as response:
            assert response.status == 200
        assert (tmp_path / "haven.sqlite3").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        if proc.stdout is not None:
            proc.stdout.close()


def test_a_centre_records_its_child_protection_contacts_from_the_command_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["createorg", "busan", "--name", "Busan", "--country", "KR", "--child-protection-info", "1388"]
    assert main(argv) == 0
    assert Organisation.objects.get(slug="busan").child_protection_info == "1388"
