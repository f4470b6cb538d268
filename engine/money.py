"""Money: the base unit's value on a date, and a fee's amount in roubles.

Fees are multiples of the base unit (базовая величина), whose value the Council of Ministers sets
each year. The values live in a data file beside the catalogs (`base_units.yaml`, setting
`OKNO_BASE_UNITS`, schema `schemas/base_units.schema.json`) so that an administrator adds next
year's value without a release. A value is in force from its `effective_from` date until the next
value's. Amounts are Decimals in roubles with two places (kopecks): the multiple times the value,
rounded half up to the kopeck (arithmetic rounding, as Belarusian payment practice rounds state
duties and fees to whole kopecks; the exact rule is *unverified*, see docs/authoring.md). A date
before the first known value has no amount: `NoBaseUnitValue`, never a guess.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from engine.definition.data_file import problems_at, read_data_file, read_file
from engine.definition.procedure import Fee
from engine.definition.validation import CatalogError, Problem
from engine.errors import NotFound

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = ROOT / "schemas" / "base_units.schema.json"
DEFAULT_PATH = ROOT / "base_units.yaml"
KOPECK = Decimal("0.01")


class NoBaseUnitValue(NotFound):
    """No base unit value is known for the date asked (it is before the first one in the file)."""


@dataclass(frozen=True, slots=True)
class BaseUnitValue:
    """The base unit in force from `effective_from`, in roubles."""

    effective_from: date
    byn: Decimal
    basis: str | None = None
    unverified: bool = False


def roubles(multiple: float | Decimal, value: BaseUnitValue) -> Decimal:
    """`multiple` base units in roubles at `value`, rounded half up to the kopeck."""
    return (_decimal(multiple) * value.byn).quantize(KOPECK, rounding=ROUND_HALF_UP)


def _decimal(number: float | int | Decimal) -> Decimal:
    # A definition's 0.1 is the float nearest to 0.1; its shortest text is what the analyst wrote.
    return number if isinstance(number, Decimal) else Decimal(str(number))


@dataclass(frozen=True)
class BaseUnits:
    """The known values, oldest first."""

    values: tuple[BaseUnitValue, ...]

    def value_on(self, day: date) -> BaseUnitValue:
        """The value in force on `day`; NoBaseUnitValue before the first one."""
        starts = [v.effective_from for v in self.values]
        index = bisect.bisect_right(starts, day) - 1
        if index < 0:
            first = f" (the first is of {starts[0].isoformat()})" if starts else ""
            raise NoBaseUnitValue(f"no base unit value is known for {day.isoformat()}{first}",
                                  field="date")
        return self.values[index]

    def roubles_on(self, multiple: float | Decimal, day: date) -> Decimal:
        """`multiple` base units in roubles at the value in force on `day`."""
        return roubles(multiple, self.value_on(day))


@dataclass(frozen=True, slots=True)
class FeeOnDate:
    """A procedure's fee in roubles on `on`: `base_unit` is the value in force (None before the
    first known one, and then every amount is None). `amount` is what kind `free` (0.00) and
    `base_units` cost; kind `by_category` has no single amount (None) but one per category."""

    on: date
    base_unit: BaseUnitValue | None
    amount: Decimal | None
    categories: tuple[tuple[str, Decimal | None], ...] = ()

    def of(self, multiple: float | Decimal | None) -> Decimal | None:
        """`multiple` base units (e.g. a requested document's fee) in roubles on this date."""
        if multiple is None or self.base_unit is None:
            return None
        return roubles(multiple, self.base_unit)

    def category(self, category_id: str) -> Decimal | None:
        return dict(self.categories).get(category_id)


def fee_on(fee: Fee, units: BaseUnits, day: date) -> FeeOnDate:
    """`fee` in roubles at the base unit in force on `day`."""
    try:
        value: BaseUnitValue | None = units.value_on(day)
    except NoBaseUnitValue:
        value = None
    categories = tuple((c.id, roubles(c.base_units, value) if value else None)
                       for c in fee.categories)
    if fee.kind == "free":
        amount: Decimal | None = Decimal("0.00")
    elif fee.kind == "base_units" and value is not None:
        amount = roubles(fee.base_units, value)
    else:  # by_category (one amount per category), or no value known for the date
        amount = None
    return FeeOnDate(day, value, amount, categories)


def check_base_units(raw: bytes, source: str) -> tuple[BaseUnits | None, list[Problem]]:
    """Validate a base unit file: the values if it is right, and every problem found."""
    doc, problems = read_data_file(raw, source, SCHEMA_PATH)
    if doc is None:
        return None, problems
    problems = problems_at(doc, source, _semantic_problems(doc.data["values"]))
    if problems:
        return None, sorted(problems)
    values = tuple(BaseUnitValue(date.fromisoformat(v["effective_from"]),
                                 _decimal(v["byn"]).quantize(KOPECK),
                                 v.get("basis"), v.get("unverified", False))
                   for v in doc.data["values"])
    return BaseUnits(values), []


def _semantic_problems(values: list[dict]):
    previous: date | None = None
    for i, item in enumerate(values):
        try:
            day = date.fromisoformat(item["effective_from"])
        except ValueError:
            yield ("values", i, "effective_from"), f"{item['effective_from']!r} is not a date"
            continue
        if previous is not None and day <= previous:
            yield (("values", i, "effective_from"),
                   "values must be in order of effective_from, each date after the one before")
        previous = day
        if _decimal(item["byn"]) != _decimal(item["byn"]).quantize(KOPECK):
            yield ("values", i, "byn"), f"{item['byn']} has more than two decimals (kopecks)"


def load_base_units(path: str | Path = DEFAULT_PATH) -> BaseUnits:
    """The base unit values of the file at `path`; CatalogError with file:line if it is wrong."""
    path = Path(path)
    # The file the setting names, links followed (an administrator's own choice); still only a
    # regular file of bounded size.
    raw, problems = read_file(path, path.resolve().parent)
    if raw is None:
        raise CatalogError(problems)
    units, problems = check_base_units(raw, str(path))
    if units is None:
        raise CatalogError(problems)
    return units
