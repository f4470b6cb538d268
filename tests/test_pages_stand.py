"""The one-window information stand (api/pages/stand.py): over HTTP, and in chromium."""
from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from engine.authorities.validation import load_authorities
from engine.definition.build import build_procedure
from engine.definition.data_file import Reloading
from engine.definition.procedure import Procedure
from engine.diff.wording import CHANNEL_RU
from tests.browser import check_accessible, screenshot
from tests.test_api_support import Api, catalog

ROOT = Path(__file__).resolve().parent.parent
SOVETSKY = "minsk-sovetsky"
# The sections the Ministry of Justice recommendations ask for on each procedure's stand.
SECTIONS = ("Куда обращаться", "Документы и (или) сведения, представляемые гражданином",
            "Документы и (или) сведения, запрашиваемые органом самостоятельно",
            "Срок осуществления административной процедуры",
            "Срок действия справки, другого документа (решения)", "Размер платы",
            "Формы и образцы документов", "Режим приема граждан", "Прием граждан осуществляет",
            "Вышестоящий орган", "Права гражданина и порядок обжалования")


@pytest.fixture
def api(tmp_path) -> Api:
    return Api(tmp_path)


def text_of(page_html: str) -> str:
    """The page's text, tags dropped and spaces folded (what a reader sees, roughly)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page_html)).split())


def headings(page_html: str, level: int) -> list[str]:
    return [text_of(h) for h in re.findall(rf"<h{level}[^>]*>(.*?)</h{level}>", page_html, re.S)]


def json_ld(page_html: str) -> dict:
    [data] = re.findall(r'<script type="application/ld\+json">(.*?)</script>', page_html, re.S)
    return json.loads(data)


def changed(proc: Procedure, **changes) -> Procedure:
    """A new version of `proc` with top-level definition keys changed."""
    data = {**proc.definition, **changes}
    return build_procedure(data, proc.source)


# ------------------------------------------------------------------------------------ HTTP

def test_the_index_and_the_front_door_list_every_authority(api: Api) -> None:
    authorities = list(load_authorities(ROOT / "authorities"))
    index = api.client.get("/stand")
    front = api.client.get("/")
    assert index.status_code == 200 and "script-src 'self'" in index.headers["content-security-policy"]
    for authority in authorities:
        link = f'href="/stand/{authority.id}"'
        assert link in index.text and link in front.text
        assert html.escape(authority.name, quote=False) in index.text


def test_an_authority_page_shows_its_procedures_reception_officer_and_superior(api: Api) -> None:
    page = api.client.get(f"/stand/{SOVETSKY}")
    assert page.status_code == 200
    text = text_of(page.text)
    assert headings(page.text, 1) == ["Администрация Советского района г. Минска"]
    for number in ("1.1.5", "1.1.7", "1.3.1", "5.1", "5.2"):  # its kind's, and 5.2 included
        assert f'href="/stand/{SOVETSKY}/{number}"' in page.text
        assert catalog()[number].name in text
    assert f'href="/stand/{SOVETSKY}/13.2"' not in page.text  # excluded
    assert "ул. Калинина, 7, 220012, г. Минск" in text and "+375 17 292-00-00" in text
    assert "Понедельник 08:00–20:00" in text and "Воскресенье приема нет" in text
    assert "Петрова Наталья Викторовна , начальник службы «одно окно»" in text
    assert "Сидоренко Ольга Михайловна" in text  # the deputy
    assert 'href="/stand/minsk-gik">Минский городской исполнительный комитет' in page.text
    assert "приведены для примера" in text  # illustrative data say so


def test_a_procedure_page_has_every_required_section(api: Api) -> None:
    proc = catalog()["1.1.5"]
    page = api.client.get(f"/stand/{SOVETSKY}/1.1.5")
    assert page.status_code == 200
    assert headings(page.text, 1) == [proc.name]  # exactly as in the list
    assert [h for h in headings(page.text, 2) if h in SECTIONS] == list(SECTIONS)
    text = text_of(page.text)
    for doc in proc.documents:
        assert " ".join(doc.title.split()) in text
    requested = re.search(r'<section aria-labelledby="requested" class="requested">(.*?)</section>',
                          page.text, re.S).group(1)
    assert "Гражданин вправе представить их самостоятельно" in text_of(requested)
    for doc in proc.requested_documents:
        assert f"<strong>{html.escape(doc.title, quote=False)}</strong>" in requested
        assert " ".join(doc.source.split()) in text_of(requested)
    assert "Срок осуществления административной процедуры 1 месяц." in text
    assert "бессрочно" in text  # validity
    assert "Бесплатно." in text
    assert proc.definition["result"]["form"] in text  # the form the definition names
    assert "Петрова Наталья Викторовна" in text and "Минский городской исполнительный комитет" in text
    assert (f"может быть обжаловано в {proc.appeal.superior_body} в течение 12 месяцев, а также в "
            "суд") in text
    for ground in proc.refusal_grounds:
        assert " ".join(ground.title.split()) in text


def test_the_fee_is_shown_in_base_units_and_in_roubles_today(api: Api) -> None:
    text = text_of(api.client.get(f"/stand/{SOVETSKY}/5.2").text)  # the app's clock: 18.06.2025
    assert "1 базовая величина — 42,00 руб." in text
    assert "Базовая величина на 18.06.2025 — 42,00 руб. (действует с 01.01.2025)" in text


def test_a_procedure_page_carries_government_service_json_ld(api: Api) -> None:
    proc = catalog()["5.2"]
    data = json_ld(api.client.get(f"/stand/{SOVETSKY}/5.2").text)
    assert data["@context"] == "https://schema.org" and data["@type"] == "GovernmentService"
    assert (data["identifier"], data["name"]) == ("5.2", proc.name)
    assert data["url"].endswith(f"/stand/{SOVETSKY}/5.2")
    provider = data["provider"]
    assert provider["@type"] == "GovernmentOrganization" and provider["identifier"] == SOVETSKY
    assert provider["name"] == "Администрация Советского района г. Минска"
    assert provider["parentOrganization"]["identifier"] == "minsk-gik"
    assert data["offers"] == [{"@type": "Offer", "name": proc.name, "priceCurrency": "BYN",
                               "price": "42.00", "description": "1 базовая величина",
                               "validFrom": "2025-06-18"}]
    monday = [h for h in data["hoursAvailable"] if h["dayOfWeek"] == "https://schema.org/Monday"]
    assert monday == [{"@type": "OpeningHoursSpecification", "dayOfWeek": "https://schema.org/Monday",
                       "opens": "08:00", "closes": "20:00"}]
    assert [c["name"] for c in data["availableChannel"]] == [CHANNEL_RU[c] for c in proc.channels]
    assert data["availableChannel"][0]["serviceLocation"]["address"] == provider["address"]


def test_json_ld_cannot_close_its_script_element(api: Api) -> None:
    proc = catalog()["1.1.7"]
    name = "Снятие с учета</script><script>alert(1)</script><!--"
    hostile = changed(proc, name={"ru": name})
    api.services.versions.publish([hostile])
    try:
        page = api.client.get(f"/stand/{SOVETSKY}/1.1.7").text
        script = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S).group(1)
        assert "<" not in script and ">" not in script
        assert json_ld(page)["name"] == name  # the same text, escaped
        assert "<script>alert(1)" not in page  # and escaped in the HTML too
    finally:
        api.services.versions.publish([proc])


def test_a_changed_definition_shows_on_the_next_request(api: Api) -> None:
    proc = catalog()["1.3.1"]
    before = text_of(api.client.get(f"/stand/{SOVETSKY}/1.3.1").text)
    assert "Срок действия справки, другого документа (решения) 6 месяцев." in before
    api.services.versions.publish([changed(proc, validity={"kind": "duration",
                                                           "duration": "12 months"})])
    after = text_of(api.client.get(f"/stand/{SOVETSKY}/1.3.1").text)
    assert "Срок действия справки, другого документа (решения) 12 месяцев." in after


def test_the_stand_cites_the_source_of_the_row(api: Api) -> None:
    proc = catalog()["1.1.5"]
    page = api.client.get(f"/stand/{SOVETSKY}/1.1.5").text
    cited = text_of(re.search(r'<p id="citation">(.*?)</p>', page, re.S).group(1))
    assert proc.citation.act in cited and "сверено 02.12.2026" in cited
    assert "с официальным текстом не сверено" in cited  # kind unverified, said so
    assert f'href="{html.escape(proc.citation.url)}"' in page
    api.services.versions.publish([changed(proc, source={
        "kind": "official", "act": "Указ № 200, подп. 1.1.5", "edition": "2024-06-17",
        "checked": "2027-01-10"})])
    cited = text_of(re.search(r'<p id="citation">(.*?)</p>',
                              api.client.get(f"/stand/{SOVETSKY}/1.1.5").text, re.S).group(1))
    assert cited == "Указ № 200, подп. 1.1.5, редакция от 17.06.2024; сверено 10.01.2027."


def test_the_stand_says_which_body_receives_and_which_decides(api: Api) -> None:
    proc = catalog()["1.1.5"]
    assert 'id="bodies"' not in api.client.get(f"/stand/{SOVETSKY}/1.1.5").text  # all do both
    api.services.versions.publish([changed(proc, authorities=[
        {"kind": "local_executive_committee", "title": "исполнительный комитет", "role": "receives"},
        {"kind": "other", "title": "комиссия по жилищным вопросам", "role": "decides"}])])
    bodies = text_of(re.search(r'<ul id="bodies">(.*?)</ul>',
                               api.client.get(f"/stand/{SOVETSKY}/1.1.5").text, re.S).group(1))
    assert bodies == ("исполнительный комитет — принимает заявление "
                      "комиссия по жилищным вопросам — принимает решение")


def test_a_changed_authorities_file_shows_on_the_next_request(api: Api, tmp_path) -> None:
    folder = tmp_path / "authorities"
    folder.mkdir()
    for name in ("minsk-sovetsky", "minsk-gik"):
        (folder / f"{name}.yaml").write_bytes((ROOT / "authorities" / f"{name}.yaml").read_bytes())
    api.services.authorities = Reloading(folder, load_authorities, interval=0)
    assert "+375 17 292-00-00" in api.client.get(f"/stand/{SOVETSKY}").text
    path = folder / "minsk-sovetsky.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("292-00-00", "292-99-99"),
                    encoding="utf-8")
    assert "+375 17 292-99-99" in api.client.get(f"/stand/{SOVETSKY}").text


@pytest.mark.parametrize("path", ["/stand/nowhere", f"/stand/{SOVETSKY}/13.2",
                                  f"/stand/{SOVETSKY}/99.9", "/stand/" + "x" * 5000])
def test_what_no_stand_shows_is_a_404_page(api: Api, path: str) -> None:
    page = api.client.get(path)
    assert page.status_code == 404 and "<h1>Страница не найдена</h1>" in page.text


def test_the_stand_needs_no_sign_in_and_shows_who_is_signed_in(api: Api) -> None:
    assert api.client.get(f"/stand/{SOVETSKY}/1.1.5").status_code == 200
    assert "clerk (специалист)" not in api.client.get("/stand").text


# --------------------------------------------------------------------------------- chromium

def test_the_stand_in_the_browser(page, live) -> None:
    page.goto(live("/stand"))
    check_accessible(page)
    screenshot(page, "stand-index")
    page.get_by_role("link", name="Администрация Советского района г. Минска").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Администрация Советского района г. Минска"
    check_accessible(page)
    screenshot(page, "stand-authority")
    name = catalog()["1.1.5"].name
    page.get_by_role("link", name=re.compile(re.escape(name))).click()
    assert page.get_by_role("heading", level=1).inner_text() == name
    for section in SECTIONS:
        assert page.get_by_role("heading", level=2, name=section).is_visible()
    requested = page.locator("section.requested")
    assert requested.evaluate("e => getComputedStyle(e).borderTopWidth") == "3px"
    assert int(page.locator("section.requested li strong").first.evaluate(
        "e => getComputedStyle(e).fontWeight")) >= 700
    body = page.locator("section#presented, section[aria-labelledby=presented] li").first
    assert float(body.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 20  # 15 pt
    check_accessible(page)
    screenshot(page, "stand-procedure")
    page.emulate_media(media="print")
    assert float(body.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 20
    assert not page.locator("header.site").is_visible()
    screenshot(page, "stand-procedure-print")


def test_a_published_change_shows_after_a_reload(page, live) -> None:
    proc = catalog()["1.1.7"]
    versions = live.api.services.versions
    page.goto(live(f"/stand/{SOVETSKY}/1.1.7"))
    assert "15 дней" in page.locator("section[aria-labelledby=term]").inner_text()
    versions.publish([changed(proc, term={"max": "10 days"})])
    try:
        page.reload()
        assert "10 дней" in page.locator("section[aria-labelledby=term]").inner_text()
    finally:
        versions.publish([proc])


@pytest.mark.no_javascript
def test_the_stand_works_with_javascript_off(page, live) -> None:
    page.goto(live("/"))
    page.get_by_role("link", name="Администрация Фрунзенского района г. Минска").click()
    page.get_by_role("link", name=re.compile(re.escape(catalog()["5.2"].name))).click()
    assert page.get_by_role("heading", level=1).inner_text() == catalog()["5.2"].name
    assert "42,00 руб." in page.locator("section[aria-labelledby=fee]").inner_text()
