"""Notices: the documents the law requires a case to send its applicant (forwarding, extension of
the term, leaving without consideration, the reply, a refusal).

- `drafts`: what a command records (`NoticeDraft`), rendered from the definition's notice text and
  the case; the unit of work stores it in the command's own transaction (`notices`, `outbox`).
- `refusal`: the refusal notice's text and the facts it, the case JSON and the cabinet share.
- delivery by the worker through the outbox (SMTP), retried and sent once.
"""
