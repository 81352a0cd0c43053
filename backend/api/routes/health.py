"""Health probes and metrics: outside `/api/v1`, no auth, for load balancers and Prometheus."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.dependencies.common import UnitOfWorkRoute
from core.monitoring import render_metrics
from schemas.health import Liveness, ReadinessRead
from services.health import check_readiness

router = APIRouter(route_class=UnitOfWorkRoute, tags=["platform"])

_LIVE = Liveness()


@router.get("/health/live", response_model=Liveness)
async def live() -> Liveness:
    """The process is up (no I/O)."""
    return _LIVE


@router.get(
    "/health/ready",
    response_model=ReadinessRead,
    responses={503: {"model": ReadinessRead, "description": "Not ready, with the reasons"}},
)
async def ready(response: Response) -> ReadinessRead:
    """Database reachable, migrations at head, Redis reachable when configured."""
    result = await check_readiness()
    if not result.ok:
        response.status_code = 503
    return ReadinessRead(status="ok" if result.ok else "unavailable", checks=result.checks)


metrics_router = APIRouter(route_class=UnitOfWorkRoute, tags=["platform"])


@metrics_router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    """Prometheus text format."""
    body, content_type = render_metrics()
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})
