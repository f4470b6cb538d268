"""Catalog validation: every schema rule and every semantic check, one passing and one failing
example each; the problem names the field and points at the line of the offending key."""
from __future__ import annotations

import copy
import dataclasses
import shutil
from pathlib import Path

import pytest
import yaml

from engine.definition import validation
from engine.definition.build import number_key
from engine.definition.procedure import Procedure
from engine.definition.validation import (
    ROOT,
    CatalogError,
    Problem,
    _fast_validator,
    check_definition,
    definition_files,
    load_catalog,
    load_definition,
    validate_paths,
)

# A complete, valid definition shaped like procedures/6.1.1.yaml.
BASE: dict = {
    "number": "6.1.1",
    "chapter": 6,
    "name": {"ru": "Выдача дубликата документа об образовании"},
    "legal_basis": ["Указ № 200, п. 6.1.1"],
    "authorities": [{"kind": "education_institution", "title": "учреждение образования"}],
    "channels": ["in_person", "post"],
    "documents": [
        {"id": "application", "title": "заявление"},
        {"id": "passport", "title": "паспорт"},
        {"id": "damaged_document", "title": "пришедший в негодность документ",
         "condition": "reason == 'damaged'"},
        {"id": "payment_proof", "title": "документ об оплате", "notes": "не при ЕРИП",
         "condition": "not exempt"},
    ],
    "requested_documents": [
        {"id": "archive_record", "title": "сведения из архива", "source": "архив",
         "citizen_may_bring": True},
    ],
    "fee": {
        "kind": "by_category",
        "categories": [
            {"id": "citizen_by", "title": "граждане", "base_units": 0.1},
            {"id": "foreign", "title": "иностранцы", "base_units": 1},
        ],
    },
    "term": {"max": "15 days", "when_documents_requested": "1 month"},
    "validity": {"kind": "unlimited"},
    "result": {"title": "дубликат"},
    "appeal": {"superior_body": "вышестоящий орган", "term": "12 months"},
    "roles": [
        {"id": "clerk", "title": "специалист", "acts_as": "clerk"},
        {"id": "registrar", "title": "ответственный", "acts_as": "clerk"},
        {"id": "head", "title": "руководитель", "acts_as": "supervisor"},
    ],
    "steps": [
        {"id": "intake", "kind": "intake", "title": "Прием", "role": "clerk", "fields": [
            {"id": "reason", "title": "Причина", "type": "choice", "required": True, "choices": [
                {"id": "lost", "title": "утрата"},
                {"id": "damaged", "title": "негодность"},
            ]},
        ]},
        {"id": "request_archive", "kind": "request_documents", "title": "Запрос",
         "role": "registrar", "condition": "reason == 'lost'"},
        {"id": "review", "kind": "review", "title": "Проверка", "role": "registrar"},
        {"id": "decision", "kind": "decision", "title": "Решение", "role": "head"},
        {"id": "issue", "kind": "issue", "title": "Выдача", "role": "clerk"},
    ],
}

SCHEMA_REQUIRED = ["number", "chapter", "name", "authorities", "channels", "documents", "fee",
                   "term", "validity", "result", "roles"]
GROUND = {"id": "some_ground", "title": "основание", "legal_basis": "закон"}


@pytest.fixture(params=["fast", "reference"])
def schema_validator(request, monkeypatch):
    """Schema cases run with jsonschema-rs in front (when installed) and with jsonschema alone."""
    if request.param == "reference":
        monkeypatch.setattr(validation, "_fast_validator", lambda: None)
    elif _fast_validator() is None:
        pytest.skip("jsonschema-rs is not installed")
    return request.param


def dump(data: dict) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def check(data: dict, source: str | None = None, base_dir: Path | None = None,
          check_file_name: bool = True) -> tuple[Procedure | None, list[Problem], str]:
    text = dump(data)
    source = source or f"{data.get('number', 'x')}.yaml"
    procedure, problems = check_definition(text.encode("utf-8"), source, base_dir=base_dir,
                                           check_file_name=check_file_name)
    return procedure, problems, text


def line_of(text: str, path: tuple) -> int:
    """Line (1-based) of the key at the end of `path` (or of the list item), read with PyYAML's
    own composer rather than the reader under test."""
    node = yaml.compose(text)
    line = node.start_mark.line + 1
    for part in path:
        if isinstance(part, int):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            for key_node, value_node in node.value:
                if key_node.value == part:
                    node, line = value_node, key_node.start_mark.line + 1
                    break
            else:
                raise KeyError(f"{part!r} not in the generated YAML")
    return line


def mutated(change) -> dict:
    data = copy.deepcopy(BASE)
    change(data)
    return data


def assert_valid(data: dict, **kwargs) -> Procedure:
    procedure, problems, text = check(data, **kwargs)
    assert problems == [], "\n".join(map(str, problems)) + "\n\n" + text
    assert procedure is not None
    return procedure


def assert_one_problem(data: dict, path: tuple, *words: str, **kwargs) -> Problem:
    procedure, problems, text = check(data, **kwargs)
    assert procedure is None
    assert len(problems) == 1, "\n".join(map(str, problems))
    problem = problems[0]
    for word in words:
        assert word in problem.message, problem.message
    assert problem.line == line_of(text, path), f"{problem}\n\n{text}"
    return problem


def test_base_definition_is_valid():
    procedure = assert_valid(BASE)
    assert procedure.number == "6.1.1"
    assert procedure.name == BASE["name"]["ru"]
    assert [s.id for s in procedure.steps] == [s["id"] for s in BASE["steps"]]


# --- helpers to write the cases -------------------------------------------------------------

def setitem(*path_and_value):
    *path, key, value = path_and_value

    def change(data):
        target = data
        for part in path:
            target = target[part]
        target[key] = value
    return change


def delitem(*path):
    *path, key = path

    def change(data):
        target = data
        for part in path:
            target = target[part]
        del target[key]
    return change


def both(*changes):
    def change(data):
        for c in changes:
            c(data)
    return change


def only_max_term(value):
    return setitem("term", {"max": value})


FREE = {"kind": "free"}
CITATION = {"kind": "official", "act": "Указ № 200, п. 6.1.1", "checked": "2026-12-02"}
BASE_UNITS = {"kind": "base_units", "base_units": 1}


# --- the schema: one passing example per rule ------------------------------------------------

SCHEMA_VALID = {
    "number two parts": both(setitem("number", "6.1"), setitem("chapter", 6)),
    "number four parts": both(setitem("number", "6.1.1.12"), setitem("chapter", 6)),
    "number 10.10": both(setitem("number", "10.10"), setitem("chapter", 10)),
    "chapter 1": both(setitem("number", "1.1"), setitem("chapter", 1)),
    "chapter 99": both(setitem("number", "99.1"), setitem("chapter", 99)),
    "name in three languages": setitem("name", {"ru": "а", "be": "б", "en": "c"}),
    "legal_basis omitted": delitem("legal_basis"),
    "authority other": setitem("authorities", [{"kind": "other", "title": "t"},
                                               {"kind": "court", "title": "суд"}]),
    "one channel": setitem("channels", ["portal"]),
    "all channels": setitem("channels", ["in_person", "post", "portal"]),
    "no documents": setitem("documents", []),
    "document with notes and condition": setitem(
        "documents", 0, {"id": "a", "title": "t", "notes": "n", "condition": "channel == 'post'"}),
    "requested document with every field": setitem("requested_documents", 0, {
        "id": "archive_record", "title": "t", "source": "s", "citizen_may_bring": False,
        "fee": 0.5, "condition": "exempt", "notes": "n"}),
    "fee free": setitem("fee", FREE),
    "fee free with notes": setitem("fee", {"kind": "free", "notes": "бесплатно"}),
    "fee base_units": setitem("fee", BASE_UNITS),
    "fee base_units with exemptions": setitem("fee", {**BASE_UNITS, "exemptions": [GROUND],
                                                      "notes": "n"}),
    "fee by_category with exemptions": setitem("fee", "exemptions", [GROUND]),
    "base units 0": setitem("fee", {"kind": "base_units", "base_units": 0}),
    "base units 10000": setitem("fee", {"kind": "base_units", "base_units": 10000}),
    **{f"term {t!r}": only_max_term(t) for t in
       ["same day", "15 days", "1 day", "15 calendar days", "5 working days", "1 working day",
        "1 month", "2 months", "9999 days", "99 months",
        # one term language: what `okno due` reads (engine/terms.py), Russian and ISO included
        "0 days", "15 weeks", "P15D", "P1M", "15 Days", " 15 days", "same  day", "1 year",
        "в день обращения", "10 дней", "5 рабочих дней", "1 месяц", "3 месяца", "15 календарных дней"]},
    "term counted from documents": setitem("term", "counted_from", "documents_received"),
    "term with notes": setitem("term", "notes", "n"),
    "validity duration": setitem("validity", {"kind": "duration", "duration": "6 months"}),
    "validity unlimited": setitem("validity", {"kind": "unlimited"}),
    "validity until_event": setitem("validity", {"kind": "until_event", "event": "смерть"}),
    "validity lump_sum": setitem("validity", {"kind": "lump_sum"}),
    "result with form": setitem("result", {"title": "t", "form": "f"}),
    "appeal omitted": delitem("appeal"),
    "appeal court false": setitem("appeal", "court", False),
    "suspension not allowed": setitem("suspension", {"allowed": False}),
    "suspension with grounds": setitem("suspension", {"allowed": True, "grounds": [GROUND]}),
    "refusal grounds": setitem("refusal_grounds", [GROUND]),
    "role acts as supervisor": setitem("roles", 0, "acts_as", "supervisor"),
    "identifier one letter": setitem("documents", 0, "id", "a"),
    "identifier 64 characters": setitem("documents", 0, "id", "a" + "_1" * 31 + "b"),
    "step task with term and notes": setitem("steps", 2, {
        "id": "review", "kind": "task", "title": "t", "role": "registrar", "term": "5 working days",
        "notes": "n"}),
    **{f"field type {t}": setitem("steps", 2, "fields", [{"id": "f", "title": "t", "type": t}])
       for t in ["string", "text", "integer", "number", "boolean", "date"]},
    "field with every option": setitem("steps", 2, "fields", [{
        "id": "f", "title": "t", "type": "integer", "required": False, "pattern": "^[0-9]+$",
        "min": 1, "max": 10, "max_length": 100}]),
    "notes": setitem("notes", "заметка"),
    "source official with act": setitem("source", CITATION),
    "source secondary with url, edition and notes": setitem("source", {
        "kind": "secondary", "url": "https://example.by/odno-okno", "edition": "2024-06-17",
        "checked": "2026-12-02", "notes": "сверено по стенду организации"}),
    "source unverified with notes": setitem("source", {"kind": "unverified", "checked": "2026-12-02",
                                                       "notes": "по памяти"}),
    "authority roles": setitem("authorities", [
        {"kind": "housing_organisation", "title": "принимает", "role": "receives"},
        {"kind": "internal_affairs_body", "title": "решает", "role": "decides"}]),
    **{f"authority kind {k}": setitem("authorities", [{"kind": k, "title": "t"}]) for k in (
        "tax_agent", "social_insurance_fund", "pension_body", "property_registration_organisation",
        "archive", "bank", "notary", "military_commissariat")},
    "text of 4000 characters": setitem("result", "title", "я" * 4000),
}


@pytest.mark.parametrize("change", SCHEMA_VALID.values(), ids=SCHEMA_VALID.keys())
def test_schema_accepts(change, schema_validator):
    assert_valid(mutated(change), check_file_name=False)


def test_number_written_as_a_float_stays_text(tmp_path):
    text = dump(BASE).replace("number: 6.1.1", "number: 6.10")
    procedure, problems = check_definition(text.encode(), "6.10.yaml")
    assert problems == []
    assert procedure.number == "6.10"


# --- the schema: one failing example per rule -------------------------------------------------
# (change, path of the key the problem must point at, words the message must contain)

def extra(*path):
    return setitem(*path, "extra_key", "x"), tuple(path) + ("extra_key",), ("extra_key",)


SCHEMA_INVALID = {
    **{f"required {key}": (delitem(key), (), (f"'{key}'", "required")) for key in SCHEMA_REQUIRED},
    "neither steps nor bpmn": (delitem("steps"), (), ("'steps'",)),
    "both steps and bpmn": (setitem("bpmn", "flow.bpmn"), ("bpmn",), ("'steps'", "'bpmn'", "not both")),
    # additionalProperties at each object level
    "extra top-level key": extra(),
    "extra key in name": (setitem("name", "de", "x"), ("name", "de"), ("'de'",)),
    "extra key in authority": extra("authorities", 0),
    "extra key in document": extra("documents", 1),
    "extra key in requested document": extra("requested_documents", 0),
    "extra key in fee": extra("fee"),
    "extra key in fee category": extra("fee", "categories", 1),
    "extra key in term": extra("term"),
    "extra key in validity": extra("validity"),
    "extra key in result": extra("result"),
    "extra key in appeal": extra("appeal"),
    "extra key in suspension": (setitem("suspension", {"allowed": False, "extra_key": 1}),
                                ("suspension", "extra_key"), ("extra_key",)),
    "extra key in ground": (setitem("refusal_grounds", [{**GROUND, "extra_key": 1}]),
                            ("refusal_grounds", 0, "extra_key"), ("extra_key",)),
    "extra key in role": extra("roles", 2),
    "extra key in step": extra("steps", 3),
    "extra key in field": extra("steps", 0, "fields", 0),
    "extra key in choice": extra("steps", 0, "fields", 0, "choices", 1),
    # number and chapter
    **{f"number {n!r}": (setitem("number", n), ("number",), ("number", "does not match"))
       for n in ["6", "06.1", "6.0", "6.1.1.1.1", "6.a", "6.1.", "6.1.1\n"]},
    "chapter 0": (setitem("chapter", 0), ("chapter",), ("chapter", "minimum")),
    "chapter 100": (both(setitem("number", "100.1"), setitem("chapter", 100)), ("chapter",),
                    ("chapter", "maximum")),
    "chapter as text": (setitem("chapter", "6"), ("chapter",), ("chapter", "integer")),
    # name
    "name without ru": (setitem("name", {"be": "б"}), ("name",), ("name", "'ru'", "required")),
    "name ru empty": (setitem("name", "ru", ""), ("name", "ru"), ("name/ru",)),
    "text over 4000 characters": (setitem("result", "title", "я" * 4001), ("result", "title"),
                                  ("result/title", "too long")),
    # authorities and channels
    "authority kind": (setitem("authorities", 0, "kind", "ministry"), ("authorities", 0, "kind"),
                       ("authorities/0/kind", "'ministry'")),
    "authority without title": (delitem("authorities", 0, "title"), ("authorities", 0),
                                ("authorities/0", "'title'")),
    "no authorities": (setitem("authorities", []), ("authorities",), ("authorities",)),
    "channel enum": (setitem("channels", ["in_person", "email"]), ("channels", 1),
                     ("channels/1", "'email'")),
    "channels unique": (setitem("channels", ["post", "post"]), ("channels",),
                        ("channels", "non-unique")),
    "no channels": (setitem("channels", []), ("channels",), ("channels", "should be non-empty")),
    # documents
    "document without title": (delitem("documents", 1, "title"), ("documents", 1),
                               ("documents/1", "'title'")),
    "document without id": (delitem("documents", 1, "id"), ("documents", 1), ("documents/1", "'id'")),
    "document empty condition": (setitem("documents", 2, "condition", ""),
                                 ("documents", 2, "condition"), ("documents/2/condition",)),
    "requested document without source": (delitem("requested_documents", 0, "source"),
                                          ("requested_documents", 0),
                                          ("requested_documents/0", "'source'")),
    "requested document fee negative": (setitem("requested_documents", 0, "fee", -1),
                                        ("requested_documents", 0, "fee"),
                                        ("requested_documents/0/fee", "minimum")),
    "citizen_may_bring not boolean": (setitem("requested_documents", 0, "citizen_may_bring", "yes"),
                                      ("requested_documents", 0, "citizen_may_bring"),
                                      ("citizen_may_bring", "boolean")),
    # fee
    "fee without kind": (setitem("fee", {"base_units": 1}), ("fee",), ("fee", "'kind'")),
    "fee kind enum": (setitem("fee", {"kind": "paid"}), ("fee", "kind"), ("fee/kind", "'paid'")),
    "fee free with base_units": (setitem("fee", {"kind": "free", "base_units": 1}),
                                 ("fee", "base_units"), ("fee", "'base_units'", "unexpected")),
    "fee free with exemptions": (setitem("fee", {"kind": "free", "exemptions": [GROUND]}),
                                 ("fee", "exemptions"), ("fee", "'exemptions'", "unexpected")),
    "fee base_units without base_units": (setitem("fee", {"kind": "base_units"}), ("fee",),
                                          ("fee", "'base_units'", "required")),
    "fee base_units with categories": (setitem("fee", {**BASE_UNITS, "categories": []}),
                                       ("fee", "categories"), ("fee", "'categories'", "unexpected")),
    "fee by_category without categories": (setitem("fee", {"kind": "by_category"}), ("fee",),
                                           ("fee", "'categories'", "required")),
    "fee by_category with base_units": (setitem("fee", "base_units", 1), ("fee", "base_units"),
                                        ("fee", "'base_units'", "unexpected")),
    "fee by_category one category": (setitem("fee", "categories", BASE["fee"]["categories"][:1]),
                                     ("fee", "categories"), ("fee/categories", "too short")),
    "fee category without base_units": (delitem("fee", "categories", 1, "base_units"),
                                        ("fee", "categories", 1),
                                        ("fee/categories/1", "'base_units'")),
    "base units negative": (setitem("fee", {"kind": "base_units", "base_units": -0.1}),
                            ("fee", "base_units"), ("fee/base_units", "minimum")),
    "base units over 10000": (setitem("fee", {"kind": "base_units", "base_units": 10000.5}),
                              ("fee", "base_units"), ("fee/base_units", "maximum")),
    "base units as text": (setitem("fee", {"kind": "base_units", "base_units": "1"}),
                           ("fee", "base_units"), ("fee/base_units", "number")),
    # term, everywhere a term is written
    **{f"term {t!r}": (only_max_term(t), ("term", "max"), ("accepted forms", "'N рабочих дней'"))
       for t in ["ten days", "15 sols", "2 working months", "10000 days", "P1Y2M", "десять дней",
                 "1 month and 2 days"]},
    "term too long": (only_max_term("1" * 70 + " days"), ("term", "max"), ("term/max", "long")),
    "term without max": (setitem("term", {"when_documents_requested": "1 month"}), ("term",),
                         ("term", "'max'")),
    "term counted_from enum": (setitem("term", "counted_from", "decision"),
                               ("term", "counted_from"), ("term/counted_from", "'decision'")),
    "when_documents_requested unreadable": (setitem("term", "when_documents_requested", "1 yr"),
                                            ("term", "when_documents_requested"), ("'1 yr'", "accepted forms")),
    "appeal term unreadable": (setitem("appeal", "term", "год"), ("appeal", "term"), ("'год'", "accepted forms")),
    "step term unreadable": (setitem("steps", 2, "term", "2 wks"), ("steps", 2, "term"),
                             ("'2 wks'", "accepted forms")),
    # validity
    "validity without kind": (setitem("validity", {}), ("validity",), ("validity", "'kind'")),
    "validity kind enum": (setitem("validity", {"kind": "forever"}), ("validity", "kind"),
                           ("validity/kind", "'forever'")),
    "validity duration without duration": (setitem("validity", {"kind": "duration"}),
                                           ("validity",), ("validity", "'duration'", "required")),
    "validity duration bad term": (setitem("validity", {"kind": "duration", "duration": "5 yrs"}),
                                   ("validity", "duration"), ("'5 yrs'", "accepted forms")),
    "validity until_event without event": (setitem("validity", {"kind": "until_event"}),
                                           ("validity",), ("validity", "'event'", "required")),
    "validity unlimited with duration": (setitem("validity", {"kind": "unlimited",
                                                              "duration": "1 month"}),
                                         ("validity", "duration"), ("validity", "'duration'")),
    "validity lump_sum with event": (setitem("validity", {"kind": "lump_sum", "event": "e"}),
                                     ("validity", "event"), ("validity", "'event'")),
    # result, appeal, suspension
    "result without title": (setitem("result", {"form": "f"}), ("result",), ("result", "'title'")),
    "appeal without superior_body": (delitem("appeal", "superior_body"), ("appeal",),
                                     ("appeal", "'superior_body'")),
    "appeal without term": (delitem("appeal", "term"), ("appeal",), ("appeal", "'term'")),
    "appeal court not boolean": (setitem("appeal", "court", "yes"), ("appeal", "court"),
                                 ("appeal/court", "boolean")),
    "suspension without allowed": (setitem("suspension", {"grounds": [GROUND]}), ("suspension",),
                                   ("suspension", "'allowed'")),
    "suspension allowed not boolean": (setitem("suspension", {"allowed": "yes"}),
                                       ("suspension", "allowed"), ("suspension/allowed", "boolean")),
    "suspension ground without title": (setitem("suspension", {"allowed": True,
                                                               "grounds": [{"id": "g"}]}),
                                        ("suspension", "grounds", 0),
                                        ("suspension/grounds/0", "'title'")),
    # roles and identifiers
    "role acts_as enum": (setitem("roles", 1, "acts_as", "admin"), ("roles", 1, "acts_as"),
                          ("roles/1/acts_as", "'admin'")),
    "role without acts_as": (delitem("roles", 1, "acts_as"), ("roles", 1),
                             ("roles/1", "'acts_as'")),
    "no roles": (setitem("roles", []), ("roles",), ("roles", "should be non-empty")),
    **{f"identifier {i!r}": (setitem("documents", 0, "id", i), ("documents", 0, "id"),
                             ("documents/0/id", "does not match"))
       for i in ["Passport", "1passport", "pass-port", "_passport", "a" * 65, "паспорт", ""]},
    # steps and fields
    "step kind enum": (setitem("steps", 2, "kind", "approval"), ("steps", 2, "kind"),
                       ("steps/2/kind", "'approval'")),
    **{f"step without {key}": (delitem("steps", 2, key), ("steps", 2), ("steps/2", f"'{key}'"))
       for key in ["id", "kind", "title", "role"]},
    "no steps": (setitem("steps", []), ("steps",), ("steps", "should be non-empty")),
    "field type enum": (setitem("steps", 2, "fields", [{"id": "f", "title": "t", "type": "email"}]),
                        ("steps", 2, "fields", 0, "type"), ("steps/2/fields/0/type", "'email'")),
    **{f"field without {key}": (delitem("steps", 0, "fields", 0, key), ("steps", 0, "fields", 0),
                                ("steps/0/fields/0", f"'{key}'")) for key in ["id", "title"]},
    "field required not boolean": (setitem("steps", 0, "fields", 0, "required", "yes"),
                                   ("steps", 0, "fields", 0, "required"), ("required", "boolean")),
    "field max_length 0": (setitem("steps", 2, "fields", [{"id": "f", "title": "t", "type": "text",
                                                           "max_length": 0}]),
                           ("steps", 2, "fields", 0, "max_length"), ("max_length", "minimum")),
    "field min not a number": (setitem("steps", 2, "fields", [{"id": "f", "title": "t",
                                                               "type": "integer", "min": "1"}]),
                               ("steps", 2, "fields", 0, "min"), ("min", "number")),
    "field min beyond 10^15": (setitem("steps", 2, "fields", [{"id": "f", "title": "t",
                                                               "type": "integer", "min": 10**30}]),
                               ("steps", 2, "fields", 0, "min"), ("min", "maximum")),
    "choice field without choices": (delitem("steps", 0, "fields", 0, "choices"),
                                     ("steps", 0, "fields", 0),
                                     ("steps/0/fields/0", "'choices'", "required")),
    "choice field with no choices": (setitem("steps", 0, "fields", 0, "choices", []),
                                     ("steps", 0, "fields", 0, "choices"),
                                     ("steps/0/fields/0/choices", "should be non-empty")),
    "non-choice field with choices": (setitem("steps", 0, "fields", 0, "type", "string"),
                                      ("steps", 0, "fields", 0, "choices"),
                                      ("steps/0/fields/0", "'choices' is not allowed", "'string'")),
    "choice without title": (delitem("steps", 0, "fields", 0, "choices", 1, "title"),
                             ("steps", 0, "fields", 0, "choices", 1), ("choices/1", "'title'")),
    # bpmn
    "bpmn absolute path": (both(delitem("steps"), setitem("bpmn", "/etc/flow.bpmn")), ("bpmn",),
                           ("bpmn", "does not match")),
    "bpmn not .bpmn": (both(delitem("steps"), setitem("bpmn", "flow.xml")), ("bpmn",),
                       ("bpmn", "does not match")),
    # source
    "source without checked": (setitem("source", {"kind": "official", "act": "a"}), ("source",),
                               ("'checked'", "required")),
    "source official without act or url": (setitem("source", {"kind": "official",
                                                              "checked": "2026-12-02"}),
                                           ("source",), ("source",)),
    "source unverified without notes": (setitem("source", {"kind": "unverified",
                                                           "checked": "2026-12-02"}),
                                        ("source",), ("'notes'", "required")),
    "source kind unknown": (setitem("source", {**CITATION, "kind": "memory"}),
                            ("source", "kind"), ("'memory'",)),
    "source checked not a date": (setitem("source", {"kind": "unverified", "notes": "n",
                                                     "checked": "2.12.2026"}), ("source", "checked"),
                                  ("does not match",)),
    "source url not http": (setitem("source", {"kind": "secondary", "url": "javascript:alert(1)",
                                                  "checked": "2026-12-02"}), ("source", "url"),
                            ("does not match",)),
    "authority role unknown": (setitem("authorities", 0, "role", "signs"), ("authorities", 0, "role"),
                               ("'signs'",)),
}


@pytest.mark.parametrize(("change", "path", "words"), SCHEMA_INVALID.values(),
                         ids=SCHEMA_INVALID.keys())
def test_schema_refuses(change, path, words, schema_validator):
    assert_one_problem(mutated(change), path, *words, check_file_name=False)


def test_every_top_level_key_of_the_schema_is_exercised():
    import json

    schema = json.loads((ROOT / "schemas" / "procedure.schema.json").read_text(encoding="utf-8"))
    # what every definition needs, and what a procedure needs besides (type absent or procedure)
    procedure = schema["allOf"][0]["then"]["required"]
    assert sorted(schema["required"] + procedure) == sorted(SCHEMA_REQUIRED)
    # every optional top-level property has a passing example above or in BASE; the keys of
    # appeal and remarks definitions (type) are exercised in tests/test_appeals_definition.py
    optional = set(schema["properties"]) - set(SCHEMA_REQUIRED)
    assert optional == {"legal_basis", "source", "requested_documents", "appeal", "suspension",
                        "refusal_grounds", "steps", "bpmn", "notes", "type", "kinds", "topics",
                        "outcomes", "leave_grounds", "forwarding", "anonymous", "notices",
                        "options"}  # options: tests/test_options.py


def test_bpmn_path_passes_the_schema(tmp_path):
    """A relative .bpmn path is accepted by the schema: the only problem left is the file."""
    data = mutated(both(delitem("steps"), setitem("bpmn", "flows/6.1.1.bpmn")))
    _, problems, _ = check(data, base_dir=tmp_path)
    assert [p.message for p in problems] == ["BPMN file flows/6.1.1.bpmn does not exist"]


def test_schema_problems_are_all_reported_at_once():
    data = mutated(both(setitem("channels", ["email"]), setitem("roles", 0, "acts_as", "boss"),
                        delitem("result")))
    _, problems, text = check(data)
    assert len(problems) == 3
    assert [p.line for p in problems] == sorted([
        line_of(text, ("channels", 0)), line_of(text, ("roles", 0, "acts_as")), line_of(text, ())])


def test_problem_column_points_at_the_value():
    data = mutated(setitem("channels", ["in_person", "email"]))
    _, [problem], text = check(data)
    line = text.splitlines()[problem.line - 1]
    assert line[problem.column - 1:].startswith("email")


# --- semantic checks: one passing and one failing example each -------------------------------

def add_step(index, step):
    return lambda data: data["steps"].insert(index, step)


def add_field(step, fld):
    return lambda data: data["steps"][step].setdefault("fields", []).append(fld)


def move_step(i, j):
    return lambda data: data["steps"].insert(j, data["steps"].pop(i))


def swap_steps(i, j):
    def change(data):
        steps = data["steps"]
        steps[i], steps[j] = steps[j], steps[i]
    return change


def no_requested_documents(data):
    del data["requested_documents"]
    del data["term"]["when_documents_requested"]
    data["steps"] = [s for s in data["steps"] if s["kind"] != "request_documents"]


FIELD = {"id": "amount", "title": "Сумма", "type": "integer"}
EXEMPTION = {"id": "veteran", "title": "ветераны"}
CATEGORY = {"id": "citizen_by", "title": "ещё раз", "base_units": 2}

SEMANTIC_VALID = {
    "chapter matches number": both(setitem("number", "12.3"), setitem("chapter", 12)),
    "distinct role ids": lambda d: d["roles"].append({"id": "deputy", "title": "t",
                                                      "acts_as": "supervisor"}),
    "distinct document ids": lambda d: d["documents"].append({"id": "photo", "title": "фото"}),
    "distinct requested document ids": lambda d: d["requested_documents"].append(
        {"id": "registry", "title": "t", "source": "s"}),
    "distinct step ids": add_step(3, {"id": "second_review", "kind": "review", "title": "t",
                                      "role": "head"}),
    "distinct field ids": add_field(0, FIELD),
    "same field id in two choice lists": add_field(2, {"id": "kind", "title": "t",
                                                       "type": "choice", "choices": [
                                                           {"id": "lost", "title": "утрата"}]}),
    "distinct ground ids": setitem("refusal_grounds", [GROUND, {**GROUND, "id": "other"}]),
    "distinct suspension ground ids": setitem("suspension", {"allowed": True, "grounds": [
        GROUND, {**GROUND, "id": "other"}]}),
    "distinct category ids": lambda d: d["fee"]["categories"].append({**CATEGORY, "id": "pupil"}),
    "distinct exemption ids": setitem("fee", "exemptions", [EXEMPTION, {**EXEMPTION, "id": "x"}]),
    "own ground not a general one": setitem("refusal_grounds", [{"id": "age", "title": "возраст"}]),
    "suspension allowed with grounds": setitem("suspension", {"allowed": True, "grounds": [GROUND]}),
    "suspension not allowed, no grounds": setitem("suspension", {"allowed": False, "grounds": []}),
    "when_documents_requested equal to max": setitem("term", {"max": "1 month",
                                                             "when_documents_requested": "1 month"}),
    "when_documents_requested longer": setitem("term", {"max": "same day",
                                                        "when_documents_requested": "5 days"}),
    "no requested documents, no request step": no_requested_documents,
    "role declared": setitem("steps", 2, "role", "head"),
    "decision step without intake or issue": setitem("steps", [
        {**BASE["steps"][0], "kind": "review"},
        {"id": "decide", "kind": "decision", "title": "t", "role": "head"}]),
    "issue last after decision": add_step(5, {"id": "archive", "kind": "task", "title": "t",
                                              "role": "clerk"}),
    "field id like a builtin but not one": add_field(2, {**FIELD, "id": "channel_name"}),
    "step id like a reserved one but not one": add_step(3, {"id": "start_review", "kind": "task",
                                                            "title": "t", "role": "head"}),
    "valid regex": add_field(2, {**FIELD, "type": "string", "pattern": r"^\d{2}-[A-Z]+$"}),
    "min equal to max": add_field(2, {**FIELD, "min": 5, "max": 5}),
    "condition on an earlier field and builtins": setitem(
        "steps", 2, "condition", "reason == 'lost' and channel != 'post' and not exempt"),
    "condition allowed function": setitem("steps", 2, "condition", "len(reason) > 2"),
    "document condition on a later step's field": both(
        add_field(3, {"id": "approved", "title": "t", "type": "boolean"}),
        setitem("documents", 0, "condition", "approved or documents_requested")),
}


@pytest.mark.parametrize("change", SEMANTIC_VALID.values(), ids=SEMANTIC_VALID.keys())
def test_semantic_checks_accept(change):
    data = mutated(change)
    assert_valid(data)


SEMANTIC_INVALID = {
    "chapter does not match number": (setitem("chapter", 5), ("chapter",),
                                      ("chapter 5", "number 6.1.1")),
    "duplicate role id": (lambda d: d["roles"].append({"id": "clerk", "title": "t",
                                                       "acts_as": "clerk"}),
                          ("roles", 3, "id"), ("role id 'clerk'", "twice")),
    "duplicate document id": (lambda d: d["documents"].append({"id": "passport", "title": "t"}),
                              ("documents", 4, "id"), ("document id 'passport'", "twice")),
    "duplicate id across presented and requested": (
        lambda d: d["requested_documents"].append({"id": "passport", "title": "t", "source": "s"}),
        ("requested_documents", 1, "id"), ("document id 'passport'", "twice")),
    "duplicate requested document id": (
        lambda d: d["requested_documents"].append({"id": "archive_record", "title": "t",
                                                   "source": "s"}),
        ("requested_documents", 1, "id"), ("document id 'archive_record'", "twice")),
    "duplicate step id": (add_step(3, {"id": "review", "kind": "task", "title": "t",
                                       "role": "head"}),
                          ("steps", 3, "id"), ("step id 'review'", "twice")),
    "duplicate field id": (add_field(0, {**FIELD, "id": "reason"}), ("steps", 0, "fields", 1, "id"),
                           ("field id 'reason'", "twice")),
    "duplicate choice id": (lambda d: d["steps"][0]["fields"][0]["choices"].append(
        {"id": "lost", "title": "t"}), ("steps", 0, "fields", 0, "choices", 2, "id"),
        ("choice id 'lost'", "twice")),
    "duplicate refusal ground id": (setitem("refusal_grounds", [GROUND, GROUND]),
                                    ("refusal_grounds", 1, "id"), ("ground id 'some_ground'",)),
    "duplicate suspension ground id": (setitem("suspension", {"allowed": True,
                                                              "grounds": [GROUND, GROUND]}),
                                       ("suspension", "grounds", 1, "id"),
                                       ("ground id 'some_ground'", "twice")),
    "duplicate category id": (lambda d: d["fee"]["categories"].append(CATEGORY),
                              ("fee", "categories", 2, "id"), ("category id 'citizen_by'",)),
    "duplicate exemption id": (setitem("fee", "exemptions", [EXEMPTION, EXEMPTION]),
                               ("fee", "exemptions", 1, "id"), ("exemption id 'veteran'",)),
    "general ground redefined": (setitem("refusal_grounds", [{"id": "false_documents",
                                                              "title": "t"}]),
                                 ("refusal_grounds", 0, "id"), ("'false_documents'", "433")),
    "suspension grounds but not allowed": (setitem("suspension", {"allowed": False,
                                                                  "grounds": [GROUND]}),
                                           ("suspension", "grounds"), ("not allowed",)),
    "when_documents_requested shorter than max": (
        setitem("term", {"max": "2 months", "when_documents_requested": "1 month"}),
        ("term", "when_documents_requested"), ("shorter than the maximum",)),
    "undeclared step role": (setitem("steps", 2, "role", "lawyer"), ("steps", 2, "role"),
                             ("'lawyer'", "not declared")),
    "no decision step": (setitem("steps", 3, "kind", "review"), ("steps",),
                         ("exactly one decision", "found 0")),
    "two decision steps": (add_step(3, {"id": "pre_decision", "kind": "decision", "title": "t",
                                        "role": "head"}),
                           ("steps",), ("exactly one decision", "found 2")),
    "request_documents step without requested documents": (
        both(delitem("requested_documents"), delitem("term", "when_documents_requested")),
        ("steps", 1, "kind"), ("request_documents", "no requested_documents")),
    "intake not first": (move_step(2, 0), ("steps", 1, "kind"), ("intake", "first")),
    "issue before decision": (swap_steps(3, 4), ("steps", 3, "kind"), ("issue", "after the decision")),
    **{f"reserved field id {name}": (add_field(2, {**FIELD, "id": name}),
                                     ("steps", 2, "fields", 0, "id"), (f"'{name}'", "reserved"))
       for name in ["channel", "category", "exempt", "documents_requested", "outcome", "ground",
                    "typename"]},
    **{f"reserved step id {name}": (add_step(3, {"id": name, "kind": "task", "title": "t",
                                                 "role": "head"}),
                                    ("steps", 3, "id"), (f"'{name}'", "reserved"))
       for name in ["start", "end_approved", "end_refused"]},
    "conditional decision": (setitem("steps", 3, "condition", "reason == 'lost'"),
                             ("steps", 3, "condition"), ("decision", "cannot be conditional")),
    "field id repeated in another step": (add_field(2, {**FIELD, "id": "reason"}),
                                          ("steps", 2, "fields", 0, "id"),
                                          ("'reason'", "already a field of step 'intake'")),
    "invalid regex": (add_field(2, {**FIELD, "type": "string", "pattern": "[a-"}),
                      ("steps", 2, "fields", 0, "pattern"), ("pattern", "regular expression")),
    "min greater than max": (add_field(2, {**FIELD, "min": 10, "max": 1.5}),
                             ("steps", 2, "fields", 0, "min"), ("min is greater than max",)),
    "date bound outside the grammar": (add_field(2, {**FIELD, "type": "date", "min": "yesterday"}),
                                       ("steps", 2, "fields", 0, "min"), ("'yesterday'", "today")),
    "date bound too far": (add_field(2, {**FIELD, "type": "date", "max": "today + 5000 years"}),
                           ("steps", 2, "fields", 0, "max"), ("at most 1000",)),
    "date min after max": (add_field(2, {**FIELD, "type": "date", "min": "2001-01-01",
                                         "max": "2000-01-01"}),
                           ("steps", 2, "fields", 0, "min"), ("min is greater than max",)),
    "date bound on a number field": (add_field(2, {**FIELD, "min": "today"}),
                                     ("steps", 2, "fields", 0, "min"), ("must be a number",)),
    "condition refused by the safe evaluator": (
        setitem("steps", 2, "condition", "reason.__class__ == 'x'"), ("steps", 2, "condition"),
        ("condition refused",)),
    "condition calling a forbidden function": (
        setitem("steps", 2, "condition", "__import__('os').system('true')"),
        ("steps", 2, "condition"), ("condition refused",)),
    "condition with a syntax error": (setitem("steps", 2, "condition", "reason =="),
                                      ("steps", 2, "condition"), ("condition refused",)),
    "condition naming a later field": (
        both(add_field(3, {"id": "approved", "title": "t", "type": "boolean"}),
             setitem("steps", 2, "condition", "approved")),
        ("steps", 2, "condition"), ("'approved'", "earlier step")),
    "condition naming its own step's field": (
        both(add_field(2, {"id": "checked", "title": "t", "type": "boolean"}),
             setitem("steps", 2, "condition", "checked")),
        ("steps", 2, "condition"), ("'checked'",)),
    "condition naming an unknown field": (setitem("steps", 2, "condition", "reasn == 'lost'"),
                                          ("steps", 2, "condition"), ("'reasn'",)),
    "document condition naming an unknown name": (
        setitem("documents", 3, "condition", "not exmpt"), ("documents", 3, "condition"),
        ("'exmpt'",)),
    "requested document condition naming an unknown name": (
        setitem("requested_documents", 0, "condition", "foo == 1"),
        ("requested_documents", 0, "condition"), ("'foo'",)),
    "document condition refused": (setitem("documents", 3, "condition", "lambda: 1"),
                                   ("documents", 3, "condition"), ("condition refused",)),
    "source checked not a day": (setitem("source", {**CITATION, "checked": "2026-02-30"}),
                                 ("source", "checked"), ("'2026-02-30'", "not a day")),
    "source edition after the check": (
        setitem("source", {"kind": "official", "act": "a", "edition": "2027-01-01",
                           "checked": "2026-12-02"}),
        ("source", "edition"), ("edition is later",)),
    "every body only receives": (
        setitem("authorities", [{"kind": "housing_organisation", "title": "t", "role": "receives"}]),
        ("authorities",), ("name the one that decides",)),
}


@pytest.mark.parametrize(("change", "path", "words"), SEMANTIC_INVALID.values(),
                         ids=SEMANTIC_INVALID.keys())
def test_semantic_checks_refuse(change, path, words):
    assert_one_problem(mutated(change), path, *words)


def test_semantic_problems_are_all_reported_at_once():
    data = mutated(both(setitem("chapter", 5), setitem("steps", 2, "role", "lawyer"),
                        setitem("documents", 3, "condition", "nope")))
    _, problems, text = check(data)
    assert sorted(p.line for p in problems) == sorted([
        line_of(text, ("chapter",)), line_of(text, ("steps", 2, "role")),
        line_of(text, ("documents", 3, "condition"))])


def test_condition_names_are_free_in_a_bpmn_definition(tmp_path):
    """Without steps the form fields are unknown, so a document condition may name anything;
    the only problem is the missing BPMN file."""
    data = mutated(both(delitem("steps"), setitem("bpmn", "6.1.1.bpmn"),
                        setitem("documents", 3, "condition", "anything_at_all")))
    _, problems, _ = check(data, base_dir=tmp_path)
    assert [p.message for p in problems] == ["BPMN file 6.1.1.bpmn does not exist"]


def test_file_name_must_be_the_number():
    assert_valid(BASE, source="procedures/6.1.1.yaml")
    problem = assert_one_problem(BASE, ("number",), "file name must be the number", "6.1.1.yaml",
                                 source="procedures/6.1.2.yaml")
    assert problem.path == "procedures/6.1.2.yaml"


def test_file_name_is_not_checked_for_load_definition():
    procedure = load_definition(dump(BASE).encode(), "upload")
    assert procedure.number == "6.1.1"


def test_load_definition_raises_with_the_problems():
    with pytest.raises(CatalogError) as info:
        load_definition(dump(mutated(setitem("chapter", 5))).encode(), "upload")
    assert [p.path for p in info.value.problems] == ["upload"]


def test_missing_bpmn_file(tmp_path):
    data = mutated(both(delitem("steps"), setitem("bpmn", "flows/6.1.1.bpmn")))
    problem = assert_one_problem(data, ("bpmn",), "flows/6.1.1.bpmn", "does not exist",
                                 base_dir=tmp_path)
    assert problem.column > 1


def test_bpmn_file_outside_the_folder_is_refused(tmp_path):
    outside = tmp_path / "outside.bpmn"
    outside.write_text("<x/>", encoding="utf-8")
    data = mutated(both(delitem("steps"), setitem("bpmn", "../outside.bpmn")))
    assert_one_problem(data, ("bpmn",), "outside the definition's folder",
                       base_dir=tmp_path / "catalog")


def test_bpmn_needs_a_folder():
    data = mutated(both(delitem("steps"), setitem("bpmn", "6.1.1.bpmn")))
    assert_one_problem(data, ("bpmn",), "folder")


def write(folder: Path, data: dict, name: str | None = None) -> Path:
    path = folder / (name or f"{data['number']}.yaml")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump(data), encoding="utf-8")
    return path


def numbered(number: str, **changes) -> dict:
    data = copy.deepcopy(BASE)
    data["number"], data["chapter"] = number, int(number.split(".")[0])
    data["name"] = {"ru": f"Процедура {number}"}
    data.update(changes)
    return data


def test_distinct_numbers_in_two_files(tmp_path):
    write(tmp_path / "a", numbered("6.1.1"))
    write(tmp_path / "b", numbered("6.1.2"))
    procedures, problems = validate_paths([tmp_path])
    assert problems == []
    assert sorted(p.number for p in procedures) == ["6.1.1", "6.1.2"]


def test_duplicate_number_across_two_files(tmp_path):
    first = write(tmp_path / "a", BASE)
    second = write(tmp_path / "b", BASE)
    procedures, problems = validate_paths([tmp_path])
    assert [p.source for p in procedures] == [str(first)]
    assert len(problems) == 1
    assert problems[0].path == str(second)
    assert "6.1.1" in problems[0].message and str(first) in problems[0].message
    number_line = second.read_text(encoding="utf-8").splitlines().index("number: 6.1.1") + 1
    assert (problems[0].line, problems[0].column) == (number_line, 9)  # at the value of `number:`


def test_unreadable_yaml_is_a_problem_with_its_line(tmp_path):
    (tmp_path / "6.1.1.yaml").write_text("number: '6.1.1'\nnumber: '6.1.1'\n")
    _, problems = validate_paths([tmp_path])
    assert [(p.line, "duplicate key" in p.message) for p in problems] == [(2, True)]


def test_definition_files_expand_folders_and_skip_underscored(tmp_path):
    write(tmp_path, numbered("2.1"))
    write(tmp_path / "sub", numbered("1.1"))
    (tmp_path / "_draft.yaml").write_text("x: 1")
    (tmp_path / "readme.md").write_text("x")
    files = definition_files([tmp_path])
    assert files == sorted(files)
    assert [f.name for f in files] == ["2.1.yaml", "1.1.yaml"]


# --- load_catalog -----------------------------------------------------------------------------

@pytest.fixture
def catalog_dir(tmp_path):
    for number in ["1.10", "2.1", "1.2", "1.1", "1.2.3"]:
        write(tmp_path, numbered(number))
    return tmp_path


def test_load_catalog_keyed_by_number_in_official_order(catalog_dir):
    catalog = load_catalog(catalog_dir)
    assert list(catalog) == ["1.1", "1.2", "1.2.3", "1.10", "2.1"]
    assert all(isinstance(p, Procedure) and p.number == n for n, p in catalog.items())
    assert catalog["1.10"].name == "Процедура 1.10"
    assert catalog["1.10"].source == str(catalog_dir / "1.10.yaml")


def test_number_key_sorts_like_the_official_list():
    assert sorted(["1.10", "1.2", "10.1", "2.1", "1.2.1"], key=number_key) == [
        "1.2", "1.2.1", "1.10", "2.1", "10.1"]


def test_procedures_are_immutable(catalog_dir):
    procedure = load_catalog(catalog_dir)["1.1"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        procedure.number = "9.9"
    with pytest.raises(dataclasses.FrozenInstanceError):
        procedure.steps[0].role = "head"
    with pytest.raises(AttributeError):
        procedure.steps.append(None)
    assert isinstance(procedure.documents, tuple)
    assert isinstance(procedure.steps[0].fields[0].choices, tuple)


def test_definition_is_a_fresh_copy(catalog_dir):
    procedure = load_catalog(catalog_dir)["1.1"]
    definition = procedure.definition
    assert definition == numbered("1.1")
    definition["steps"].clear()
    definition["number"] = "x"
    assert procedure.definition == numbered("1.1")


def test_version_is_a_content_hash(tmp_path):
    text = dump(BASE)
    path = tmp_path / "6.1.1.yaml"
    path.write_text(text, encoding="utf-8")
    version = load_catalog(tmp_path)["6.1.1"].version
    assert len(version) == 64 and int(version, 16) >= 0

    # Comments, blank lines, quoting and flow style do not change the content, so not the version.
    restyled = ("# a comment\n\n" + text.replace("number: 6.1.1\n", "number: '6.1.1'  # here\n")
                .replace("channels:\n- in_person\n- post\n", "channels:  [in_person, post]\n"))
    assert "'6.1.1'  # here" in restyled and "[in_person, post]" in restyled
    path.write_text(restyled, encoding="utf-8")
    assert load_catalog(tmp_path)["6.1.1"].version == version

    # Nor does the order of keys.
    reordered = dict(reversed(list(BASE.items())))
    path.write_text(dump(reordered), encoding="utf-8")
    assert load_catalog(tmp_path)["6.1.1"].version == version

    # Any change of content does.
    path.write_text(dump(mutated(setitem("result", "title", "другой"))), encoding="utf-8")
    changed = load_catalog(tmp_path)["6.1.1"].version
    assert changed != version
    path.write_text(dump(mutated(setitem("steps", 2, "title", "Проверка!"))), encoding="utf-8")
    assert load_catalog(tmp_path)["6.1.1"].version not in (version, changed)


def test_load_catalog_raises_listing_every_problem(catalog_dir):
    write(catalog_dir, numbered("1.1", chapter=2))
    write(catalog_dir, numbered("2.1", channels=["fax"]))
    (catalog_dir / "3.1.yaml").write_bytes(b"number: \xff\n")
    with pytest.raises(CatalogError) as info:
        load_catalog(catalog_dir)
    problems = info.value.problems
    assert [Path(p.path).name for p in problems] == ["1.1.yaml", "2.1.yaml", "3.1.yaml"]
    text = str(info.value)
    assert all(str(p) in text for p in problems)
    assert "chapter 2 does not match number 1.1" in text
    assert "'fax'" in text
    assert "UTF-8" in text


def test_load_catalog_of_the_real_procedures_folder():
    catalog = load_catalog()
    assert "6.1.1" in catalog
    assert list(catalog) == sorted(catalog, key=number_key)
    procedure = catalog["6.1.1"]
    assert procedure.fee.amount(values={"applicant": "foreign", "document": "other"}) == 1
    assert procedure.ground("false_documents").legal_basis
    assert procedure.document_ids() >= {"application", "passport", "archive_record"}


def test_real_procedures_folder_validates_clean():
    procedures, problems = validate_paths([ROOT / "procedures"])
    assert problems == [], "\n".join(map(str, problems))
    assert len(procedures) == len(definition_files([ROOT / "procedures"]))


def test_every_file_of_the_catalog_cites_its_source():
    procedures, _ = validate_paths([ROOT / "procedures"])
    missing = [p.number for p in procedures if p.citation is None]
    assert missing == [], f"no source block in {missing} (docs/authoring.md, The source block)"
    assert all(p.citation.checked and (p.citation.act or p.citation.url) for p in procedures)


def test_the_corrected_rows():
    catalog = load_catalog()
    # 2.13: the citizen presents only the sick-leave sheet (Directive No. 2, §2.2)
    assert [d.id for d in catalog["2.13"].documents] == ["sick_leave"]
    assert catalog["6.1.1"].name == ("Выдача дубликатов документа об образовании, приложения к нему, "
                                     "документа об обучении")
    assert "house_register" in {d.id for d in catalog["1.1.5"].documents}
    assert {"child_birth_certificate", "employment_extracts"} <= {d.id for d in catalog["2.9"].documents}
    assert "pension_body" in {a.kind for a in catalog["2.35"].authorities}
    bodies = {a.kind: a for a in catalog["13.2"].authorities}
    assert bodies["internal_affairs_body"].decides and not bodies["internal_affairs_body"].receives
    assert bodies["housing_organisation"].receives and not bodies["housing_organisation"].decides


def test_a_copy_of_procedures_validates_clean(tmp_path):
    shutil.copytree(ROOT / "procedures", tmp_path / "procedures")
    assert load_catalog(tmp_path / "procedures")


def test_the_general_grounds_are_part_of_every_version(tmp_path, monkeypatch):
    from engine.definition import build
    from engine.definition import law as law_module

    before = build.build_procedure(BASE, "6.1.1.yaml").version
    law = tmp_path / "law.yaml"
    law.write_text(law_module.LAW_PATH.read_text(encoding="utf-8").replace(
        "иные основания", "другие основания"), encoding="utf-8")
    monkeypatch.setattr(law_module, "LAW_PATH", law)
    law_module.general_grounds.cache_clear()
    law_module.general_grounds_json.cache_clear()
    try:
        assert build.build_procedure(BASE, "6.1.1.yaml").version != before
    finally:
        monkeypatch.undo()
        law_module.general_grounds.cache_clear()
        law_module.general_grounds_json.cache_clear()
    assert build.build_procedure(BASE, "6.1.1.yaml").version == before
