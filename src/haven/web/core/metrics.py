"""Prometheus metrics: ``GET /metrics`` with ``Authorization: Bearer $HAVEN_METRICS_TOKEN``.

Two kinds.  What happens inside a process (lookups and their time) is counted as it happens, by
``prometheus_client``'s own metrics; with several server processes, set ``PROMETHEUS_MULTIPROC_DIR``
(``haven serve --workers`` does) and every process's counts are summed.  What the database holds
(the job queue, notices near their deadline, scans, fetch errors, the worker's heartbeat) is read
at scrape time by :class:`StateCollector`, so every process answers the same.

No metric carries a case, a person or an organisation's name: counts only, labelled by job name,
notice state, scan status or the host a fetch failed on.
"""

from __future__ import annotations

import datetime as dt
import hmac
import os
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector

LOOKUP_SECONDS = Histogram(
    "haven_lookup_seconds",
    "Time to answer one hash lookup against a matching index (the count is the number of lookups)",
    ["index"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)

WINDOW = dt.timedelta(hours=24)
"""Scan and failure figures cover the last day (the database keeps the runs, not running totals)."""
HOSTS = 20
"""At most this many hosts get their own fetch-error series; the rest are summed as ``other``."""


class StateCollector(Collector):
    """Figures read from the database at each scrape."""

    def collect(self) -> Iterator[Metric]:
        from django.utils import timezone
        from django_tasks_db.models import DBTaskResult

        from haven.web.monitoring.models import ScanRun
        from haven.web.takedown.models import Notice, NoticeState

        from . import health

        now = timezone.now()
        since = now - WINDOW

        check = health.worker(now)
        alive = GaugeMetricFamily("haven_workers_alive", "Worker processes heard from recently")
        alive.add_metric([], check.values.get("alive", 0))
        yield alive
        age = check.values.get("last_seen_seconds")
        heard = GaugeMetricFamily(
            "haven_worker_heartbeat_age_seconds", "Seconds since any worker last said it was alive"
        )
        heard.add_metric([], float("nan") if age is None else age)
        yield heard

        due = GaugeMetricFamily("haven_jobs_due", "Background jobs due now and not started", labels=["task"])
        for task, n in _by(DBTaskResult.objects.ready(), "task_path"):
            due.add_metric([_short(task)], n)
        yield due
        oldest = GaugeMetricFamily("haven_jobs_oldest_due_seconds", "How long the oldest due job has waited")
        oldest.add_metric([], health.due_jobs(now)[1])
        yield oldest
        failed = GaugeMetricFamily(
            "haven_job_failures_24h", "Background jobs that failed in the last 24 hours", labels=["task"]
        )
        for task, n in _by(health.failed_jobs(since), "task_path"):
            failed.add_metric([_short(task)], n)
        yield failed

        notices = GaugeMetricFamily("haven_notices", "Takedown notices by where they stand", labels=["state"])
        sent = Notice.objects.filter(state=NoticeState.SENT)
        notices.add_metric(["ready"], Notice.objects.filter(state=NoticeState.READY).count())
        notices.add_metric(
            ["due_within_24h"], sent.filter(deadline_at__gt=now, deadline_at__lte=now + WINDOW).count()
        )
        notices.add_metric(["overdue"], sent.filter(deadline_at__lte=now).count())
        yield notices

        runs = GaugeMetricFamily(
            "haven_scan_runs_24h", "Scan runs finished in the last 24 hours", labels=["status"]
        )
        recent = ScanRun.objects.filter(finished_at__gte=since)
        for status, n in _by(recent, "status"):
            runs.add_metric([status], n)
        yield runs
        read = GaugeMetricFamily(
            "haven_scan_read_24h", "What scans read in the last 24 hours", labels=["what"]
        )
        totals: Counter[str] = Counter()
        for stats, errors in recent.values_list("stats", "error_count"):
            for key in ("pages", "media_fetched", "bytes"):
                totals[key] += int((stats or {}).get(key, 0) or 0)
            totals["errors"] += errors or 0
        for key in ("pages", "media_fetched", "bytes", "errors"):
            read.add_metric([key], totals[key])
        yield read
        hosts = GaugeMetricFamily(
            "haven_fetch_errors_24h",
            "Fetch errors of scans in the last 24 hours by host (the first errors each run records)",
            labels=["host"],
        )
        by_host: Counter[str] = Counter()
        for errors in recent.exclude(error_count=0).values_list("errors", flat=True):
            for error in errors or ():
                host = urlsplit(str((error or {}).get("url", ""))).hostname or "unknown"
                by_host[host] += 1
        top = by_host.most_common(HOSTS)
        for host, n in top:
            hosts.add_metric([host], n)
        rest = sum(by_host.values()) - sum(n for _, n in top)
        if rest:
            hosts.add_metric(["other"], rest)
        yield hosts


def _by(queryset: Any, field: str) -> list[tuple[str, int]]:
    from django.db.models import Count

    rows = queryset.order_by().values_list(field).annotate(n=Count("id"))
    return sorted((str(key), int(n)) for key, n in rows)


def _short(task_path: str) -> str:
    """``haven.web.takedown.tasks.sweep`` -> ``takedown.sweep``."""
    parts = task_path.split(".")
    if len(parts) >= 4 and parts[:2] == ["haven", "web"]:
        return f"{parts[2]}.{parts[-1]}"
    return task_path


def token_ok(header: str | None, token: str) -> bool:
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def exposition() -> bytes:
    """The text a scrape gets: the process (or all processes') metrics, then the database's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes)  # type: ignore[no-untyped-call]  # untyped upstream
        own = generate_latest(processes)
    else:
        own = generate_latest(REGISTRY)
    state = CollectorRegistry()
    state.register(StateCollector())
    return own + generate_latest(state)
