"""The definition format of appeals and the book of remarks (`type: appeal | remarks`): what the
schema and the semantic checks accept and refuse, each refusal at its file:line."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from engine.definition.procedure import LEFT, NOTICE_PLACEHOLDERS
from engine.definition.validation import check_definition, load_catalog

ROOT = Path(__file__).resolve().parent.parent
APPEAL = yaml.safe_load((ROOT / "procedures" / "appeal.yaml").read_text(encoding="utf-8"))


def check(data: dict):
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    procedure, problems = check_definition(text.encode(), "appeal.yaml", check_file_name=False)
    return procedure, problems, text


def line_of(text: str, needle: str | tuple[str, int]) -> int:
    """The first line holding `needle` (or `(needle, offset)`: that many lines from it)."""
    needle, offset = needle if isinstance(needle, tuple) else (needle, 0)
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line) + offset


def changed(change) -> dict:
    data = copy.deepcopy(APPEAL)
    change(data)
    return data


def test_the_shipped_appeal_and_remarks_definitions_are_valid():
    catalog = load_catalog(ROOT / "procedures")
    appeal, book = catalog["appeal"], catalog["remarks-book"]
    assert (appeal.type, book.type) == ("appeal", "remarks")
    assert [k.id for k in appeal.kinds] == ["statement", "proposal", "complaint"]
    assert [k.title for k in appeal.kinds] == ["заявление", "предложение", "жалоба"]
    assert appeal.channels == ("written", "oral", "electronic")
    assert [o.id for o in appeal.outcomes] == ["satisfied", "not_satisfied", "explained"]
    assert {g.id for g in appeal.leave_grounds} >= {
        "form_defects", "other_procedure", "not_competent", "complaint_term_missed", "repeated",
        "correspondence_terminated", "abuse", "anonymous"}
    assert (appeal.term.max, appeal.term.counted_from) == ("15 days", "next_day")
    assert [(e.id, e.term) for e in appeal.term.extensions] == [
        ("extra_study", "1 month"), ("beyond_month", "2 months")]
    assert appeal.forwarding.within == "5 working days"
    assert list(catalog)[-2:] == ["appeal", "remarks-book"]  # after every numbered procedure
    assert not appeal.refusal_grounds and not appeal.acceptance_refusal_grounds
    assert [o.id for o in book.outcomes] == ["answered"]


def test_a_procedure_keeps_approve_and_refuse():
    proc = load_catalog(ROOT / "procedures")["2.1"]
    assert (proc.type, [o.id for o in proc.outcomes]) == ("procedure", ["approve", "refuse"])


@pytest.mark.parametrize(("change", "needle", "words"), [
    (lambda d: d["notices"][0].update(text="Здравствуйте, {first_name}"), "Здравствуйте",
     ("unknown placeholder {first_name}",)),
    (lambda d: d["notices"][0].update(text="{reg_number} {Reg}"), "{reg_number} {Reg}",
     ("unknown placeholder {Reg}",)),
    (lambda d: d["outcomes"][0].update(notice="no_such_notice"), "no_such_notice",
     ("notice 'no_such_notice' is not defined",)),
    (lambda d: d["leave_grounds"][0].update(notice="missing_notice"), "missing_notice",
     ("notice 'missing_notice' is not defined",)),
    (lambda d: d["forwarding"].update(notice="gone"), "notice: gone",
     ("notice 'gone' is not defined",)),
    (lambda d: d["term"]["extensions"][1].update(notice="later"), "notice: later",
     ("notice 'later' is not defined",)),
    (lambda d: d["term"]["extensions"][1].update(requires="nothing"), "requires: nothing",
     ("'nothing' is not another extension",)),
    (lambda d: d["term"]["extensions"][0].update(term="10 days"), "term: 10 days",
     ("shorter than the maximum term",)),
    (lambda d: d["outcomes"].append({"id": LEFT, "title": "x"}), f"id: {LEFT}",
     ("recorded by the engine itself",)),
    (lambda d: d["outcomes"].append({"id": "satisfied", "title": "дубль"}), ("title: дубль", -1),
     ("outcome id 'satisfied' is used twice",)),  # at the id, the line above its title
    (lambda d: d["anonymous"].update(ground="unknown_ground"), "unknown_ground",
     ("not one of leave_grounds",)),
    (lambda d: d["steps"].append({"id": "archive", "kind": "task", "title": "Архив",
                                  "role": "clerk"}), "kind: decision",
     ("must be the last step",)),
])
def test_semantic_problems_are_reported_at_their_line(change, needle, words):
    procedure, problems, text = check(changed(change))
    assert procedure is None
    assert len(problems) == 1, "\n".join(map(str, problems))
    [problem] = problems
    for word in words:
        assert word in problem.message
    assert problem.line == line_of(text, needle)


@pytest.mark.parametrize(("change", "words"), [
    (lambda d: d.update(number="2.99"), ("number", "does not match")),
    (lambda d: d.update(channels=["in_person"]), ("channels/0", "in_person")),
    (lambda d: d.update(chapter=2), ("'chapter' is not allowed", "type is 'appeal'")),
    (lambda d: d.update(fee={"kind": "free"}), ("'fee' is not allowed",)),
    (lambda d: d.pop("kinds"), ("'kinds' is a required property",)),
    (lambda d: d.pop("outcomes"), ("'outcomes' is a required property",)),
    (lambda d: d.update(type="petition"), ("type", "petition")),
    (lambda d: d["term"].update(counted_from="tomorrow"), ("counted_from", "tomorrow")),
    (lambda d: d["notices"][0].update(colour="red"), ("colour",)),
])
def test_the_schema_refuses_what_an_appeal_cannot_have(change, words):
    procedure, problems, _ = check(changed(change))
    assert procedure is None and len(problems) == 1, "\n".join(map(str, problems))
    for word in words:
        assert word in problems[0].message


def test_a_procedure_cannot_declare_appeal_keys():
    data = yaml.safe_load((ROOT / "procedures" / "2.1.yaml").read_text(encoding="utf-8"))
    data["kinds"] = [{"id": "x", "title": "x"}]
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    procedure, problems = check_definition(text.encode(), "2.1.yaml")
    assert procedure is None
    assert ["'kinds' is not allowed" in p.message for p in problems] == [True]


def test_the_placeholders_are_the_documented_list():
    doc = (ROOT / "docs" / "authoring.md").read_text(encoding="utf-8")
    for name in NOTICE_PLACEHOLDERS:
        assert f"`{{{name}}}`" in doc, name
