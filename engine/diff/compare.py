"""Comparing one procedure with its other version: terms by their deadlines, lists of records by
id (falling back to title), every field a reviewer must see.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import lru_cache
from typing import Any, TypeVar

from engine.definition.procedure import CHANNELS, Fee, Procedure, Validity
from engine.diff.model import BURDEN, KINDS, NEUTRAL, SIMPLIFICATION, Change, Value
from engine.diff.wording import (
    CHANNEL_RU,
    _same_text,
    fee_ru,
    fee_value,
    normalize_name,
    quoted,
    term_ru,
    units_ru,
    validity_ru,
    validity_until_ru,
    validity_value,
)
from engine.terms import (
    CalendarError,
    Term,
    TermError,
    WorkCalendar,
    default_calendar,
    due_date,
    parse_term,
)

# Comparing two terms by their deadlines
# --------------------------------------------------------------------------------------------------

# Two terms are compared by counting both from every day of this year. The year is fixed, not
# today's, so that the same two catalogs always give the same report (the same class and the same
# counts in the message) whenever and wherever the diff runs; 2025 is a recent year whose working-day
# calendar (holidays and transfers) is settled.
REFERENCE_YEAR = 2025


@dataclass(frozen=True, slots=True)
class TermComparison:
    """The new term's deadline against the old one's, counted from each start day of ``year``.

    ``later``/``earlier``: on how many start days the new deadline is later/earlier; ``days``: how
    many start days were compared (365 or 366), or 0 if the calendar could not count them (terms
    reaching past its range): then ``later``/``earlier`` are 1/0 from the approximate lengths.
    """

    later: int
    earlier: int
    days: int
    year: int
    same_unit: bool

    @property
    def same(self) -> bool:
        return not self.later and not self.earlier


@lru_cache(maxsize=256)
def _due_vector(term: Term, calendar: WorkCalendar, year: int) -> tuple[int, ...]:
    """Ordinals of `engine.terms.due_date` of ``term`` for each start day of ``year``, in order."""
    first = date(year, 1, 1)
    count = (date(year + 1, 1, 1) - first).days
    if term.unit != "working_days":
        return tuple(due_date(first + timedelta(days=i), term, calendar).toordinal()
                     for i in range(count))
    # The N-th working day after a start day, slid from one start day to the next instead of
    # counted afresh (a term may be thousands of working days): if the next start day is a day
    # off, the working days after it are the same, so is the deadline; if it is a working day, it
    # drops out of the count and the deadline moves to the next working day.
    due = due_date(first, term, calendar)
    result = [due.toordinal()]
    for i in range(1, count):
        if calendar.is_working_day(first + timedelta(days=i)):
            due = calendar.next_working_day(due + timedelta(days=1))
        result.append(due.toordinal())
    return tuple(result)


@lru_cache(maxsize=1024)
def _compare_cached(old: Term, new: Term, calendar: WorkCalendar, year: int) -> TermComparison:
    same_unit = old.unit == new.unit
    try:
        a, b = _due_vector(old, calendar, year), _due_vector(new, calendar, year)
    except (CalendarError, TermError):
        # Deadlines past the calendar's range (terms of many decades): compare lengths instead.
        ka = old.value if same_unit else old.approx_days
        kb = new.value if same_unit else new.approx_days
        return TermComparison(int(kb > ka), int(kb < ka), 0, year, same_unit)
    later = sum(y > x for x, y in zip(a, b, strict=True))
    earlier = sum(y < x for x, y in zip(a, b, strict=True))
    return TermComparison(later, earlier, len(a), year, same_unit)


AUTHORITY_ROLE_RU = {"receives": "принимает заявление", "decides": "принимает решение",
                     "both": "принимает заявление и решение"}


def _citation_text(proc: Procedure) -> str | None:
    """The source block in one line: the act (or URL), the edition, the day it was checked."""
    c = proc.citation
    if c is None:
        return None
    kind = {"official": "официальный текст", "secondary": "вторичный источник",
            "unverified": "не сверено"}[c.kind]
    edition = f", редакция от {c.edition}" if c.edition else ""
    return f"{c.act or c.url}{edition}; {kind}, {c.checked}"


def compare_terms(old: str | Term, new: str | Term, calendar: WorkCalendar | None = None,
                  year: int = REFERENCE_YEAR) -> TermComparison:
    """Compare two terms by their deadlines counted from every day of ``year`` (default
    `REFERENCE_YEAR`) on ``calendar`` (default: `engine.terms.default_calendar`). Results are
    cached per pair of terms, so a catalog of a thousand procedures compares in milliseconds."""
    cal = calendar if calendar is not None else default_calendar()
    return _compare_cached(parse_term(old), parse_term(new), cal, year)


def _deadline_note(c: TermComparison, subject: str, later_is_burden: bool) -> str:
    """For terms in different units: on how many start days the new deadline moved, e.g.
    '; новый срок позже в 82 из 365 дней (2025 г.), раньше в 181'. Empty for the same unit,
    where the values say it all."""
    if c.same_unit or not c.days:
        return ""
    if c.same:
        return f"; {subject} совпадает со старым в {c.days} из {c.days} дней ({c.year} г.)"
    parts = [("позже", c.later), ("раньше", c.earlier)]
    if not later_is_burden:
        parts.reverse()
    parts = [(word, n) for word, n in parts if n]
    (word, n), rest = parts[0], parts[1:]
    note = f"; {subject} {word} в {n} из {c.days} дней ({c.year} г.)"
    return note + "".join(f", {w} в {k}" for w, k in rest)


def _classify_terms(old: str, new: str, *, later_is_burden: bool, subject: str,
                    calendar: WorkCalendar | None = None) -> tuple[str, str, str]:
    """(class, verb, note) for a changed term. If a later deadline is the burden (a procedure's
    term), the change is a burden if the new deadline is later on any start day, a simplification
    if it is never later and sometimes earlier; the reverse if an earlier one is (validity, the
    time to appeal). Neutral if the deadlines are the same on every start day."""
    c = compare_terms(old, new, calendar)
    bad, good = (c.later, c.earlier) if later_is_burden else (c.earlier, c.later)
    cls = BURDEN if bad else SIMPLIFICATION if good else NEUTRAL
    verb = ("изменён" if c.later and c.earlier else "увеличен" if c.later
            else "сокращён" if c.earlier else "записан иначе, длина та же")
    return cls, verb, _deadline_note(c, subject, later_is_burden)


# --------------------------------------------------------------------------------------------------
# Matching lists of records by id, falling back to title
# --------------------------------------------------------------------------------------------------

T = TypeVar("T")


def _match(old: Sequence[T], new: Sequence[T], key: Callable[[T], Any],
           fallback: Callable[[T], Any] | None = None) -> tuple[list[tuple[T, T]], list[T], list[T]]:
    """Pair items by key, then the rest by fallback; return (pairs, removed, added), in order."""
    new_by_key: dict[Any, int] = {}
    for i, item in enumerate(new):
        new_by_key.setdefault(key(item), i)
    used: set[int] = set()
    pairs: list[tuple[T, T]] = []
    rest_old: list[T] = []
    for item in old:
        i = new_by_key.get(key(item))
        if i is not None and i not in used:
            used.add(i)
            pairs.append((item, new[i]))
        else:
            rest_old.append(item)
    removed: list[T] = []
    if fallback is not None:
        by_fallback: dict[Any, list[int]] = {}
        for i, item in enumerate(new):
            if i not in used:
                by_fallback.setdefault(fallback(item), []).append(i)
        for item in rest_old:
            candidates = by_fallback.get(fallback(item))
            if candidates:
                i = candidates.pop(0)
                used.add(i)
                pairs.append((item, new[i]))
            else:
                removed.append(item)
    else:
        removed = rest_old
    added = [item for i, item in enumerate(new) if i not in used]
    return pairs, removed, added


def _by_title(item: Any) -> str:
    return normalize_name(item.title)


def _by_id(item: Any) -> str:
    return item.id


# --------------------------------------------------------------------------------------------------
# Comparing one procedure with its other version
# --------------------------------------------------------------------------------------------------

class ProcedurePair:
    """Collects the changes between the old and new version of one procedure."""

    def __init__(self, old: Procedure | None, new: Procedure | None, out: list[Change],
                 calendar: WorkCalendar | None = None) -> None:
        self.old, self.new, self.out = old, new, out
        self.calendar = calendar  # terms are compared on it (default: the shipped calendar)
        self.old_number = old.number if old else None
        self.new_number = new.number if new else None
        self.name = (new or old).name  # type: ignore[union-attr]

    def add(self, kind: str, path: str, old: Value, new: Value, message: str,
            class_: str | None = None) -> None:
        self.out.append(Change(self.old_number, self.new_number, kind, path, old, new, message,
                               class_ if class_ is not None else KINDS[kind][0], self.name))

    # -- the whole procedure ---------------------------------------------------------------------

    def compare(self) -> None:
        o, n = self.old, self.new
        assert o is not None and n is not None
        if o.number != n.number:
            self.add("procedure.renumbered", "number", o.number, n.number,
                     f"Процедура перенумерована: {o.number} → {n.number}")
        if o.name != n.name:
            self.add("procedure.renamed", "name.ru", o.name, n.name,
                     f"Наименование изменено: {quoted(o.name)} → {quoted(n.name)}")
        if o.version == n.version:
            return  # same definition and BPMN: nothing else can differ
        old_names, new_names = dict(o.names), dict(n.names)
        for lang in sorted((set(old_names) | set(new_names)) - {"ru"}):
            if old_names.get(lang) != new_names.get(lang):
                self.add("procedure.translation_changed", f"name.{lang}", old_names.get(lang),
                         new_names.get(lang), f"Изменено наименование ({lang}): "
                         f"{quoted(old_names.get(lang))} → {quoted(new_names.get(lang))}")
        self._legal_basis(o, n)
        if o.result != n.result:
            self.add("result.changed", "result.title", o.result, n.result,
                     f"Изменён результат: {quoted(o.result)} → {quoted(n.result)}")
        od, nd = o.definition, n.definition
        if od.get("result", {}).get("form") != nd.get("result", {}).get("form"):
            a, b = od.get("result", {}).get("form"), nd.get("result", {}).get("form")
            self.add("result.changed", "result.form", a, b,
                     f"Изменена форма результата: {quoted(a)} → {quoted(b)}")
        if od.get("source") != nd.get("source"):
            self.add("source.changed", "source", _citation_text(o), _citation_text(n),
                     f"Изменён источник сведений: {quoted(_citation_text(o))} → "
                     f"{quoted(_citation_text(n))}")
        if od.get("notes") != nd.get("notes"):
            self.add("procedure.notes_changed", "notes", od.get("notes"), nd.get("notes"),
                     "Изменено примечание к процедуре")
        self._documents(o, n)
        self._fee(o.fee, n.fee)
        self._term(o, n)
        self._validity(o.validity, n.validity)
        self._channels(o, n)
        self._authorities(o, n)
        self._roles(o, n)
        self._steps(o, n)
        self._grounds(o.refusal_grounds, n.refusal_grounds, "refusal_grounds", "refusal_ground",
                      "основание для отказа")
        self._suspension(o, n)
        self._appeal(o, n)
        self._options(o, n)

    def _legal_basis(self, o: Procedure, n: Procedure) -> None:
        for text in o.legal_basis:
            if text not in n.legal_basis:
                self.add("legal_basis.removed", "legal_basis", text, None,
                         f"Исключено основание: {quoted(text)}")
        for text in n.legal_basis:
            if text not in o.legal_basis:
                self.add("legal_basis.added", "legal_basis", None, text,
                         f"Добавлено основание: {quoted(text)}")

    # -- documents --------------------------------------------------------------------------------

    def _documents(self, o: Procedure, n: Procedure) -> None:
        old_docs = [("p", d) for d in o.documents] + [("r", d) for d in o.requested_documents]
        new_docs = [("p", d) for d in n.documents] + [("r", d) for d in n.requested_documents]
        pairs, removed, added = _match(old_docs, new_docs, key=lambda x: x[1].id,
                                       fallback=lambda x: _by_title(x[1]))
        for side, doc in removed:
            if side == "p":
                self.add("document.removed", f"documents[{doc.id}]", doc.title, None,
                         f"Гражданин больше не представляет документ: {quoted(doc.title)}")
            else:
                paid = bool(doc.fee)
                self.add("requested_document.removed", f"requested_documents[{doc.id}]", doc.title,
                         None, f"Орган больше не запрашивает документ: {quoted(doc.title)}"
                         + (f" (плата за него была {units_ru(doc.fee)})" if paid else ""),
                         SIMPLIFICATION if paid else NEUTRAL)
        for (old_side, a), (new_side, b) in pairs:
            if old_side == new_side == "p":
                self._presented(a, b)
            elif old_side == new_side == "r":
                self._requested(a, b)
            elif new_side == "p":
                self.add("document.moved_to_citizen", f"documents[{b.id}]", "requested", "presented",
                         f"Документ теперь представляет гражданин (раньше его запрашивал орган): "
                         f"{quoted(b.title)}")
                self._retitled(a, b, "document", f"documents[{b.id}]")
            else:
                fee = f" (плата за него — {units_ru(b.fee)})" if b.fee else ""
                self.add("document.moved_to_authority", f"requested_documents[{b.id}]", "presented",
                         "requested", f"Документ теперь запрашивает орган (раньше его представлял "
                         f"гражданин): {quoted(b.title)}{fee}")
                self._retitled(a, b, "requested_document", f"requested_documents[{b.id}]")
        for side, doc in added:
            cond = f" (если {doc.condition})" if doc.condition else ""
            if side == "p":
                self.add("document.added", f"documents[{doc.id}]", None, doc.title,
                         f"Гражданин должен представить новый документ: {quoted(doc.title)}{cond}")
            else:
                paid = bool(doc.fee)
                self.add("requested_document.added", f"requested_documents[{doc.id}]", None,
                         doc.title, f"Орган будет запрашивать документ: {quoted(doc.title)}{cond}"
                         + (f"; плата за него — {units_ru(doc.fee)}" if paid else ""),
                         BURDEN if paid else NEUTRAL)

    def _retitled(self, a: Any, b: Any, prefix: str, path: str) -> None:
        if not _same_text(a.title, b.title):
            self.add(f"{prefix}.retitled", f"{path}.title", a.title, b.title,
                     f"Изменено наименование документа: {quoted(a.title)} → {quoted(b.title)}")

    def _presented(self, a: Any, b: Any) -> None:
        path = f"documents[{b.id}]"
        self._retitled(a, b, "document", path)
        if not _same_text(a.condition, b.condition):
            if b.condition is None:
                self.add("document.condition_removed", f"{path}.condition", a.condition, None,
                         f"Документ {quoted(b.title)} теперь нужен всегда (раньше — только если "
                         f"{a.condition})")
            elif a.condition is None:
                self.add("document.condition_added", f"{path}.condition", None, b.condition,
                         f"Документ {quoted(b.title)} теперь нужен только если {b.condition} "
                         f"(раньше — всегда)")
            else:
                self.add("document.condition_changed", f"{path}.condition", a.condition,
                         b.condition, f"Изменено условие документа {quoted(b.title)}: "
                         f"{a.condition} → {b.condition}")
        if not _same_text(a.notes, b.notes):
            self.add("document.notes_changed", f"{path}.notes", a.notes, b.notes,
                     f"Изменено примечание к документу {quoted(b.title)}")
        if a.optional != b.optional:
            self.add(f"document.optional_{'added' if b.optional else 'removed'}",
                     f"{path}.optional", a.optional, b.optional,
                     f"Документ {quoted(b.title)} " + ("теперь можно не представлять" if b.optional
                                                       else "теперь обязателен (раньше — по желанию)"))
        if a.may_be_requested != b.may_be_requested:
            self.add(f"document.may_be_requested_{'added' if b.may_be_requested else 'removed'}",
                     f"{path}.may_be_requested", a.may_be_requested, b.may_be_requested,
                     f"Документ {quoted(b.title)} " + (
                         "вместо гражданина может запросить орган" if b.may_be_requested
                         else "теперь представляет только гражданин (орган его больше не запрашивает)"))

    def _requested(self, a: Any, b: Any) -> None:
        path = f"requested_documents[{b.id}]"
        self._retitled(a, b, "requested_document", path)
        if not _same_text(a.source, b.source):
            self.add("requested_document.source_changed", f"{path}.source", a.source, b.source,
                     f"Изменён источник документа {quoted(b.title)}: {quoted(a.source)} → {quoted(b.source)}")
        if not _same_text(a.condition, b.condition):
            self.add("requested_document.condition_changed", f"{path}.condition", a.condition,
                     b.condition, f"Изменено условие запроса документа {quoted(b.title)}: "
                     f"{a.condition or 'всегда'} → {b.condition or 'всегда'}")
        if not _same_text(a.notes, b.notes):
            self.add("requested_document.notes_changed", f"{path}.notes", a.notes, b.notes,
                     f"Изменено примечание к документу {quoted(b.title)}")
        if a.citizen_may_bring and not b.citizen_may_bring:
            self.add("requested_document.may_bring_removed", f"{path}.citizen_may_bring", True,
                     False, f"Гражданин больше не вправе представить документ {quoted(b.title)} сам")
        elif b.citizen_may_bring and not a.citizen_may_bring:
            self.add("requested_document.may_bring_added", f"{path}.citizen_may_bring", False,
                     True, f"Гражданин вправе представить документ {quoted(b.title)} сам")
        old_fee, new_fee = a.fee or 0, b.fee or 0
        if old_fee != new_fee:
            if not old_fee:
                kind, text = "fee_added", "стал платным"
            elif not new_fee:
                kind, text = "fee_removed", "стал бесплатным"
            elif new_fee > old_fee:
                kind, text = "fee_increased", "— плата увеличена"
            else:
                kind, text = "fee_decreased", "— плата уменьшена"
            self.add(f"requested_document.{kind}", f"{path}.fee", a.fee, b.fee,
                     f"Запрашиваемый документ {quoted(b.title)} {text}: "
                     f"{units_ru(old_fee)} → {units_ru(new_fee)}")

    # -- fee --------------------------------------------------------------------------------------

    def _fee(self, a: Fee, b: Fee) -> None:
        if "table" in (a.kind, b.kind) and "by_category" not in (a.kind, b.kind):
            self._table(a, b)
        elif a.kind != b.kind or (a.kind == "base_units" and a.base_units != b.base_units):
            old_amounts, new_amounts = _amounts(a), _amounts(b)
            if max(old_amounts) == 0 and max(new_amounts) > 0:
                self.add("fee.added", "fee", fee_value(a), fee_value(b),
                         f"Введена плата: {fee_ru(a, self.old)} → {fee_ru(b, self.new)}")
            elif max(old_amounts) > 0 and max(new_amounts) == 0:
                self.add("fee.removed", "fee", fee_value(a), fee_value(b),
                         f"Плата отменена: {fee_ru(a, self.old)} → {fee_ru(b, self.new)}")
            elif a.kind == b.kind:
                if b.base_units > a.base_units:
                    self.add("fee.increased", "fee.base_units", a.base_units, b.base_units,
                             f"Плата увеличена: {units_ru(a.base_units)} → {units_ru(b.base_units)}")
                else:
                    self.add("fee.decreased", "fee.base_units", a.base_units, b.base_units,
                             f"Плата уменьшена: {units_ru(a.base_units)} → {units_ru(b.base_units)}")
            else:
                # Who falls in which new category is unknown: burden if anyone may pay more.
                if max(new_amounts) > min(old_amounts):
                    cls = BURDEN
                elif min(new_amounts) < max(old_amounts):
                    cls = SIMPLIFICATION
                else:
                    cls = NEUTRAL
                self.add("fee.kind_changed", "fee", fee_value(a), fee_value(b),
                         f"Изменён порядок платы: {fee_ru(a, self.old)} → {fee_ru(b, self.new)}",
                         cls)
        if a.kind == b.kind == "by_category":
            self._categories(a, b)
        self._grounds(a.exemptions, b.exemptions, "fee.exemptions", "fee.exemption", "льгота по плате",
                      added="fee.exemption_added", removed="fee.exemption_removed",
                      changed="fee.exemption_changed")
        if not _same_text(a.notes, b.notes):
            self.add("fee.notes_changed", "fee.notes", a.notes, b.notes,
                     "Изменено примечание к плате")

    def _table(self, a: Fee, b: Fee) -> None:
        """A fee table against a table or a flat fee, combination by combination of the axes'
        choices: what each applicant paid against what they pay now. Combinations that change
        the same way are one change."""
        assert self.old is not None and self.new is not None
        if a.kind == b.kind == "table" and a.axes != b.axes:
            old_amounts, new_amounts = _amounts(a), _amounts(b)
            cls = (BURDEN if max(new_amounts) > min(old_amounts) else
                   SIMPLIFICATION if min(new_amounts) < max(old_amounts) else NEUTRAL)
            self.add("fee.table_axes_changed", "fee.axes", ",".join(a.axes), ",".join(b.axes),
                     f"Изменено, от чего зависит плата: {fee_ru(a, self.old)} → {fee_ru(b, self.new)}",
                     cls)
            return
        if a.kind != b.kind:
            self.add("fee.kind_changed", "fee", fee_value(a), fee_value(b),
                     f"Изменён порядок платы: {fee_ru(a, self.old)} → {fee_ru(b, self.new)}", NEUTRAL)
        table = b if b.kind == "table" else a
        # A flat fee costs the same for every combination the table's version offers.
        old_grid = _grid(self.old if a.kind == "table" else self.new, a, table.axes)
        new_grid = _grid(self.new if b.kind == "table" else self.old, b, table.axes)
        groups: dict[tuple[str, float | None, float | None], list[tuple[str, ...]]] = {}
        for combo in sorted(set(old_grid) | set(new_grid)):
            x, y = old_grid.get(combo), new_grid.get(combo)
            if x == y:
                continue
            kind = ("fee.cell_added" if x is None else "fee.cell_removed" if y is None
                    else "fee.cell_increased" if y > x else "fee.cell_decreased")
            groups.setdefault((kind, x, y), []).append(combo)
        for (kind, x, y), combos in groups.items():
            cls = None
            if kind == "fee.cell_added":
                cls = BURDEN if y else NEUTRAL
            elif kind == "fee.cell_removed":
                cls = SIMPLIFICATION if x else NEUTRAL
            shown = "; ".join(self._combo_ru(table.axes, c) for c in combos[:5])
            more = f" и ещё {len(combos) - 5}" if len(combos) > 5 else ""
            path = "fee.cells[" + "|".join(",".join(f"{ax}={v}" for ax, v in zip(
                table.axes, c, strict=True)) for c in combos[:5]) + ("|…" if more else "") + "]"
            text = {"fee.cell_added": "Добавлена строка таблицы платы",
                    "fee.cell_removed": "Исключена строка таблицы платы",
                    "fee.cell_increased": "Плата по таблице увеличена",
                    "fee.cell_decreased": "Плата по таблице уменьшена"}[kind]
            amounts = (units_ru(y or 0) if x is None else units_ru(x) if y is None
                       else f"{units_ru(x)} → {units_ru(y)}")
            self.add(kind, path, x, y, f"{text} ({shown}{more}): {amounts}", cls)

    def _combo_ru(self, axes: tuple[str, ...], combo: tuple[str, ...]) -> str:
        """A combination in Russian: the titles of its choices (the new version's, else the old's)."""
        titles = []
        for axis, choice in zip(axes, combo, strict=True):
            title = None
            for p in (self.new, self.old):
                try:
                    title = {c.id: c.title for c in p.fee_axis(axis).choices}.get(choice) if p else None
                except KeyError:
                    continue
                if title:
                    break
            titles.append(title or choice)
        return ", ".join(titles)

    def _categories(self, a: Fee, b: Fee) -> None:
        old_amounts, new_amounts = _amounts(a), _amounts(b)
        pairs, removed, added = _match(a.categories, b.categories, _by_id, _by_title)
        for cat in removed:
            # Its members now fall in some remaining category: worse if any of those costs more.
            cls = (BURDEN if cat.base_units < max(new_amounts)
                   else SIMPLIFICATION if cat.base_units > max(new_amounts) else NEUTRAL)
            self.add("fee.category_removed", f"fee.categories[{cat.id}]", cat.base_units, None,
                     f"Исключена категория платы: {quoted(cat.title)} ({units_ru(cat.base_units)})", cls)
        for x, y in pairs:
            path = f"fee.categories[{y.id}]"
            if not _same_text(x.title, y.title):
                self.add("fee.category_retitled", f"{path}.title", x.title, y.title,
                         f"Изменено наименование категории платы: {quoted(x.title)} → {quoted(y.title)}")
            if x.base_units != y.base_units:
                up = y.base_units > x.base_units
                self.add("fee.category_increased" if up else "fee.category_decreased",
                         f"{path}.base_units", x.base_units, y.base_units,
                         f"Плата для категории {quoted(y.title)} {'увеличена' if up else 'уменьшена'}: "
                         f"{units_ru(x.base_units)} → {units_ru(y.base_units)}")
        for cat in added:
            # Its members were in some old category: worse if they may have paid less there.
            cls = (BURDEN if cat.base_units > min(old_amounts)
                   else SIMPLIFICATION if cat.base_units < min(old_amounts) else NEUTRAL)
            self.add("fee.category_added", f"fee.categories[{cat.id}]", None, cat.base_units,
                     f"Добавлена категория платы: {quoted(cat.title)} ({units_ru(cat.base_units)})", cls)

    # -- grounds (refusal, suspension, fee exemptions) --------------------------------------------

    def _grounds(self, a: Iterable[Any], b: Iterable[Any], path: str, prefix: str, what: str, *,
                 added: str | None = None, removed: str | None = None,
                 changed: str | None = None) -> None:
        added = added or f"{prefix}.added"
        removed = removed or f"{prefix}.removed"
        changed = changed or f"{prefix}.changed"
        pairs, gone, new = _match(tuple(a), tuple(b), _by_id, _by_title)
        for g in gone:
            self.add(removed, f"{path}[{g.id}]", g.title, None, f"Исключено: {what} {quoted(g.title)}")
        for x, y in pairs:
            if not _same_text(x.title, y.title) or x.legal_basis != y.legal_basis:
                self.add(changed, f"{path}[{y.id}]", x.title, y.title,
                         f"Изменено: {what} {quoted(x.title)} → {quoted(y.title)}")
        for g in new:
            self.add(added, f"{path}[{g.id}]", None, g.title, f"Добавлено: {what} {quoted(g.title)}")

    def _suspension(self, o: Procedure, n: Procedure) -> None:
        if n.suspension_allowed and not o.suspension_allowed:
            self.add("suspension.allowed", "suspension.allowed", False, True,
                     "Процедуру теперь можно приостановить (срок может продлиться)")
        elif o.suspension_allowed and not n.suspension_allowed:
            self.add("suspension.disallowed", "suspension.allowed", True, False,
                     "Процедуру больше нельзя приостановить")
        self._grounds(o.suspension_grounds, n.suspension_grounds, "suspension.grounds", "suspension",
                      "основание приостановления", added="suspension.ground_added",
                      removed="suspension.ground_removed", changed="suspension.ground_changed")

    # -- terms and validity -----------------------------------------------------------------------

    def _term(self, o: Procedure, n: Procedure) -> None:
        a, b = o.term, n.term
        self._term_value("term.max", "Срок", a.max, b.max, a.max, b.max)
        if a.when_documents_requested != b.when_documents_requested:
            # Without its own term the case with requested documents has the maximum term.
            self._term_value("term.when_documents_requested", "Срок при запросе документов",
                             a.when_documents_requested, b.when_documents_requested,
                             a.when_documents_requested or a.max, b.when_documents_requested or b.max)
        if a.counted_from != b.counted_from:
            later = b.counted_from == "documents_received"
            where = {"application": "со дня подачи заявления",
                     "documents_received": "со дня получения запрошенных документов"}
            for term in (a, b):
                if term.counted_from_field:
                    where[term.counted_from] = f"с даты, указанной в поле {term.counted_from_field}"
            # A date the applicant states may lie before or after the application: no direction.
            cls = NEUTRAL if a.counted_from_field or b.counted_from_field \
                else BURDEN if later else SIMPLIFICATION
            self.add("term.counted_from_changed", "term.counted_from", a.counted_from,
                     b.counted_from, f"Срок отсчитывается {where.get(b.counted_from, b.counted_from)}"
                     f" (раньше — {where.get(a.counted_from, a.counted_from)})", cls)
        if not _same_text(a.notes, b.notes):
            self.add("term.notes_changed", "term.notes", a.notes, b.notes,
                     "Изменено примечание к сроку")

    def _term_value(self, path: str, label: str, old: str | None, new: str | None,
                    old_effective: str, new_effective: str) -> None:
        if old == new:
            return
        cls, verb, note = _classify_terms(old_effective, new_effective, later_is_burden=True,
                                          subject="новый срок", calendar=self.calendar)

        def shown(text: str | None, effective: str) -> str:
            return term_ru(text) if text else f"не указан (равен сроку {term_ru(effective)})"

        kind = {BURDEN: "term.longer", SIMPLIFICATION: "term.shorter", NEUTRAL: "term.reworded"}[cls]
        self.add(kind, path, old, new,
                 f"{label} {verb}: {shown(old, old_effective)} → {shown(new, new_effective)}{note}")

    def _validity(self, a: Validity, b: Validity) -> None:
        if a == b:
            return
        if a.until != b.until:
            self._validity_until(a, b)
            a, b = replace(a, until=None), replace(b, until=None)
            if a == b:
                return
        old, new = validity_value(a), validity_value(b)
        arrow = f"{validity_ru(a)} → {validity_ru(b)}"
        finite = ("duration", "until_event")
        if a.kind == b.kind == "duration":
            # A result that expires earlier is the burden: the citizen must come back sooner.
            cls, verb, note = _classify_terms(a.duration or "", b.duration or "",
                                              later_is_burden=False,
                                              subject="новый срок действия истекает",
                                              calendar=self.calendar)
            kind = {BURDEN: "validity.shorter", SIMPLIFICATION: "validity.longer",
                    NEUTRAL: "validity.reworded"}[cls]
            self.add(kind, "validity.duration", old, new, f"Срок действия {verb}: {arrow}{note}")
        elif a.kind == b.kind == "until_event":
            self.add("validity.event_changed", "validity.event", a.event, b.event,
                     f"Изменён срок действия: {arrow}")
        elif a.kind == "unlimited" and b.kind in finite:
            self.add("validity.limited", "validity", old, new,
                     f"Результат больше не бессрочный: {arrow}")
        elif b.kind == "unlimited" and a.kind in finite:
            self.add("validity.unlimited", "validity", old, new,
                     f"Результат стал бессрочным: {arrow}")
        else:
            self.add("validity.kind_changed", "validity", old, new, f"Изменён срок действия: {arrow}")

    def _validity_until(self, a: Validity, b: Validity) -> None:
        """A computed cap or end date (`validity.until`) added, removed or moved."""
        ua, ub = a.until, b.until
        if ua is None or ub is None:
            shown = validity_until_ru(ub or ua)
            if ua is None:
                self.add("validity.capped", "validity.until", None, shown,
                         f"Срок действия ограничен датой: {shown}")
            else:
                self.add("validity.uncapped", "validity.until", shown, None,
                         f"Срок действия больше не ограничен датой: {shown}")
            return
        old, new = validity_until_ru(ua), validity_until_ru(ub)
        cls = NEUTRAL
        if ua.field == ub.field:
            cls, _verb, _note = _classify_terms(ua.after or "same day", ub.after or "same day",
                                                later_is_burden=False, subject="дата окончания",
                                                calendar=self.calendar)
        self.add("validity.cap_changed", "validity.until", old, new,
                 f"Изменена дата окончания срока действия: {old} → {new}", cls)

    # -- channels, authorities, roles, steps, appeal ----------------------------------------------

    def _channels(self, o: Procedure, n: Procedure) -> None:
        order = {c: i for i, c in enumerate(CHANNELS)}
        for ch in sorted(set(o.channels) - set(n.channels), key=lambda c: order.get(c, 99)):
            self.add("channel.removed", f"channels[{ch}]", ch, None,
                     f"Исключён способ подачи: {CHANNEL_RU.get(ch, ch)}")
        for ch in sorted(set(n.channels) - set(o.channels), key=lambda c: order.get(c, 99)):
            self.add("channel.added", f"channels[{ch}]", None, ch,
                     f"Добавлен способ подачи: {CHANNEL_RU.get(ch, ch)}")

    def _authorities(self, o: Procedure, n: Procedure) -> None:
        pairs, removed, added = _match(o.authorities, n.authorities,
                                       key=lambda a: (a.kind, normalize_name(a.title)),
                                       fallback=lambda a: a.kind)
        for a in removed:
            self.add("authority.removed", f"authorities[{a.kind}]", a.title, None,
                     f"Исключён орган: {quoted(a.title)}")
        for x, y in pairs:
            if x.title != y.title:
                self.add("authority.changed", f"authorities[{y.kind}]", x.title, y.title,
                         f"Изменено наименование органа: {quoted(x.title)} → {quoted(y.title)}")
            if x.role != y.role:
                self.add("authority.role_changed", f"authorities[{y.kind}].role", x.role, y.role,
                         f"{y.title}: {AUTHORITY_ROLE_RU[x.role]} → {AUTHORITY_ROLE_RU[y.role]}")
        for a in added:
            self.add("authority.added", f"authorities[{a.kind}]", None, a.title,
                     f"Добавлен орган: {quoted(a.title)}")

    def _roles(self, o: Procedure, n: Procedure) -> None:
        pairs, removed, added = _match(o.roles, n.roles, _by_id, _by_title)
        for r in removed:
            self.add("role.removed", f"roles[{r.id}]", r.title, None, f"Исключена роль: {quoted(r.title)}")
        for x, y in pairs:
            for attr in ("id", "title", "acts_as"):
                if getattr(x, attr) != getattr(y, attr):
                    self.add("role.changed", f"roles[{y.id}].{attr}", getattr(x, attr),
                             getattr(y, attr), f"Изменена роль {quoted(y.title)}: {attr} "
                             f"{getattr(x, attr)} → {getattr(y, attr)}")
        for r in added:
            self.add("role.added", f"roles[{r.id}]", None, r.title, f"Добавлена роль: {quoted(r.title)}")

    def _steps(self, o: Procedure, n: Procedure) -> None:
        if o.bpmn != n.bpmn or o.bpmn_xml != n.bpmn_xml:
            self.add("bpmn.changed", "bpmn", o.bpmn, n.bpmn, "Изменена схема процедуры (BPMN)")
        pairs, removed, added = _match(o.steps, n.steps, _by_id, _by_title)
        for s in removed:
            self.add("step.removed", f"steps[{s.id}]", s.title, None, f"Исключён шаг: {quoted(s.title)}")
        for x, y in pairs:
            path = f"steps[{y.id}]"
            for attr in ("id", "kind", "title", "role", "condition", "term", "notes"):
                a, b = getattr(x, attr), getattr(y, attr)
                if a != b:
                    self.add("step.changed", f"{path}.{attr}", a, b,
                             f"Изменён шаг {quoted(y.title)}: {attr} {a if a is not None else '—'} → "
                             f"{b if b is not None else '—'}")
            fpairs, fgone, fnew = _match(x.fields, y.fields, _by_id, _by_title)
            for f in fgone:
                self.add("step.field_removed", f"{path}.fields[{f.id}]", f.title, None,
                         f"Шаг {quoted(y.title)}: исключено поле {quoted(f.title)}")
            for fa, fb in fpairs:
                if fa != fb:
                    self.add("step.field_changed", f"{path}.fields[{fb.id}]", fa.title, fb.title,
                             f"Шаг {quoted(y.title)}: изменено поле {quoted(fb.title)}")
            for f in fnew:
                self.add("step.field_added", f"{path}.fields[{f.id}]", None, f.title,
                         f"Шаг {quoted(y.title)}: добавлено поле {quoted(f.title)}")
        for s in added:
            self.add("step.added", f"steps[{s.id}]", None, s.title, f"Добавлен шаг: {quoted(s.title)}")

    def _appeal(self, o: Procedure, n: Procedure) -> None:
        a, b = o.appeal, n.appeal
        if a == b:
            return
        if a is None or b is None:
            if b is not None:
                self.add("appeal.added", "appeal", None, b.superior_body,
                         f"Указан порядок обжалования: {quoted(b.superior_body)}, {term_ru(b.term)}")
            else:
                assert a is not None
                self.add("appeal.removed", "appeal", a.superior_body, None,
                         "Порядок обжалования больше не указан")
            return
        if not _same_text(a.superior_body, b.superior_body):
            self.add("appeal.body_changed", "appeal.superior_body", a.superior_body,
                     b.superior_body, f"Изменён вышестоящий орган: {quoted(a.superior_body)} → "
                     f"{quoted(b.superior_body)}")
        if a.term != b.term:
            # Less time to appeal is the burden.
            cls, verb, note = _classify_terms(a.term, b.term, later_is_burden=False,
                                              subject="новый срок обжалования истекает",
                                              calendar=self.calendar)
            kind = {BURDEN: "appeal.term_shorter", SIMPLIFICATION: "appeal.term_longer",
                    NEUTRAL: "appeal.term_reworded"}[cls]
            self.add(kind, "appeal.term", a.term, b.term,
                     f"Срок обжалования {verb}: {term_ru(a.term)} → {term_ru(b.term)}{note}")
        if a.court and not b.court:
            self.add("appeal.court_removed", "appeal.court", True, False,
                     "Обжалование в суд больше не указано")
        elif b.court and not a.court:
            self.add("appeal.court_added", "appeal.court", False, True, "Указано обжалование в суд")

    # -- service options (docs/authoring.md, "Service options") ------------------------------------

    def _later(self, old: str, new: str) -> bool:
        """Whether term `new` ends later than `old` on some start day of the reference year."""
        return compare_terms(old, new, self.calendar).later > 0

    def _options(self, o: Procedure, n: Procedure) -> None:
        """Options are paired by id. A new option slower than every order there was (the old
        options, or the old term without them) is a burden (Directive No. 2), a faster one more
        choice; a removed option faster than the slowest order left takes a choice away (a
        burden), the slowest one removed is a relief; an option's term and fee compare as the
        procedure's do."""
        if o.options == n.options:
            return
        old_terms = [x.term for x in o.options] or [o.term.max]
        new_terms = [x.term for x in n.options] or [n.term.max]
        pairs, removed, added = _match(o.options, n.options, _by_id)
        for x in removed:
            rest = new_terms
            if all(self._later(t, x.term) for t in rest):
                cls, why = SIMPLIFICATION, "он был самым долгим"
            elif any(self._later(x.term, t) for t in rest):
                cls, why = BURDEN, "более быстрого порядка на выбор больше нет"
            else:
                cls, why = NEUTRAL, "остался порядок с тем же сроком"
            self.add("option.removed", f"options[{x.id}]", x.title, None,
                     f"Исключён порядок осуществления {quoted(x.title)} ({term_ru(x.term)}, "
                     f"{fee_ru(x.fee)}): {why}", cls)
        for x, y in pairs:
            self._option_pair(x, y)
        for y in added:
            if all(self._later(t, y.term) for t in old_terms):
                cls, why = BURDEN, "срок длиннее самого долгого прежнего"
            elif any(self._later(y.term, t) for t in old_terms):
                cls, why = SIMPLIFICATION, "более быстрый порядок на выбор"
            else:
                cls, why = NEUTRAL, "срок как у прежнего порядка"
            self.add("option.added", f"options[{y.id}]", None, y.title,
                     f"Добавлен порядок осуществления {quoted(y.title)}: срок {term_ru(y.term)}, "
                     f"плата {fee_ru(y.fee)} — {why}", cls)
        old_default, new_default = o.default_option, n.default_option
        if (old_default and old_default.id) != (new_default and new_default.id) and o.options \
                and n.options:
            self.add("option.default_changed", "options.default",
                     old_default.id if old_default else None, new_default.id if new_default else None,
                     "Изменён порядок, применяемый, если заявитель его не выбрал: "
                     f"{quoted(old_default.title if old_default else 'выбор обязателен')} → "
                     f"{quoted(new_default.title if new_default else 'выбор обязателен')}")

    def _option_pair(self, x: Any, y: Any) -> None:
        path = f"options[{y.id}]"
        if x.title != y.title:
            self.add("option.retitled", f"{path}.title", x.title, y.title,
                     f"Изменено наименование порядка: {quoted(x.title)} → {quoted(y.title)}")
        if x.term != y.term:
            cls, verb, note = _classify_terms(x.term, y.term, later_is_burden=True,
                                              subject="новый срок", calendar=self.calendar)
            kind = {BURDEN: "option.term_longer", SIMPLIFICATION: "option.term_shorter",
                    NEUTRAL: "option.term_reworded"}[cls]
            self.add(kind, f"{path}.term.max", x.term, y.term,
                     f"Срок порядка {quoted(y.title)} {verb}: {term_ru(x.term)} → "
                     f"{term_ru(y.term)}{note}")
        if x.fee != y.fee:
            up = max(_amounts(y.fee)) > max(_amounts(x.fee)) or any(
                b > a for a, b in zip(_amounts(x.fee), _amounts(y.fee), strict=False))
            down = max(_amounts(y.fee)) < max(_amounts(x.fee)) or any(
                b < a for a, b in zip(_amounts(x.fee), _amounts(y.fee), strict=False))
            if up or down:
                kind = "option.fee_increased" if up else "option.fee_decreased"
                self.add(kind, f"{path}.fee", fee_value(x.fee), fee_value(y.fee),
                         f"Плата за порядок {quoted(y.title)} {'увеличена' if up else 'уменьшена'}: "
                         f"{fee_ru(x.fee)} → {fee_ru(y.fee)}")
        if not _same_text(x.notes, y.notes) or x.legal_basis != y.legal_basis:
            self.add("option.notes_changed", f"{path}.notes", x.notes, y.notes,
                     f"Изменено примечание (основание) порядка {quoted(y.title)}")


def _grid(proc: Procedure, fee: Fee, axes: tuple[str, ...]) -> dict[tuple[str, ...], float]:
    """What each combination of `axes`' choices pays, in base units: a table's cells, or a flat
    fee's one amount for every combination of the choices the procedure's intake offers. A
    table is checked to cover each combination once (engine.definition.validation)."""
    choices = []
    for axis in axes:
        try:
            choices.append([c.id for c in proc.fee_axis(axis).choices])
        except KeyError:  # the other version has no such field: nothing to compare it on
            return {}
    grid: dict[tuple[str, ...], float] = {}
    for combo in itertools.product(*choices):
        values = dict(zip(axes, combo, strict=True))
        if fee.kind == "table":
            cell = fee.cell(values)
            grid[combo] = float(cell.base_units) if cell is not None else 0.0
        else:
            grid[combo] = float(fee.amount(values=values) or 0)
    return grid


def _amounts(fee: Fee) -> tuple[float, ...]:
    """What each group of citizens pays, in base units."""
    if fee.kind == "free":
        return (0.0,)
    if fee.kind == "base_units":
        return (float(fee.base_units),)
    if fee.kind == "table":
        return tuple(float(c.base_units) for c in fee.cells) or (0.0,)
    return tuple(float(c.base_units) for c in fee.categories) or (0.0,)


# --------------------------------------------------------------------------------------------------
