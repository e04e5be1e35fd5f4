"""PostgreSQL stops and starts again while staff write: nothing acknowledged is lost, nothing is
written twice, the errors meanwhile are a clear JSON 503, and Haven recovers without being restarted.

Two server processes (``haven serve --workers 2``) against a PostgreSQL server of the test's own;
four clients open cases through the API without pause while the database is stopped for two
seconds (``pg_ctl stop -m fast``: it ends every connection, as a crash or an upgrade would) and
started again.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg

from tests.processes import staff_token

from .conftest import Answer, PrivatePostgres, Server, base_env, call, haven

CLIENTS = 4


def test_the_server_rides_out_a_database_restart(private_postgres: PrivatePostgres, tmp_path: Path) -> None:
    env = base_env(tmp_path, HAVEN_DATABASE_URL=private_postgres.url)
    token = staff_token(env)
    server = Server(env, tmp_path / "serve.log", "--workers", "2")
    answers: list[tuple[float, Answer]] = []
    stop = threading.Event()

    def client(n: int) -> None:
        k = 0
        while not stop.is_set():
            k += 1
            answer = call(
                server.port, "POST", "/api/v1/cases", {"contact": f"client {n} case {k}"}, token, timeout=20
            )
            answers.append((time.monotonic(), answer))
            if answer.status != 201:
                time.sleep(0.05)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(3)
        down = time.monotonic()
        private_postgres.stop("fast")
        time.sleep(2)
        private_postgres.start()
        up = time.monotonic()
        time.sleep(5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert server.stop() == 0, server.log.read_text()

    before = [a for t, a in answers if t < down]
    after = [a for t, a in answers if t > up + 2]
    created = [a.json()["number"] for _, a in answers if a.status == 201]  # type: ignore[index]
    failed = [a for _, a in answers if a.status != 201]
    assert before
    assert all(a.status == 201 for a in before), {a.status for a in before}
    # Recovered without a restart of Haven: every request two seconds after the database is back works.
    assert after
    assert all(a.status == 201 for a in after), [(a.status, a.body[:200]) for a in after if a.status != 201]
    assert failed  # the outage was felt: the checks below are about something
    # While it was down, the API said so in JSON (or the connection itself failed), never an HTML page.
    for a in failed:
        if a.status:
            assert a.status == 503, (a.status, a.body[:300])
            assert a.headers.get("content-type", "").startswith("application/json"), a.body[:300]
            assert a.json() == {"detail": "the database is not answering; try again shortly"}
            assert a.headers["retry-after"] == "5"

    with psycopg.connect(private_postgres.url) as db:
        stored = [row[0] for row in db.execute("SELECT number FROM cases_case")]
        events = db.execute(
            "SELECT count(*) FROM audit_auditevent WHERE event_type = 'case.created'"
        ).fetchone()
    # Nothing acknowledged is lost; nothing is written twice; a case exists only for a request made.
    assert set(created) <= set(stored)
    assert len(stored) == len(set(stored))
    assert len(stored) <= len(created) + len(failed)
    assert events is not None
    assert events[0] == len(stored)  # every case and its audit event committed together, or neither
    # The audit chain is whole.
    verified = haven(env, "audit", "verify", check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
