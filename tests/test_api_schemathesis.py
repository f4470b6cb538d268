"""Property-based checks of the whole API against its own OpenAPI document (schemathesis).

Every operation gets up to 20 generated requests (valid and invalid ones), signed in as a clerk
and as an auditor (who may read everything and change nothing). Whatever is sent, the API must
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

from tests.test_api_support import Api, catalog

MAX_EXAMPLES = int(os.environ.get("OKNO_SCHEMATHESIS_EXAMPLES", "20"))  # per operation and user


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every documented operation (read from a throwaway app)."""
    from api.app import build_services, create_app

    with tempfile.TemporaryDirectory() as tmp:
        services = build_services(f"sqlite:///{Path(tmp) / 'schema.db'}", secret="s" * 40,
                                  publish=False)
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
    strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                         operation.as_strategy(GenerationMode.NEGATIVE))
    headers = api.h(user)

    @given(case=strategy)
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case) -> None:
        case.call_and_validate(headers={**(case.headers or {}), **headers},
                               excluded_checks=[schemathesis.checks.positive_data_acceptance])

    check()
