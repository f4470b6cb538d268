"""Pairing the procedures of two catalogs (by number, or by a near-identical name under a new
number) and the diff itself.
"""
from __future__ import annotations

from collections.abc import Mapping
from difflib import SequenceMatcher

from engine.definition.build import number_key
from engine.definition.procedure import Procedure
from engine.diff.compare import ProcedurePair
from engine.diff.model import NEAR_IDENTICAL, CatalogDiff, Change
from engine.diff.wording import normalize_name, quoted
from engine.terms import WorkCalendar

# Pairing procedures and the diff itself
# --------------------------------------------------------------------------------------------------

def _similarity(a: str, b: str) -> float:
    if 2 * min(len(a), len(b)) < NEAR_IDENTICAL * (len(a) + len(b)):
        return 0.0  # the lengths alone rule it out
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    if matcher.quick_ratio() < NEAR_IDENTICAL:
        return 0.0
    return matcher.ratio()


def _near_pairs(old: list[tuple[str, Procedure]], new: list[tuple[str, Procedure]]
                ) -> list[tuple[float, Procedure, Procedure]]:
    """Every (score, old, new) whose normalised names are near-identical, best first."""
    found = []
    matcher = SequenceMatcher(None, autojunk=False)
    for b, n in new:
        matcher.set_seq2(b)  # difflib caches the analysis of the second sequence
        for a, o in old:
            if 2 * min(len(a), len(b)) < NEAR_IDENTICAL * (len(a) + len(b)):
                continue
            matcher.set_seq1(a)
            if matcher.quick_ratio() >= NEAR_IDENTICAL and (score := matcher.ratio()) >= NEAR_IDENTICAL:
                found.append((score, o, n))
    found.sort(key=lambda c: (-c[0], number_key(c[1].number), number_key(c[2].number)))
    return found


def pair_procedures(old: Mapping[str, Procedure], new: Mapping[str, Procedure]
                    ) -> tuple[list[tuple[Procedure, Procedure]], list[Procedure], list[Procedure]]:
    """Pair old and new versions: (pairs, removed, added).

    In order: the same number with the same name; the same name under another number
    (renumbered); the same number with a near-identical name; a near-identical name under another
    number; the same number with another name (renamed). What is left was removed or added.
    """
    old_left = dict(old)
    new_left = dict(new)
    pairs: list[tuple[Procedure, Procedure]] = []
    cache: dict[int, str] = {}

    def norm(p: Procedure) -> str:
        if id(p) not in cache:
            cache[id(p)] = normalize_name(p.name)
        return cache[id(p)]

    def take(o: Procedure, n: Procedure) -> None:
        pairs.append((o, n))
        del old_left[o.number], new_left[n.number]

    def by_number(procedures: Mapping[str, Procedure]) -> list[Procedure]:
        return sorted(procedures.values(), key=lambda p: number_key(p.number))

    for num in [num for num in old_left if num in new_left]:
        o, n = old_left[num], new_left[num]
        if o.name == n.name or norm(o) == norm(n):
            take(o, n)
    if old_left and new_left:
        by_name: dict[str, list[Procedure]] = {}
        for p in by_number(new_left):
            by_name.setdefault(norm(p), []).append(p)
        for o in by_number(old_left):
            found = by_name.get(norm(o))
            if found:
                take(o, found.pop(0))
    for num in [num for num in old_left if num in new_left]:
        if _similarity(norm(old_left[num]), norm(new_left[num])) >= NEAR_IDENTICAL:
            take(old_left[num], new_left[num])
    if old_left and new_left:
        near = _near_pairs([(norm(p), p) for p in by_number(old_left)],
                           [(norm(p), p) for p in by_number(new_left)])
        for _, o, n in near:
            if o.number in old_left and n.number in new_left:
                take(o, n)
    for num in [num for num in old_left if num in new_left]:
        take(old_left[num], new_left[num])
    return pairs, list(old_left.values()), list(new_left.values())


def _nk(number: str | None) -> tuple[int, ...]:
    return number_key(number) if number else ()


def _sort_key(c: Change) -> tuple:
    return (_nk(c.number), _nk(c.old_number), c.kind, c.path, repr(c.old), repr(c.new), c.message)


def diff_catalogs(old: Mapping[str, Procedure], new: Mapping[str, Procedure], *,
                  old_label: str = "old", new_label: str = "new",
                  calendar: WorkCalendar | None = None) -> CatalogDiff:
    """Every change from catalog ``old`` to catalog ``new`` (each: number -> Procedure); terms
    are compared on ``calendar`` (the ``calendar_overrides`` setting's; default: the shipped
    one)."""
    changes: list[Change] = []
    pairs, removed, added = pair_procedures(old, new)
    for o, n in pairs:
        if o.number == n.number and o.version == n.version:
            continue
        ProcedurePair(o, n, changes, calendar).compare()
    for p in removed:
        ProcedurePair(p, None, changes).add("procedure.removed", "", p.name, None,
                                    f"Процедура исключена: {p.number} {quoted(p.name)}")
    for p in added:
        ProcedurePair(None, p, changes).add("procedure.added", "", None, p.name,
                                    f"Новая процедура: {p.number} {quoted(p.name)}")
    changes.sort(key=_sort_key)
    return CatalogDiff(tuple(changes), len(old), len(new), old_label, new_label)


# --------------------------------------------------------------------------------------------------
