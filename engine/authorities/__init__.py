"""The authorities catalog: the bodies that perform procedures, as their one-window stand shows them.

`authorities/*.yaml` (one file per authority, named by its id) sit beside `procedures/`, checked
against `schemas/authority.schema.json` and the rules in `validation` with file:line problems.
An authority's id is the organisation code its staff belong to and its cases carry. Modules:
`authority` (the immutable Authority and its parts), `hours` (Directive No. 2's reception hours
rule: a warning, not an error), `catalog` (the catalog: lookups, superior bodies, which procedures
an authority performs), `validation` (reading and checking files).
"""
