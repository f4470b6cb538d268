"""Drafting a notice from a definition's text: placeholders, bounds, the recipient's address."""
from __future__ import annotations

from datetime import date

import pytest

from engine.errors import InvalidInput
from engine.notices.drafts import MAX_TEXT, MAX_TITLE, NoticeDraft, draft, placeholders, render
from tests.notices_support import DEFINITION, VALUES, Definition, Text


def test_draft_renders_the_definitions_notice_with_the_values():
    notice = draft(DEFINITION, "reply", VALUES, "ivanov@example.by", date(2025, 7, 3))
    assert isinstance(notice, NoticeDraft)
    assert notice.kind == "reply"
    assert notice.title == "Ответ на обращение № minsk-sovetsky-2025-000001"
    assert notice.body.startswith("Уважаемый(ая) Иванов Иван Иванович!\n\nНа ваше обращение от "
                                  "18.06.2025 сообщаем: вывоз мусора возобновлён.")
    assert (notice.recipient, notice.due_by) == ("ivanov@example.by", date(2025, 7, 3))
    assert draft(DEFINITION, "reply", VALUES).id != notice.id  # each draft is a new document


def test_definitions_may_hold_their_notices_by_id_too():
    texts = {"forwarding": Text("forwarding", "Направлено", "В {forwarded_to_name}.")}
    assert draft(Definition(notices=texts), "forwarding", VALUES).body == "В Минский горисполком."  # type: ignore[arg-type]


def test_an_undeclared_notice_is_a_defect_of_the_caller():
    with pytest.raises(KeyError, match="no notice 'extension'"):
        draft(DEFINITION, "extension", VALUES)


def test_unknown_placeholders_stay_as_written_and_values_are_text():
    assert render("{reg_number} {nobody} {n}", {"reg_number": "R-1", "n": 5}) == "R-1 {nobody} 5"
    assert placeholders("{a} {b_1} {a} {Upper} {}") == ["a", "b_1"]


def test_rendering_is_bounded_however_long_the_values_are():
    huge = "ж" * (MAX_TEXT * 3)
    body = render("{x}{x}{x}{x} tail", {"x": huge})
    assert len(body) == MAX_TEXT and set(body) == {"ж"}
    title = draft(Definition((Text("t", "{x}\n{x}", "{x}"),)), "t", {"x": huge}).title
    assert len(title) == MAX_TITLE  # one line: a title becomes the e-mail's Subject
    assert "\n" not in draft(Definition((Text("t", "a\r\nb", ""),)), "t", {}).title


@pytest.mark.parametrize("address", [
    "ivanov@example.by\r\nBcc: all@example.by", "Иван <ivanov@example.by>", "no-at-sign",
    "a@b@c", "ivanov@exa mple.by", "x" * 250 + "@example.by", "@example.by",
])
def test_an_address_that_is_not_one_plain_mailbox_is_refused(address):
    with pytest.raises(InvalidInput) as refused:
        draft(DEFINITION, "reply", VALUES, address)
    assert refused.value.field == "email"


def test_an_empty_recipient_means_printed():
    assert draft(DEFINITION, "reply", VALUES, "  ").recipient is None
    assert draft(DEFINITION, "reply", VALUES, " ivanov@example.by ").recipient == "ivanov@example.by"
