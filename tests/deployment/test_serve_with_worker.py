"""``haven serve --worker`` (what ``make run`` starts): one command runs the web app and the
background worker, and stopping the server stops the worker.

A real server process on a free port and a fresh SQLite database: the worker it starts runs the
sweeps it queues (their results turn SUCCESSFUL in the task table); SIGTERM, as a service manager
sends it, ends both processes.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HAVEN = Path(sys.executable).with_name("haven")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child that exited but was not reaped yet is a zombie: not running.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


def test_serve_runs_the_worker_and_stops_it_when_stopped(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HAVEN_", "DJANGO_"))}
    env.update(
        HAVEN_DATA_DIR=str(tmp_path),
        HAVEN_SECRET_KEY="serve-worker-" + "x" * 40,
        HAVEN_ENCRYPTION_KEYS=base64.urlsafe_b64encode(b"s" * 32).decode(),
        HAVEN_LOG_LEVEL="ERROR",
    )
    port = _free_port()
    with (tmp_path / "serve.log").open("w") as log:
        server = subprocess.Popen(
            [str(HAVEN), "serve", "--worker", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    worker_pid = None
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            text = (tmp_path / "serve.log").read_text()
            found = re.search(r"Background worker started \(process (\d+)\)", text)
            if found and "Haven is running" in text:
                worker_pid = int(found.group(1))
                break
            assert server.poll() is None, text
            time.sleep(0.2)
        assert worker_pid is not None, (tmp_path / "serve.log").read_text()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=10) as answer:
            assert answer.status == 200
        # The worker runs the sweeps it queued on start.
        done: list[str] = []
        while time.monotonic() < deadline and len(done) < 5:
            with sqlite3.connect(tmp_path / "haven.sqlite3") as db:
                done = [
                    row[0]
                    for row in db.execute(
                        "SELECT task_path FROM django_tasks_database_dbtaskresult WHERE status = 'SUCCESSFUL'"
                    )
                ]
            time.sleep(0.5)
        assert {path.split(".")[2] for path in done} >= {"takedown", "monitoring", "sharing", "reports"}
        assert _alive(worker_pid)
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=60)
    assert code == 0, (tmp_path / "serve.log").read_text()
    deadline = time.monotonic() + 10
    while _alive(worker_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(worker_pid), "the worker outlived the server"
    assert "the background worker stopped" not in (tmp_path / "serve.log").read_text()
