"""The baseline: a bare FastAPI app answering the same model as `/health/live`, with no
middleware, no error handlers and no lifespan."""

from fastapi import FastAPI

from schemas.health import Liveness

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
_LIVE = Liveness()


@app.get("/health/live", response_model=Liveness)
async def live() -> Liveness:
    return _LIVE
