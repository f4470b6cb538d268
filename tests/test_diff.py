"""engine.diff: the semantic catalog diff, its reports, `okno diff`, and git sides."""
from __future__ import annotations

import copy
import csv
import io
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from typer.testing import CliRunner

from api.cli import app
from engine.definition.build import build_procedure
from engine.definition.validation import CatalogError, load_definition, validate_paths
from engine.diff.compare import REFERENCE_YEAR, _due_vector, compare_terms
from engine.diff.model import BURDEN, CLASSES, KINDS, NEUTRAL, SCHEMA_ID, SIMPLIFICATION, CatalogDiff, diff_to_json
from engine.diff.pairing import diff_catalogs
from engine.diff.reports import FORMATS, render, render_html, render_table
from engine.diff.sides import load_git_catalog, load_side
from engine.diff.wording import term_ru
from engine.terms import default_calendar, due_date, parse_term

ROOT = Path(__file__).resolve().parent.parent
B, S, N = BURDEN, SIMPLIFICATION, NEUTRAL

BASE: dict[str, Any] = {
    "number": "6.1.1",
    "chapter": 6,
    "name": {"ru": "Выдача дубликата документа об образовании"},
    "legal_basis": ["Указ Президента Республики Беларусь от 26 апреля 2010 г. № 200, п. 6.1.1"],
    "authorities": [{"kind": "education_institution", "title": "учреждение образования"}],
    "channels": ["in_person", "post"],
    "documents": [
        {"id": "application", "title": "заявление"},
        {"id": "passport", "title": "паспорт или иной документ, удостоверяющий личность"},
        {"id": "damaged_document", "title": "пришедший в негодность документ",
         "condition": "reason == 'damaged'"},
    ],
    "requested_documents": [
        {"id": "archive_record", "title": "сведения из архива", "source": "государственный архив"},
        {"id": "name_record", "title": "сведения о перемене фамилии", "source": "органы ЗАГС"},
    ],
    "fee": {"kind": "by_category", "categories": [
        {"id": "citizen_by", "title": "граждане Республики Беларусь", "base_units": 0.1},
        {"id": "foreign", "title": "иностранные граждане", "base_units": 1},
    ]},
    "term": {"max": "15 days", "when_documents_requested": "1 month"},
    "validity": {"kind": "unlimited"},
    "result": {"title": "дубликат документа об образовании"},
    "appeal": {"superior_body": "вышестоящий орган управления образованием", "term": "12 months"},
    "refusal_grounds": [{"id": "never_issued", "title": "документ не выдавался"}],
    "roles": [
        {"id": "clerk", "title": "специалист службы «одно окно»", "acts_as": "clerk"},
        {"id": "head", "title": "руководитель", "acts_as": "supervisor"},
    ],
    "steps": [
        {"id": "intake", "kind": "intake", "title": "Прием заявления", "role": "clerk", "fields": [
            {"id": "reason", "title": "Причина", "type": "choice", "required": True,
             "choices": [{"id": "lost", "title": "утрата"}, {"id": "damaged", "title": "негодность"}]},
        ]},
        {"id": "decision", "kind": "decision", "title": "Решение", "role": "head"},
        {"id": "issue", "kind": "issue", "title": "Выдача дубликата", "role": "clerk"},
    ],
}

Mutator = Callable[[dict[str, Any]], Any]


def data(mutate: Mutator | None = None, **top: Any) -> dict[str, Any]:
    d = copy.deepcopy(BASE)
    d.update(copy.deepcopy(top))
    if mutate:
        mutate(d)
    return d


def proc(d: dict[str, Any], bpmn_xml: str | None = None):
    return build_procedure(d, f"{d['number']}.yaml", bpmn_xml)


def catalog(*datas: dict[str, Any]) -> dict:
    return {d["number"]: proc(d) for d in datas}


def pair_diff(old: dict, new: dict) -> CatalogDiff:
    return diff_catalogs(catalog(old), catalog(new))


def kinds(diff: CatalogDiff) -> list[tuple[str, str]]:
    return [(c.kind, c.class_) for c in diff.changes]


def doc(d: dict, doc_id: str) -> dict:
    return next(x for x in d["documents"] + d["requested_documents"] if x["id"] == doc_id)


def step(d: dict, step_id: str) -> dict:
    return next(x for x in d["steps"] if x["id"] == step_id)


def test_base_definition_is_valid() -> None:
    """The crafted pairs start from a definition the real loader accepts."""
    raw = yaml.safe_dump(BASE, allow_unicode=True, sort_keys=False).encode()
    assert load_definition(raw, "6.1.1.yaml").number == "6.1.1"


# --------------------------------------------------------------------------------------------------
# Every kind of change and its class: (old mutator, new mutator, expected (kind, class) in order)
# --------------------------------------------------------------------------------------------------

_FIVE_YEARS = {"kind": "duration", "duration": "5 years"}
_CAPPED = {**_FIVE_YEARS, "until": {"field": "birth_date", "after": "14 years"}}


def _with_birth(validity: dict[str, Any]) -> Mutator:
    """A date field in the intake form, and `validity` (which may be capped by it)."""
    def mutate(d: dict) -> None:
        d["steps"][0]["fields"].append({"id": "birth_date", "title": "Дата рождения", "type": "date"})
        d["validity"] = copy.deepcopy(validity)
    return mutate


def _set(path: str, value: Any) -> Mutator:
    def mutate(d: dict) -> None:
        *head, last = (int(k) if k.isdigit() else k for k in path.split("."))
        target: Any = d
        for key in head:
            target = target[key]
        if value is _DELETE:
            del target[last]
        else:
            target[last] = copy.deepcopy(value)
    return mutate


_DELETE = object()


def _all(*mutators: Mutator) -> Mutator:
    def mutate(d: dict) -> None:
        for m in mutators:
            m(d)
    return mutate


def _move_to_citizen(d: dict) -> None:
    d["requested_documents"] = [x for x in d["requested_documents"] if x["id"] != "archive_record"]
    d["documents"].append({"id": "archive_record", "title": "сведения из архива"})


def _move_to_authority(d: dict) -> None:
    d["documents"] = [x for x in d["documents"] if x["id"] != "passport"]
    d["requested_documents"].append({"id": "passport", "title": "паспорт или иной документ, "
                                     "удостоверяющий личность", "source": "ОВД"})


FREE = {"kind": "free"}
BU1 = {"kind": "base_units", "base_units": 1}
CATS3 = {"kind": "by_category", "categories": [
    {"id": "citizen_by", "title": "граждане Республики Беларусь", "base_units": 0.1},
    {"id": "minors", "title": "несовершеннолетние", "base_units": 0.5},
    {"id": "foreign", "title": "иностранные граждане", "base_units": 1}]}
EXEMPT = {"kind": "base_units", "base_units": 1, "exemptions": [
    {"id": "disabled", "title": "инвалиды I и II группы"}]}
BPMN_A = '<definitions id="a"/>'
BPMN_B = '<definitions id="b"/>'


def _bpmn(d: dict) -> None:
    del d["steps"]
    d["bpmn"] = "bpmn/6.1.1.bpmn"


def _opt(option_id: str, term: str, units: float, **extra: Any) -> dict[str, Any]:
    """A service option (docs/authoring.md, "Service options")."""
    fee = {"kind": "base_units", "base_units": units} if units else {"kind": "free"}
    return {"id": option_id, "title": f"порядок {option_id}", "term": {"max": term}, "fee": fee,
            **extra}


def _options(*options: dict[str, Any]) -> Mutator:
    return _set("options", list(options))


GENERAL, URGENT, SLOW = _opt("general", "15 days", 0, default=True), _opt("urgent", "7 days", 2), \
    _opt("slow", "1 month", 0)


# A fee table (docs/authoring.md, "Fee tables") over an intake choice field `applicant`.
APPLICANT = {"id": "applicant", "title": "Заявитель", "type": "choice", "required": True,
             "choices": [{"id": "citizen_by", "title": "гражданин Республики Беларусь"},
                         {"id": "foreign", "title": "иностранный гражданин"}]}
TABLE = {"kind": "table", "axes": ["applicant"], "cells": [
    {"when": {"applicant": "citizen_by"}, "base_units": 0.1},
    {"when": {"applicant": "foreign"}, "base_units": 1}]}


def _tabled(fee: dict[str, Any] = TABLE) -> Mutator:
    """The intake asks `applicant`; the fee is `fee`."""
    def mutate(d: dict) -> None:
        step(d, "intake")["fields"].append(copy.deepcopy(APPLICANT))
        d["fee"] = copy.deepcopy(fee)
    return mutate


def _stateless(units: float) -> Mutator:
    """A third applicant choice, priced `units` by its own cell."""
    def mutate(d: dict) -> None:
        step(d, "intake")["fields"][-1]["choices"].append({"id": "stateless",
                                                           "title": "лицо без гражданства"})
        d["fee"]["cells"].append({"when": {"applicant": "stateless"}, "base_units": units})
    return mutate


CASES: dict[str, tuple[Mutator | None, Mutator | None, list[tuple[str, str]]]] = {
    # name, translations, notes, legal basis, result
    "renamed": (None, _set("name.ru", "Выдача справки о получении образования"),
                [("procedure.renamed", N)]),
    "translation": (None, _set("name.be", "Выдача дубліката дакумента аб адукацыі"),
                    [("procedure.translation_changed", N)]),
    "notes": (None, _set("notes", "Примечание"), [("procedure.notes_changed", N)]),
    "legal_basis": (None, _set("legal_basis", ["Кодекс об образовании"]),
                    [("legal_basis.added", N), ("legal_basis.removed", N)]),
    "result_title": (None, _set("result.title", "дубликат аттестата"), [("result.changed", N)]),
    "result_form": (None, _set("result.form", "форма 1"), [("result.changed", N)]),
    # documents the citizen presents
    "document_added": (None, lambda d: d["documents"].append({"id": "photo", "title": "фотография"}),
                       [("document.added", B)]),
    "document_removed": (None, lambda d: d["documents"].pop(1), [("document.removed", S)]),
    "document_id_changed_same_title": (None, lambda d: doc(d, "passport").update(id="id_card"), []),
    "document_retitled": (None, lambda d: doc(d, "passport").update(title="паспорт"),
                          [("document.retitled", N)]),
    "moved_to_citizen": (None, _move_to_citizen, [("document.moved_to_citizen", B)]),
    "moved_to_authority": (None, _move_to_authority, [("document.moved_to_authority", S)]),
    "condition_removed": (None, lambda d: doc(d, "damaged_document").pop("condition"),
                          [("document.condition_removed", B)]),
    "condition_added": (None, lambda d: doc(d, "passport").update(condition="channel != 'portal'"),
                        [("document.condition_added", S)]),
    "optional_added": (None, lambda d: doc(d, "passport").update(optional=True),
                       [("document.optional_added", S)]),
    "optional_removed": (lambda d: doc(d, "passport").update(optional=True), None,
                         [("document.optional_removed", B)]),
    "may_be_requested_added": (None, lambda d: doc(d, "passport").update(may_be_requested=True),
                               [("document.may_be_requested_added", S)]),
    "may_be_requested_removed": (lambda d: doc(d, "passport").update(may_be_requested=True), None,
                                 [("document.may_be_requested_removed", B)]),
    "condition_changed": (None, lambda d: doc(d, "damaged_document").update(
        condition="reason == 'lost'"), [("document.condition_changed", N)]),
    "document_notes": (None, lambda d: doc(d, "passport").update(notes="оригинал"),
                       [("document.notes_changed", N)]),
    # documents the authority requests
    "requested_added": (None, lambda d: d["requested_documents"].append(
        {"id": "tax", "title": "сведения о доходах", "source": "налоговый орган"}),
        [("requested_document.added", N)]),
    "requested_added_paid": (None, lambda d: d["requested_documents"].append(
        {"id": "tax", "title": "сведения о доходах", "source": "налоговый орган", "fee": 0.2}),
        [("requested_document.added", B)]),
    "requested_removed": (None, lambda d: d["requested_documents"].pop(1),
                          [("requested_document.removed", N)]),
    "requested_removed_paid": (lambda d: doc(d, "name_record").update(fee=0.5),
                               lambda d: d["requested_documents"].pop(1),
                               [("requested_document.removed", S)]),
    "requested_retitled": (None, lambda d: doc(d, "archive_record").update(title="архивная справка"),
                           [("requested_document.retitled", N)]),
    "requested_source": (None, lambda d: doc(d, "archive_record").update(source="ведомственный архив"),
                         [("requested_document.source_changed", N)]),
    "requested_condition": (None, lambda d: doc(d, "archive_record").update(condition="reason == 'lost'"),
                            [("requested_document.condition_changed", N)]),
    "requested_notes": (None, lambda d: doc(d, "archive_record").update(notes="по почте"),
                        [("requested_document.notes_changed", N)]),
    "may_bring_removed": (None, lambda d: doc(d, "archive_record").update(citizen_may_bring=False),
                          [("requested_document.may_bring_removed", B)]),
    "may_bring_added": (lambda d: doc(d, "archive_record").update(citizen_may_bring=False), None,
                        [("requested_document.may_bring_added", S)]),
    "requested_fee_added": (None, lambda d: doc(d, "archive_record").update(fee=0.5),
                            [("requested_document.fee_added", B)]),
    "requested_fee_removed": (lambda d: doc(d, "archive_record").update(fee=0.5), None,
                              [("requested_document.fee_removed", S)]),
    "requested_fee_increased": (lambda d: doc(d, "archive_record").update(fee=0.5),
                                lambda d: doc(d, "archive_record").update(fee=1),
                                [("requested_document.fee_increased", B)]),
    "requested_fee_decreased": (lambda d: doc(d, "archive_record").update(fee=1),
                                lambda d: doc(d, "archive_record").update(fee=0.5),
                                [("requested_document.fee_decreased", S)]),
    # fee
    "fee_added": (_set("fee", FREE), _set("fee", BU1), [("fee.added", B)]),
    "fee_removed": (None, _set("fee", FREE), [("fee.removed", S)]),
    "fee_increased": (_set("fee", BU1), _all(_set("fee", BU1), _set("fee.base_units", 2)),
                      [("fee.increased", B)]),
    "fee_decreased": (_set("fee", BU1), _all(_set("fee", BU1), _set("fee.base_units", 0.5)),
                      [("fee.decreased", S)]),
    "fee_kind_some_pay_more": (None, _set("fee", {"kind": "base_units", "base_units": 0.5}),
                               [("fee.kind_changed", B)]),
    "fee_kind_some_pay_less": (_set("fee", BU1), None, [("fee.kind_changed", S)]),
    "fee_kind_same_amounts": (_set("fee", BU1), _all(
        _set("fee.categories.0.base_units", 1)), [("fee.kind_changed", N)]),
    "category_added_free": (None, lambda d: d["fee"]["categories"].append(
        {"id": "orphans", "title": "дети-сироты", "base_units": 0}), [("fee.category_added", S)]),
    "category_added_paid": (None, lambda d: d["fee"]["categories"].append(
        {"id": "stateless", "title": "лица без гражданства", "base_units": 2}),
        [("fee.category_added", B)]),
    "category_removed_cheapest": (_set("fee", CATS3), _all(
        _set("fee", CATS3), lambda d: d["fee"]["categories"].pop(0)), [("fee.category_removed", B)]),
    "category_removed_dearest": (_set("fee", CATS3), _all(
        _set("fee", CATS3), lambda d: d["fee"]["categories"].pop(2)),
        [("fee.category_removed", S)]),
    "category_increased": (None, _set("fee.categories.0.base_units", 0.2),
                           [("fee.category_increased", B)]),
    "category_decreased": (None, _set("fee.categories.1.base_units", 0.5),
                           [("fee.category_decreased", S)]),
    "category_retitled": (None, _set("fee.categories.1.title", "иностранцы"),
                          [("fee.category_retitled", N)]),
    "exemption_added": (_set("fee", BU1), _set("fee", EXEMPT), [("fee.exemption_added", S)]),
    "exemption_removed": (_set("fee", EXEMPT), _set("fee", BU1), [("fee.exemption_removed", B)]),
    "exemption_changed": (_set("fee", EXEMPT), _all(_set("fee", EXEMPT), _set(
        "fee.exemptions.0.title", "инвалиды I, II и III группы")), [("fee.exemption_changed", N)]),
    "fee_notes": (None, _set("fee.notes", "через ЕРИП"), [("fee.notes_changed", N)]),
    # fee tables, compared combination by combination of the axes' choices
    "table_cell_increased": (_tabled(), _all(_tabled(), _set("fee.cells.0.base_units", 0.2)),
                             [("fee.cell_increased", B)]),
    "table_cell_decreased": (_tabled(), _all(_tabled(), _set("fee.cells.1.base_units", 0.5)),
                             [("fee.cell_decreased", S)]),
    "table_cell_added": (_tabled(), _all(_tabled(), _stateless(1)),
                         [("fee.cell_added", B), ("step.field_changed", N)]),
    "table_free_cell_added": (_tabled(), _all(_tabled(), _stateless(0)),
                              [("fee.cell_added", N), ("step.field_changed", N)]),
    "table_cell_removed": (_all(_tabled(), _stateless(1)), _tabled(),
                           [("fee.cell_removed", S), ("step.field_changed", N)]),
    "table_from_flat": (_set("fee", BU1), _tabled(),
                        [("fee.cell_decreased", S), ("fee.kind_changed", N), ("step.field_added", N)]),
    "table_to_flat_more": (_tabled(), _all(_tabled(), _set("fee", {"kind": "base_units", "base_units": 0.5})),
                           [("fee.cell_decreased", S), ("fee.cell_increased", B),
                            ("fee.kind_changed", N)]),
    "table_axes_changed": (_tabled(), _all(_tabled(), _set("fee", {
        "kind": "table", "axes": ["reason"], "cells": [
            {"when": {"reason": "lost"}, "base_units": 1},
            {"when": {"reason": "damaged"}, "base_units": 0.1}]})),
        [("fee.table_axes_changed", B)]),
    # terms, compared by their deadlines from every start day of the reference year
    "term_longer": (None, _set("term.max", "1 month"), [("term.longer", B)]),
    "term_shorter": (None, _set("term.max", "10 days"), [("term.shorter", S)]),
    "term_shorter_working": (None, _set("term.max", "5 working days"), [("term.shorter", S)]),
    "term_reworded_calendar": (None, _set("term.max", "15 calendar days"), [("term.reworded", N)]),
    "term_reworded_working": (_set("term.max", "1 day"), _set("term.max", "1 working day"),
                              [("term.reworded", N)]),
    "term_requested_longer": (None, _set("term.when_documents_requested", "2 months"),
                              [("term.longer", B)]),
    "term_requested_added": (_set("term.when_documents_requested", _DELETE), None,
                             [("term.longer", B)]),
    "term_requested_removed": (None, _set("term.when_documents_requested", _DELETE),
                               [("term.shorter", S)]),
    "counted_later": (None, _set("term.counted_from", "documents_received"),
                      [("term.counted_from_changed", B)]),
    "counted_earlier": (_set("term.counted_from", "documents_received"), None,
                        [("term.counted_from_changed", S)]),
    "term_notes": (None, _set("term.notes", "со дня регистрации"), [("term.notes_changed", N)]),
    # validity
    "validity_shorter": (_set("validity", {"kind": "duration", "duration": "6 months"}),
                         _set("validity", {"kind": "duration", "duration": "3 months"}),
                         [("validity.shorter", B)]),
    "validity_longer": (_set("validity", {"kind": "duration", "duration": "30 days"}),
                        _set("validity", {"kind": "duration", "duration": "2 months"}),
                        [("validity.longer", S)]),
    "validity_reworded": (_set("validity", {"kind": "duration", "duration": "30 days"}),
                          _set("validity", {"kind": "duration", "duration": "30 calendar days"}),
                          [("validity.reworded", N)]),
    "validity_limited": (None, _set("validity", {"kind": "duration", "duration": "6 months"}),
                         [("validity.limited", B)]),
    "validity_limited_event": (None, _set("validity", {"kind": "until_event", "event": "до 18 лет"}),
                               [("validity.limited", B)]),
    "validity_unlimited": (_set("validity", {"kind": "duration", "duration": "6 months"}), None,
                           [("validity.unlimited", S)]),
    "validity_lump_sum": (None, _set("validity", {"kind": "lump_sum"}), [("validity.kind_changed", N)]),
    "validity_event_to_duration": (
        _set("validity", {"kind": "until_event", "event": "до 3 лет"}),
        _set("validity", {"kind": "duration", "duration": "3 months"}), [("validity.kind_changed", N)]),
    "validity_capped": (_with_birth(_FIVE_YEARS), _with_birth(_CAPPED), [("validity.capped", B)]),
    "validity_uncapped": (_with_birth(_CAPPED), _with_birth(_FIVE_YEARS),
                          [("validity.uncapped", S)]),
    "validity_cap_later": (_with_birth(_CAPPED), _with_birth(
        {**_CAPPED, "until": {"field": "birth_date", "after": "16 years"}}),
        [("validity.cap_changed", S)]),
    "validity_event": (_set("validity", {"kind": "until_event", "event": "до 3 лет"}),
                       _set("validity", {"kind": "until_event", "event": "до 18 лет"}),
                       [("validity.event_changed", N)]),
    # channels and authorities
    "portal_added": (None, _set("channels", ["in_person", "post", "portal"]), [("channel.added", S)]),
    "portal_removed": (_set("channels", ["in_person", "portal"]), _set("channels", ["in_person"]),
                       [("channel.removed", B)]),
    "authority_added": (None, lambda d: d["authorities"].append(
        {"kind": "other", "title": "организация-правопреемник"}), [("authority.added", N)]),
    "authority_removed": (lambda d: d["authorities"].append(
        {"kind": "other", "title": "организация-правопреемник"}), None, [("authority.removed", N)]),
    "authority_changed": (None, _set("authorities.0.title", "учреждение образования, выдавшее документ"),
                          [("authority.changed", N)]),
    "authority_now_only_receives": (
        lambda d: d["authorities"].append({"kind": "other", "title": "орган, принимающий решение"}),
        lambda d: (d["authorities"].append({"kind": "other", "title": "орган, принимающий решение",
                                            "role": "decides"}),
                   d["authorities"][0].update(role="receives")),
        [("authority.role_changed", N), ("authority.role_changed", N)]),
    "source_added": (None, _set("source", {"kind": "unverified", "checked": "2026-12-02",
                                           "notes": "по памяти"}), [("source.changed", N)]),
    "source_checked_again": (_set("source", {"kind": "unverified", "checked": "2026-12-02", "notes": "n"}),
                             _set("source", {"kind": "official", "act": "Указ № 200", "checked": "2027-01-10"}),
                             [("source.changed", N)]),
    # roles, steps, BPMN
    "role_added": (None, lambda d: d["roles"].append(
        {"id": "archivist", "title": "архивариус", "acts_as": "clerk"}), [("role.added", N)]),
    "role_removed": (lambda d: d["roles"].append(
        {"id": "archivist", "title": "архивариус", "acts_as": "clerk"}), None, [("role.removed", N)]),
    "role_changed": (None, _set("roles.1.acts_as", "clerk"), [("role.changed", N)]),
    "step_added": (None, lambda d: d["steps"].insert(1, {"id": "review", "kind": "review",
                                                         "title": "Проверка", "role": "clerk"}),
                   [("step.added", N)]),
    "step_removed": (lambda d: d["steps"].insert(1, {"id": "review", "kind": "review",
                                                     "title": "Проверка", "role": "clerk"}), None,
                     [("step.removed", N)]),
    "step_changed": (None, lambda d: step(d, "issue").update(term="1 day"), [("step.changed", N)]),
    "field_added": (None, lambda d: step(d, "intake")["fields"].append(
        {"id": "year", "title": "Год выдачи", "type": "integer"}), [("step.field_added", N)]),
    "field_removed": (None, lambda d: step(d, "intake").pop("fields"), [("step.field_removed", N)]),
    "field_changed": (None, lambda d: step(d, "intake")["fields"][0].update(required=False),
                      [("step.field_changed", N)]),
    # grounds, suspension, appeal
    "refusal_added": (None, lambda d: d["refusal_grounds"].append(
        {"id": "expired", "title": "истек срок хранения"}), [("refusal_ground.added", B)]),
    "refusal_removed": (None, _set("refusal_grounds", []), [("refusal_ground.removed", S)]),
    "refusal_changed": (None, _set("refusal_grounds.0.title", "документ не выдавался учреждением"),
                        [("refusal_ground.changed", N)]),
    "suspension_allowed": (None, _set("suspension", {"allowed": True, "grounds": [
        {"id": "court", "title": "спор в суде"}]}),
        [("suspension.allowed", B), ("suspension.ground_added", B)]),
    "suspension_disallowed": (_set("suspension", {"allowed": True, "grounds": [
        {"id": "court", "title": "спор в суде"}]}), _set("suspension", {"allowed": False}),
        [("suspension.disallowed", S), ("suspension.ground_removed", S)]),
    "suspension_ground_changed": (
        _set("suspension", {"allowed": True, "grounds": [{"id": "court", "title": "спор в суде"}]}),
        _set("suspension", {"allowed": True, "grounds": [{"id": "court", "title": "судебный спор"}]}),
        [("suspension.ground_changed", N)]),
    "appeal_added": (_set("appeal", _DELETE), None, [("appeal.added", N)]),
    "appeal_removed": (None, _set("appeal", _DELETE), [("appeal.removed", N)]),
    "appeal_body": (None, _set("appeal.superior_body", "министерство образования"),
                    [("appeal.body_changed", N)]),
    "appeal_shorter": (None, _set("appeal.term", "1 month"), [("appeal.term_shorter", B)]),
    "appeal_longer": (_set("appeal.term", "1 month"), None, [("appeal.term_longer", S)]),
    "appeal_reworded": (_set("appeal.term", "1 day"), _set("appeal.term", "1 working day"),
                        [("appeal.term_reworded", N)]),
    "appeal_court_removed": (None, _set("appeal.court", False), [("appeal.court_removed", B)]),
    "appeal_court_added": (_set("appeal.court", False), None, [("appeal.court_added", S)]),
    # Service options: a new slower order or a faster one taken away is the burden.
    "option_added_faster": (_options(GENERAL), _options(GENERAL, URGENT), [("option.added", S)]),
    "option_added_slower": (_options(GENERAL, URGENT), _options(GENERAL, URGENT, SLOW),
                            [("option.added", B)]),
    "option_added_same_term": (None, _options(GENERAL), [("option.added", N)]),
    "option_removed_faster": (_options(GENERAL, URGENT), _options(GENERAL), [("option.removed", B)]),
    "option_removed_slowest": (_options(GENERAL, URGENT, SLOW), _options(GENERAL, URGENT),
                               [("option.removed", S)]),
    "option_term_longer": (_options(GENERAL, URGENT), _options(GENERAL, _opt("urgent", "10 days", 2)),
                           [("option.term_longer", B)]),
    "option_term_shorter": (_options(GENERAL, URGENT), _options(GENERAL, _opt("urgent", "5 days", 2)),
                            [("option.term_shorter", S)]),
    "option_term_reworded": (_options(GENERAL, URGENT),
                             _options(GENERAL, _opt("urgent", "7 calendar days", 2)),
                             [("option.term_reworded", N)]),
    "option_fee_increased": (_options(GENERAL, URGENT), _options(GENERAL, _opt("urgent", "7 days", 3)),
                             [("option.fee_increased", B)]),
    "option_fee_decreased": (_options(GENERAL, URGENT), _options(GENERAL, _opt("urgent", "7 days", 1)),
                             [("option.fee_decreased", S)]),
    "option_retitled": (_options(GENERAL, URGENT),
                        _options(GENERAL, {**URGENT, "title": "срочно"}), [("option.retitled", N)]),
    "option_default_changed": (_options(GENERAL, URGENT),
                               _options(_opt("general", "15 days", 0), {**URGENT, "default": True}),
                               [("option.default_changed", N)]),
    "option_notes_changed": (_options(GENERAL, URGENT),
                             _options(GENERAL, {**URGENT, "notes": "по памяти"}),
                             [("option.notes_changed", N)]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_kind_of_change(name: str) -> None:
    old_mut, new_mut, expected = CASES[name]
    assert kinds(pair_diff(data(old_mut), data(new_mut))) == expected


def test_bpmn_changed() -> None:
    old = proc(data(_bpmn), BPMN_A)
    new = proc(data(_bpmn), BPMN_B)
    diff = diff_catalogs({"6.1.1": old}, {"6.1.1": new})
    assert kinds(diff) == [("bpmn.changed", N)]


def test_steps_replaced_by_bpmn() -> None:
    diff = diff_catalogs(catalog(data()), {"6.1.1": proc(data(_bpmn), BPMN_A)})
    assert kinds(diff) == [("bpmn.changed", N)] + [("step.removed", N)] * 3


def _catalog_kinds() -> set[str]:
    """Kinds met in the catalog-level tests below."""
    return {"procedure.added", "procedure.removed", "procedure.renumbered"}


def test_every_kind_is_covered() -> None:
    seen = set(_catalog_kinds()) | {"bpmn.changed"}
    for _old, _new, expected in CASES.values():
        seen |= {k for k, _ in expected}
    assert seen == set(KINDS)


def test_the_class_of_each_kind_is_its_documented_default_or_decided_by_values() -> None:
    by_values = {k for k, (_, text) in KINDS.items() if "класс по" in text or "если" in text}
    for _old, _new, expected in CASES.values():
        for kind, cls in expected:
            assert cls in CLASSES
            if kind not in by_values:
                assert cls == KINDS[kind][0], kind


def test_no_change_no_diff() -> None:
    diff = diff_catalogs(catalog(data()), catalog(data()))
    assert diff.changes == () and diff.summary == {"burden": 0, "simplification": 0, "neutral": 0}


def test_reordered_lists_and_key_order_are_not_changes() -> None:
    def shuffle(d: dict) -> None:
        d["documents"].reverse()
        d["channels"].reverse()
        d["requested_documents"].reverse()
    assert kinds(pair_diff(data(), data(shuffle))) == []


# --------------------------------------------------------------------------------------------------
# Messages, values and paths
# --------------------------------------------------------------------------------------------------

def test_longer_term_message_and_values() -> None:
    (change,) = pair_diff(data(), data(_set("term.max", "1 month"))).changes
    assert change.message == ("Срок увеличен: 15 дней → 1 месяц; новый срок позже в 365 из 365 "
                              "дней (2025 г.)")
    assert (change.path, change.old, change.new) == ("term.max", "15 days", "1 month")
    assert (change.old_number, change.new_number, change.number) == ("6.1.1", "6.1.1", "6.1.1")
    assert change.procedure == BASE["name"]["ru"]


def test_requested_term_messages_say_what_applies_without_one() -> None:
    (change,) = pair_diff(data(), data(_set("term.when_documents_requested", _DELETE))).changes
    assert change.path == "term.when_documents_requested"
    assert change.message == ("Срок при запросе документов сокращён: 1 месяц → "
                              "не указан (равен сроку 15 дней); новый срок раньше в 365 из 365 "
                              "дней (2025 г.)")


@pytest.mark.parametrize(("text", "ru"), [
    ("same day", "в день обращения"), ("1 day", "1 день"), ("3 days", "3 дня"),
    ("15 days", "15 дней"), ("21 days", "21 день"), ("11 days", "11 дней"),
    ("15 calendar days", "15 календарных дней"), ("1 working day", "1 рабочий день"),
    ("3 working days", "3 рабочих дня"), ("5 working days", "5 рабочих дней"),
    ("1 month", "1 месяц"), ("2 months", "2 месяца"), ("12 months", "12 месяцев"),
])
def test_term_in_russian(text: str, ru: str) -> None:
    assert term_ru(text) == ru


def test_messages_are_russian_and_paths_name_the_item() -> None:
    diff = pair_diff(data(), data(_all(
        lambda d: d["documents"].append({"id": "photo", "title": "фотография"}),
        _set("fee.categories.1.base_units", 2),
        _set("channels", ["in_person"]),
    )))
    by_kind = {c.kind: c for c in diff.changes}
    assert by_kind["document.added"].path == "documents[photo]"
    assert by_kind["document.added"].message == \
        "Гражданин должен представить новый документ: «фотография»"
    assert by_kind["fee.category_increased"].path == "fee.categories[foreign].base_units"
    assert by_kind["fee.category_increased"].message.endswith("1 БВ → 2 БВ")
    assert by_kind["channel.removed"].path == "channels[post]"
    for change in diff.changes:
        assert re.search("[а-яё]", change.message, re.IGNORECASE)


def test_fee_messages_use_base_units_with_a_decimal_comma() -> None:
    (change,) = pair_diff(data(_set("fee", FREE)), data(_set("fee", {
        "kind": "base_units", "base_units": 0.5}))).changes
    assert change.message == "Введена плата: бесплатно → 0,5 БВ"
    assert (change.old, change.new) == ("free", "base_units:0.5")


# --------------------------------------------------------------------------------------------------
# Terms compared by their deadlines from every start day of the reference year
# --------------------------------------------------------------------------------------------------

# (old, new, start days of 2025 with a later new deadline, with an earlier one): units differ, so
# an average length (a working day = 7/5 of a day) would call the first three shorter and the
# fourth the same, yet on some start days the new deadline is later.
CROSS_UNIT = [
    ("10 days", "7 working days", 82, 181),
    ("15 days", "10 working days", 37, 288),
    ("1 month", "21 working days", 102, 188),
    ("7 days", "5 working days", 39, 104),
]


def test_the_reference_year_is_fixed() -> None:
    assert REFERENCE_YEAR == 2025
    c = compare_terms("15 days", "1 month")
    assert (c.year, c.days, c.later, c.earlier) == (2025, 365, 365, 0)


@pytest.mark.parametrize(("old", "new", "later", "earlier"), CROSS_UNIT)
def test_a_term_later_on_some_start_day_is_a_burden(old: str, new: str, later: int,
                                                    earlier: int) -> None:
    c = compare_terms(old, new)
    assert (c.later, c.earlier, c.days, c.same_unit) == (later, earlier, 365, False)
    (change,) = pair_diff(data(_set("term.max", old)), data(_set("term.max", new))).changes
    assert (change.kind, change.class_, change.path, change.old, change.new) == \
        ("term.longer", B, "term.max", old, new)
    assert change.message == (f"Срок изменён: {term_ru(old)} → {term_ru(new)}; новый срок позже в "
                              f"{later} из 365 дней (2025 г.), раньше в {earlier}")


def test_the_message_for_a_mixed_change() -> None:
    (change,) = pair_diff(data(_set("term.max", "10 days")),
                          data(_set("term.max", "7 working days"))).changes
    assert change.message == ("Срок изменён: 10 дней → 7 рабочих дней; новый срок позже в 82 из "
                              "365 дней (2025 г.), раньше в 181")


def test_a_term_never_later_and_sometimes_earlier_is_a_simplification() -> None:
    (change,) = pair_diff(data(), data(_set("term.max", "5 working days"))).changes
    assert (change.kind, change.class_) == ("term.shorter", S)
    assert change.message == ("Срок сокращён: 15 дней → 5 рабочих дней; новый срок раньше в 365 "
                              "из 365 дней (2025 г.)")
    # The same unit: the values say it all, no counts.
    (change,) = pair_diff(data(), data(_set("term.max", "10 days"))).changes
    assert change.message == "Срок сокращён: 15 дней → 10 дней"


@pytest.mark.parametrize(("old", "new"), [
    ("15 days", "15 calendar days"), ("15 days", "P15D"), ("15 calendar days", "P15D"),
    ("1 month", "P1M"), ("12 months", "1 year"), ("same day", "P0D"), ("1 day", "1 working day"),
])
def test_the_same_deadline_on_every_start_day_is_a_rewording(old: str, new: str) -> None:
    assert compare_terms(old, new).same
    (change,) = pair_diff(data(_set("term.max", old)), data(_set("term.max", new))).changes
    assert (change.kind, change.class_) == ("term.reworded", N)


def test_a_rewording_across_units_says_the_deadlines_match() -> None:
    (change,) = pair_diff(data(_set("term.max", "1 day")),
                          data(_set("term.max", "1 working day"))).changes
    assert change.message == ("Срок записан иначе, длина та же: 1 день → 1 рабочий день; новый "
                              "срок совпадает со старым в 365 из 365 дней (2025 г.)")


def test_the_term_when_documents_are_requested_is_compared_by_deadlines() -> None:
    (change,) = pair_diff(data(), data(_set("term.when_documents_requested",
                                            "21 working days"))).changes
    assert (change.kind, change.class_, change.path) == \
        ("term.longer", B, "term.when_documents_requested")
    assert change.message.endswith("новый срок позже в 102 из 365 дней (2025 г.), раньше в 188")


@pytest.mark.parametrize(("old", "new", "kind", "cls"), [
    # A validity that ends earlier on any start day is the burden (30 days -> 1 month ends
    # earlier on 26 start days: 30 January + 30 days is 1 March, + 1 month is 28 February).
    ("30 days", "1 month", "validity.shorter", B),
    ("1 month", "30 days", "validity.shorter", B),
    ("1 month", "2 months", "validity.longer", S),
    ("7 days", "5 working days", "validity.shorter", B),
    ("5 working days", "7 days", "validity.shorter", B),
    ("10 working days", "1 month", "validity.longer", S),
    ("1 day", "1 working day", "validity.reworded", N),
])
def test_validity_is_compared_the_other_way(old: str, new: str, kind: str, cls: str) -> None:
    (change,) = pair_diff(data(_set("validity", {"kind": "duration", "duration": old})),
                          data(_set("validity", {"kind": "duration", "duration": new}))).changes
    assert (change.kind, change.class_) == (kind, cls)


def test_validity_message_counts_the_earlier_expiry_first() -> None:
    (change,) = pair_diff(data(_set("validity", {"kind": "duration", "duration": "30 days"})),
                          data(_set("validity", {"kind": "duration", "duration": "1 month"}))).changes
    assert change.message == ("Срок действия изменён: 30 дней → 1 месяц; новый срок действия "
                              "истекает раньше в 26 из 365 дней (2025 г.), позже в 144")


@pytest.mark.parametrize(("old", "new", "kind", "cls"), [
    ("7 days", "5 working days", "appeal.term_shorter", B),
    ("10 working days", "1 month", "appeal.term_longer", S),
    ("12 months", "1 year", "appeal.term_reworded", N),
])
def test_appeal_terms_are_compared_the_other_way(old: str, new: str, kind: str, cls: str) -> None:
    (change,) = pair_diff(data(_set("appeal.term", old)), data(_set("appeal.term", new))).changes
    assert (change.kind, change.class_) == (kind, cls)


@pytest.mark.parametrize("text", ["1 working day", "5 working days", "21 working days",
                                  "250 working days", "15 days", "1 month", "same day"])
@pytest.mark.parametrize("year", [2024, 2025])
def test_deadline_vectors_are_due_dates(text: str, year: int) -> None:
    """The cached vectors (working days slid from day to day) equal engine.terms.due_date."""
    cal = default_calendar()
    term = parse_term(text)
    first = date(year, 1, 1)
    expected = tuple(due_date(first + timedelta(days=i), term, cal).toordinal()
                     for i in range((date(year + 1, 1, 1) - first).days))
    assert _due_vector(term, cal, year) == expected


def test_the_longest_terms_the_schema_allows_are_compared_quickly() -> None:
    import time

    started = time.perf_counter()
    c = compare_terms("9999 working days", "9999 days")
    assert c.days == 365 and c.later == 0 and c.earlier == 365
    assert compare_terms("99 months", "98 months").earlier == 365
    assert time.perf_counter() - started < 5


# --------------------------------------------------------------------------------------------------
# Procedures: added, removed, renumbered, renamed
# --------------------------------------------------------------------------------------------------

def _other(number: str, name: str) -> dict:
    return data(number=number, chapter=int(number.split(".")[0]), name={"ru": name})


def test_added_and_removed_procedures() -> None:
    a = _other("2.1", "Выдача выписки (копии) из трудовой книжки")
    b = _other("2.2", "Выдача справки о месте работы, службы и занимаемой должности")
    diff = diff_catalogs(catalog(a), catalog(b))
    assert [(c.kind, c.class_, c.old_number, c.new_number) for c in diff.changes] == [
        ("procedure.removed", S, "2.1", None),
        ("procedure.added", B, None, "2.2"),
    ]
    assert diff.changes[1].message == ("Новая процедура: 2.2 «Выдача справки о месте работы, "
                                       "службы и занимаемой должности»")


def test_renumbered_by_identical_name() -> None:
    diff = diff_catalogs(catalog(data()), catalog(data(number="6.1.2")))
    assert [(c.kind, c.class_, c.old_number, c.new_number) for c in diff.changes] == [
        ("procedure.renumbered", N, "6.1.1", "6.1.2")]
    assert diff.changes[0].message == "Процедура перенумерована: 6.1.1 → 6.1.2"


def test_renumbered_by_name_ignoring_case_quotes_and_spaces() -> None:
    new = data(number="6.2", name={"ru": "  выдача  ДУБЛИКАТА документа об образовании."})
    assert kinds(diff_catalogs(catalog(data()), catalog(new))) == [
        ("procedure.renamed", N), ("procedure.renumbered", N)]


def test_renumbered_with_near_identical_name_and_other_changes() -> None:
    new = data(_set("term.max", "1 month"), number="6.1.3",
               name={"ru": "Выдача дубликата документа об образовании и обучении"})
    diff = diff_catalogs(catalog(data()), catalog(new))
    assert kinds(diff) == [("procedure.renamed", N), ("procedure.renumbered", N), ("term.longer", B)]
    assert {(c.old_number, c.new_number) for c in diff.changes} == {("6.1.1", "6.1.3")}


def test_insertion_shifts_numbers_instead_of_renaming() -> None:
    """The list inserts a new 2.2 and renumbers 2.2 -> 2.3: one added, one renumbered."""
    a = _other("2.1", "Выдача выписки (копии) из трудовой книжки")
    b = _other("2.2", "Выдача справки о месте работы, службы и занимаемой должности")
    new_b = _other("2.3", "Выдача справки о месте работы, службы и занимаемой должности")
    inserted = _other("2.2", "Выдача справки о периоде работы, службы")
    diff = diff_catalogs(catalog(a, b), catalog(a, inserted, new_b))
    assert [(c.kind, c.old_number, c.new_number) for c in diff.changes] == [
        ("procedure.added", None, "2.2"),
        ("procedure.renumbered", "2.2", "2.3"),
    ]


def test_same_number_different_name_is_renamed() -> None:
    diff = diff_catalogs(catalog(_other("2.1", "Выдача выписки из трудовой книжки")),
                         catalog(_other("2.1", "Выдача справки о стаже")))
    assert kinds(diff) == [("procedure.renamed", N)]


def test_order_is_by_number_then_kind_and_input_order_does_not_matter() -> None:
    olds = [_other("2.10", "Процедура десять"), _other("2.9", "Процедура девять"),
            _other("1.1.5", "Процедура пять")]
    news = [data(_set("term.max", "1 month"), number="2.10", chapter=2, name={"ru": "Процедура десять"}),
            data(_set("channels", ["in_person"]), number="1.1.5", chapter=1,
                 name={"ru": "Процедура пять"}),
            _other("2.11", "Совсем новая процедура")]
    one = diff_catalogs(catalog(*olds), catalog(*news))
    two = diff_catalogs(catalog(*reversed(olds)), catalog(*reversed(news)))
    assert one == two
    assert [(c.number, c.kind) for c in one.changes] == [
        ("1.1.5", "channel.removed"), ("2.9", "procedure.removed"), ("2.10", "term.longer"),
        ("2.11", "procedure.added")]
    assert one.summary == {"burden": 3, "simplification": 1, "neutral": 0}
    assert one.has_burden
    assert [key for key, _ in one.by_procedure()] == [
        ("1.1.5", "1.1.5"), ("2.9", None), ("2.10", "2.10"), (None, "2.11")]


# --------------------------------------------------------------------------------------------------
# JSON and the reports
# --------------------------------------------------------------------------------------------------

def _sample_diff() -> CatalogDiff:
    old = catalog(data(), _other("2.1", "Выдача выписки (копии) из трудовой книжки"))
    new = catalog(data(_all(_set("term.max", "1 month"), _set("channels", ["in_person", "post", "portal"]),
                            _set("result.title", "=HYPERLINK(\"http://x\")"))),
                  _other("2.2", "Выдача справки | о месте <работы>"))
    return diff_catalogs(old, new, old_label="git:HEAD~1", new_label="procedures")


def test_diff_to_json_schema() -> None:
    doc_ = diff_to_json(_sample_diff())
    assert list(doc_) == ["schema", "old", "new", "summary", "changes"]
    assert doc_["schema"] == SCHEMA_ID == "okno.diff/1"
    assert doc_["old"] == {"source": "git:HEAD~1", "procedures": 2}
    assert doc_["new"] == {"source": "procedures", "procedures": 2}
    assert doc_["summary"] == {"burden": 2, "simplification": 2, "neutral": 1}
    assert list(doc_["changes"][0]) == ["old_number", "new_number", "procedure", "kind", "class",
                                        "path", "old", "new", "message"]
    assert orjson.loads(orjson.dumps(doc_)) == doc_


def test_table_plain_and_coloured() -> None:
    diff = _sample_diff()
    plain = render_table(diff)
    assert "\x1b[" not in plain
    assert "Итого: обременение: 2, упрощение: 2, нейтрально: 1" in plain
    assert "Срок увеличен: 15 дней → 1 месяц" in plain
    coloured = render_table(diff, color=True)
    assert "\x1b[31m" in coloured and "\x1b[32m" in coloured
    line = next(x for x in coloured.splitlines() if "term.longer" in x)
    assert line.startswith("\x1b[31m")
    assert "Изменений нет." in render_table(diff_catalogs({}, {}))


def test_html_is_self_contained_printable_and_escaped() -> None:
    page = render_html(_sample_diff())
    assert page.startswith("<!DOCTYPE html>")
    assert "<style>" in page and "<link" not in page and "<script" not in page
    assert "color: #000" in page and "background: #fff" in page
    sizes = [float(x) for x in re.findall(r"font-size:\s*([\d.]+)pt", page)]
    assert sizes and min(sizes) >= 15
    assert "font-weight: bold" in page
    assert "&lt;работы&gt;" in page and "<работы>" not in page
    assert page.index("Итого") < page.index("2.1 —") < page.index("2.2 —") < page.index("6.1.1 —")


def test_every_format_renders() -> None:
    diff = _sample_diff()
    for fmt in FORMATS:
        out = render(diff, fmt)
        assert isinstance(out, bytes) and out
    with pytest.raises(ValueError, match="unknown format"):
        render(diff, "pdf")


# --------------------------------------------------------------------------------------------------
# The CLI
# --------------------------------------------------------------------------------------------------

runner = CliRunner()


def _write(folder: Path, *datas: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for d in datas:
        (folder / f"{d['number']}.yaml").write_text(
            yaml.safe_dump(d, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return folder


@pytest.fixture()
def sides(tmp_path: Path) -> tuple[Path, Path]:
    old = _write(tmp_path / "old", data(), _other("2.1", "Выдача выписки (копии) из трудовой книжки"))
    new = _write(tmp_path / "new", data(_all(_set("term.max", "1 month"),
                                             _set("channels", ["in_person", "post", "portal"]))),
                 _other("2.1", "Выдача выписки (копии) из трудовой книжки"))
    return old, new


def test_cli_table_default(sides: tuple[Path, Path]) -> None:
    result = runner.invoke(app, ["diff", str(sides[0]), str(sides[1])])
    assert result.exit_code == 0, result.output
    assert "Срок увеличен: 15 дней → 1 месяц" in result.stdout
    assert "\x1b[" not in result.stdout  # not a tty: plain


def test_cli_markdown(sides: tuple[Path, Path]) -> None:
    result = runner.invoke(app, ["diff", str(sides[0]), str(sides[1]), "--format", "markdown"])
    assert result.exit_code == 0
    assert result.stdout.startswith("# Инвентаризация")
    assert "| **обременение** | `term.longer` | `term.max` | Срок увеличен: 15 дней → 1 месяц; " \
        "новый срок позже в 365 из 365 дней (2025 г.) |" in result.stdout


def test_cli_json(sides: tuple[Path, Path]) -> None:
    result = runner.invoke(app, ["diff", str(sides[0]), str(sides[1]), "-f", "json"])
    assert result.exit_code == 0
    doc_ = orjson.loads(result.stdout)
    assert doc_["schema"] == "okno.diff/1"
    assert doc_["summary"] == {"burden": 1, "simplification": 1, "neutral": 0}
    assert doc_["old"]["source"] == str(sides[0])
    assert [c["kind"] for c in doc_["changes"]] == ["channel.added", "term.longer"]


def test_cli_csv(sides: tuple[Path, Path]) -> None:
    result = runner.invoke(app, ["diff", str(sides[0]), str(sides[1]), "-f", "csv"])
    assert result.exit_code == 0
    assert result.stdout_bytes.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(result.stdout_bytes.decode("utf-8-sig"))))
    assert [(r["new_number"], r["kind"], r["class"], r["old"], r["new"]) for r in rows] == [
        ("6.1.1", "channel.added", "simplification", "", "portal"),
        ("6.1.1", "term.longer", "burden", "15 days", "1 month")]


def test_cli_html_and_xlsx_to_files(sides: tuple[Path, Path], tmp_path: Path) -> None:
    from openpyxl import load_workbook

    report = tmp_path / "report.html"
    result = runner.invoke(app, ["diff", str(sides[0]), str(sides[1]), "-f", "html", "-o", str(report)])
    assert result.exit_code == 0
    assert "Срок увеличен: 15 дней → 1 месяц" in report.read_text(encoding="utf-8")
    book = tmp_path / "report.xlsx"
    result = runner.invoke(app, ["diff", str(sides[0]), str(sides[1]), "-f", "xlsx", "-o", str(book)])
    assert result.exit_code == 0
    wb = load_workbook(book)
    rows = list(wb["Изменения"].iter_rows(values_only=True))
    assert rows[0][0] == "Номер (было)"
    assert [(r[4], r[3]) for r in rows[1:]] == [("channel.added", "упрощение"),
                                                ("term.longer", "обременение")]
    summary = {r[0]: r[1] for r in wb["Итого"].iter_rows(values_only=True) if r and r[0]}
    assert summary["обременение"] == 1


def test_cli_binary_to_stdout_when_not_a_tty(sides: tuple[Path, Path]) -> None:
    result = runner.invoke(app, ["diff", str(sides[0]), str(sides[1]), "-f", "xlsx"])
    assert result.exit_code == 0
    assert result.stdout_bytes.startswith(b"PK")
    result = runner.invoke(app, ["diff", str(sides[0]), str(sides[1]), "-f", "html"])
    assert result.stdout.startswith("<!DOCTYPE html>")


def test_xlsx_never_turns_definition_text_into_a_formula(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    book = tmp_path / "x.xlsx"
    book.write_bytes(render(_sample_diff(), "xlsx"))
    ws = load_workbook(book)["Изменения"]
    cell = next(c for row in ws.iter_rows() for c in row if str(c.value).startswith("=HYPERLINK"))
    assert cell.data_type == "s"
    assert "'=HYPERLINK" in render(_sample_diff(), "csv").decode("utf-8-sig")


def test_cli_fail_on(sides: tuple[Path, Path], tmp_path: Path) -> None:
    old, new = map(str, sides)
    assert runner.invoke(app, ["diff", old, new]).exit_code == 0
    assert runner.invoke(app, ["diff", old, new, "--fail-on", "none"]).exit_code == 0
    assert runner.invoke(app, ["diff", old, new, "--fail-on", "burden"]).exit_code == 1
    assert runner.invoke(app, ["diff", old, new, "--fail-on", "any"]).exit_code == 1
    simpler = str(_write(tmp_path / "simpler", data(_set("channels", ["in_person", "post", "portal"])),
                         _other("2.1", "Выдача выписки (копии) из трудовой книжки")))
    assert runner.invoke(app, ["diff", old, simpler, "--fail-on", "burden"]).exit_code == 0
    assert runner.invoke(app, ["diff", old, simpler, "--fail-on", "any"]).exit_code == 1
    assert runner.invoke(app, ["diff", old, old, "--fail-on", "any"]).exit_code == 0
    # The report is still written when the gate fails.
    out = tmp_path / "gate.json"
    result = runner.invoke(app, ["diff", old, new, "--fail-on", "burden", "-f", "json", "-o", str(out)])
    assert result.exit_code == 1 and orjson.loads(out.read_bytes())["summary"]["burden"] == 1


def test_cli_bad_options_and_invalid_side(sides: tuple[Path, Path], tmp_path: Path) -> None:
    old, new = map(str, sides)
    result = runner.invoke(app, ["diff", old, new, "-f", "pdf"])
    assert result.exit_code == 2 and "--format must be one of" in result.stderr
    result = runner.invoke(app, ["diff", old, new, "--fail-on", "everything"])
    assert result.exit_code == 2
    bad = tmp_path / "bad"
    shutil.copytree(sides[1], bad)
    text = (bad / "6.1.1.yaml").read_text(encoding="utf-8").replace("max: 1 month", "max: 1 fortnight")
    (bad / "6.1.1.yaml").write_text(text, encoding="utf-8")
    line = text.splitlines().index("  max: 1 fortnight") + 1
    result = runner.invoke(app, ["diff", old, str(bad)])
    assert result.exit_code == 2
    assert "cannot load NEW side" in result.stderr
    assert f"{bad / '6.1.1.yaml'}:{line}:" in result.stderr
    result = runner.invoke(app, ["diff", str(tmp_path / "missing"), new])
    assert result.exit_code == 2 and "no such file or folder" in result.stderr


# --------------------------------------------------------------------------------------------------
# git sides
# --------------------------------------------------------------------------------------------------

def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    done = subprocess.run(["git", "-C", str(repo), "-c", "commit.gpgsign=false", *args],
                          capture_output=True, text=True, env=env, check=True)
    return done.stdout.strip()


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    root = tmp_path / "catalog-repo"
    root.mkdir()
    _git(root, "init", "-q")
    (root / "README.md").write_text("catalog\n")
    _git(root, "add", "README.md")
    _git(root, "commit", "-q", "-m", "empty")
    _write(root / "procedures", data())
    _git(root, "add", "procedures")
    _git(root, "commit", "-q", "-m", "catalog")
    _write(root / "procedures", data(_all(_set("term.max", "1 month"),
                                          lambda d: d["documents"].pop(1))))
    _git(root, "commit", "-q", "-am", "longer term, one document fewer")
    return root


def test_git_side_against_git_side(repo: Path) -> None:
    result = runner.invoke(app, ["diff", "git:HEAD~1", "git:HEAD", "--repo", str(repo), "-f", "json"])
    assert result.exit_code == 0, result.output
    doc_ = orjson.loads(result.stdout)
    assert doc_["old"] == {"source": "git:HEAD~1", "procedures": 1}
    assert [(c["kind"], c["class"]) for c in doc_["changes"]] == [
        ("document.removed", "simplification"), ("term.longer", "burden")]


def test_git_side_against_folder_from_the_current_directory(repo: Path, monkeypatch) -> None:
    monkeypatch.chdir(repo)
    (repo / "procedures" / "6.1.1.yaml").write_text(
        yaml.safe_dump(data(_set("channels", ["in_person", "post", "portal"])), allow_unicode=True),
        encoding="utf-8")
    result = runner.invoke(app, ["diff", "git:HEAD~1", "procedures", "-f", "json",
                                 "--fail-on", "burden"])
    assert result.exit_code == 0, result.output
    assert [c["kind"] for c in orjson.loads(result.stdout)["changes"]] == ["channel.added"]


def test_git_revision_without_catalog_is_empty(repo: Path) -> None:
    assert load_git_catalog("HEAD~2", repo=repo) == {}
    diff = diff_catalogs(load_side("git:HEAD~2", repo=repo), load_side("git:HEAD", repo=repo))
    assert kinds(diff) == [("procedure.added", B)]


def test_git_sources_name_the_revision(repo: Path) -> None:
    (proc_,) = load_git_catalog("HEAD", repo=repo).values()
    assert proc_.source == "git:HEAD:procedures/6.1.1.yaml"


def test_git_errors(repo: Path) -> None:
    result = runner.invoke(app, ["diff", "git:no-such-rev", "git:HEAD", "--repo", str(repo)])
    assert result.exit_code == 2 and "unknown git revision 'no-such-rev'" in result.stderr
    bad = (repo / "procedures" / "6.1.1.yaml")
    lines = bad.read_text(encoding="utf-8").splitlines()
    line = next(i for i, x in enumerate(lines, 1) if x.startswith("chapter:"))
    bad.write_text("\n".join(x if not x.startswith("chapter:") else "chapter: 7" for x in lines) + "\n",
                   encoding="utf-8")
    _git(repo, "commit", "-q", "-am", "broken")
    with pytest.raises(CatalogError) as err:
        load_git_catalog("HEAD", repo=repo)
    assert str(err.value).startswith(f"git:HEAD:procedures/6.1.1.yaml:{line}:")
    result = runner.invoke(app, ["diff", "git:HEAD~1", "git:HEAD", "--repo", str(repo)])
    assert result.exit_code == 2 and f"git:HEAD:procedures/6.1.1.yaml:{line}:" in result.stderr


DEEP_YAML = "[" * 3000 + "\n"  # PyYAML's composer recurses once per level: RecursionError


def test_git_side_with_deeply_nested_yaml_is_a_clear_error(repo: Path) -> None:
    (repo / "procedures" / "9.9.yaml").write_text(DEEP_YAML, encoding="utf-8")
    _git(repo, "add", "procedures")
    _git(repo, "commit", "-q", "-m", "hostile")
    with pytest.raises(CatalogError) as err:
        load_git_catalog("HEAD", repo=repo)
    assert str(err.value).startswith("git:HEAD:procedures/9.9.yaml:1:")
    assert "nesting is deeper than 100 levels" in str(err.value)
    result = runner.invoke(app, ["diff", "git:HEAD~1", "git:HEAD", "--repo", str(repo)])
    assert result.exit_code == 2, result.output
    assert not isinstance(result.exception, RecursionError)
    assert "cannot load NEW side git:HEAD" in result.stderr
    assert "git:HEAD:procedures/9.9.yaml:1:" in result.stderr
    assert "nesting is deeper than 100 levels" in result.stderr
    assert "Traceback" not in result.output


def test_folder_side_with_deeply_nested_yaml_is_a_clear_error(sides: tuple[Path, Path]) -> None:
    old, new = sides
    (new / "9.9.yaml").write_text(DEEP_YAML, encoding="utf-8")
    with pytest.raises(CatalogError, match="nesting is deeper than 100 levels"):
        load_side(str(new))
    result = runner.invoke(app, ["diff", str(old), str(new)])
    assert result.exit_code == 2, result.output
    assert not isinstance(result.exception, RecursionError)
    assert f"{new / '9.9.yaml'}:1:" in result.stderr
    assert "nesting is deeper than 100 levels" in result.stderr


def test_git_side_outside_a_repository(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    result = runner.invoke(app, ["diff", "git:HEAD", "git:HEAD", "--repo", str(tmp_path)])
    assert result.exit_code == 2 and "error: cannot load OLD side" in result.stderr


def test_project_history() -> None:
    """`okno diff git:<first commit with procedures/> procedures` on this repository."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    probe = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--show-toplevel"],
                           capture_output=True, text=True, check=False)
    if probe.returncode != 0 or Path(probe.stdout.strip()).resolve() != ROOT:
        pytest.skip("not a git checkout of the project")
    first = subprocess.run(["git", "-C", str(ROOT), "log", "--reverse", "--format=%H", "--",
                            "procedures/"], capture_output=True, text=True, check=False).stdout.split()
    if not first:
        pytest.skip("no commit has procedures/ yet")
    result = runner.invoke(app, ["diff", f"git:{first[0]}", str(ROOT / "procedures"),
                                 "--repo", str(ROOT), "-f", "json"])
    if result.exit_code == 2 and "cannot load OLD side" in result.stderr:
        pytest.skip(f"the first catalog no longer passes today's schema: {result.stderr[:300]}")
    if result.exit_code == 2 and validate_paths([ROOT / "procedures"])[1]:
        pytest.skip(f"the catalog itself does not validate (okno validate): {result.stderr[:300]}")
    assert result.exit_code == 0, result.output
    doc_ = orjson.loads(result.stdout)
    assert doc_["schema"] == "okno.diff/1"
    assert doc_["old"]["procedures"] >= 1
    assert doc_["new"]["procedures"] >= 1
    for change in doc_["changes"]:
        assert change["class"] in CLASSES and change["kind"] in KINDS
