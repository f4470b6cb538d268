"""Fee tables (docs/authoring.md, "Fee tables"): a fee priced by intake choice fields at once,
checked with file:line errors, owed by a case from its intake data, diffed cell by cell, shown
on the stand and in the case JSON. 6.1.1 is the real row: citizenship × document type."""
from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

from engine.authorities.validation import load_authorities
from engine.definition.build import build_procedure
from engine.definition.data_file import Reloading
from engine.definition.validation import check_definition
from engine.diff.pairing import diff_catalogs
from engine.read.queries import case_view
from tests.casework import Engine, catalog, sample_form
from tests.pages_support import sign_in_client
from tests.test_api_support import Api, task_data

ROOT = Path(__file__).resolve().parent.parent
YAML = (ROOT / "procedures" / "6.1.1.yaml").read_text(encoding="utf-8")
CELLS = """    - when: {applicant: citizen_by, document: general_certificate}
      base_units: 0.1
    - when: {applicant: citizen_by, document: other}
      base_units: 0.2
    - when: {applicant: foreign, document: [general_certificate, other]}
      base_units: 1
    - when: {document: [supplement, training]}
      base_units: 0
"""


def problems(text: str) -> list[tuple[int, str]]:
    proc, found = check_definition(text.encode("utf-8"), "6.1.1.yaml")
    assert proc is None
    return [(p.line, p.message) for p in found]


def line_of(text: str, fragment: str) -> int:
    """The 1-based line where `fragment` first occurs in `text`."""
    return text[: text.index(fragment)].count("\n") + 1


def replaced(old: str, new: str) -> str:
    assert YAML.count(old) == 1, old
    return YAML.replace(old, new)


# ------------------------------------------------------------------------------- the format

def test_the_real_table_of_6_1_1_is_valid_and_prices_every_combination() -> None:
    proc, found = check_definition(YAML.encode("utf-8"), "6.1.1.yaml")
    assert found == [] and proc is not None
    assert CELLS in YAML  # the table the tests below edit
    fee = proc.fee
    assert fee.kind == "table" and fee.axes == ("applicant", "document")
    owed = {(a, d): fee.amount(values={"applicant": a, "document": d})
            for a in ("citizen_by", "foreign")
            for d in ("general_certificate", "other", "supplement", "training")}
    assert owed == {("citizen_by", "general_certificate"): 0.1, ("citizen_by", "other"): 0.2,
                    ("citizen_by", "supplement"): 0, ("citizen_by", "training"): 0,
                    ("foreign", "general_certificate"): 1, ("foreign", "other"): 1,
                    ("foreign", "supplement"): 0, ("foreign", "training"): 0}
    assert fee.amount(values={"applicant": "foreign"}) is None  # the document not yet chosen
    assert fee.amount(exempt=True, values={}) == 0


def test_an_axis_that_is_not_a_choice_field_of_the_intake_is_refused_at_its_line() -> None:
    text = replaced("axes: [applicant, document]", "axes: [citizenship, document]")
    found = problems(text)
    assert found[0] == (line_of(text, "axes:"), "axis 'citizenship' is not a choice field of the "
                        "intake step; its choice fields: ['applicant', 'document', 'reason']")
    # and every cell that names the old axis says so at its own line
    assert found[1] == (line_of(text, "applicant: citizen_by"),
                        "'applicant' is not an axis of the table: ['citizenship', 'document']")
    text = replaced("axes: [applicant, document]", "axes: [graduation_year, document]")
    assert problems(text)[0][1].startswith("axis 'graduation_year' is not a choice field")


def test_an_axis_field_must_be_required() -> None:
    text = replaced("""      - id: document
        title: "Дубликат какого документа выдается"
        type: choice
        required: true""", """      - id: document
        title: "Дубликат какого документа выдается"
        type: choice
        required: false""")
    assert problems(text) == [(line_of(text, "axes:"),
                               "axis 'document': the intake field must be required: true")]


def test_a_cell_value_that_is_not_a_choice_of_its_field_is_refused_at_its_line() -> None:
    text = replaced("{applicant: citizen_by, document: other}",
                    "{applicant: citizen_by, document: diploma}")
    assert problems(text) == [(line_of(text, "document: diploma"),
                               "'diploma' is not a choice of field 'document': "
                               "['general_certificate', 'other', 'supplement', 'training']")]
    text = replaced("{applicant: citizen_by, document: other}",
                    "{applicant: citizen_by, reason: lost}")
    assert problems(text)[0] == (line_of(text, "reason: lost"),
                                 "'reason' is not an axis of the table: ['applicant', 'document']")


def test_a_combination_no_cell_prices_is_a_gap() -> None:
    text = replaced("""    - when: {document: [supplement, training]}
      base_units: 0
""", "")
    assert problems(text) == [(line_of(text, "  cells:"), (
        "no cell prices applicant=citizen_by, document=supplement; applicant=citizen_by, "
        "document=training; applicant=foreign, document=supplement; applicant=foreign, "
        "document=training"))]


def test_a_combination_two_cells_price_is_an_overlap() -> None:
    text = replaced("{document: [supplement, training]}", "{document: [supplement, training, other]}")
    assert problems(text) == [(line_of(text, "- when: {document: [supplement"),
                               "overlaps cell 2: both price applicant=citizen_by, document=other")]


def test_a_table_is_bounded_in_cells_and_axes() -> None:
    many = "".join(f"    - when: {{applicant: citizen_by}}\n      base_units: {i}\n" for i in range(201))
    text = replaced(CELLS, many)
    [(line, message)] = problems(text)
    assert line == line_of(text, "  cells:") and "long" in message
    text = replaced("axes: [applicant, document]", "axes: [applicant, document, reason, name_changed]")
    [(line, message)] = problems(text)
    assert line == line_of(text, "axes:")


def test_a_table_fee_does_not_go_with_service_options() -> None:
    option = """options:
  - id: general
    title: "обычный порядок"
    term: {max: "15 days"}
    fee:
      kind: table
      axes: [applicant]
      cells: [{when: {applicant: citizen_by}, base_units: 0.1}, {when: {applicant: foreign}, base_units: 1}]
term:
"""
    text = replaced("term:\n  max", option + "  max")
    found = problems(text)
    assert (line_of(text, "      kind: table"), "a service option's fee cannot be a table") in found
    assert (line_of(text, "  kind: table"),
            "a procedure with service options cannot have a table fee") in found


# ----------------------------------------------------------------------------------- a case

def _intake(eng: Engine, **values: str) -> str:
    case_id = eng.start("6.1.1")
    proc = eng.versions.current("6.1.1")
    [task] = eng.open_tasks(case_id)
    eng.present_documents(case_id)
    eng.cases.complete_task(case_id, task["id"], {**sample_form(proc.step("intake").fields),
                                                  **values}, actor="clerk-1")
    return case_id


@pytest.mark.parametrize(("applicant", "document", "owed"), [
    ("foreign", "other", 1), ("foreign", "general_certificate", 1),
    ("citizen_by", "general_certificate", 0.1), ("citizen_by", "other", 0.2),
    ("citizen_by", "supplement", 0), ("foreign", "training", 0)])
def test_a_case_owes_the_cell_its_intake_data_name(tmp_path, applicant, document, owed) -> None:
    eng = Engine(tmp_path / "t.db")
    before = eng.start("6.1.1")
    fee = case_view(eng.db, before, eng.versions)["fee"]
    assert fee == {"kind": "table", "base_units": None, "category": None, "exempt": False,
                   "cell": None}  # unknown until intake: never a wrong number
    case_id = _intake(eng, applicant=applicant, document=document)
    assert eng.case(case_id)["fee"] == owed
    assert case_view(eng.db, case_id, eng.versions)["fee"] == {
        "kind": "table", "base_units": owed, "category": None, "exempt": False,
        "cell": {"applicant": applicant, "document": document}}


def test_an_exempt_applicant_owes_nothing_whatever_the_cell(tmp_path) -> None:
    data = copy.deepcopy(catalog()["6.1.1"].definition)
    data["fee"]["exemptions"] = [{"id": "orphans", "title": "дети-сироты"}]
    eng = Engine(tmp_path / "e.db", procedures={"6.1.1": build_procedure(data, "6.1.1.yaml")})
    case_id = eng.start("6.1.1", exempt=True)
    assert case_view(eng.db, case_id, eng.versions)["fee"]["base_units"] == 0
    [task] = eng.open_tasks(case_id)
    eng.present_documents(case_id)
    proc = eng.versions.current("6.1.1")
    eng.cases.complete_task(case_id, task["id"], {**sample_form(proc.step("intake").fields),
                                                  "applicant": "foreign", "document": "other"},
                            actor="clerk-1")
    assert eng.case(case_id)["fee"] == 0
    assert case_view(eng.db, case_id, eng.versions)["fee"]["exempt"] is True


def test_no_payment_proof_is_asked_for_a_free_cell(tmp_path) -> None:
    eng = Engine(tmp_path / "p.db")
    free = _intake(eng, applicant="citizen_by", document="supplement")
    paid = _intake(eng, applicant="citizen_by", document="other")

    def listed(case_id: str) -> set[str]:
        return {d["id"] for d in case_view(eng.db, case_id, eng.versions)["documents"]}
    assert "payment_proof" not in listed(free) and "payment_proof" in listed(paid)


# ------------------------------------------------------------------------------------ diff

def _changed(mutate) -> object:
    data = copy.deepcopy(catalog()["6.1.1"].definition)
    mutate(data)
    return build_procedure(data, "6.1.1.yaml")


def _kinds(new) -> list[tuple[str, str, str]]:
    diff = diff_catalogs({"6.1.1": catalog()["6.1.1"]}, {"6.1.1": new})
    return [(c.kind, c.class_, c.path) for c in diff.changes if c.kind.startswith("fee.cell")]


def test_a_raised_cell_is_a_burden_and_a_lowered_one_a_simplification() -> None:
    raised = _changed(lambda d: d["fee"]["cells"][2].update(base_units=2))
    assert _kinds(raised) == [("fee.cell_increased", "burden",
                               "fee.cells[applicant=foreign,document=general_certificate|"
                               "applicant=foreign,document=other]")]
    lowered = _changed(lambda d: d["fee"]["cells"][1].update(base_units=0.1))
    assert _kinds(lowered) == [("fee.cell_decreased", "simplification",
                                "fee.cells[applicant=citizen_by,document=other]")]
    [change] = diff_catalogs({"6.1.1": catalog()["6.1.1"]}, {"6.1.1": lowered}).changes
    assert change.message == ("Плата по таблице уменьшена (гражданин Республики Беларусь, иной "
                              "документ об образовании): 0,2 БВ → 0,1 БВ")


def test_a_new_paid_cell_is_a_burden_and_a_removed_one_a_simplification() -> None:
    def stateless(d) -> None:
        d["steps"][0]["fields"][2]["choices"].append({"id": "stateless",
                                                      "title": "лицо без гражданства"})
        d["fee"]["cells"].append({"when": {"applicant": "stateless",
                                           "document": ["general_certificate", "other"]},
                                  "base_units": 1})
        d["fee"]["cells"][3]["when"] = {"document": ["supplement", "training"]}
    new = _changed(stateless)
    # stateless applicants pay 1 for a certificate or other document, nothing for the rest
    assert d_classes(new) == {("fee.cell_added", "burden"), ("fee.cell_added", "neutral")}
    back = diff_catalogs({"6.1.1": new}, {"6.1.1": catalog()["6.1.1"]}).changes
    assert {(c.kind, c.class_) for c in back if c.kind.startswith("fee.cell")} == {
        ("fee.cell_removed", "simplification"), ("fee.cell_removed", "neutral")}


def d_classes(new) -> set[tuple[str, str]]:
    return {(k, c) for k, c, _ in _kinds(new)}


def test_a_flat_fee_replaced_by_the_table_is_compared_cell_by_cell() -> None:
    flat = _changed(lambda d: d.update(fee={"kind": "base_units", "base_units": 0.2}))
    diff = diff_catalogs({"6.1.1": flat}, {"6.1.1": catalog()["6.1.1"]})
    assert {(c.kind, c.class_) for c in diff.changes if c.kind.startswith("fee.")} == {
        ("fee.kind_changed", "neutral"), ("fee.cell_increased", "burden"),
        ("fee.cell_decreased", "simplification"), ("fee.notes_changed", "neutral")}
    assert diff.summary["burden"] == 1  # foreigners pay 1 instead of 0.2


# ----------------------------------------------------------------------- stand and the API

@pytest.fixture
def api(tmp_path) -> Api:
    api = Api(tmp_path)
    folder = tmp_path / "authorities"
    folder.mkdir()
    for source in (ROOT / "authorities").glob("*.yaml"):
        text = source.read_text(encoding="utf-8")
        if source.stem == "minsk-sovetsky":  # a stand that offers 6.1.1, for these tests
            text = text.replace('include: ["5.2"]', 'include: ["5.2", "6.1.1"]')
        (folder / source.name).write_text(text, encoding="utf-8")
    api.services.authorities = Reloading(folder, load_authorities, interval=0)
    return api


def text_of(page_html: str) -> str:
    import html
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page_html)).split())


def test_the_stand_shows_the_whole_table_in_russian(api: Api) -> None:
    page = api.client.get("/stand/minsk-sovetsky/6.1.1")
    assert page.status_code == 200
    table = text_of(re.search(r'<table id="fee-table">(.*?)</table>', page.text, re.S).group(1))
    assert table == (
        "Размер платы зависит от сведений, указанных в заявлении "
        "Заявитель Дубликат какого документа выдается Базовых величин В рублях "
        "гражданин Республики Беларусь аттестат об общем среднем образовании (свидетельство об "
        "общем базовом образовании) 0,1 базовой величины 4,20 руб. "
        "гражданин Республики Беларусь иной документ об образовании 0,2 базовой величины 8,40 руб. "
        "иностранный гражданин или лицо без гражданства аттестат об общем среднем образовании "
        "(свидетельство об общем базовом образовании) или иной документ об образовании "
        "1 базовая величина 42,00 руб. "
        "любой приложение к документу об образовании или документ об обучении бесплатно 0,00 руб.")


def test_the_case_json_and_page_say_by_table_until_intake(api: Api) -> None:
    case = api.start("6.1.1")
    fee = api.get(f"/api/cases/{case['id']}").json()["fee"]
    assert fee == {"kind": "table", "base_units": None, "category": None, "exempt": False,
                   "cell": None}
    sign_in_client(api, "clerk")
    page = text_of(api.client.get(f"/cases/{case['id']}").text)
    assert "Плата по таблице: размер определяется по сведениям, указанным при приеме" in page
    [task] = api.get(f"/api/cases/{case['id']}").json()["tasks"]
    api.present_documents(case["id"], "6.1.1")
    data = {**task_data(catalog()["6.1.1"], task), "applicant": "foreign", "document": "other"}
    r = api.post(f"/api/cases/{case['id']}/tasks/{task['id']}/complete", "clerk", {"data": data})
    assert r.status_code == 200, r.text
    fee = api.get(f"/api/cases/{case['id']}").json()["fee"]
    assert fee == {"kind": "table", "base_units": 1.0, "category": None, "exempt": False,
                   "cell": {"applicant": "foreign", "document": "other"}}
    assert "Плата 1 базовая величина" in text_of(api.client.get(f"/cases/{case['id']}").text)
    detail = api.get("/api/procedures/6.1.1").json()["fee"]
    assert detail["axes"] == ["applicant", "document"]
    assert detail["cells"][2] == {"when": {"applicant": ["foreign"],
                                           "document": ["general_certificate", "other"]},
                                  "base_units": 1.0, "byn": "42.00"}
