"""Operations: liveness, readiness and metrics, for load balancers, supervisors and Prometheus.

`GET /health` answers 200 while the process runs (no database: a slow database must not get a
live process killed); `GET /ready` 200 when it can serve (engine.read.readiness), else 503 naming
what is wrong; `GET /metrics` the Prometheus text format, to the addresses allowed (api.metrics).
None needs a token, and none is held back by the sign-in throttle.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from api.deps import Services, json_response, services
from api.metrics import CONTENT_TYPE
from api.problems import ApiError
from api.schemas import errors
from engine.read import readiness

router = APIRouter(tags=["operations"])


@router.get("/health", responses={200: {"description": "The process is running"}})
async def health():
    """Whether the process is alive: always 200 while it answers at all; reads no database."""
    return json_response({"status": "ok"})


_NOT_READY = {**errors(503)[503], "description": "Not ready: the database does not answer, its "
                                                 "schema is not this okno's, or no catalog is published"}


@router.get("/ready", responses={200: {"description": "The process can serve"}, 503: _NOT_READY})
def ready(request: Request, svc: Annotated[Services, Depends(services)]):
    """Whether the process can serve: the database answers, its schema is at the migration this
    okno ships, and a catalog is published; 503 naming what is not so."""
    found = readiness.problems(svc.versions, request.app.state.schema_head)
    if found:
        raise ApiError(503, "; ".join(found))
    return json_response({"status": "ready"})


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request):
    """Prometheus metrics (text format), for the addresses in `metrics_networks` only."""
    app_metrics = request.app.state.metrics
    app_metrics.allow(request)
    return Response(app_metrics.exposition(), media_type=CONTENT_TYPE)
