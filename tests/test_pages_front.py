"""The front door, signing in and out, CSRF: over HTTP, and in chromium (tests/browser.py)."""
from __future__ import annotations

import pytest

from tests.browser import check_accessible, screenshot, sign_in
from tests.pages_support import csrf_of
from tests.test_api_support import PASSWORD, Api


@pytest.fixture
def api(tmp_path) -> Api:
    return Api(tmp_path)


def test_front_door_links_to_sign_in_and_the_stands(api: Api) -> None:
    page = api.client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'href="/signin"' in page.text and 'href="/stand"' in page.text
    assert '<html lang="ru">' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_sign_in_shows_every_error_next_to_its_field_in_russian(api: Api) -> None:
    form = api.client.get("/signin")
    sent = api.client.post("/signin", data={"csrf": csrf_of(form.text), "username": "",
                                            "password": ""})
    assert sent.status_code == 422
    assert 'id="username-error">Введите имя пользователя.' in sent.text
    assert 'id="password-error">Введите пароль.' in sent.text
    assert "Исправьте 2 ошибки" in sent.text
    assert "okno_session" not in sent.cookies


def test_wrong_password_is_refused_and_keeps_the_name(api: Api) -> None:
    form = api.client.get("/signin")
    sent = api.client.post("/signin", data={"csrf": csrf_of(form.text), "username": "clerk",
                                            "password": "wrong"})
    assert sent.status_code == 401
    assert "Неверное имя пользователя или пароль." in sent.text
    assert 'value="clerk"' in sent.text


def test_a_form_without_its_csrf_token_is_refused_before_anything_runs(api: Api) -> None:
    api.client.get("/signin")  # the browser has its CSRF cookie, but the form lacks the token
    sent = api.client.post("/signin", data={"username": "clerk", "password": PASSWORD})
    assert sent.status_code == 403 and "Форма устарела" in sent.text
    assert "okno_session" not in api.client.cookies


def test_sign_in_sets_a_session_cookie_and_goes_back_to_where_the_user_was(api: Api) -> None:
    form = api.client.get("/signin?next=/stand")
    sent = api.client.post("/signin", data={"csrf": csrf_of(form.text), "username": "clerk",
                                            "password": PASSWORD, "next": "/stand"},
                           follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == "/stand"
    cookie = next(h for h in sent.headers.get_list("set-cookie") if h.startswith("okno_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    front = api.client.get("/")
    assert "clerk (специалист)" in front.text
    out = api.client.post("/signout", data={"csrf": csrf_of(front.text)}, follow_redirects=False)
    assert out.status_code == 303
    assert "clerk (специалист)" not in api.client.get("/").text


@pytest.mark.parametrize("target", ["//evil.example/", "/\\evil.example", "https://evil.example/"])
def test_sign_in_never_redirects_to_another_site(api: Api, target: str) -> None:
    form = api.client.get("/signin")
    sent = api.client.post("/signin", data={"csrf": csrf_of(form.text), "username": "clerk",
                                            "password": PASSWORD, "next": target},
                           follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == "/desk"


def test_signing_in_in_the_browser(page, live) -> None:
    page.goto(live("/signin"))
    check_accessible(page)
    page.get_by_role("button", name="Войти").click()
    assert page.locator("#username-error").inner_text() == "Введите имя пользователя."
    screenshot(page, "signin-errors")
    sign_in(page, live, "clerk")
    page.goto(live("/"))
    assert page.get_by_text("clerk (специалист)").is_visible()
    check_accessible(page)
    screenshot(page, "front-door")


@pytest.mark.no_javascript
def test_signing_in_works_with_javascript_off(page, live) -> None:
    page.goto(live("/signin?next=/"))
    page.get_by_label("Имя пользователя").fill("supervisor")
    page.get_by_label("Пароль").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Войти").click()
    assert page.get_by_text("supervisor (руководитель)").is_visible()
