"""Strict input over HTTP (issue 14, item 6): a JSON body is UTF-8 with each key once, names and
free text hold no control or bidirectional characters, OPTIONS and 405 name every method of a
path, and the OpenAPI document states what the API refuses. Every refusal is a problem naming the
part at fault and changes nothing."""
from __future__ import annotations

import json

import pytest

from api.json_body import strict_json
from api.schemas import CHECKED_BY_ENGINE
from engine.definition.procedure import Field
from engine.errors import InvalidInput
from engine.runtime.forms import clean_form
from engine.store.tables import cases
from engine.text import FREE_TEXT_PATTERN, NAME_PATTERN, text_problem
from tests.test_api_support import Api, catalog

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Api:
    return Api(tmp_path_factory.mktemp("strict"))


def application(**extra) -> dict:
    number = next(n for n, p in catalog().items() if p.fee.kind != "by_category")
    proc = catalog()[number]
    return {"number": number, "applicant": "Иванов Иван", "channel": proc.channels[0], **extra}


def post_raw(api: Api, path: str, body: bytes, user: str = "clerk"):
    return api.client.post(path, content=body, headers={**api.h(user),
                                                        "Content-Type": "application/json"})


def assert_refused(response, field: str, *words: str) -> dict:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["field"] == field, problem
    for word in words:
        assert word in problem["detail"], problem
    return problem


# --- the body ---------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32", "latin-1"])
def test_a_body_that_is_not_utf8_is_refused(api, encoding):
    body = json.dumps(application(applicant="Ärger"), ensure_ascii=False).encode(encoding)
    before = api.count(cases)
    assert_refused(post_raw(api, "/api/cases", body), "body", "not UTF-8")
    assert api.count(cases) == before


def test_duplicate_keys_are_refused(api):
    body = b'{"number": "2.1", "applicant": "ivan", "applicant": "petr", "channel": "post"}'
    before = api.count(cases)
    assert_refused(post_raw(api, "/api/cases", body), "body", "'applicant' appears more than once")
    assert api.count(cases) == before


def test_duplicate_keys_deep_in_form_data_are_refused(api):
    case = api.start(next(iter(catalog())))
    task = api.open_tasks(case["id"])[0]
    body = b'{"data": {"x": {"a": 1, "a": 2}}}'
    path = f"/api/cases/{case['id']}/tasks/{task['id']}/complete"
    assert_refused(post_raw(api, path, body), "body", "'a' appears more than once")


@pytest.mark.parametrize(("text", "why"), [
    ('{"a": NaN}', "NaN is not a JSON number"),
    ('{"a": -Infinity}', "-Infinity is not a JSON number"),
    ('{"a": 1e400}', "out of range"),
    ('{"a": ' + "9" * 30 + "}", "30 digits is too long"),
    ('\ufeff{"a": 1}', "Unexpected UTF-8 BOM"),
])
def test_what_json_does_not_have_is_refused(text, why):
    with pytest.raises(json.JSONDecodeError, match=why):
        strict_json(text.encode("utf-8"))


def test_a_plain_body_reads_as_before():
    assert strict_json('{"a": [1, 2.5, "ж", null, true], "b": {"c": -9223372036854775808}}'
                       .encode()) == {"a": [1, 2.5, "ж", None, True], "b": {"c": -2**63}}


# --- names and free text ----------------------------------------------------------------------

RLO = "\u202e"  # right-to-left override: "Иванов\u202eвонавИ" shows differently from what it is


@pytest.mark.parametrize("bad", [RLO, "\u2066", "\u200f", "\u061c", "\x1b[31m", "\x00", "\x85",
                                 "\n", "\t", "\u2028"])
def test_control_and_bidi_characters_are_refused_in_names(api, bad):
    before = api.count(cases)
    response = api.post("/api/cases", json=application(applicant=f"Иванов{bad}Иван"))
    problem = assert_refused(response, "applicant", "not allowed")
    assert f"U+{ord(bad[0]):04X}" in problem["detail"] or "NUL" in problem["detail"]
    assert api.count(cases) == before


def test_free_text_takes_line_breaks_but_not_bidi_controls(api):
    case = api.start(next(iter(catalog())))
    path = f"/api/cases/{case['id']}/withdraw"
    assert_refused(api.post(path, json={"reason": f"передумал{RLO}"}), "reason", "U+202E")
    assert_refused(api.post(path, json={"reason": "передумал\x07"}), "reason", "U+0007")
    response = api.post(path, json={"reason": "передумал:\n\tпереезд"})
    assert response.status_code == 200, response.text


def test_form_fields_refuse_control_characters_by_their_kind():
    line = Field(id="surname", title="Фамилия", type="string")
    long = Field(id="notes", title="Примечание", type="text")
    with pytest.raises(InvalidInput, match=r"U\+000A") as info:
        clean_form((line,), {"surname": "Иванов\nПетров"})
    assert info.value.field == "data.surname"
    with pytest.raises(InvalidInput, match=r"U\+202E"):
        clean_form((long,), {"notes": f"abc{RLO}"})
    assert clean_form((long,), {"notes": "строка 1\nстрока 2"}) == {"notes": "строка 1\nстрока 2"}


def test_form_data_strings_and_keys_are_checked_before_the_engine(api):
    case = api.start(next(iter(catalog())))
    task = api.open_tasks(case["id"])[0]
    path = f"/api/cases/{case['id']}/tasks/{task['id']}/complete"
    assert_refused(api.post(path, json={"data": {"x": ["a\x00b"]}}), "data", "NUL")
    assert_refused(api.post(path, json={"data": {f"x{RLO}": 1}}), "data", "U+202E")


def test_the_patterns_say_what_the_checks_do():
    import re

    for sample in ("Иванов Иван", "O'Brien-Smith", "中文", "عربي", RLO, "\x00", "\n", "\x9b", "\u2069"):
        assert (re.fullmatch(NAME_PATTERN, sample) is not None) == (text_problem(sample, free=False) is None)
    for sample in ("a\nb\r\n\tc", "x\x0b", RLO, "\x7f"):
        assert (re.fullmatch(FREE_TEXT_PATTERN, sample) is not None) == (text_problem(sample, free=True) is None)


# --- the OpenAPI document says what is refused --------------------------------------------------


@pytest.fixture(scope="module")
def document(api) -> dict:
    return api.client.get("/openapi.json").json()


def _body(document: dict, path: str) -> dict:
    schema = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    if "$ref" not in schema:  # an optional body: anyOf [model, null]
        schema = next(s for s in schema["anyOf"] if "$ref" in s)
    return document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]


def test_the_document_refuses_nul_in_form_data(document):
    data = _body(document, "/api/cases/{case_id}/tasks/{task_id}/complete")["properties"]["data"]
    strings = [s for s in data["additionalProperties"]["anyOf"] if s.get("type") == "string"]
    assert strings == [{"type": "string", "pattern": FREE_TEXT_PATTERN}]
    assert data["propertyNames"] == {"pattern": NAME_PATTERN}


def test_the_document_takes_no_null_channel_and_the_api_agrees(api, document):
    channel = _body(document, "/api/cases")["properties"]["channel"]
    assert "anyOf" not in channel and channel["type"] == "string" and "default" not in channel
    assert_refused(api.post("/api/cases", json=application(channel=None)), "channel")


def test_the_document_names_the_fields_checked_against_the_case(document):
    decide = document["paths"]["/api/cases/{case_id}/decide"]["post"]
    assert "ground" in decide[CHECKED_BY_ENGINE]
    assert document["paths"]["/api/cases/{case_id}/issue"]["post"][CHECKED_BY_ENGINE] == ["data.*"]
    shapes = _body(document, "/api/cases/{case_id}/decide")["anyOf"]
    assert {"properties": {"outcome": {"const": "refuse"}, "ground": {"type": "string"}},
            "required": ["ground"]} in shapes


def test_staff_name_the_applicant(api, document):
    """A body without an applicant is an applicant's own application: staff get 403."""
    assert {"required": ["applicant", "channel"]} in _body(document, "/api/cases")["anyOf"]
    body = application()
    del body["applicant"], body["channel"]
    response = api.post("/api/cases", json={**body, "authority": "minjust"})
    assert response.status_code == 403 and response.json()["field"] == "applicant"


# --- methods ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "allow"), [
    ("/api/cases", "GET, POST, OPTIONS"),
    ("/api/cases/some-id", "GET, OPTIONS"),
    ("/api/cases/some-id/withdraw", "POST, OPTIONS"),
])
def test_options_and_405_list_every_method_of_the_path(api, path, allow):
    response = api.client.options(path)
    assert response.status_code == 204 and response.headers["allow"] == allow
    response = api.client.delete(path)
    assert response.status_code == 405 and response.headers["allow"] == allow
    assert response.headers["content-type"] == PROBLEM
