"""The HTTP face's module structure: routers depend on api.deps, never on the app module."""
from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime

from api import presenters
from api.deps import json_response
from engine.money import fee_on, load_base_units
from tests.test_api_support import catalog


def test_routers_import_without_the_app_module() -> None:
    """Importing a router must not pull in api.app: the old app <-> routes cycle is gone."""
    code = ("import sys; import api.routes.auth, api.routes.cases, api.routes.catalog; "
            "print('api.app' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_json_response_writes_utc_dates_with_z() -> None:
    response = json_response({"at": datetime(2025, 6, 18, 9, 0)}, 201, {"X-Test": "1"})
    assert response.status_code == 201 and response.headers["X-Test"] == "1"
    assert response.body == b'{"at":"2025-06-18T09:00:00Z"}'


def test_procedure_detail_extends_the_summary() -> None:
    proc = next(iter(catalog().values()))
    money = fee_on(proc.fee, load_base_units(), date(2025, 6, 18))
    summary = presenters.procedure_summary(proc, money)
    detail = presenters.procedure_detail(proc, [{"version": proc.version}], proc.version, money)
    assert {k: detail[k] for k in summary} == summary
    assert detail["history"] == [{"version": proc.version, "current": True}]
