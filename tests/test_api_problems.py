"""Engine errors become problems by class: api.problems holds the HTTP side, the engine none."""
from __future__ import annotations

import inspect
import warnings

import pytest
from fastapi import FastAPI

from api import problems
from api.problems import ENGINE_ERRORS, engine_problem
from engine import errors
from tests.test_api_support import Api

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ENGINE_CLASSES = [c for _, c in inspect.getmembers(errors, inspect.isclass)
                  if issubclass(c, errors.OknoError)]


def test_engine_errors_know_nothing_of_http() -> None:
    for cls in ENGINE_CLASSES:
        assert not hasattr(cls, "status") and not hasattr(cls, "title"), cls


def test_every_engine_error_class_is_mapped_on_purpose() -> None:
    assert set(ENGINE_CLASSES) == set(ENGINE_ERRORS)


@pytest.mark.parametrize(("cls", "status", "title", "slug"), [
    (errors.OknoError, 400, "Bad request", "bad-request"),
    (errors.NotFound, 404, "Not found", "not-found"),
    (errors.InvalidInput, 422, "Invalid input", "invalid-input"),
    (errors.NotAllowed, 409, "Not allowed in the current state", "not-allowed"),
    (errors.Conflict, 409, "Conflict", "conflict"),
    (errors.Forbidden, 403, "Forbidden", "forbidden"),
])
def test_statuses_and_titles(cls, status, title, slug) -> None:
    assert engine_problem(cls("x")) == (status, title, slug)


class LawForbids(errors.NotAllowed):
    """A subclass nobody mapped: it is answered as its nearest mapped ancestor."""


def test_a_subclass_takes_its_nearest_ancestors_problem() -> None:
    app = FastAPI()
    problems.install(app)

    @app.get("/refuse")
    def refuse() -> None:
        raise LawForbids("the law forbids it", field="data.x")

    r = TestClient(app).get("/refuse")
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json() == {"type": "urn:okno:problem:not-allowed",
                        "title": "Not allowed in the current state", "status": 409,
                        "detail": "the law forbids it", "field": "data.x",
                        "errors": [{"field": "data.x", "detail": "the law forbids it"}]}


def test_a_route_answers_an_engine_refusal_with_its_mapped_problem(tmp_path) -> None:
    api = Api(tmp_path)
    case = api.start("1.1.5")
    r = api.post(f"/api/cases/{case['id']}/decide", "supervisor", {"outcome": "approve"})
    assert r.status_code == 409, r.text
    body = r.json()
    assert (body["type"], body["title"], body["status"]) == (
        "urn:okno:problem:not-allowed", "Not allowed in the current state", 409)
