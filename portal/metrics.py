"""Prometheus metrics (prometheus-client) at /metrics, for staff or the METRICS_TOKEN bearer.

Requests by view and status and their latency are counted here, per process; with gunicorn's
several workers set PROMETHEUS_MULTIPROC_DIR (an empty folder, per host) and every worker's
counts are summed at each scrape. What the database knows (packets by state, render times, the
outbox backlog, Celery's queue lengths) is read at scrape time by collectors that the apps
register (`register_collector`; the referrals app's is referrals/metrics.py), so those figures
are the same whichever web host answers.
"""

import hmac
import os
import time

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter(
    "portal_http_requests",
    "HTTP requests answered, by view and status",
    ["view", "method", "status"],
)
LATENCY = Histogram(
    "portal_http_request_duration_seconds",
    "Time to answer an HTTP request, by view",
    ["view"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

_collectors: list = []


def register_collector(collector) -> None:
    """A collector read at every scrape (e.g. figures from the database)."""
    _collectors.append(collector)
    REGISTRY.register(collector)


class MetricsMiddleware:
    """Counts and times every request. Labelled by the URL pattern's name, never the path
    (which holds references and ids) or the query (which may hold a searched name)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name if match else "") or "unmatched"
        if view.startswith("admin:"):
            view = "admin"  # one label for Django's admin, not one per model page
        REQUESTS.labels(view, request.method if request.method in _METHODS else "other",
                        str(response.status_code)).inc()  # fmt: skip
        LATENCY.labels(view).observe(time.perf_counter() - started)
        return response


_METHODS = {"GET", "POST", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"}


def _allowed(request) -> bool:
    token = settings.METRICS_TOKEN
    offered = request.headers.get("Authorization", "")
    if token and offered.startswith("Bearer "):
        return hmac.compare_digest(offered[len("Bearer ") :].strip().encode(), token.encode())
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and (user.is_staff or user.is_superuser))


@never_cache
def metrics(request):
    if not _allowed(request):
        return HttpResponse(
            "Metrics are for practice staff or a METRICS_TOKEN bearer.\n",
            status=403,
            content_type="text/plain",
        )
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        for collector in _collectors:
            registry.register(collector)
    else:
        registry = REGISTRY
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
