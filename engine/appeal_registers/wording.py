"""Whether two appeals ask the same question: Russian text normalised, then compared by RapidFuzz.

Law 300-З counts an appeal as repeated when it raises *the same question* as an earlier one; a
citizen rarely types it the same way twice. The texts are normalised (`normalize`: Unicode NFKC,
case folded, ё read as е, punctuation and the number sign as spaces, whitespace collapsed) and
compared with `rapidfuzz.fuzz`:

- `token_set_ratio` (the words both texts share against each text's own words, in any order) is
  the score: it scores a reworded, reordered or prefaced text ("Повторно обращаюсь. …") high;
- `token_sort_ratio` (the whole texts, words sorted) must reach `GUARD`: a short earlier text whose
  words all recur in a long new one on another matter ("Прошу помочь." / "Прошу помочь с ремонтом
  крыши …") scores 100 by the set ratio alone;
- texts of fewer than `MIN_WORDS` words are compared by `token_sort_ratio` only;
- the numbers must agree: when both texts hold numbers (house, flat, school, kindergarten), the sets
  are equal. "крышу дома 5 по ул. Ленина" and "крышу дома 15 по ул. Кирова" score 91, yet they are
  two questions.

`THRESHOLD` 85 and `GUARD` 60 were chosen on the pairs in tests/test_repeats_wording.py: the
near-duplicates there score 86–100, the different questions of one applicant at most 80 (with the
number rule). Only the first `MAX_CHARS` characters of a text are compared, so a comparison costs
the same whatever an applicant typed.
"""
from __future__ import annotations

import re
import unicodedata

from rapidfuzz import fuzz

THRESHOLD = 85  # token_set_ratio at or above it: the same question
GUARD = 60  # token_sort_ratio below it: not the same question, whatever the set ratio says
MIN_WORDS = 6  # shorter texts: token_sort_ratio alone
MAX_CHARS = 2_000  # of each normalised text compared

_SEPARATORS = re.compile(r"[\W_]+")


def normalize(text: str | None) -> str:
    """`text` as it is compared: NFKC, case folded, ё → е, punctuation as spaces, one space between
    words, at most `MAX_CHARS` characters."""
    if not text:
        return ""
    text = text[: 4 * MAX_CHARS].replace("№", " ")  # before NFKC, which spells it "No"
    text = unicodedata.normalize("NFKC", text).casefold().replace("ё", "е")
    return " ".join(_SEPARATORS.sub(" ", text).split())[:MAX_CHARS].rstrip()


def _numbers(words: list[str]) -> set[str]:
    return {w for w in words if w.isdigit()}


def score(a: str, b: str) -> float:
    """How alike two *normalised* questions are, 0–100 (0 when a rule above rules them apart)."""
    if not a or not b:
        return 0.0
    words_a, words_b = a.split(), b.split()
    numbers_a, numbers_b = _numbers(words_a), _numbers(words_b)
    if numbers_a and numbers_b and numbers_a != numbers_b:
        return 0.0
    whole = fuzz.token_sort_ratio(a, b, processor=None)
    if min(len(words_a), len(words_b)) < MIN_WORDS:
        return whole
    if whole < GUARD:
        return 0.0
    return fuzz.token_set_ratio(a, b, processor=None)


def same_question(a: str, b: str) -> bool:
    """Whether two *normalised* questions are the same question."""
    return score(a, b) >= THRESHOLD


def normalize_name(name: str | None) -> str:
    """An applicant's name as it is compared: case folded, ё → е, one space between words."""
    return " ".join(unicodedata.normalize("NFKC", name or "").casefold().replace("ё", "е").split())
