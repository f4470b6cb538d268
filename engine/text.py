"""What text okno stores: valid Unicode, and no character that hides or reorders what is shown.

Names (of applicants, authorities and accounts, one-line form fields, form keys) refuse every
control character (C0, DEL, C1: NUL, escape sequences, backspace), the line and paragraph
separators U+2028/U+2029, and the Unicode bidirectional controls (U+061C, U+200E, U+200F,
U+202A-U+202E, U+2066-U+2069): with a right-to-left override, "Иванов\u202eвонавИ" is shown in
a work list, a document or an audit report differently from what is stored. Free text (a
withdrawal reason, a long form field) may also hold tabs and line breaks. Such text is refused,
not neutralised: quietly changing what a clerk typed would change a record.

The rules are also given as regular-expression patterns (`NAME_PATTERN`, `FREE_TEXT_PATTERN`),
the same in Python, JavaScript and JSON Schema, for the OpenAPI document.
"""
from __future__ import annotations

import re

__all__ = ["FREE_TEXT_PATTERN", "NAME_PATTERN", "PROBLEMS", "refusal_kind", "refused_character", "text_problem"]

_BIDI = r"\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_NAME_REFUSED = r"\x00-\x1f\x7f-\x9f\u2028\u2029" + _BIDI
_FREE_TEXT_REFUSED = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f" + _BIDI  # tab, LF, CR allowed

NAME_PATTERN = f"^[^{_NAME_REFUSED}]*$"
FREE_TEXT_PATTERN = f"^[^{_FREE_TEXT_REFUSED}]*$"

_NAME_BAD = re.compile(f"[{_NAME_REFUSED}]")
_FREE_TEXT_BAD = re.compile(f"[{_FREE_TEXT_REFUSED}]")
_BIDI_CHAR = re.compile(f"[{_BIDI}]")


def refused_character(value: str, *, free: bool) -> str | None:
    """The first character that keeps `value` from being stored as a name (`free=False`) or free
    text: a control or bidirectional character, or a lone surrogate; None if there is none."""
    bad = (_FREE_TEXT_BAD if free else _NAME_BAD).search(value)
    if bad is not None:
        return bad.group()
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        return value[error.start]
    return None


def refusal_kind(char: str) -> str:
    """What kind of refused character `char` is: "nul", "surrogate", "bidi" or "control"."""
    if char == "\x00":
        return "nul"
    if 0xD800 <= ord(char) <= 0xDFFF:
        return "surrogate"
    return "bidi" if _BIDI_CHAR.match(char) else "control"


# Why a text is refused, by kind of character ({code}: its code point, e.g. 202E).
PROBLEMS = {"nul": "the NUL character is not allowed",
            "surrogate": "not valid Unicode text (a lone surrogate)",
            "bidi": "the bidirectional control U+{code} is not allowed",
            "control": "the control character U+{code} is not allowed"}


def text_problem(value: str, *, free: bool, texts: dict[str, str] = PROBLEMS) -> str | None:
    """Why `value` cannot be stored as a name (`free=False`) or free text, or None if it can
    (`texts`: the wording per kind, PROBLEMS by default)."""
    char = refused_character(value, free=free)
    if char is None:
        return None
    return texts[refusal_kind(char)].format(code=f"{ord(char):04X}")
