"""Prometheus metrics and Sentry.

Metrics live in one registry per process; `/metrics` renders it. Request metrics are
labelled by route *template* (`/api/v1/users/{user_id}`), never by raw path, so a scan of
random URLs cannot blow up the label set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.pool import QueuePool

from core.config import Settings

registry = CollectorRegistry(auto_describe=True)

# One histogram carries both figures: `_count` is the number of requests by method, route
# template and status, `_bucket`/`_sum` their latency.
HTTP_REQUESTS = Histogram(
    "vigil_http_request_duration_seconds",
    "HTTP requests answered and the time taken, by method, route template and status.",
    ("method", "route", "status"),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=registry,
)


class _Counter:
    """A plain number read at scrape time: a Gauge's inc()/dec() take a lock per request."""

    value = 0


in_flight = _Counter()
HTTP_IN_FLIGHT = Gauge(
    "vigil_http_requests_in_flight", "HTTP requests being served now.", registry=registry
)
HTTP_IN_FLIGHT.set_function(lambda: in_flight.value)
JOBS_DISPATCHED = Counter(
    "vigil_jobs_dispatched_total",
    "Jobs sent to the broker after their transaction committed.",
    ("task",),
    registry=registry,
)
JOB_DISPATCH_FAILURES = Counter(
    "vigil_job_dispatch_failures_total",
    "Jobs whose dispatch failed after commit (durable rows will be picked up by polling).",
    ("task",),
    registry=registry,
)
WEBHOOK_ATTEMPTS = Counter(
    "vigil_webhook_delivery_attempts_total",
    "Webhook delivery attempts by outcome: succeeded, retry (failed, will be retried), "
    "abandoned (out of attempts) or refused (the target is on a forbidden network).",
    ("outcome",),
    registry=registry,
)
WEBHOOK_DURATION = Histogram(
    "vigil_webhook_delivery_duration_seconds",
    "Time from connecting to a webhook receiver to its answer (or the failure).",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=registry,
)
WEBHOOK_ENDPOINTS_DISABLED = Counter(
    "vigil_webhook_endpoints_disabled_total",
    "Webhook endpoints disabled automatically because they kept failing.",
    registry=registry,
)

PHISHING_SENDS = Counter(
    "vigil_phishing_sends_total",
    "Simulation emails by outcome (sent, failed, unknown, pending = will retry).",
    ("outcome",),
    registry=registry,
)


class RequestMetrics:
    """Caches the labelled children: `.labels()` takes a lock and builds a key each call,
    which is a measurable share of a ~100 µs request."""

    def __init__(self) -> None:
        self._children: dict[tuple[str, str, int], Any] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = HTTP_REQUESTS.labels(method, route, str(status))
        child.observe(seconds)


request_metrics = RequestMetrics()


class PoolCollector(Collector):
    """Database pool use, read at scrape time from the live engine."""

    def __init__(self, pool_getter: Callable[[], Any]) -> None:
        self._pool_getter = pool_getter

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pool = self._pool_getter()
        if not isinstance(pool, QueuePool):
            return
        for name, doc, value in (
            ("vigil_db_pool_size", "Configured pool size.", pool.size()),
            ("vigil_db_pool_checked_out", "Connections in use.", pool.checkedout()),
            ("vigil_db_pool_checked_in", "Idle connections in the pool.", pool.checkedin()),
            ("vigil_db_pool_overflow", "Connections open beyond the pool size.", pool.overflow()),
        ):
            yield GaugeMetricFamily(name, doc, value=float(value))


_pool_collector_registered = False


def register_pool_collector(pool_getter: Callable[[], Any]) -> None:
    global _pool_collector_registered
    if not _pool_collector_registered:
        registry.register(PoolCollector(pool_getter))
        _pool_collector_registered = True


def render_metrics() -> tuple[bytes, str]:
    return generate_latest(registry), CONTENT_TYPE_LATEST


def init_sentry(settings: Settings) -> bool:
    """Start Sentry only when a DSN is configured; returns whether it did."""
    if settings.sentry_dsn is None:
        return False
    import sentry_sdk

    sentry_sdk.init(
        dsn=settings.sentry_dsn.get_secret_value(),
        environment=settings.env.value,
        traces_sample_rate=settings.sentry_traces_sample_rate,
        send_default_pii=False,
    )
    return True
