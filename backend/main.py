"""The application factory and `app` (what uvicorn serves: `uvicorn main:app`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from loguru import logger

from api import api_routes
from api.routes import files, health, tracking
from core.cache import cache
from core.config import settings
from core.errors import install_error_handlers
from core.logging import setup_logging
from core.middleware import install_middleware
from core.monitoring import init_sentry, register_pool_collector
from db.migrations import migrate
from db.session import dispose_engine, engine
from schemas.base import ErrorResponse
from services.live import live_hub
from worker.broker import broker
from worker.runtime import WorkerRuntime


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    if settings.migrate_on_start:
        await migrate()
    await broker.startup()
    runtime: WorkerRuntime | None = None
    if settings.workers_in_process:
        runtime = WorkerRuntime(receive=True)
        await runtime.start()
    logger.info("Vigil API ready ({} database)", settings.database_backend)
    try:
        yield
    finally:
        # Uvicorn has stopped accepting and drained requests in flight before this runs.
        if runtime is not None:
            await runtime.stop()
        await broker.shutdown()
        await live_hub.close()
        await cache.close()
        await dispose_engine()
        logger.info("Vigil API stopped")


def create_app() -> FastAPI:
    setup_logging(settings)
    init_sentry(settings)
    register_pool_collector(lambda: engine.pool)
    app = FastAPIOffline(
        title="Vigil API",
        version="0.1.0",
        summary="Security-awareness training and phishing simulation, multi-tenant.",
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url="/redoc",
        responses={
            422: {"model": ErrorResponse, "description": "Validation error"},
            500: {"model": ErrorResponse, "description": "Unexpected error"},
        },
        telemetry={
            "tracing": settings.opentelemetry,
            "metrics": settings.opentelemetry,
            "logs": settings.opentelemetry,
            "operation_spans": settings.opentelemetry,
        },
    )
    install_error_handlers(app)
    install_middleware(app, settings, fast_routes=tracking.FAST_ROUTES)
    # Probes and metrics are mounted on the app itself rather than through include_router:
    # FastAPI resolves included routers per request, which costs ~25 µs on a probe that a
    # load balancer and Prometheus call constantly.
    app.router.routes.extend(health.router.routes)
    if settings.metrics_enabled:
        app.router.routes.extend(health.metrics_router.routes)
    app.router.routes.extend(api_routes())
    app.router.routes.extend(files.downloads.routes)
    _docs_routes_last(app)
    return app


def _docs_routes_last(app: FastAPI) -> None:
    """The router tries routes in order; the API and probes are hit thousands of times for
    each visit to the docs, so they go first."""
    docs_paths = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
    routes = app.router.routes
    docs = [
        r
        for r in routes
        if getattr(r, "path", None) in docs_paths
        or getattr(r, "name", None) == "static-offline-docs"
    ]
    app.router.routes[:] = [r for r in routes if r not in docs] + docs


app = create_app()
