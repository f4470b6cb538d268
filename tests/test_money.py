"""engine.money: the base unit in force on a date, fees in roubles, the values file; the API's
fee fields."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from engine.definition.procedure import Fee, FeeCategory
from engine.definition.validation import CatalogError
from engine.money import (
    DEFAULT_PATH,
    BaseUnits,
    BaseUnitValue,
    NoBaseUnitValue,
    check_base_units,
    fee_on,
    load_base_units,
    roubles,
)
from tests.test_api_support import Api

UNITS = load_base_units(DEFAULT_PATH)


@pytest.mark.parametrize(("day", "byn"), [
    (date(2021, 1, 1), "29.00"), (date(2023, 12, 31), "37.00"), (date(2024, 1, 1), "40.00"),
    (date(2025, 12, 31), "42.00"), (date(2026, 1, 1), "45.00"), (date(2031, 6, 1), "45.00"),
])
def test_the_value_in_force_changes_on_its_effective_date(day, byn) -> None:
    assert str(UNITS.value_on(day).byn) == byn


def test_a_fee_crossing_a_value_change() -> None:
    """0.5 base units (registration at the place of stay) on the last day of 2025 and the first
    of 2026."""
    assert UNITS.roubles_on(0.5, date(2025, 12, 31)) == Decimal("21.00")
    assert UNITS.roubles_on(0.5, date(2026, 1, 1)) == Decimal("22.50")
    assert UNITS.roubles_on(0.1, date(2024, 6, 1)) == Decimal("4.00")


def test_amounts_round_half_up_to_the_kopeck() -> None:
    value = BaseUnitValue(date(2030, 1, 1), Decimal("33.33"))
    assert roubles(0.5, value) == Decimal("16.67")  # 16.665: half up (half-even would be 16.66)
    assert roubles(Decimal("0.15"), value) == Decimal("5.00")  # 4.9995
    assert str(roubles(1, value)) == "33.33"


def test_a_date_before_the_first_value_has_no_amount() -> None:
    with pytest.raises(NoBaseUnitValue, match="no base unit value is known for 2020-12-31"):
        UNITS.value_on(date(2020, 12, 31))
    money = fee_on(Fee("base_units", 0.5), UNITS, date(2020, 12, 31))
    assert money.base_unit is None and money.amount is None and money.of(0.5) is None
    with pytest.raises(NoBaseUnitValue):
        BaseUnits(()).value_on(date(2026, 1, 1))


def test_each_fee_kind() -> None:
    day = date(2026, 3, 1)
    assert fee_on(Fee("free"), UNITS, day).amount == Decimal("0.00")
    by_category = fee_on(Fee("by_category", categories=(FeeCategory("by", "граждане", 0.1),
                                                         FeeCategory("f", "иностранцы", 1))),
                         UNITS, day)
    assert by_category.amount is None  # no single amount: one per category
    assert by_category.category("by") == Decimal("4.50")
    assert by_category.category("f") == Decimal("45.00")
    assert by_category.of(0.2) == Decimal("9.00")


def check(text: str):
    return check_base_units(text.encode(), "base_units.yaml")


def test_the_shipped_file_is_valid() -> None:
    units, problems = check(DEFAULT_PATH.read_text(encoding="utf-8"))
    assert problems == [] and units is not None and len(units.values) >= 6


@pytest.mark.parametrize(("text", "where", "says"), [
    ("values:\n  - effective_from: \"2024-01-01\"\n    byn: 40\n"
     "  - effective_from: \"2023-01-01\"\n    byn: 37\n", (4, 21), "in order of effective_from"),
    ("values:\n  - effective_from: \"2024-01-01\"\n    byn: 40.005\n", (3, 10),
     "more than two decimals"),
    ("values:\n  - effective_from: \"2024-02-30\"\n    byn: 40\n", (2, 21), "is not a date"),
    ("values:\n  - effective_from: \"2024-01-01\"\n    byn: -1\n", (3, 10),
     "less than or equal to the minimum of 0"),
    ("values:\n  - effective_from: \"2024-01-01\"\n    byn: 40\n    rate: 1\n", (4, 11),
     "'rate' was unexpected"),
])
def test_a_wrong_file_is_refused_at_its_line(text: str, where, says: str) -> None:
    units, problems = check(text)
    assert units is None and len(problems) == 1, problems
    assert (problems[0].line, problems[0].column) == where and says in problems[0].message


def test_loading_a_wrong_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / "b.yaml"
    path.write_text("values: []\n", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"b\.yaml:1:1: values: \[\] should be non-empty"):
        load_base_units(path)
    with pytest.raises(CatalogError, match="no such file"):
        load_base_units(tmp_path / "missing.yaml")


# ------------------------------------------------------------------------------ the API

def test_the_procedure_json_gives_the_fee_in_roubles_on_a_date(tmp_path: Path) -> None:
    api = Api(tmp_path)
    before = api.get("/api/procedures/13.2?on=2025-12-31").json()["fee"]
    after = api.get("/api/procedures/13.2?on=2026-01-01").json()["fee"]
    assert before["base_units"] == after["base_units"] == 0.5  # the old field stays
    assert (before["byn"], after["byn"]) == ("21.00", "22.50")
    assert after["on"] == "2026-01-01" and after["base_unit"]["byn"] == "45.00"
    assert after["base_unit"]["effective_from"] == "2026-01-01"
    unknown = api.get("/api/procedures/13.2?on=1999-01-01").json()["fee"]
    assert unknown["byn"] is None and unknown["base_unit"] is None
    today = api.get("/api/procedures/6.1.1").json()  # the app's clock: 18.06.2025
    assert today["fee"]["on"] == "2025-06-18" and today["fee"]["byn"] is None
    assert [c["byn"] for c in today["fee"]["cells"]] == ["4.20", "8.40", "42.00", "0.00"]
    listed = {p["number"]: p for p in api.get("/api/procedures?on=2026-02-01").json()}
    assert listed["5.2"]["fee"]["byn"] == "45.00" and listed["2.1"]["fee"]["byn"] == "0.00"
    for bad in ("tomorrow", "0.0", "2026-02-30", "1735689600"):  # no timestamps, real dates only
        refused = api.get(f"/api/procedures?on={bad}")
        assert refused.status_code == 422, bad
        assert refused.headers["content-type"].startswith("application/problem+json")
