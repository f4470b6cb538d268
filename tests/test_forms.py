"""engine.runtime.forms: every field at fault is reported at once, in Russian, naming data.<field>;
and the JSON API answers them as problem+json errors[]."""
from __future__ import annotations

import pytest

from engine.definition.procedure import Choice, Field
from engine.errors import FieldError, InvalidForm, InvalidInput
from engine.runtime.forms import MAX_UNKNOWN_REPORTED, clean_form
from tests.test_api_support import Api

FIELDS = (
    Field("count", "Количество", "integer", required=True, min=1, max=30),
    Field("area", "Площадь", "number", min=0, max=1000),
    Field("code", "Код", "string", pattern=r"[0-9]{7}", max_length=7),
    Field("when", "Дата", "date"),
    Field("kind", "Вид", "choice", required=True, choices=(Choice("a", "А"), Choice("b", "Б"))),
    Field("flag", "Признак", "boolean", required=True),
)
GOOD = {"count": 3, "area": 12.5, "code": "1234567", "when": "2025-06-01", "kind": "a",
        "flag": False}


def refused(data) -> InvalidForm:
    with pytest.raises(InvalidForm) as caught:
        clean_form(FIELDS, data)
    return caught.value


def test_a_valid_form_is_cleaned() -> None:
    assert clean_form(FIELDS, {**GOOD, "count": 3.0}) == {**GOOD, "count": 3}


def test_every_field_at_fault_is_reported_at_once_in_russian() -> None:
    exc = refused({"count": 0, "area": "много", "code": "12", "when": "01.06.2025", "flag": "да"})
    assert [e.field for e in exc.errors] == ["data.count", "data.area", "data.code", "data.when",
                                             "data.kind", "data.flag"]
    messages = {e.field: e.message for e in exc.errors}
    assert messages == {
        "data.count": "значение должно быть не меньше 1",
        "data.area": "ожидается число",
        "data.code": "значение не соответствует требуемому формату",
        "data.when": "ожидается дата в формате ГГГГ-ММ-ДД (например, 2025-06-01)",
        "data.kind": "обязательное поле: заполните его",
        "data.flag": "ожидается «да» или «нет» (true или false)",
    }
    assert exc.errors[0] == FieldError("data.count", "Количество", "значение должно быть не меньше 1")
    assert exc.errors[0].detail == "Количество: значение должно быть не меньше 1"
    # the exception as a whole: the first field, and every detail
    assert exc.field == "data.count" and isinstance(exc, InvalidInput)
    assert exc.detail.split("; ")[1] == "Площадь: ожидается число"


@pytest.mark.parametrize(("change", "message"), [
    ({"count": 31}, "значение должно быть не больше 30"),
    ({"count": 2.5}, "ожидается целое число"),
    ({"count": True}, "ожидается число"),
    ({"area": float("nan")}, "ожидается конечное число"),
    ({"code": "12345678"}, "не более 7 символов"),
    ({"code": 1234567}, "ожидается текст"),
    ({"code": "12\x0045"}, "символ NUL недопустим"),
    ({"kind": "c"}, "выберите один из вариантов (a, b)"),
    ({"count": ""}, "обязательное поле: заполните его"),
    ({"count": None}, "обязательное поле: заполните его"),
])
def test_each_fault_has_its_russian_text(change, message) -> None:
    exc = refused({**GOOD, **change})
    assert [e.message for e in exc.errors] == [message]


def test_unknown_fields_are_each_named_and_bounded() -> None:
    exc = refused({**GOOD, "extra": 1})
    assert [e.field for e in exc.errors] == ["data.extra"]
    assert exc.errors[0].message.startswith("такого поля нет в этом шаге (поля шага: area, code")
    many = refused({**GOOD, **{f"x{i:03}": 1 for i in range(50)}})
    assert len(many.errors) == MAX_UNKNOWN_REPORTED + 1
    assert many.errors[-1].field == "data" and many.errors[-1].message.endswith(": 40")


def test_form_data_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        clean_form(FIELDS, ["count"])  # type: ignore[arg-type]
    assert caught.value.field == "data"


def test_the_api_answers_every_field_as_problem_errors(tmp_path) -> None:
    api = Api(tmp_path)
    case = api.start("1.1.5")
    task = api.open_tasks(case["id"])[0]
    api.post(f"/api/cases/{case['id']}/tasks/{task['id']}/claim")
    r = api.post(f"/api/cases/{case['id']}/tasks/{task['id']}/complete",
                 json={"data": {"family_members": 0, "area_per_person": "abc",
                                "has_minor_children": False, "priority_right": "none",
                                "social_housing": False, "brought_housing_certificate": True}})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["field"] == "data.family_members"
    assert body["errors"] == [
        {"field": "data.family_members", "detail": "Количество членов семьи, принимаемых на учет "
                                                   "(включая заявителя): значение должно быть не меньше 1"},
        {"field": "data.need_reason",
         "detail": "Основание для признания нуждающимся: обязательное поле: заполните его"},
        {"field": "data.area_per_person", "detail": "Общая площадь жилого помещения на одного "
                                                    "человека, кв. м: ожидается число"},
    ]
    assert api.open_tasks(case["id"]) == [task | {"assignee": "clerk"}]  # nothing moved on
