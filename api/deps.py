"""What every route depends on: the process's `Services`, their dependency, the JSON response.

`build_services` connects to the database (creating or upgrading its schema), publishes the
catalog, reads the authorities catalog and the base unit values, and builds the engine objects
once per process, from the `Settings` its entry point
read; `create_app` (api.app) puts them on `app.state.okno`, where the `services` dependency finds
them. Routes import from here, never from `api.app`, so the app module can include the routers
without an import cycle.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from fastapi import Request
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.responses import Response

from api.auth import load_secret
from engine.audit.ledger import Ledger
from engine.authorities.catalog import AuthorityCatalog
from engine.authorities.validation import load_authorities
from engine.clock import SystemClock
from engine.definition.data_file import Reloading
from engine.definition.procedure import Procedure
from engine.definition.validation import load_catalog
from engine.money import BaseUnits, load_base_units
from engine.runtime.commands import Cases
from engine.settings import Settings
from engine.store.connect import connect
from engine.store.versions import Versions
from engine.terms import default_calendar

log = logging.getLogger("okno.api")
ORJSON_OPTIONS = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS


@dataclass
class Services:
    """What every route needs, built once per process."""

    db: Any
    versions: Versions
    cases: Cases
    clock: SystemClock
    secret: str
    catalog_path: Path | None
    settings: Settings
    # Kept in memory, read from their files (not stored in the database): no case is pinned to
    # them, every process reads the same files, and each re-reads them when they change.
    authorities: Reloading[AuthorityCatalog]
    base_units: Reloading[BaseUnits]


async def services(request: Request) -> Services:
    """The process's Services (dependency; async: no thread-pool hop)."""
    return request.app.state.okno


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response serialised by orjson (dates ISO, naive datetimes as UTC with Z)."""
    return Response(orjson.dumps(data, option=ORJSON_OPTIONS), status_code=status,
                    media_type="application/json", headers=headers)


def build_services(database_url_: str | None = None, clock: SystemClock | None = None,
                   catalog_path: str | Path | None = None, secret: str | None = None,
                   publish: bool = True, *, settings: Settings | None = None,
                   ledger: Ledger | None = None) -> Services:
    """Connect (creating the schema), publish the catalog, and build the engine objects.

    `settings` are what the entry point read (default: read the environment now); the other
    arguments, when given, win over them (tests, `okno serve --database`)."""
    settings = settings if settings is not None else Settings()
    clock = clock or SystemClock(settings.timezone)
    db = connect(database_url_ or settings.database_url)
    versions = Versions(db, clock)
    path = Path(catalog_path) if catalog_path is not None else settings.catalog
    if publish and path.exists():
        _publish(versions, load_catalog(path).values(), path)
    cases = Cases(db, versions, clock, calendar=default_calendar(settings.calendar_overrides),
                  ledger=ledger or settings.audit_ledger())
    # An authority may include or exclude only procedures the published catalog has.
    numbers = frozenset(versions.current_versions()) or None
    authorities = Reloading(settings.authorities, lambda p: load_authorities(p, numbers))
    # Where an appeal may be forwarded, and the names its notices quote: the catalog as it is now.
    cases.authorities = lambda: {a.id: a.name for a in authorities.get()}
    return Services(db=db, versions=versions, cases=cases, clock=clock,
                    secret=secret or load_secret(settings), catalog_path=path, settings=settings,
                    authorities=authorities, base_units=Reloading(settings.base_units,
                                                                  load_base_units))


def _publish(versions: Versions, procedures: Iterable[Procedure], path: Path,
             attempts: int = 5) -> None:
    """Publish the catalog; another process starting at the same moment may win a race (retry)."""
    procedures = list(procedures)
    for attempt in range(attempts):
        try:
            added = versions.publish(procedures, revive=False)
        except (IntegrityError, OperationalError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
            continue
        if added:
            log.info("published %d procedure version(s) from %s", len(added), path)
        return
