"""``haven worker`` killed with SIGKILL in the middle of a key rotation: the next worker finds the
job lost, fails it, runs it again once, and every value ends under the new key and still decrypts
to what it was; nothing is rewritten twice and the audit chain is whole.

Real worker processes on the embedded SQLite database with 30,000 encrypted case records, so that
the rotation (200 rows a transaction) is still under way when the worker is killed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

from .conftest import HAVEN, base_env, haven

CASES = 30_000
OLD = base64.urlsafe_b64encode(b"o" * 32).decode()
NEW = base64.urlsafe_b64encode(b"n" * 32).decode()

SEED = f"""
from haven.web.core.commands import setup, migrate
setup(); migrate(open("/dev/null", "w"))
from haven.web.accounts.actions import create_organisation
from haven.web.cases.models import Case
from haven.web.core import crypto
org = create_organisation(actor="cli", name="Centre", slug="centre", country="KR")
def contact(n):
    return crypto.encrypt(f"contact {{n}}", "cases.Case.contact")
rows = [Case(organisation=org, number=f"T{{n:07d}}", contact_encrypted=contact(n)) for n in range({CASES})]
Case.objects.bulk_create(rows, batch_size=2000)
"""

CHECK = """
import json
from haven.web.core.commands import setup
setup()
from haven.web.cases.models import Case
from haven.web.core import crypto
def plain(case):
    return crypto.decrypt(case.contact_encrypted, "cases.Case.contact")
wrong = [c.number for c in Case.objects.all() if plain(c) != f"contact {int(c.number[1:])}"]
print(json.dumps({"wrong": wrong[:5], "count": Case.objects.count()}))
"""


def _key_id(key: str) -> bytes:
    return hashlib.sha256(b"haven-key-id:" + base64.urlsafe_b64decode(key)).digest()[:4]


def _under_new_key(database: Path) -> int:
    with sqlite3.connect(database, timeout=30) as db:
        rows = db.execute("SELECT contact_encrypted FROM cases_case").fetchall()
    return sum(1 for (token,) in rows if bytes(token)[1:5] == _key_id(NEW))


def _jobs(database: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(database, timeout=30) as db:
        return db.execute(
            "SELECT id, status, exception_class_path FROM django_tasks_database_dbtaskresult "
            "WHERE task_path LIKE '%reencrypt_with_current_key' ORDER BY enqueued_at"
        ).fetchall()


def test_a_rotation_killed_half_way_is_finished_by_the_next_worker(tmp_path: Path) -> None:
    env = base_env(tmp_path, HAVEN_ENCRYPTION_KEYS=OLD, HAVEN_WORKER_LOST_SECONDS="6")
    seeded = subprocess.run(
        [sys.executable, "-c", SEED], env=env, capture_output=True, text=True, timeout=300
    )
    assert seeded.returncode == 0, seeded.stderr
    database = tmp_path / "haven.sqlite3"
    rotated = {**env, "HAVEN_ENCRYPTION_KEYS": f"{NEW},{OLD}"}
    haven(rotated, "rotate-keys")

    first = subprocess.Popen(
        [str(HAVEN), "worker"], env=rotated, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 120
        while _under_new_key(database) < CASES // 10:
            assert first.poll() is None
            assert time.monotonic() < deadline, "the rotation never got going"
            time.sleep(0.05)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    half = _under_new_key(database)
    assert 0 < half < CASES, half  # killed in the middle
    assert [status for _, status, _ in _jobs(database)] == ["RUNNING"]  # what the killed worker left

    second = subprocess.Popen(
        [str(HAVEN), "worker"], env=rotated, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 180
        while not (
            _under_new_key(database) == CASES
            and [s for _, s, _ in _jobs(database)] == ["FAILED", "SUCCESSFUL"]
        ):
            assert second.poll() is None
            assert time.monotonic() < deadline, (_under_new_key(database), _jobs(database))
            time.sleep(0.2)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)

    jobs = _jobs(database)
    assert jobs[0][2] == "haven.web.core.jobs.WorkerLost"
    with sqlite3.connect(database) as db:
        retries = db.execute("SELECT original, retry FROM core_jobretry").fetchall()
        rotations = db.execute(
            "SELECT summary FROM audit_auditevent WHERE event_type = 'system.keys_rotated'"
        ).fetchall()
    assert [(uuid.UUID(a), uuid.UUID(b)) for a, b in retries] == [
        (uuid.UUID(jobs[0][0]), uuid.UUID(jobs[1][0]))
    ]
    # The retry rewrote what the first run had not: the two together, each row once.
    (summary,) = [json.loads(row[0]) for row in rotations]
    assert summary["cases"] == CASES - half
    checked = subprocess.run(
        [sys.executable, "-c", CHECK], env=rotated, capture_output=True, text=True, timeout=300
    )
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout.strip().splitlines()[-1]) == {"wrong": [], "count": CASES}
    verified = haven(rotated, "audit", "verify", check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
