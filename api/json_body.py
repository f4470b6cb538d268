"""Reading a JSON request body strictly: UTF-8 only, each key once, numbers JSON has.

FastAPI reads a body with `json.loads(bytes)`, which guesses UTF-16 and UTF-32 from the first
bytes, keeps the last of duplicate keys silently (`{"outcome": "approve", "outcome": "refuse"}`:
which one did the client mean, and which one did a proxy check?), and takes `NaN`, `Infinity`
and integers of thousands of digits. Routers built with `route_class=StrictJsonRoute` read their
bodies with `strict_json` instead; what it refuses becomes FastAPI's own `json_invalid` error,
which `api.problems` answers as a 422 problem naming the body and saying what is wrong.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

__all__ = ["MAX_INT_DIGITS", "StrictJsonRequest", "StrictJsonRoute", "strict_json"]

MAX_INT_DIGITS = 20  # a 64-bit integer has at most 19 digits and a sign


class _Refused(ValueError):
    pass


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(f"the key {key!r} appears more than once in one object")
            seen.add(key)
    return obj


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number")


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused(f"an integer of {len(text.lstrip('-'))} digits is too long")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _Refused(f"the number {text[:40]} is out of range")
    return value


def strict_json(body: bytes) -> Any:
    """The JSON value in `body`; json.JSONDecodeError (with a message saying why) otherwise."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise json.JSONDecodeError("the body is not UTF-8 text (JSON is sent as UTF-8)",
                                   body.decode("latin-1"), exc.start) from None
    try:
        return json.loads(text, object_pairs_hook=_object, parse_constant=_constant,
                          parse_int=_int, parse_float=_float)
    except _Refused as exc:
        raise json.JSONDecodeError(str(exc), text, 0) from None
    except RecursionError:
        raise json.JSONDecodeError("the body nests too deeply", text, 0) from None


class StrictJsonRequest(Request):
    """A request whose `json()` is `strict_json` (what FastAPI calls for a JSON body)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = strict_json(await self.body())
        return self._json


class StrictJsonRoute(APIRoute):
    """An APIRoute whose handler sees a `StrictJsonRequest`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict
