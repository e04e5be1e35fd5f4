"""A worker killed in the middle of a scan (``kill -9``) must not leave its run "running" for ever.

A real ``haven worker`` process scans a page that never finishes loading; it is killed while the
run is running. The next sweep (run here three minutes later by the clock it is given) finds the
run's heartbeat stopped, fails the run with a reason, and schedules its source again.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scan.site import TestSite, serve

HAVEN = Path(sys.executable).with_name("haven")

SETUP = """
import json, sys
from haven.web.core.commands import setup, migrate
setup(); migrate(open("/dev/null", "w"))
from haven.web.accounts.actions import create_organisation, create_user
from haven.web.monitoring import actions
org = create_organisation(actor="cli", name="Centre", slug="centre", country="KR")
user = create_user(actor="cli", username="officer", organisation=org, role="deletion_officer",
                   password="a long enough passphrase 42", check_password=False)
source = actions.save_source(actor=user, data=actions.SourceInput(
    name="Slow forum", kind="urls", target=sys.argv[1], every_hours=24))
run = actions.queue_run(actor=user, source=source)
print(json.dumps({"run": run.pk, "source": source.pk}))
"""

SWEEP = """
import datetime as dt, json, sys
from haven.web.core.commands import setup
setup()
from django.utils import timezone
from haven.web.monitoring.actions import due_sources, fail_abandoned_runs
from haven.web.monitoring.models import ScanRun
later = timezone.now() + dt.timedelta(minutes=float(sys.argv[1]))
failed = fail_abandoned_runs(now=later)
run = ScanRun.objects.get()
print(json.dumps({"failed": failed, "status": run.status, "failure": run.failure,
                  "due": [s.pk for s in due_sources(now=later)]}))
"""


@pytest.fixture(scope="module")
def site() -> Iterator[TestSite]:
    yield from serve()


def test_a_killed_workers_run_is_failed_and_its_source_runs_again(site: TestSite, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HAVEN_", "DJANGO_"))}
    env.update(
        HAVEN_DATA_DIR=str(tmp_path),
        HAVEN_SECRET_KEY="worker-killed-" + "x" * 40,
        HAVEN_ENCRYPTION_KEYS=base64.urlsafe_b64encode(b"w" * 32).decode(),
        HAVEN_FETCH_ALLOW_LOOPBACK="true",
        HAVEN_FETCH_TIMEOUT_SECONDS="600",
        HAVEN_LOG_LEVEL="ERROR",
    )
    python = [sys.executable, "-c"]
    made = subprocess.run(
        [*python, SETUP, site.url("/drip?every=1")], env=env, capture_output=True, text=True, timeout=120
    )
    assert made.returncode == 0, made.stderr
    ids = json.loads(made.stdout.strip().splitlines()[-1])
    database = tmp_path / "haven.sqlite3"

    def status() -> str:
        with sqlite3.connect(database, timeout=20) as conn:
            row = conn.execute("SELECT status FROM monitoring_scanrun WHERE id = ?", (ids["run"],)).fetchone()
        return str(row[0])

    worker = subprocess.Popen(
        [str(HAVEN), "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while status() != "running":
            assert time.monotonic() < deadline, "the worker never started the run"
            time.sleep(0.2)
        time.sleep(1)  # well inside the page that never ends
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    assert status() == "running"  # what a killed worker leaves behind

    def sweep(minutes: float) -> dict[str, object]:
        done = subprocess.run(
            [*python, SWEEP, str(minutes)], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
        return result

    soon = sweep(1)  # a heartbeat a minute old is a live worker's
    assert (soon["failed"], soon["status"]) == (0, "running")
    later = sweep(4)
    assert (later["failed"], later["status"]) == (1, "failed")
    assert "worker running this scan stopped" in str(later["failure"])
    assert later["due"] == [ids["source"]]
