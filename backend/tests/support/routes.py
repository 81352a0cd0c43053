"""Routes that exist only in the test app, to drive the framework's plumbing through HTTP."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field
from sqlalchemy import select

from api.dependencies.common import ClientIP, PageDep, SessionDep, UnitOfWorkRoute
from core.exceptions import Conflict
from core.rate_limit import rate_limiter
from db.pagination import paginate
from models.company import Company
from schemas.base import CreateSchema, Page, ReadSchema
from tests.support.tasks import record_company
from worker.jobs import enqueue

router = APIRouter(route_class=UnitOfWorkRoute, prefix="/_test")


class ThingCreate(CreateSchema):
    name: str = Field(min_length=1, max_length=50)
    count: int = 0


class ThingRead(ReadSchema):
    id: uuid.UUID
    name: str


@router.get("/boom")
async def boom() -> None:
    raise RuntimeError("db said: SELECT password FROM users WHERE token='abc'")


@router.get("/domain-error")
async def domain_error() -> None:
    raise Conflict("That name is taken.", details={"field": "name"})


@router.post("/things", status_code=201)
async def create_thing(body: ThingCreate, session: SessionDep) -> ThingRead:
    company = Company(name=body.name)
    session.add(company)
    await session.flush()
    return ThingRead.model_validate(company)


@router.post("/things-then-fail")
async def create_then_fail(body: ThingCreate, session: SessionDep) -> None:
    session.add(Company(name=body.name))
    await session.flush()
    raise Conflict("Failed after writing.")


@router.post("/things-then-crash")
async def create_then_crash(body: ThingCreate, session: SessionDep) -> None:
    session.add(Company(name=body.name))
    await session.flush()
    raise RuntimeError("unexpected")


@router.get("/things")
async def list_things(session: SessionDep, page: PageDep) -> Page[ThingRead]:
    result = await paginate(session, select(Company), page, order_by=(Company.id,))
    return Page[ThingRead](
        items=[ThingRead.model_validate(c) for c in result.items], next_cursor=result.next_cursor
    )


@router.post("/jobs", status_code=201)
async def create_with_job(session: SessionDep, fail: Annotated[bool, Query()] = False) -> ThingRead:
    company = Company(name="with job")
    session.add(company)
    await session.flush()
    enqueue(session, record_company, str(company.id))
    if fail:
        raise Conflict("rolled back on purpose")
    return ThingRead.model_validate(company)


@router.get("/limited")
async def limited(ip: ClientIP) -> dict[str, str]:
    await rate_limiter.hit("tests.limited", "3/minute", ip=ip)
    return {"ip": ip}


@router.get("/slow")
async def slow(seconds: float = 1.0) -> dict[str, float]:
    await asyncio.sleep(seconds)
    return {"slept": seconds}
