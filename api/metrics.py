"""Prometheus metrics: what GET /metrics answers (text format), and the ASGI middleware that
counts requests.

Per process, counted as requests and commands happen:
- `okno_http_requests_total{method,route,status}` and `okno_http_request_duration_seconds{method,
  route}` (a histogram): `route` is the route's template (`/api/cases/{case_id}`), never the path
  itself, and `unmatched` for a path no route serves, so a client cannot make up label values;
- `okno_command_duration_seconds{action}`: each command that wrote (a step, a timer, a mark …),
  from its unit of work's start to its commit (`Cases.observe`).

Global, from the database (`engine.read.metrics`, kept `CACHE_SECONDS` per process, so however
often it is scraped a process asks the database at most that often): `okno_open_tasks{authority}`,
`okno_overdue_cases{authority}`, `okno_overdue_unmarked_cases`, `okno_timer_lag_seconds` (age of
the oldest due timer not yet fired; 0 when none) and `okno_worker_last_sweep_age_seconds` (since
any scheduler worker last finished a sweep; absent before the first).

Several processes: `okno serve --workers N` puts prometheus_client in its multiprocess mode
(`share_between_processes`: every worker writes its counts to files in one folder), so a scrape
answered by any worker reports the sums over all of them, including workers that have since been
replaced. One process (`--workers 1`, `okno run`) keeps them in memory. Several hosts: scrape each
host; the database figures are the same everywhere, so take them from any one (`max by`).

Who may read it: the figures name authorities and show the office's load, which is not public.
GET /metrics answers only clients whose address is in the `metrics_networks` setting (loopback by
default), and never a request that came through a reverse proxy (it carries `X-Forwarded-For` or
`Forwarded`): a proxy on the same host must not make the Internet look like loopback. Anyone else
gets 404, as for a path that does not exist.
"""
from __future__ import annotations

import atexit
import ipaddress
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import ApiError
from engine.read.metrics import Figures, figures

log = logging.getLogger("okno.metrics")
CACHE_SECONDS = 10.0
MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})  # else "other"


def share_between_processes() -> str:
    """Before `okno serve` starts its workers: count in prometheus_client's multiprocess mode, in
    a new private folder (removed when this process exits) unless `PROMETHEUS_MULTIPROC_DIR`
    names one already. Returns the folder. Workers started afterwards, spawned or forked, count
    into it."""
    folder = os.environ.get(MULTIPROC_VARIABLE)
    if not folder:
        folder = tempfile.mkdtemp(prefix="okno-metrics-")
        os.environ[MULTIPROC_VARIABLE] = folder  # read by prometheus_client in every worker
        atexit.register(shutil.rmtree, folder, True)
    values.ValueClass = values.get_value_class()  # a forked worker has the module loaded already
    return folder


def _shared() -> str | None:
    return os.environ.get(MULTIPROC_VARIABLE) or None


class DatabaseFigures(Collector):
    """The global figures as gauges, read from the database at most every `seconds`."""

    def __init__(self, services: Any, seconds: float = CACHE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.services, self.seconds, self.clock = services, seconds, clock
        self.reads = 0  # how often the database was asked
        self._lock = threading.Lock()
        self._at, self._figures = -1e18, None

    def current(self) -> Figures | None:
        with self._lock:  # one scrape at a time asks; the others wait for its answer
            if self.clock() - self._at >= self.seconds:
                self.reads += 1
                svc = self.services
                try:
                    self._figures = figures(svc.db, svc.cases.now(), svc.clock.today())
                except SQLAlchemyError as exc:
                    log.warning("metrics: the database figures could not be read: %s", exc)
                    self._figures = None
                self._at = self.clock()
            return self._figures

    def collect(self) -> Iterable[Metric]:
        found = self.current()
        if found is None:
            return
        now = self.services.cases.now()
        tasks = GaugeMetricFamily("okno_open_tasks", "Open tasks, by authority", labels=["authority"])
        late = GaugeMetricFamily("okno_overdue_cases", "Open cases past their due date, by authority",
                                 labels=["authority"])
        for authority, count in found.open_tasks.items():
            tasks.add_metric([authority], count)
        for authority, count in found.overdue_cases.items():
            late.add_metric([authority], count)
        yield tasks
        yield late
        yield GaugeMetricFamily("okno_overdue_unmarked_cases",
                                "Open cases past their due date the scheduler has not marked yet",
                                value=found.unmarked_overdue)
        lag = 0.0 if found.oldest_due_timer is None else _age(now, found.oldest_due_timer)
        yield GaugeMetricFamily("okno_timer_lag_seconds",
                                "Age of the oldest due timer not fired yet (0: none)", value=lag)
        if found.last_sweep is not None:
            yield GaugeMetricFamily("okno_worker_last_sweep_age_seconds",
                                    "Seconds since a scheduler worker last finished a sweep",
                                    value=_age(now, found.last_sweep))


def _age(now: datetime, then: datetime) -> float:
    """Seconds from `then` (naive: UTC, as SQLite returns it) to `now`, never negative."""
    then = then if then.tzinfo is not None else then.replace(tzinfo=UTC)
    return max(0.0, (now - then).total_seconds())


class Metrics:
    """One application's metrics: the request and command instruments, the database figures,
    and who may read them."""

    def __init__(self, services: Any) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("okno_http_requests", "HTTP requests answered",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("okno_http_request_duration_seconds",
                                 "Time to answer an HTTP request", ["method", "route"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.commands = Histogram("okno_command_duration_seconds",
                                  "Time a command took, from its unit of work to its commit",
                                  ["action"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.figures = DatabaseFigures(services)
        self.networks = tuple(services.settings.metrics_networks)
        services.cases.observe = self.command_done

    def command_done(self, action: str, seconds: float) -> None:
        self.commands.labels(action or "unknown").observe(seconds)

    def request_done(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def allow(self, request: Request) -> None:
        """404 unless the client may read the metrics (see the module's docstring)."""
        headers = request.headers
        client = request.client.host if request.client else ""
        try:
            address = ipaddress.ip_address(client)
        except ValueError:
            address = None
        if ("x-forwarded-for" in headers or "forwarded" in headers or address is None
                or not any(address in network for network in self.networks)):
            raise ApiError(404, "not found")

    def exposition(self) -> bytes:
        """The metrics in Prometheus's text format: this process's (or, in multiprocess mode,
        every worker's summed) and the database figures."""
        if _shared() is None:
            return generate_latest(self.registry) + generate_latest(_Only(self.figures))
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        registry.register(self.figures)
        return generate_latest(registry)


class _Only(CollectorRegistry):
    """A registry of one collector, for the figures beside the per-process registry."""

    def __init__(self, collector: Collector) -> None:
        super().__init__(auto_describe=False)
        self.register(collector)


class RequestMetrics:
    """ASGI middleware: counts each HTTP request and its time by method, route template and
    status (`Metrics.request_done`). The route is what the router matched (`scope["route"]`)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"] if scope["method"] in METHODS else "other"
            self.metrics.request_done(method, route, status, time.perf_counter() - started)
