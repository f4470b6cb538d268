"""/docs and /redoc work offline: their scripts and styles come from the app, not a CDN."""
from __future__ import annotations

import re

import pytest

from tests.test_api_support import Api


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Api:
    return Api(tmp_path_factory.mktemp("docs"))


ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
CALL_URL = re.compile(r"""url:\s*['"]([^'"]+)['"]""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_page_loads_only_local_assets(api: Api, page: str) -> None:
    r = api.client.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "http://" not in html and "https://" not in html and "cdn" not in html.lower()
    assets = [a for a in ASSET.findall(html) if not a.startswith("#")]
    assert any(a.endswith(".js") for a in assets), assets
    if page == "/docs":
        assert any(a.endswith(".css") for a in assets), assets
    for asset in assets:
        got = api.client.get(asset)
        assert got.status_code == 200 and got.content, asset
    for url in CALL_URL.findall(html):  # the OpenAPI document the page asks for
        assert api.client.get(url).status_code == 200, url


def test_the_oauth2_redirect_page_is_served(api: Api) -> None:
    r = api.client.get("/docs/oauth2-redirect")
    assert r.status_code == 200 and "https://" not in r.text and "http://" not in r.text
