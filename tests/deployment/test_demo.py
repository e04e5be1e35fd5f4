"""``make run`` on a fresh clone: ``haven serve --demo --worker`` shows monitoring and the takedown
desk working with no other command and no network.  The worker scans the practice forum the server
serves on loopback (matches for review), captures evidence of two sightings on it, sends a notice
through its web form and rechecks, which finds the removed post gone.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from tests.deployment.test_serve_with_worker import HAVEN, _free_port


def _query(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as connection:
        return list(connection.execute(sql))


def test_the_demo_shows_monitoring_and_takedown_working_offline(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HAVEN_", "DJANGO_"))}
    env.update(HAVEN_DATA_DIR=str(tmp_path), HAVEN_LOG_LEVEL="ERROR")
    port = _free_port()
    with (tmp_path / "serve.log").open("w") as log:
        server = subprocess.Popen(
            [str(HAVEN), "serve", "--demo", "--worker", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    db = tmp_path / "haven.sqlite3"
    try:
        deadline = time.monotonic() + 240
        story: list[tuple[object, ...]] = []
        while time.monotonic() < deadline:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            if db.exists():
                try:
                    story = _query(
                        db,
                        "SELECT status, return_value FROM django_tasks_database_dbtaskresult "
                        "WHERE task_path = 'haven.web.core.tasks.demo_takedown'",
                    )
                    runs = _query(
                        db,
                        "SELECT candidates FROM monitoring_scanrun WHERE status = 'done' AND candidates > 0",
                    )
                except sqlite3.OperationalError:  # not migrated yet
                    story, runs = [], []
                if story and story[0][0] == "SUCCESSFUL" and runs:
                    break
            time.sleep(1)
        assert story, (tmp_path / "serve.log").read_text()
        assert story[0][0] == "SUCCESSFUL"
        assert json.loads(str(story[0][1])) == "done", story
        # Monitoring: the practice forum's re-uploaded pictures are waiting for review.
        assert runs[0][0] >= 4
        # Takedown: evidence of both sightings, a notice sent, the removed post found gone.
        states = dict(
            _query(db, "SELECT url, state FROM takedown_sighting WHERE url LIKE '%/practice/post/%'")
        )
        assert states == {
            f"http://127.0.0.1:{port}/practice/post/4/": "sent",
            f"http://127.0.0.1:{port}/practice/post/5/": "removed",
        }
        assert _query(db, "SELECT count(*) FROM takedown_notice WHERE platform_reference = 'DEMO-1001'") == [
            (1,)
        ]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
