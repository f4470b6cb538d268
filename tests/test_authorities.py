"""engine.authorities: the catalog files, each rule with a passing and a failing example at its
file:line, the hours warning, which procedures an authority performs, re-reading on change, and
the command line (`okno validate`, `okno user add`)."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app as cli
from engine.authorities.catalog import CITIZENS
from engine.authorities.validation import DEFAULT_PATH, SCHEMA_PATH, check_authorities, load_authorities
from engine.definition.data_file import Reloading
from engine.definition.validation import CatalogError, load_catalog
from engine.errors import InvalidInput
from tests.db_support import url as db_url

ROOT = Path(__file__).resolve().parent.parent
PROCEDURES = load_catalog(ROOT / "procedures")
runner = CliRunner()

GOOD = """\
id: {id}
name: "Администрация района"
kind: local_executive_committee
address: "ул. Примерная, 1, г. Минск"
phone: "+375 17 000-00-00"
reception:
  mon: ["08:00-13:00", "14:00-20:00"]
  tue: ["08:00-17:00"]
  wed: ["08:00-17:00"]
  thu: ["08:00-17:00"]
  fri: ["08:00-16:00"]
officer:
  name: "Иванова Анна Петровна"
  position: "начальник службы «одно окно»"
deputy:
  name: "Петров Иван Сергеевич"
  position: "главный специалист"
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def good(authority_id: str = "district", extra: str = "") -> str:
    return GOOD.format(id=authority_id) + extra


def problems_of(folder: Path, numbers=None) -> list[tuple[str, int, int, str]]:
    checked = check_authorities([folder], numbers)
    return [(Path(p.path).name, p.line, p.column, p.message) for p in checked.problems]


def test_the_shipped_catalog_is_valid_and_keeps_directive_2() -> None:
    checked = check_authorities([DEFAULT_PATH], set(PROCEDURES))
    assert checked.problems == [] and checked.warnings == []
    ids = {a.id for a in checked.authorities}
    # Every organisation of the demo users and the tests' users is a real entry.
    assert {"minsk-sovetsky", "minsk-frunzensky", "kgk", "minjust", "minsk-gik"} <= ids


def test_the_kinds_are_the_procedures_kinds() -> None:
    authority = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    procedure = json.loads((ROOT / "schemas" / "procedure.schema.json").read_text(encoding="utf-8"))
    kinds = procedure["properties"]["authorities"]["items"]["properties"]["kind"]["enum"]
    assert authority["properties"]["kind"]["enum"] == kinds


# --------------------------------------------------------------- one rule, two examples each

RULES = {
    # rule: (files of the passing example, files of the failing one, where, message)
    "schema: required fields": (
        {"district": good()},
        {"district": good().replace('phone: "+375 17 000-00-00"\n', "")},
        ("district.yaml", 1, 1), "'phone' is a required property"),
    "schema: a weekday's interval": (
        {"district": good()},
        {"district": good().replace('tue: ["08:00-17:00"]', 'tue: ["8-17"]')},
        ("district.yaml", 8, 9), "tue/0: '8-17' does not match"),
    "schema: the reserved id of applicants": (
        {"district": good()},
        {CITIZENS: good(CITIZENS)},
        ("citizens.yaml", 1, 5), "id: 'citizens' should not be valid"),
    "file name is the id": (
        {"district": good()},
        {"other-name": good()},
        ("other-name.yaml", 1, 5), "file name must be the id: district.yaml"),
    "unique ids": (
        {"district": good(), "sub/district": good()},  # placeholder, replaced below
        {"district": good(), "sub/district": good()},
        ("district.yaml", 1, 5), "id 'district' is already used by"),
    "superior body exists": (
        {"district": good(extra="superior: city\n"), "city": good("city")},
        {"district": good(extra="superior: city\n")},
        ("district.yaml", 18, 11), "superior body 'city' is not in the catalog"),
    "not its own superior": (
        {"district": good(extra="superior: city\n"), "city": good("city")},
        {"district": good(extra="superior: district\n")},
        ("district.yaml", 18, 11), "cannot be its own superior body"),
    "no cycle of superiors": (
        {"district": good(extra="superior: city\n"), "city": good("city")},
        {"district": good(extra="superior: city\n"), "city": good("city", "superior: district\n")},
        ("city.yaml", 18, 11), "the superior bodies form a cycle: city -> district -> city"),
    "an interval ends after it starts": (
        {"district": good()},
        {"district": good().replace('tue: ["08:00-17:00"]', 'tue: ["17:00-08:00"]')},
        ("district.yaml", 8, 9), "17:00-08:00 ends before it starts"),
    "intervals do not overlap": (
        {"district": good()},
        {"district": good().replace('tue: ["08:00-17:00"]', 'tue: ["08:00-13:00", "12:00-17:00"]')},
        ("district.yaml", 8, 3), "08:00–13:00 and 12:00–17:00 overlap"),
    "included or excluded, not both": (
        {"district": good(extra='procedures:\n  include: ["5.2"]\n  exclude: ["13.2"]\n')},
        {"district": good(extra='procedures:\n  include: ["5.2"]\n  exclude: ["5.2"]\n')},
        ("district.yaml", 19, 13), "5.2 is both included and excluded"),
    "procedures named are in the catalog": (
        {"district": good(extra='procedures:\n  exclude: ["13.2"]\n')},
        {"district": good(extra='procedures:\n  exclude: ["13.99"]\n')},
        ("district.yaml", 19, 13), "procedure 13.99 is not in the catalog"),
}


@pytest.mark.parametrize("rule", RULES)
def test_each_rule_passes_a_right_catalog_and_refuses_a_wrong_one_at_its_line(tmp_path, rule):
    right, wrong, where, message = RULES[rule]
    if rule == "unique ids":  # the same id in two files of one folder: a second folder's file
        write(tmp_path / "right", "district", good())
        write(tmp_path / "right", "town", good("town"))
        write(tmp_path / "wrong" / "a", "district", good())
        write(tmp_path / "wrong" / "b", "district", good())
    else:
        for name, text in right.items():
            write(tmp_path / "right", name, text)
        for name, text in wrong.items():
            write(tmp_path / "wrong", name, text)
    assert problems_of(tmp_path / "right", set(PROCEDURES)) == []
    found = problems_of(tmp_path / "wrong", set(PROCEDURES))
    assert any((name, line, column) == where and message in text
               for name, line, column, text in found), found
    with pytest.raises(CatalogError):
        load_authorities(tmp_path / "wrong", set(PROCEDURES))


# ------------------------------------------------------------------------ the hours warning

@pytest.mark.parametrize(("hours", "warnings"), [
    ({"mon": "08:00-17:00", "tue": "09:00-20:00"}, []),  # opens by 8, or closes at 20; one late day
    ({"mon": "07:30-16:00", "tue": "10:00-20:30"}, []),
    ({"mon": "09:00-18:00", "tue": "09:00-20:00"},
     [(7, 3, "reception on Monday is 09:00–18:00")]),
    ({"mon": "08:00-17:00", "tue": "08:00-19:00"},
     [(6, 1, "no working day has reception until 20:00")]),
    ({"mon": "08:00-20:00", "tue": None},
     [(6, 1, "no reception on Tuesday, a working day")]),
])
def test_directive_2_hours_are_a_warning_at_their_line(tmp_path, hours, warnings) -> None:
    text = good()
    for day, interval in hours.items():
        old = next(line for line in text.splitlines() if line.startswith(f"  {day}:"))
        text = text.replace(old + "\n", "" if interval is None else f'  {day}: ["{interval}"]\n')
    write(tmp_path, "district", text)
    checked = check_authorities([tmp_path])
    assert checked.problems == []
    assert [(w.line, w.column) for w in checked.warnings] == [(line, col) for line, col, _ in warnings]
    for warning, (_, _, says) in zip(checked.warnings, warnings, strict=True):
        assert says in warning.message and "Directive No. 2" in warning.message
    assert len(load_authorities(tmp_path)) == 1  # a warning does not stop the catalog


# ------------------------------------------------------------------- the catalog's answers

def test_an_authority_performs_its_kinds_procedures_narrowed_and_extended() -> None:
    catalog = load_authorities(DEFAULT_PATH, set(PROCEDURES))
    sovetsky = catalog.get("minsk-sovetsky")
    numbers = [p.number for p in catalog.procedures_of(sovetsky, PROCEDURES.values())]
    assert "1.1.5" in numbers and "5.1" in numbers  # its kind
    assert "5.2" in numbers  # included: the civil registry department registers marriages
    assert "13.2" not in numbers  # excluded, though its kind is named
    assert "2.1" not in numbers  # an employer's procedure
    assert catalog.procedures_of(catalog.get("kgk"), PROCEDURES.values()) == []  # kind other
    assert catalog.superior(sovetsky).id == "minsk-gik"
    assert catalog.superior(catalog.get("minsk-gik")) is None
    assert sovetsky in catalog.authorities_for(PROCEDURES["1.1.5"])


def test_who_may_belong_to_which_organisation() -> None:
    catalog = load_authorities(DEFAULT_PATH)
    catalog.check_member("clerk", "minsk-sovetsky")
    catalog.check_member("applicant", CITIZENS)
    with pytest.raises(InvalidInput, match="'minsk-nowhere' is not in the authorities catalog"):
        catalog.check_member("clerk", "minsk-nowhere")
    with pytest.raises(InvalidInput, match="an applicant belongs to the organisation 'citizens'"):
        catalog.check_member("applicant", "minsk-sovetsky")
    with pytest.raises(InvalidInput, match="not in the authorities catalog"):
        catalog.check_member("auditor", CITIZENS)


def test_a_changed_catalog_is_read_again_and_a_broken_one_keeps_the_last_good(tmp_path) -> None:
    path = write(tmp_path, "district", good())
    live = Reloading(tmp_path, load_authorities, interval=0)
    assert live.get().get("district").phone == "+375 17 000-00-00"
    path.write_text(good().replace("000-00-00", "111-11-11"), encoding="utf-8")
    os.utime(path, ns=(1, 1))  # a different mark even within the file system's time resolution
    assert live.get().get("district").phone == "+375 17 111-11-11"
    write(tmp_path, "town", good("town"))
    assert len(live.get()) == 2
    path.write_text("id: [\n", encoding="utf-8")
    assert live.get().get("district").phone == "+375 17 111-11-11"  # kept, and logged


# --------------------------------------------------------------------------- command line

def test_okno_validate_checks_the_authorities_and_prints_warnings(tmp_path, monkeypatch) -> None:
    shutil.copytree(ROOT / "procedures", tmp_path / "procedures")
    shutil.copy(ROOT / "base_units.yaml", tmp_path / "base_units.yaml")
    write(tmp_path / "authorities", "district",
          good().replace('mon: ["08:00-13:00", "14:00-20:00"]', 'mon: ["09:00-18:00"]'))
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli, ["validate"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    where = Path("authorities") / "district.yaml"
    assert lines[0].startswith(f"{where}:6:1: warning: Directive No. 2")
    assert lines[1].startswith(f"{where}:7:3: warning: Directive No. 2 §2.1: reception on Monday")
    assert lines[-1].endswith("1 authority(-ies) valid, 6 base unit value(s) valid; "
                              "2 warning(s)")
    write(tmp_path / "authorities", "district", good(extra="superior: city\n"))
    result = runner.invoke(cli, ["validate"])
    assert result.exit_code == 1
    assert (f"{Path('authorities') / 'district.yaml'}:18:11: superior body 'city' is not in the "
            "catalog") in result.output.splitlines()


def test_okno_user_add_refuses_an_organisation_not_in_the_catalog(tmp_path) -> None:
    url = db_url(tmp_path / 'okno.db')

    def add(name: str, role: str, org: str):
        return runner.invoke(cli, ["user", "add", name, "--role", role, "--org", org,
                                   "--database", url], input="pw\n")

    refused = add("clerk", "clerk", "minsk-nowhere")
    assert refused.exit_code == 2
    assert "organisation 'minsk-nowhere' is not in the authorities catalog" in refused.output
    assert add("ivan", "applicant", "minsk-sovetsky").exit_code == 2
    assert add("clerk", "clerk", "minsk-sovetsky").exit_code == 0
    assert add("ivan", "applicant", CITIZENS).exit_code == 0
    listed = runner.invoke(cli, ["user", "list", "--database", url]).output.splitlines()
    assert sorted(listed) == ["clerk\tclerk\tminsk-sovetsky", "ivan\tapplicant\tcitizens"]


def test_a_link_out_of_the_catalog_folder_is_not_read(tmp_path) -> None:
    secret = tmp_path / "elsewhere.yaml"
    secret.write_text(good("district"), encoding="utf-8")
    (tmp_path / "catalog").mkdir()
    (tmp_path / "catalog" / "district.yaml").symlink_to(secret)
    [problem] = problems_of(tmp_path / "catalog")
    assert problem[:3] == ("district.yaml", 1, 1) and "lies outside its folder" in problem[3]
