"""A form field's `pattern`: compiled by RE2, so matching takes time linear in the value.

A pattern comes from a definition and the value from whoever fills in the form. Python's `re`
backtracks: `^(a+)+$` against 34 `a`s and a `!` runs for minutes and blocks the whole server
process. RE2 (`google-re2`) never backtracks; what it cannot run in linear time (backreferences
such as `(a)\\1`, lookaround) it refuses to compile, and validation reports that as the
definition's error. The same compiled pattern serves validation, the form check and the example
values, so a pattern that validates is the one that runs.

Meaning, where it differs from Python's `re`: `$` is the end of the value only (not before a final
newline, as in JavaScript), and `\\d`, `\\w`, `\\s` are ASCII classes (write `[0-9А-Яа-яЁё]` for
more). The whole value must match (`fullmatch`), with or without `^`/`$`.
"""
from __future__ import annotations

import functools

import re2

__all__ = ["MAX_PATTERN_MEMORY", "FieldPattern", "PatternError", "compile_pattern"]

MAX_PATTERN_MEMORY = 1 << 20  # bytes RE2 may use for one compiled pattern (its default is 8 MB)


class PatternError(ValueError):
    """A pattern RE2 cannot compile; `reason` is RE2's own words."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # RE2 would print every refused pattern to stderr
    options.max_mem = MAX_PATTERN_MEMORY
    return options


class FieldPattern:
    """A compiled field pattern; `matches` is True if the whole value matches."""

    __slots__ = ("_compiled", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        try:
            self._compiled = re2.compile(text, options=_options())
        except re2.error as exc:
            reason = exc.args[0] if exc.args else "invalid pattern"
            if isinstance(reason, bytes):
                reason = reason.decode("utf-8", "replace")
            raise PatternError(str(reason)) from None

    def matches(self, value: str) -> bool:
        return self._compiled.fullmatch(value) is not None


@functools.lru_cache(maxsize=1024)
def compile_pattern(text: str) -> FieldPattern:
    """The compiled pattern (cached: a catalog has a few dozen); PatternError if RE2 refuses it."""
    return FieldPattern(text)
