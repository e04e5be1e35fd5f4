"""``/healthz``, ``/metrics`` and the worker's heartbeat, against the real database and a real
SMTP server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import OperationalError
from django.test import Client, override_settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from haven.web.cases import actions
from haven.web.cases.matching import content_index
from haven.web.cases.models import Case
from haven.web.core import health
from haven.web.core.models import WorkerHeartbeat
from haven.web.monitoring.models import ScanRun
from haven.web.takedown.tasks import sweep as takedown_sweep
from tests.processes import free_port
from tests.web.conftest import Persona

TOKEN = "metrics-token-for-the-test-0123456789"
PDQ = "f" * 64


def _smtp(port: int) -> override_settings:
    return override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=port,
        EMAIL_USE_TLS=False,
        EMAIL_HOST_USER="",
    )


def _beat(seconds_ago: float = 0) -> None:
    now = timezone.now()
    WorkerHeartbeat.objects.create(
        name=f"host:{int(seconds_ago)}", started_at=now, seen_at=now - dt.timedelta(seconds=seconds_ago)
    )


@pytest.mark.django_db
def test_healthz_answers_200_with_each_check_and_no_cookie() -> None:
    _beat()
    response = Client().get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "worker", "jobs", "indexes", "mail"}
    assert all(c == {"ok": True} for c in body["checks"].values())  # no details without the token
    assert not response.cookies
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


@pytest.mark.django_db
def test_a_dead_worker_degrades_health_but_only_all_turns_it_into_a_503() -> None:
    _beat(seconds_ago=health.STALE.total_seconds() + 5)
    lenient = Client().get("/healthz")
    assert lenient.status_code == 200
    assert lenient.json()["status"] == "degraded"
    assert lenient.json()["checks"]["worker"] == {"ok": False}
    strict = Client().get("/healthz?all")
    assert strict.status_code == 503


@pytest.mark.django_db
def test_details_need_the_metrics_token() -> None:
    with override_settings(HAVEN_METRICS_TOKEN=TOKEN):
        wrong = Client().get("/healthz", headers={"Authorization": "Bearer nope"}).json()
        right = Client().get("/healthz", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert "detail" not in wrong["checks"]["worker"]
    assert right["checks"]["worker"]["detail"] == "no worker has ever run: start `haven worker`"
    assert right["checks"]["worker"]["alive"] == 0
    assert right["checks"]["database"]["ms"] >= 0


@pytest.mark.django_db
def test_a_database_that_does_not_answer_is_a_503(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.db import connection

    def refuse(*args: object, **kwargs: object) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", refuse)
    response = Client().get("/healthz")
    monkeypatch.undo()
    assert response.status_code == 503
    assert response.json()["status"] == "down"
    assert response.json()["checks"]["database"] == {"ok": False}
    # Nothing else is asked of a database that is not there; the mail server still is.
    assert set(response.json()["checks"]) == {"database", "mail"}


@pytest.mark.django_db
def test_a_job_due_for_longer_than_the_limit_fails_the_jobs_check() -> None:
    takedown_sweep.enqueue()
    assert health.jobs().ok
    row = DBTaskResult.objects.get()
    late = timezone.now() - health.JOB_DELAY - dt.timedelta(minutes=1)
    DBTaskResult.objects.filter(pk=row.pk).update(enqueued_at=late)
    check = health.jobs()
    assert not check.ok
    assert check.values["due"] == 1
    assert check.values["oldest_due_seconds"] > health.JOB_DELAY.total_seconds()


@pytest.mark.django_db
def test_a_job_queued_for_later_is_not_late() -> None:
    takedown_sweep.using(run_after=timezone.now() + dt.timedelta(hours=5)).enqueue()
    DBTaskResult.objects.update(enqueued_at=timezone.now() - dt.timedelta(days=2))
    check = health.jobs()
    assert check.ok
    assert check.values["due"] == 0


@pytest.mark.django_db
def test_the_index_check_reports_how_far_behind_it_was_and_catches_up(
    counsellor: Persona, case: Case
) -> None:
    actions.record_consent(
        actor=counsellor.user, case=case, scope="monitor", granted=True, method="in_person"
    )
    assert health.indexes().values["content_lag"] is None  # not loaded: the check must not load it
    index = content_index()
    index.sync()
    actions.add_content(actor=counsellor.user, case=case, items=[actions.HashInput("p", PDQ)])
    behind = health.indexes()
    assert behind.ok
    assert behind.values["content_lag"] >= 1
    assert behind.values["content_hashes"] == 1  # caught up: the new item is in
    assert health.indexes().values["content_lag"] == 0


@pytest.mark.django_db
def test_the_mail_check_talks_to_a_real_smtp_server(smtp_server: int) -> None:
    with _smtp(smtp_server):
        check = health.mail()
    assert check.ok
    assert check.values["smtp"] is True
    assert f"127.0.0.1:{smtp_server} answered" in check.detail


@pytest.mark.django_db
def test_a_mail_server_that_does_not_answer_fails_and_is_asked_once_a_minute() -> None:
    port = free_port()  # nothing listens there
    with _smtp(port):
        first = health.mail()
        assert not first.ok
        assert "does not answer" in first.detail
        assert health.mail() is first  # cached, whoever probes /healthz how often
        assert health.mail(fresh=True) is not first


@pytest.mark.django_db(transaction=True)  # the thread writes through a connection of its own
def test_the_worker_heartbeat_thread_writes_and_stops() -> None:
    stop = threading.Event()
    thread = health.start_heartbeat(stop)
    try:
        for _ in range(100):
            if WorkerHeartbeat.objects.exists():
                break
            threading.Event().wait(0.05)
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()
    beat = WorkerHeartbeat.objects.get()
    assert beat.name == health.worker_name()
    assert health.worker().ok


@pytest.mark.django_db
def test_a_beat_forgets_workers_gone_for_a_day() -> None:
    _beat(seconds_ago=2 * 86400)
    health.beat("new:1", timezone.now())
    assert list(WorkerHeartbeat.objects.values_list("name", flat=True)) == ["new:1"]


# --- /metrics ---


@pytest.mark.django_db
def test_metrics_do_not_exist_without_a_token() -> None:
    response = Client().get("/metrics")
    assert response.status_code == 404


@pytest.mark.django_db
def test_metrics_refuse_a_wrong_token() -> None:
    with override_settings(HAVEN_METRICS_TOKEN=TOKEN):
        for header in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
            response = Client().get("/metrics", headers=header)
            assert response.status_code == 401
            assert response["WWW-Authenticate"].startswith("Bearer")


def _series(text: str, name: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


@pytest.mark.django_db
def test_metrics_count_lookups_jobs_scans_and_fetch_errors(
    counsellor: Persona, case: Case, org_a: object
) -> None:
    actions.record_consent(
        actor=counsellor.user, case=case, scope="monitor", granted=True, method="in_person"
    )
    actions.add_content(actor=counsellor.user, case=case, items=[actions.HashInput("p", PDQ)])
    with override_settings(HAVEN_METRICS_TOKEN=TOKEN):
        before = Client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).content.decode()
        counsellor.api().post("/api/v1/lookup", {"pdq": [PDQ]}, content_type="application/json")
        takedown_sweep.enqueue()
        now = timezone.now()
        from haven.web.monitoring.models import MonitorSource

        source = MonitorSource.objects.create(
            organisation=org_a, name="s", kind="urls", target="https://a.example/"
        )
        ScanRun.objects.create(
            source=source,
            organisation=org_a,
            status="done",
            finished_at=now,
            stats={"pages": 7, "media_fetched": 3, "bytes": 1000},
            error_count=3,
            errors=[
                {"url": "https://bad.example/x.jpg", "code": "http", "message": "500"},
                {"url": "https://bad.example/y.jpg", "code": "http", "message": "500"},
                {"url": "https://slow.example/z.jpg", "code": "timeout", "message": "timed out"},
            ],
        )
        response = Client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    count = 'haven_lookup_seconds_count{index="content"}'
    assert _series(text, count)[count] == _series(before, count).get(count, 0) + 1
    assert _series(text, "haven_jobs_due")['haven_jobs_due{task="takedown.sweep"}'] == 1
    assert _series(text, "haven_scan_read_24h")['haven_scan_read_24h{what="pages"}'] == 7
    errors = _series(text, "haven_fetch_errors_24h")
    assert errors['haven_fetch_errors_24h{host="bad.example"}'] == 2
    assert errors['haven_fetch_errors_24h{host="slow.example"}'] == 1
    assert _series(text, "haven_workers_alive")["haven_workers_alive"] == 0
    assert 'haven_notices{state="overdue"}' in text
    # Counts only: nothing names a case, a person or an organisation.
    assert case.number not in text
    assert "Centre A" not in text
