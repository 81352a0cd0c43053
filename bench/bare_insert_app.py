"""Baseline for the tracking bench: a bare FastAPI route that answers a 1x1 GIF after one
INSERT per request through an asyncpg pool (autocommit: durable before it answers)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI, Response

PIXEL = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00"
    b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
pool: asyncpg.Pool | None = None


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    global pool
    url = os.environ["BENCH_DATABASE_URL"].replace("postgresql+asyncpg", "postgresql")
    pool = await asyncpg.create_pool(url, min_size=10, max_size=10)
    yield
    await pool.close()


app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, lifespan=lifespan)


@app.get("/o/{token}")
async def open_pixel(token: str) -> Response:
    if pool is None:
        raise RuntimeError("the pool is opened by the lifespan")
    await pool.execute("INSERT INTO bench_hits (token, at) VALUES ($1, now())", token)
    return Response(PIXEL, media_type="image/gif", headers={"Cache-Control": "no-store"})
