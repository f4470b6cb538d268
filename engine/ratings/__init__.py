"""Quality ratings (Council of Ministers resolution No. 765 of 13.11.2019, the rating portal).

The applicant of an ended case or appeal grades it once, 1-5 on each of the portal's four
criteria, with an optional comment (`grading`); the grades aggregate per authority and per
procedure, and a superior body keeps the register of its subordinate authorities, ranked by
their average (`register`); the half-year monitoring report lists them with their positions and
how the positions moved since the half-year before (`monitoring`).
"""
