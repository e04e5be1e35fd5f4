"""Is this deployment working?  The checks behind ``/healthz``, the metrics and ``haven doctor``.

Each check answers for one part (the database, the worker, the job queue, this process's matching
indexes, the mail server) with a :class:`Check`.  A check never raises: a part that cannot be
asked is a failing check whose detail says why.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

BEAT = dt.timedelta(seconds=30)
"""How often a worker says it is alive."""
STALE = 3 * BEAT
"""A worker not heard from for this long is taken for dead."""
JOB_DELAY = dt.timedelta(minutes=30)
"""A job due for longer than this means the worker does not keep up (or runs none)."""
SMTP_TIMEOUT = 5.0
log = logging.getLogger(__name__)
SMTP_CACHE_SECONDS = 60
"""The mail server is asked at most once a minute per process, however often health is probed."""
_NOT_SMTP = {
    "django.core.mail.backends.console.EmailBackend": "printed on the console",
    "django.core.mail.backends.locmem.EmailBackend": "kept in memory",
    "django.core.mail.backends.filebased.EmailBackend": "written to files",
    "django.core.mail.backends.dummy.EmailBackend": "thrown away",
}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    values: dict[str, Any] = field(default_factory=dict)
    essential: bool = False
    """Failing means this process cannot serve (a load balancer should send requests elsewhere)."""


def _guarded(name: str, essential: bool, probe: Callable[[], Check]) -> Check:
    try:
        return probe()
    except Exception as exc:  # a check reports any failure as its answer
        return Check(name, False, f"{type(exc).__name__}: {exc}"[:300], essential=essential)


def database() -> Check:
    def probe() -> Check:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        ms = round((time.perf_counter() - started) * 1000, 1)
        return Check("database", True, f"{connection.vendor} answered in {ms} ms", {"ms": ms}, essential=True)

    return _guarded("database", True, probe)


def worker(now: dt.datetime | None = None) -> Check:
    def probe() -> Check:
        from .models import WorkerHeartbeat

        when = now or timezone.now()
        alive = WorkerHeartbeat.objects.filter(seen_at__gte=when - STALE).count()
        last = WorkerHeartbeat.objects.order_by("-seen_at").values_list("seen_at", flat=True).first()
        age = None if last is None else max(0.0, round((when - last).total_seconds(), 1))
        values = {"alive": alive, "last_seen_seconds": age}
        if alive:
            return Check("worker", True, f"{alive} worker process(es) alive", values)
        if last is None:
            return Check("worker", False, "no worker has ever run: start `haven worker`", values)
        return Check(
            "worker", False, f"no worker heard from for {age:.0f} s: is `haven worker` running?", values
        )

    return _guarded("worker", False, probe)


def failed_jobs(since: dt.datetime) -> Any:
    """The jobs that failed since ``since`` (a queryset: the metrics count them by job)."""
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(status="FAILED", finished_at__gte=since)


def due_jobs(now: dt.datetime) -> tuple[int, float]:
    """How many jobs are due and not started, and how many seconds the oldest has waited."""
    from django.db.models import Case, Count, Min, When
    from django_tasks_db.models import DBTaskResult, get_date_max

    # A job queued to run later is due from its run_after, not from when it was queued; one
    # queued to run at once carries the largest date as its run_after.
    became_due = Case(When(run_after=get_date_max(), then="enqueued_at"), default="run_after")
    due = DBTaskResult.objects.ready().aggregate(n=Count("id"), since=Min(became_due))
    age = 0.0 if due["since"] is None else max(0.0, round((now - due["since"]).total_seconds(), 1))
    return due["n"], age


def jobs(now: dt.datetime | None = None) -> Check:
    def probe() -> Check:
        when = now or timezone.now()
        count, age = due_jobs(when)
        failed = failed_jobs(when - dt.timedelta(days=1)).count()
        values = {"due": count, "oldest_due_seconds": age, "failed_24h": failed}
        if age > JOB_DELAY.total_seconds():
            detail = (
                f"{count} job(s) due, the oldest for {age / 60:.0f} minutes: the worker is not keeping up"
            )
            return Check("jobs", False, detail, values)
        return Check("jobs", True, f"{count} job(s) due, {failed} failed in the last 24 hours", values)

    return _guarded("jobs", False, probe)


def indexes() -> Check:
    """This process's matching indexes: how far behind the database they were, brought up to date.

    An index not loaded yet (no lookup since the process started) is fine: it loads whole on first
    use.  A loaded one must catch up, or this process answers lookups from an old state."""

    def probe() -> Check:
        from haven.web.cases.matching import loaded_content_index
        from haven.web.federation.matching import loaded_imported_index

        values: dict[str, Any] = {}
        for name, index in (("content", loaded_content_index()), ("imported", loaded_imported_index())):
            if index is None or not index.loaded:
                values[f"{name}_lag"] = None
                continue
            lag = index.lag()
            index.sync()
            values[f"{name}_lag"] = lag
            values[f"{name}_hashes"] = len(index)
        loaded = [k for k, v in values.items() if k.endswith("_lag") and v is not None]
        detail = "up to date" if loaded else "not loaded yet (they load on the first lookup)"
        return Check("indexes", True, detail, values, essential=True)

    return _guarded("indexes", True, probe)


_smtp_lock = threading.Lock()
_smtp_last: tuple[float, Check] | None = None


def mail(*, fresh: bool = False) -> Check:
    """Whether the mail server that sends notices answers (Haven sends notices as staff press
    Send, so there is no queue to fill up: an unreachable server is what stops them)."""
    global _smtp_last
    backend = settings.EMAIL_BACKEND
    if backend in _NOT_SMTP:
        return Check("mail", True, f"notices are {_NOT_SMTP[backend]}, not sent ({backend})", {"smtp": False})
    if backend != "django.core.mail.backends.smtp.EmailBackend":
        return Check("mail", True, f"mail goes through {backend}, which Haven cannot probe", {"smtp": False})
    with _smtp_lock:
        if not fresh and _smtp_last is not None and time.monotonic() - _smtp_last[0] < SMTP_CACHE_SECONDS:
            return _smtp_last[1]
        result = _guarded("mail", False, _probe_smtp)
        _smtp_last = (time.monotonic(), result)
        return result


def _probe_smtp() -> Check:
    host, port = settings.EMAIL_HOST, settings.EMAIL_PORT
    where = f"{host}:{port}"
    started = time.perf_counter()
    try:
        cls = smtplib.SMTP_SSL if getattr(settings, "EMAIL_USE_SSL", False) else smtplib.SMTP
        with cls(host, port, timeout=SMTP_TIMEOUT) as smtp:
            smtp.ehlo()
            if settings.EMAIL_USE_TLS:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if settings.EMAIL_HOST_USER:
                smtp.login(settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD)
            smtp.noop()
    except smtplib.SMTPAuthenticationError:
        return Check("mail", False, f"the mail server {where} refused HAVEN_EMAIL_USER's password")
    except (OSError, smtplib.SMTPException) as exc:  # timeouts are OSError too
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return Check("mail", False, f"the mail server {where} does not answer: {reason}")
    ms = round((time.perf_counter() - started) * 1000, 1)
    return Check("mail", True, f"the mail server {where} answered in {ms} ms", {"ms": ms, "smtp": True})


def run_all(*, fresh_mail: bool = False) -> list[Check]:
    checks = [database()]
    if not checks[0].ok:
        # Without the database nothing else can be asked; say so once rather than four times.
        return [*checks, mail(fresh=fresh_mail)]
    return [*checks, worker(), jobs(), indexes(), mail(fresh=fresh_mail)]


# --- the worker's side ---


def worker_name() -> str:
    """``host:pid``: the name a worker beats under and claims jobs with (at most 64 characters)."""
    return f"{socket.gethostname()[:50]}:{os.getpid()}"


def beat_every() -> float:
    """Seconds between beats: often enough that a live worker is never taken for a lost one."""
    return min(BEAT.total_seconds(), settings.HAVEN_WORKER_LOST_SECONDS / 3)


def beat(name: str, started: dt.datetime) -> None:
    """Say this worker is alive (and forget workers gone for a day)."""
    from .models import WorkerHeartbeat

    now = timezone.now()
    WorkerHeartbeat.objects.update_or_create(name=name, defaults={"seen_at": now, "started_at": started})
    WorkerHeartbeat.objects.filter(seen_at__lt=now - dt.timedelta(days=1)).delete()


def start_heartbeat(stop: threading.Event) -> threading.Thread:
    """Beat now, then every :func:`beat_every` seconds in a thread of its own until ``stop`` is set.

    The first beat is written by the caller before any job is claimed, so that it never races the
    worker's own start-up queries (SQLite's shared in-memory test database refuses a second writer
    at once instead of waiting)."""
    name, started = worker_name(), timezone.now()
    try:
        beat(name, started)
    except Exception:  # a database blip must not stop the worker from starting
        log.warning("worker heartbeat not written", exc_info=True)

    def run() -> None:
        while not stop.wait(beat_every()):
            try:
                beat(name, started)
            except Exception:  # a database blip must not end the heartbeat for good
                log.warning("worker heartbeat not written", exc_info=True)
            finally:
                close_old_connections()
                connection.close()

    thread = threading.Thread(target=run, name="haven-heartbeat", daemon=True)
    thread.start()
    return thread
