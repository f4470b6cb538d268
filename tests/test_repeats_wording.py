"""Which wordings count as the same question (engine/appeal_registers/wording.py): the pairs that chose
the scorer and its threshold."""
from __future__ import annotations

import pytest

from engine.appeal_registers.wording import MAX_CHARS, THRESHOLD, normalize, normalize_name, same_question, score

# The same question, typed again: reworded, reordered, prefaced, in capitals, with ё/е and №.
SAME = [
    ("Прошу отремонтировать крышу дома №5 по ул. Ленина, протекает уже полгода.",
     "Прошу отремонтировать крышу дома 5 по улице Ленина! Протекает уже полгода"),
    ("Когда будет восстановлено уличное освещение на ул. Садовой?",
     "Когда восстановят уличное освещение на улице Садовой?"),
    ("Во дворе дома 12 по ул. Гикало не вывозят мусор. Контейнеры переполнены, прошу принять меры.",
     "Прошу принять меры: контейнеры переполнены, во дворе дома 12 по ул. Гикало не вывозят мусор."),
    ("Прошу отремонтировать крышу дома №5 по ул. Ленина, протекает уже полгода.",
     "Повторно обращаюсь. Прошу отремонтировать крышу дома №5 по ул. Ленина, протекает уже "
     "полгода. Ответа по существу не получил."),
    ("ПРОШУ ЗАМЕНИТЬ ЛИФТ В ПОДЪЕЗДЕ №2 ДОМА 7 ПО ПР. НЕЗАВИСИМОСТИ, ОН ПОСТОЯННО ЛОМАЕТСЯ",
     "прошу заменить лифт в подъезде 2 дома 7 по пр-ту Независимости — он постоянно ломается"),
    ("Ёлки у школы №3 спилили без разрешения, прошу проверить законность.",
     "Елки у школы № 3 спилили без разрешения. Прошу проверить законность"),
    ("Прошу провести проверку работы управляющей компании ЖЭС-5, не убирают подъезды.",
     "Прошу провести проверку работы ЖЭС-5 — подъезды не убирают"),
    ("Почему до сих пор не отремонтирована дорога по ул. Полевой в д. Ратомка?",
     "Почему не отремонтирована дорога по улице Полевой в деревне Ратомка до сих пор?"),
]

# Different questions of one applicant: same street, same house, same opening words.
DIFFERENT = [
    ("Прошу отремонтировать крышу дома №5 по ул. Ленина, протекает уже полгода.",
     "Прошу установить детскую площадку во дворе дома №5 по ул. Ленина."),
    ("Когда будет восстановлено уличное освещение на ул. Садовой?",
     "Когда будет отремонтирована дорога на ул. Садовой?"),
    ("Во дворе дома 12 по ул. Гикало не вывозят мусор.",
     "Прошу разъяснить порядок начисления платы за отопление в доме 12 по ул. Гикало."),
    ("Прошу заменить лифт в подъезде №2 дома 7 по пр. Независимости.",
     "Прошу покрасить подъезд №2 дома 7 по пр. Независимости."),
    ("Прошу отремонтировать крышу дома №5 по ул. Ленина.",
     "Прошу отремонтировать крышу дома №15 по ул. Кирова."),
    ("Прошу предоставить место в детском саду №8 для моего сына.",
     "Прошу предоставить путевку в санаторий для моей матери."),
    ("Прошу помочь.", "Прошу помочь с ремонтом крыши дома 5 по ул. Ленина, протекает."),
    ("Прошу отремонтировать крышу.",
     "Прошу отремонтировать крышу гаража и покрасить забор у школы."),
]


@pytest.mark.parametrize(("a", "b"), SAME)
def test_a_near_duplicate_is_the_same_question(a, b):
    assert same_question(normalize(a), normalize(b)), score(normalize(a), normalize(b))
    assert same_question(normalize(b), normalize(a))


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_another_question_of_the_same_applicant_is_not(a, b):
    assert not same_question(normalize(a), normalize(b)), score(normalize(a), normalize(b))
    assert not same_question(normalize(b), normalize(a))


def test_the_threshold_leaves_a_margin_on_both_sides():
    same = min(score(normalize(a), normalize(b)) for a, b in SAME)
    different = max(score(normalize(a), normalize(b)) for a, b in DIFFERENT)
    assert different < THRESHOLD <= same
    assert same - THRESHOLD >= 1 and THRESHOLD - different >= 4, (same, different)


def test_normalize_folds_case_yo_punctuation_and_spaces():
    assert normalize("  Ёлки,\tЁЛКИ!!  №3 —\n«ул. Ленина» ") == "елки елки 3 ул ленина"
    assert normalize(None) == "" and normalize("?!…") == ""
    assert normalize_name("  ИВАНОВ   Пётр\u00a0Иванович ") == "иванов петр иванович"


def test_only_the_first_characters_are_compared():
    long = "слово " * 10_000
    assert len(normalize(long)) <= MAX_CHARS
    assert same_question(normalize(long), normalize(long + " и ещё одно"))
