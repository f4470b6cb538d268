"""The analyst's catalog (api/pages/analyst.py): validation state from the files now, the
definition with line numbers, the diagram, the versions and the diff report; over HTTP on a
copy of the catalog that the tests change, and in chromium (tests/browser.py)."""
from __future__ import annotations

import html as htmllib
import re
import shutil
from pathlib import Path

import pytest
from markupsafe import escape

from engine.definition.validation import load_definition, validate_paths
from tests.browser import check_accessible, screenshot, sign_in
from tests.casework import CATALOG
from tests.pages_support import sign_in_client
from tests.test_api_support import Api

NUMBER = "2.1"


@pytest.fixture
def api(tmp_path) -> Api:
    """The app reading a copy of the catalog (tmp/procedures), an analyst signed in."""
    api = Api(tmp_path)
    folder = tmp_path / "procedures"
    shutil.copytree(CATALOG, folder)
    api.services.catalog_path = folder
    sign_in_client(api, "analyst")
    return api


def folder(api: Api) -> Path:
    return api.services.catalog_path


def publish_longer_term(api: Api) -> str:
    """A new version of 2.1 whose term is 10 days instead of 5 (a burden), published an hour
    later; returns its hash."""
    path = folder(api) / f"{NUMBER}.yaml"
    text = path.read_text(encoding="utf-8")
    assert 'max: "5 days"' in text
    path.write_text(text.replace('max: "5 days"', 'max: "10 days"'), encoding="utf-8")
    api.clock.advance(hours=1)
    proc = load_definition(path.read_bytes(), str(path), base_dir=path.parent)
    assert api.services.versions.publish([proc]) == [proc.version]
    return proc.version


@pytest.mark.parametrize("user", ["clerk", "supervisor", "auditor", "ivan"])
def test_only_an_analyst_sees_the_catalog(tmp_path, user: str) -> None:
    api = Api(tmp_path)
    sign_in_client(api, user)
    for path in ("/analyst", f"/analyst/procedures/{NUMBER}", f"/analyst/procedures/{NUMBER}/diagram.bpmn",
                 "/analyst/diff?from=current"):
        page = api.client.get(path)
        assert page.status_code == 403 and "недоступна для вашей роли" in page.text, path


def test_the_catalog_lists_every_procedure_with_its_state(api: Api) -> None:
    page = api.client.get("/analyst")
    assert page.status_code == 200
    for number, state in api.services.versions.current_versions().items():
        proc = api.services.versions.get(state)
        assert f'href="/analyst/procedures/{number}"' in page.text
        assert htmllib.escape(proc.name) in page.text
    assert "Все определения верны." in page.text


def test_a_broken_file_shows_the_validators_problems_with_file_and_line(api: Api) -> None:
    path = folder(api) / f"{NUMBER}.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace('max: "5 days"', 'max: "five days"'),
                    encoding="utf-8")
    _, problems = validate_paths([path])  # what `okno validate` prints
    assert problems
    listing = api.client.get("/analyst").text
    assert "С ошибками: 1." in listing
    page = api.client.get(f"/analyst/procedures/{NUMBER}")
    assert page.status_code == 200
    for p in problems:
        assert f"procedures/{NUMBER}.yaml:{p.line}:{p.column}</code></a> {escape(p.message)}" in page.text
        assert re.search(rf'<li id="L{p.line}" class="bad">', page.text)
    # The published version is still the one cases run; only the file is wrong.
    assert "Опубликованные версии" in page.text


def test_the_definition_is_shown_escaped_with_line_numbers(api: Api) -> None:
    path = folder(api) / f"{NUMBER}.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([*lines, "# <script>alert(1)</script>"]) + "\n", encoding="utf-8")
    page = api.client.get(f"/analyst/procedures/{NUMBER}").text
    assert "<script>alert(1)</script>" not in page
    assert f'<li id="L{len(lines) + 1}"><code># &lt;script&gt;alert(1)&lt;/script&gt;</code></li>' in page
    assert f'<li id="L1"><code>{htmllib.escape(lines[0])}</code></li>' in page
    # A comment changes the file, not the definition: same content hash, nothing to publish.
    assert "Определение верно." in page and "Файл изменён после публикации" not in page


def test_the_diagram_is_the_bpmn_the_version_runs_and_downloads_without_javascript(api: Api) -> None:
    page = api.client.get(f"/analyst/procedures/{NUMBER}").text
    assert 'src="/static/vendor/bpmn-js/bpmn-viewer.production.min.js"' in page
    assert 'src="/static/pages/analyst.js"' in page and "<script>" not in page
    assert f'href="/analyst/procedures/{NUMBER}/diagram.bpmn" download' in page
    xml = api.client.get(f"/analyst/procedures/{NUMBER}/diagram.bpmn")
    assert xml.status_code == 200 and xml.headers["content-type"].startswith("application/xml")
    assert xml.headers["content-disposition"] == f'attachment; filename="{NUMBER}.bpmn"'
    assert "BPMNDiagram" in xml.text and "BPMNShape" in xml.text
    assert xml.text == api.services.versions.current(NUMBER).pinned_xml
    assert api.client.get("/analyst/procedures/9.9.9/diagram.bpmn").status_code == 404
    assert api.client.get(f"/analyst/procedures/{NUMBER}/diagram.bpmn?version={'0' * 64}").status_code == 404


def test_versions_are_listed_with_hash_and_date_and_compared(api: Api) -> None:
    first = api.services.versions.current(NUMBER).version
    second = publish_longer_term(api)
    page = api.client.get(f"/analyst/procedures/{NUMBER}").text
    assert page.index(second) < page.index(first)  # the newest first
    assert "18.06.2025 10:00" in page and "18.06.2025 09:00" in page
    report = api.client.get(f"/analyst/procedures/{NUMBER}/diff?from={first}&to={second}")
    assert report.status_code == 200
    text = report.text
    assert "Есть обременения: 1." in text
    assert ('<tr class="burden"><td class="cls">▲ обременение</td>'
            '<td>Срок увеличен: 5 дней → 10 дней</td>') in text
    assert f"Было: <b>версия {first[:12]}</b>" in text


def test_the_whole_catalog_compared_at_two_dates(api: Api) -> None:
    publish_longer_term(api)
    # The day before anything was published: every procedure is new (a burden each).
    page = api.client.get("/analyst/diff?from=17.06.2025&to=current")
    assert page.status_code == 200
    count = len(api.services.versions.current_versions())
    assert "Было: <b>каталог на 17.06.2025</b> (0 процедур)" in page.text
    assert f"Есть обременения: {count}." in page.text
    same = api.client.get("/analyst/diff?from=2025-06-18&to=2025-06-18")
    assert "Изменений нет." in same.text


@pytest.mark.parametrize(("query", "field"), [("from=yesterday", "from"),
                                              ("from=2025-02-30", "from"),
                                              (f"from=current&to={'a' * 64}", "to"),
                                              ("to=current", "from")])
def test_a_wrong_side_is_refused_next_to_its_field(api: Api, query: str, field: str) -> None:
    page = api.client.get(f"/analyst/procedures/{NUMBER}/diff?{query}")
    assert page.status_code == 422
    assert re.search(rf'id="{field}-error">[А-Яа-я«]', page.text)
    assert "Исправьте 1 ошибку" in page.text


def test_an_unknown_procedure_is_a_404_page(api: Api) -> None:
    for path in ("/analyst/procedures/99.99", "/analyst/procedures/x%3Cb%3E",
                 "/analyst/procedures/99.99/diff?from=current"):
        page = api.client.get(path)
        assert page.status_code == 404 and "Процедура не найдена" in page.text, path


def test_a_published_procedure_whose_file_is_gone(api: Api) -> None:
    (folder(api) / f"{NUMBER}.yaml").unlink()
    assert "файла нет" in api.client.get("/analyst").text
    page = api.client.get(f"/analyst/procedures/{NUMBER}")
    assert page.status_code == 200 and "Файла определения нет." in page.text


# ------------------------------------------------------------------------------------ browser

def test_the_analysts_procedure_page_draws_the_diagram(page, live) -> None:
    sign_in(page, live, "analyst")
    page.goto(live(f"/analyst/procedures/{NUMBER}"))
    page.locator("#diagram svg .djs-element").first.wait_for()
    assert page.get_by_role("status").inner_text() == "Схема загружена."
    assert page.locator("#diagram .djs-shape").count() >= 4  # start, the steps, the ends
    check_accessible(page)
    screenshot(page, "analyst-procedure")
    page.goto(live("/analyst"))
    check_accessible(page)
    screenshot(page, "analyst-catalog")
    page.get_by_label("Было").fill("01.01.2025")  # before anything was published
    with page.expect_navigation():
        page.get_by_role("button", name="Сравнить").click()
    assert page.get_by_text("▲ обременение").first.is_visible()
    check_accessible(page)
    screenshot(page, "analyst-diff")


@pytest.mark.no_javascript
def test_without_javascript_the_diagram_is_a_download(page, live) -> None:
    sign_in(page, live, "analyst")
    page.goto(live(f"/analyst/procedures/{NUMBER}"))
    assert not page.locator("#diagram").is_visible()
    link = page.get_by_role("link", name="Скачать схему (BPMN 2.0, .bpmn)")
    assert link.get_attribute("href") == f"/analyst/procedures/{NUMBER}/diagram.bpmn"
    page.get_by_label("Было").first.select_option(index=0)
    with page.expect_navigation():
        page.get_by_role("button", name="Сравнить").first.click()
    assert "Изменений нет." in page.content()
