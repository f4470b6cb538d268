"""Shared set-up for the clerk's page tests over HTTP: signing a TestClient in, reading a page's
CSRF token. Not a test module itself."""
from __future__ import annotations

import re

from tests.test_api_support import PASSWORD, Api


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]{64})"', html).group(1)


def sign_in_client(api: Api, user: str) -> None:
    """Sign `api.client` in as `user` through the sign-in page (a session cookie)."""
    api.client.cookies.clear()
    form = api.client.get("/signin")
    sent = api.client.post("/signin", data={"csrf": csrf_of(form.text), "username": user,
                                            "password": PASSWORD}, follow_redirects=False)
    assert sent.status_code == 303, sent.text


def post_form(api: Api, page: str, action: str, data: dict | None = None, **kw):
    """POST `data` to `action` with the CSRF token of `page` (as a browser would)."""
    token = csrf_of(api.client.get(page).text)
    return api.client.post(action, data={"csrf": token, **(data or {})}, **kw)
