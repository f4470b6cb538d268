"""Browser tests' set-up (a pytest plugin, loaded by tests/conftest.py): the app served by a real
uvicorn on loopback, and Debian's chromium driven by Playwright (never a downloaded browser).

- `live` (module-scoped): an `Api` (tests.test_api_support: a real SQLite file, the real catalog,
  the demo users with `PASSWORD`) served on 127.0.0.1 at a free port, in a thread.
- `browser` (one per xdist worker): headless chromium from `CHROMIUM` (`/usr/bin/chromium`, or
  `OKNO_CHROMIUM`). Without it the browser tests are skipped, except under CI (`CI=true`), where a
  missing browser is a failure: `.ci/run` installs it.
- `page` (per test): a fresh context whose every request is checked: anything not addressed to
  the loopback server is aborted and fails the test.
- `sign_in(page, live, user)`, `check_accessible(page)` (axe-core, WCAG 2.1 A and AA: zero
  violations), `screenshot(page, name)` (written to var/screenshots/NAME.png).
"""
from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn

from tests.test_api_support import PASSWORD, Api

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("OKNO_CHROMIUM", "/usr/bin/chromium")
AXE = ROOT / "api" / "pages" / "vendor" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "var" / "screenshots"
# As the machine's notes advise: no background traffic to Google's hosts, no sandbox (root).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


class LiveServer:
    """`api`'s app served by uvicorn on 127.0.0.1 in a daemon thread."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(api.app, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the live server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()

    def __call__(self, path: str) -> str:
        return self.url + path


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[LiveServer]:
    with LiveServer(Api(tmp_path_factory.mktemp("live"))) as server:
        yield server


@pytest.fixture(scope="session")
def browser():
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, request):
    """A page in a fresh context; a request to anything but loopback is aborted and fails the
    test. (`bypass_csp` lets axe-core be injected despite the pages' script policy.)"""
    context = browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 900},
                                  bypass_csp=True, java_script_enabled=_javascript(request))
    outside: list[str] = []

    def guard(route) -> None:
        url = route.request.url
        if urlsplit(url).scheme in ("data", "blob") or urlsplit(url).hostname in (
                "127.0.0.1", "localhost"):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    context.route("**/*", guard)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    tab.okno_javascript = _javascript(request)  # check_accessible needs it on
    yield tab
    context.close()
    assert not outside, f"the page tried to reach the network: {outside}"


def _javascript(request) -> bool:
    marker = request.node.get_closest_marker("no_javascript")
    return marker is None


def sign_in(page, live: LiveServer, user: str, password: str = PASSWORD) -> None:
    """Sign in through the sign-in page as `user` and wait for the page it leads to."""
    page.goto(live("/signin"))
    page.get_by_label("Имя пользователя").fill(user)
    page.get_by_label("Пароль").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Войти").click()


def check_accessible(page) -> None:
    """axe-core's WCAG 2.1 A and AA rules on the page as it is now: zero violations."""
    if not getattr(page, "okno_javascript", True):
        pytest.fail("axe-core runs in the page: it cannot check a page with JavaScript off "
                    "(Playwright's evaluate would wait forever)")
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `make` (npm ci installs the pages' assets)")
    page.evaluate(AXE.read_text(encoding="utf-8"))
    violations = page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}}))"
        ".violations.map(v => ({id: v.id, help: v.help, nodes: v.nodes.map(n => n.target)}))",
        WCAG_AA)
    assert violations == [], f"{page.url}: {violations}"


def screenshot(page, name: str) -> Path:
    """A full-page PNG of `page` in var/screenshots/ (the note names this folder)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
