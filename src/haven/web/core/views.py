"""Operators' endpoints: ``/healthz`` for load balancers and monitors, ``/metrics`` for Prometheus."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import health, metrics


@never_cache
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """200 while this process can serve, 503 when it cannot (its database or its indexes fail).

    ``?all``: 503 when any check fails (the worker, the job queue, the mail server too), for a
    monitor rather than a load balancer.  Anyone may ask; only a caller with the metrics token
    is told the details (they name the database and the mail server)."""
    checks = health.run_all()
    down = any(c.essential and not c.ok for c in checks)
    degraded = any(not c.ok for c in checks)
    status = "down" if down else ("degraded" if degraded else "ok")
    token = settings.HAVEN_METRICS_TOKEN
    detailed = bool(token) and metrics.token_ok(request.headers.get("Authorization"), token)
    body: dict[str, Any] = {"status": status, "checks": {}}
    if detailed:
        body["process"] = os.getpid()  # which of several server processes answered
    for c in checks:
        body["checks"][c.name] = {"ok": c.ok, **({"detail": c.detail, **c.values} if detailed else {})}
    failing = down or ("all" in request.GET and degraded)
    return JsonResponse(body, status=503 if failing else 200)


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text format, for a scraper that presents ``HAVEN_METRICS_TOKEN``.  Without a
    token configured the endpoint does not exist (404), so nothing is exposed by default."""
    token = settings.HAVEN_METRICS_TOKEN
    if not token:
        return JsonResponse({"detail": "Not Found"}, status=404)
    if not metrics.token_ok(request.headers.get("Authorization"), token):
        response = JsonResponse({"detail": "a valid metrics token is required"}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(metrics.exposition(), content_type="text/plain; version=0.0.4; charset=utf-8")
