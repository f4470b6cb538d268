"""Property-based checks of the whole API against its own OpenAPI document (schemathesis).

Every operation gets up to 20 generated requests (valid and invalid ones), signed in as a clerk
and as an auditor (who may read everything and change nothing). About half of the requests to a
route with a case or task in its path name a real case of the clerk's organisation (fresh ones
for each operation) and one of its open tasks, so commands act on real cases, not only on ids
that do not exist. Whatever is sent, the API must
never answer 5xx, and its answers must match the documented status codes, content types and
schemas. Schema-valid requests may still be refused with 422: the engine checks form data
against each step's fields and rules the schema cannot state (positive_data_acceptance is off).
(schemathesis' pytest loader `from_fixture` does not work with pytest 9 yet, so the
operations are driven through `APIOperation.as_strategy` directly.)
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from api.schemas import CHECKED_BY_ENGINE
from tests.casework import ledger_for
from tests.db_support import url as db_url
from tests.test_api_support import Api, catalog

MAX_EXAMPLES = int(os.environ.get("OKNO_SCHEMATHESIS_EXAMPLES", "20"))  # per operation and user


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every documented operation (read from a throwaway app)."""
    from api.app import build_services, create_app

    with tempfile.TemporaryDirectory() as tmp:
        services = build_services(db_url(Path(tmp) / 'schema.db'), secret="s" * 40,
                                  publish=False, ledger=ledger_for(Path(tmp) / "schema.db"))
        paths = create_app(services_=services).openapi()["paths"]
        services.db.dispose()
    return [(method.upper(), path) for path, ops in paths.items() for method in ops]


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Api:
    api = Api(tmp_path_factory.mktemp("schemathesis"))
    for number in list(catalog())[:3]:  # a few real cases so lists and views have content
        api.start(number)
    return api


@pytest.fixture(scope="module")
def schema(api: Api):
    return schemathesis.openapi.from_asgi("/openapi.json", api.app)


@pytest.mark.parametrize("user", ["clerk", "auditor"])
@pytest.mark.parametrize(("method", "path"), _operations())
def test_operation_conforms_to_its_schema(schema, api: Api, method: str, path: str,
                                          user: str) -> None:
    operation = schema[path][method]
    strategy = operation.as_strategy(GenerationMode.POSITIVE)
    # A file part of a multipart body is bytes whatever it holds: schemathesis' negative data for
    # one ("was string, became array") is a file with JSON text in it, a valid request on the wire,
    # which the catalog routes rightly answer with its problems. Their refusals of bad requests
    # are tested in tests/test_publish.py.
    if "multipart/form-data" not in operation.definition.raw.get("requestBody", {}).get("content", {}):
        strategy = st.one_of(strategy, operation.as_strategy(GenerationMode.NEGATIVE))
    headers = api.h(user)
    numbers = list(catalog())
    real_cases = [api.start(numbers[i % len(numbers)])["id"] for i in range(3)] \
        if "{case_id}" in path else []

    @given(case=strategy, real=st.booleans(), pick=st.integers(0, 2))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case, real: bool, pick: int) -> None:
        if real and real_cases and isinstance(case.path_parameters, dict):
            case.path_parameters["case_id"] = real_cases[pick]
            if "{task_id}" in path:
                tasks = api.open_tasks(real_cases[pick])
                if tasks:
                    case.path_parameters["task_id"] = tasks[0]["id"]
        response = case.call_and_validate(
            headers={**(case.headers or {}), **headers},
            excluded_checks=[schemathesis.checks.positive_data_acceptance])
        accepts_what_it_documents(operation, case, response)
        if real and real_cases:
            ON_REAL_CASES.append((method, path, user, response.status_code))

    check()


def accepts_what_it_documents(operation, case, response) -> None:
    """schemathesis' positive_data_acceptance, less the one thing no schema can state: a
    schema-valid request may be refused with 422 only naming a field the operation lists under
    x-okno-checked-by-engine (a ground of the case's procedure, the fields of its step: data.*).
    Nor a reused Idempotency-Key: the generator may send one key again with another body, and
    refusing that depends on what was sent before, not on the request.
    """
    if not case.meta.generation.mode.is_positive or response.status_code != 422:
        return
    field = response.json().get("field") or ""
    if field == "header.Idempotency-Key" and "used for a different request" in response.text:
        return
    checked = operation.definition.raw.get(CHECKED_BY_ENGINE, [])
    assert any(field == name or (name.endswith(".*") and field.startswith(name[:-1]))
               for name in checked), (
        f"{case.method} {case.formatted_path}: a request the document allows was refused: "
        f"{response.text}\n{case.as_curl_command()}")


ON_REAL_CASES: list[tuple[str, str, str, int]] = []


def test_generated_requests_reached_real_cases() -> None:
    """Runs after the operations above: commands did act on real cases, and the auditor's were
    all refused (the run is not only about ids that do not exist)."""
    if not ON_REAL_CASES:
        pytest.skip("run together with the operations above")
    acted = {(path, status) for method, path, user, status in ON_REAL_CASES
             if method == "POST" and user == "clerk" and status < 300}
    assert len({path for path, _ in acted}) >= 3, sorted(acted)
    refused = [status for method, _, user, status in ON_REAL_CASES if method == "POST" and user == "auditor"]
    assert refused
    assert all(status in (401, 403, 404, 405, 409, 422) for status in refused), refused
