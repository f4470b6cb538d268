"""The rating portal's four criteria, each graded 1-5, and the bounds of a comment."""
from __future__ import annotations

from dataclasses import dataclass

from engine.store.tables import RATING_CRITERIA

LOWEST, HIGHEST = 1, 5
MAX_COMMENT = 2000  # characters


@dataclass(frozen=True, slots=True)
class Criterion:
    id: str
    title: str  # Russian, as a citizen reads it on the form


TITLES = {
    "simplicity": "Простота процедуры",
    "information": "Доступность информации",
    "term": "Соблюдение сроков",
    "politeness": "Вежливость и компетентность персонала",
}
# In the order of the table's columns: one list of criteria for the store and the forms.
CRITERIA = tuple(Criterion(c, TITLES[c]) for c in RATING_CRITERIA)
