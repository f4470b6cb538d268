"""The `Idempotency-Key` header: a retried command returns its first answer instead of acting twice.

Keys are scoped to the user. The first request with a key reserves it (a row with status 0)
before acting, so a concurrent duplicate gets 409 instead of running in parallel; when the
command succeeds its status and body are stored and every retry with the same key and the same
request (route and canonical body) gets them back with `Idempotent-Replayed: true`. The same
key with a different request is refused with 422. A command that fails changed nothing (one
command, one transaction), so its reservation is released and the client may retry it.

Only status and body are stored (no schema change for headers): a route whose answer carries
headers derives them again from the stored body (`replay_headers`, e.g. `Location` from the id).
A key is remembered for the `idempotency_hours` setting (`OKNO_IDEMPOTENCY_HOURS`, default 24)
by the injected clock; after that a request with it acts as new, and the worker purges the old
rows.

Limit: the answer is stored in its own transaction right after the command's; a process killed
between the two leaves the key reserved (409 on retry) rather than risking a second action.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
             command: Callable[[], Any], respond: Callable[[Any], Response],
             replay_headers: Callable[[bytes], dict[str, str]] | None = None) -> Response:
    """Run `command` and answer with `respond(its result)`, or replay the stored answer when `key`
    was used for the same request (with the headers `replay_headers(stored body)` gives).

    Only a failure of `command` itself releases the key: once the command has committed, a failure
    while building the answer leaves the key reserved, so a retry is refused (409) rather than
    acting twice."""
    key = check_key(key)
    if key is None:
        return respond(command())
    digest = keys.request_hash(route, body)
    now = services.clock.now()
    seen = keys.reserve_key(services.db, user, key, route, digest, now,
                            stale_before=now - services.settings.idempotency_retention)
    if seen is not None:
        if seen.route != route or seen.request_hash != digest:
            raise ApiError(422, "this Idempotency-Key was used for a different request; "
                                "use a new key for a new request", field=FIELD)
        if seen.status_code == 0:
            raise ApiError(409, "a request with this Idempotency-Key is still being processed",
                           field=FIELD)
        body_bytes = seen.body or b""
        headers = replay_headers(body_bytes) if replay_headers is not None else {}
        return Response(body_bytes, status_code=seen.status_code, media_type="application/json",
                        headers={**headers, "Idempotent-Replayed": "true"})
    try:
        result = command()
    except BaseException:
        keys.release_key(services.db, user, key)
        raise
    response = respond(result)
    keys.remember_answer(services.db, user, key, response.status_code, bytes(response.body))
    return response
