"""The audit ledger: one append-only log of every command, that shows whether history was rewritten.

- `keys`: the audit keys (kept outside the database) that every event's hash is keyed with;
- `chain`: the event rows: a per-case chain of HMACs over each event and the effects it wrote;
- `facts`: a case's facts as stored, and as recomputed from its events' effects;
- `merkle`: the tree hash (RFC 6962) over the whole log in its global order;
- `checkpoints`: signed heads of the log (size, root), written to a folder outside the database;
- `legacy`: events written before migration 0009 (the old unkeyed formula) and their seal;
- `verify`: every check together, for `okno audit verify` and the API.

docs/engine.md ("Audit") says what the ledger detects and what it cannot.
"""
