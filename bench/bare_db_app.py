"""Baseline for the identity bench: bare FastAPI + SQLAlchemy reading one user by primary
key, with no middleware, no auth and no tenant binding."""

from __future__ import annotations

import os
import uuid
from typing import Any

from fastapi import FastAPI, HTTPException
from models.user import User
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

engine = create_async_engine(os.environ["BENCH_DATABASE_URL"], pool_size=10)
Session = async_sessionmaker(engine, expire_on_commit=False)
app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@app.get("/users/{user_id}")
async def get_user(user_id: uuid.UUID) -> dict[str, Any]:
    async with Session() as session:
        user = await session.get(User, user_id)
        if user is None:
            raise HTTPException(404)
        return {"id": str(user.id), "email": user.email, "department": user.department}
