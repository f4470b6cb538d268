"""Directive No. 2's rule for reception hours (§2.1, 2023 wording), checked as a warning.

Reception of citizens with applications for administrative procedures "must begin on working
days no later than 08:00 or end no earlier than 20:00; at least one working day a week it must
end no earlier than 20:00" (procedures an organisation performs for its own staff are exempt, so
the rule is advice an analyst weighs, not a reason to refuse a catalog). Working days are Monday
to Friday here; a working day without reception breaks the first half.
"""
from __future__ import annotations

from collections.abc import Iterator

from engine.authorities.authority import WORKING_DAYS, Interval

OPENS_BY = "08:00"
CLOSES_FROM = "20:00"
RULE = "Directive No. 2 §2.1"
DAY_NAMES = {"mon": "Monday", "tue": "Tuesday", "wed": "Wednesday", "thu": "Thursday",
             "fri": "Friday", "sat": "Saturday", "sun": "Sunday"}


def hours_warnings(reception: dict[str, tuple[Interval, ...]]) -> Iterator[tuple[tuple, str]]:
    """(path in the file, message) for each way `reception` misses the rule."""
    late = False
    for day in WORKING_DAYS:
        intervals = sorted(reception.get(day, ()))
        if not intervals:
            yield ("reception",), (f"{RULE}: no reception on {DAY_NAMES[day]}, a working day "
                                   f"(reception opens by {OPENS_BY} or closes at {CLOSES_FROM} "
                                   "or later on working days)")
            continue
        opens, closes = intervals[0].start, intervals[-1].end
        late = late or closes >= CLOSES_FROM
        if opens > OPENS_BY and closes < CLOSES_FROM:
            yield ("reception", day), (f"{RULE}: reception on {DAY_NAMES[day]} is {opens}–{closes}; "
                                       f"on working days it opens by {OPENS_BY} or closes at "
                                       f"{CLOSES_FROM} or later")
    if not late:
        yield ("reception",), (f"{RULE}: no working day has reception until {CLOSES_FROM}; "
                               "at least one a week must")
