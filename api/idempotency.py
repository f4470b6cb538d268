"""The `Idempotency-Key` header: a retried command returns its first answer instead of acting twice.

Keys are scoped to the user. A command sent with a key stores its answer (status and body) in
its own transaction (engine.idempotency): the command's rows and the answer commit together or
not at all. Every retry with the same key and the same request (route and canonical body) gets
the stored answer back with `Idempotent-Replayed: true`; the same key with a different request is
refused with 422. A command that fails changed nothing and stored nothing, so the client may
retry it; so may a client whose server died mid-command: the retry runs afresh if nothing was
committed and replays the answer if it was (a created case's id included), never both.

Two requests with the same key at once may both run, but only the first to commit keeps its
effect: the other's transaction is undone and it answers with the stored answer. A command that
fails while a request with its key has committed (e.g. the task it completes is done now) answers
the same way.

Only status and body are stored (no schema change for headers): a route whose answer carries
headers derives them again from the stored body (`replay_headers`, e.g. `Location` from the id).
A key is remembered for the `idempotency_hours` setting (`OKNO_IDEMPOTENCY_HOURS`, default 24)
by the injected clock; after that a request with it acts as new, and the worker purges the old
rows.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Connection, Engine
from starlette.responses import Response

from api.problems import ApiError
from engine import idempotency as keys

HEADER = "Idempotency-Key"
FIELD = "header.Idempotency-Key"


def check_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not 1 <= len(key) <= 255 or not key.isascii() or not key.isprintable():
        raise ApiError(422, "Idempotency-Key must be 1 to 255 printable ASCII characters",
                       field=FIELD)
    return key


def run_once(services: Any, user: str, key: str | None, route: str, body: Any,
             command: Callable[[keys.Remember | None], str],
             respond: Callable[[Connection | Engine, str], Response],
             replay_headers: Callable[[bytes], dict[str, str]] | None = None) -> Response:
    """Run `command` and answer with `respond(db, the case id it returns)`, or replay the stored
    answer when `key` was used for the same request (with the headers `replay_headers(stored
    body)` gives). With a key, `command` gets the `Remember` to pass to the engine, which calls
    `respond` on the command's own transaction and stores the answer there."""
    key = check_key(key)
    if key is None:
        return respond(services.db, command(None))
    digest = keys.request_hash(route, body)
    now = services.clock.now()
    stale_before = now - services.settings.idempotency_retention
    seen = keys.lookup(services.db, user, key, stale_before)
    if seen is not None:
        return _replay(seen, route, digest, replay_headers)
    made: list[Response] = []

    def answer(conn: Connection, case_id: str) -> tuple[int, bytes]:
        response = respond(conn, case_id)
        made.append(response)
        return response.status_code, bytes(response.body)

    remember = keys.Remember(user, key, route, digest, now, stale_before, answer)
    try:
        command(remember)
    except Exception:  # KeyTaken, or a failure a concurrent twin that committed first explains
        seen = keys.lookup(services.db, user, key, stale_before)
        if seen is None:
            raise
        return _replay(seen, route, digest, replay_headers)
    return made[-1]


def _replay(seen: keys.Remembered, route: str, digest: str,
            replay_headers: Callable[[bytes], dict[str, str]] | None) -> Response:
    if not seen.same_request(route, digest):
        raise ApiError(422, "this Idempotency-Key was used for a different request; "
                            "use a new key for a new request", field=FIELD)
    if seen.status_code == 0:  # a reservation of an older okno: its command may have committed
        raise ApiError(409, "a request with this Idempotency-Key is still being processed",
                       field=FIELD)
    body_bytes = seen.body or b""
    headers = replay_headers(body_bytes) if replay_headers is not None else {}
    return Response(body_bytes, status_code=seen.status_code, media_type="application/json",
                    headers={**headers, "Idempotent-Replayed": "true"})
