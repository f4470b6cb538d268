"""GET /metrics (api/metrics.py, engine/read/metrics.py): requests by route template, command
durations, the database figures (cached), who may read them, and the sums over the workers of a
real `okno serve --workers 2`.

In-process tests drive the app on a real SQLite file (tests.test_api_support.Api) from the
client address they choose; the scraped text is parsed with prometheus_client's own parser.
"""
from __future__ import annotations

import os
import re
from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from engine.runtime.scheduler import sweep
from tests import serving
from tests.serving import okno_serve
from tests.test_api_support import ORG_A, ORG_B, Api, TestClient, Ticker


def scrape(client: TestClient | httpx.Client, **headers: str) -> dict[tuple[str, tuple], float]:
    r = client.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


@pytest.fixture
def api(tmp_path) -> Api:
    return Api(tmp_path)


def local(api: Api, address: str = "127.0.0.1") -> TestClient:
    return TestClient(api.app, client=(address, 40000), raise_server_exceptions=False)


def test_requests_are_counted_by_route_template_and_status(api: Api) -> None:
    case = api.start("2.2")
    for _ in range(3):
        assert api.get(f"/api/cases/{case['id']}").status_code == 200
    assert api.get("/api/cases/no-such-case").status_code == 404
    assert api.get("/no/such/path/42", user=None).status_code == 404
    samples = scrape(local(api))
    route = "/api/cases/{case_id}"
    assert value(samples, "okno_http_requests_total", method="GET", route=route, status="200") == 3
    assert value(samples, "okno_http_requests_total", method="GET", route=route, status="404") == 1
    assert value(samples, "okno_http_requests_total", method="POST", route="/api/cases",
                 status="201") == 1
    assert value(samples, "okno_http_requests_total", method="GET", route="unmatched",
                 status="404") == 1
    assert value(samples, "okno_http_request_duration_seconds_count", method="GET", route=route) == 4
    assert not any(case["id"] in str(key) for key in samples)  # no path is ever a label


def test_commands_are_timed_by_action(api: Api) -> None:
    case = api.start("2.2")
    task = api.open_tasks(case["id"])[0]
    assert api.complete(case["id"], task, "2.2").status_code == 200
    samples = scrape(local(api))
    assert value(samples, "okno_command_duration_seconds_count", action="start") == 1
    assert value(samples, "okno_command_duration_seconds_count", action="complete") == 1
    assert value(samples, "okno_command_duration_seconds_sum", action="start") > 0


def test_the_database_figures_are_global_and_cached(api: Api) -> None:
    ticker = Ticker()
    figures = api.app.state.metrics.figures
    figures.clock = ticker
    first = api.start("2.2")  # one open task (intake) in ORG_A
    samples = scrape(local(api))
    assert value(samples, "okno_open_tasks", authority=ORG_A) == 1
    assert value(samples, "okno_open_tasks", authority=ORG_B) == 0
    assert value(samples, "okno_overdue_cases", authority=ORG_A) == 0
    assert value(samples, "okno_timer_lag_seconds") == 0
    assert value(samples, "okno_worker_last_sweep_age_seconds") is None  # no worker swept yet
    api.complete(first["id"], api.open_tasks(first["id"])[0], "2.2")  # a 3-day timer waits
    api.start("2.2")
    for _ in range(5):
        assert value(scrape(local(api)), "okno_open_tasks", authority=ORG_A) == 1  # cached
    assert figures.reads == 1
    ticker.t += 10
    api.clock.advance(days=10)  # the timer is due, both cases are past their 5-day term
    samples = scrape(local(api))
    assert figures.reads == 2
    assert value(samples, "okno_open_tasks", authority=ORG_A) == 2
    assert value(samples, "okno_overdue_cases", authority=ORG_A) == 2
    assert value(samples, "okno_overdue_unmarked_cases") == 2
    assert value(samples, "okno_timer_lag_seconds") == timedelta(days=7).total_seconds()
    sweep(api.services.cases, worker="test-worker")
    api.clock.advance(seconds=30)
    ticker.t += 10
    samples = scrape(local(api))
    assert value(samples, "okno_timer_lag_seconds") == 0
    assert value(samples, "okno_overdue_unmarked_cases") == 0
    assert value(samples, "okno_overdue_cases", authority=ORG_A) == 2  # open and late, marked now
    assert value(samples, "okno_worker_last_sweep_age_seconds") == 30


@pytest.mark.parametrize("address", ["203.0.113.9", "10.1.2.3", "testclient"])
def test_other_addresses_get_a_404(api: Api, address: str) -> None:
    r = local(api, address).get("/metrics")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert "okno_" not in r.text


def test_a_request_through_a_proxy_is_refused_even_from_loopback(api: Api) -> None:
    for header in ("X-Forwarded-For", "Forwarded"):
        r = local(api).get("/metrics", headers={header: "198.51.100.7"})
        assert r.status_code == 404
    assert local(api, "::1").get("/metrics").status_code == 200


def test_the_allowed_networks_are_a_setting(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("OKNO_METRICS_NETWORKS", "203.0.113.0/24")
    api = Api(tmp_path)
    assert local(api, "203.0.113.9").get("/metrics").status_code == 200
    assert local(api, "127.0.0.1").get("/metrics").status_code == 404  # loopback only by default


def test_two_workers_report_the_sums_over_both(tmp_path, monkeypatch) -> None:
    """`okno serve --workers 2`: whichever worker answers a scrape, it reports every request
    both served (prometheus_client's multiprocess files in one folder)."""
    monkeypatch.setattr(serving, "STARTUP", 3 * serving.STARTUP)  # two spawned workers start
    folder = tmp_path / "metrics"
    folder.mkdir()
    with okno_serve(tmp_path, env={"PROMETHEUS_MULTIPROC_DIR": str(folder)},
                    args=("--workers", "2")) as served:
        for _ in range(40):  # a new connection each time: the kernel spreads them over both
            with httpx.Client(base_url=served.base) as one:
                assert one.get("/health").status_code == 200
        pids = {re.search(r"_(\d+)\.db$", name).group(1) for name in os.listdir(folder)
                if name.startswith("counter_")}
        assert len(pids) == 2  # both workers counted requests
        counts = set()
        for _ in range(6):
            with httpx.Client(base_url=served.base) as one:
                counts.add(value(scrape(one), "okno_http_requests_total", method="GET",
                                 route="/health", status="200"))
    assert counts == {40.0}  # every scrape, from either worker, saw all 40
